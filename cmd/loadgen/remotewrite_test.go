package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/exp/api/remote"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	"google.golang.org/protobuf/proto"

	"github.com/loadlab/loadlab/internal/testenv"
)

// rwReceiver is a Remote Write 2.0 endpoint that keeps every request.
type rwReceiver struct {
	mu   sync.Mutex
	reqs []*writev2.Request
}

func (r *rwReceiver) Store(req *http.Request, _ remote.WriteMessageType) (*remote.WriteResponse, error) {
	resp := remote.NewWriteResponse()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	var wr writev2.Request
	if err := proto.Unmarshal(body, &wr); err != nil {
		resp.SetStatusCode(http.StatusBadRequest)
		return resp, err
	}
	for _, ts := range wr.Timeseries {
		resp.Samples += len(ts.Samples)
		resp.Histograms += len(ts.Histograms)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, &wr)
	r.mu.Unlock()
	return resp, nil
}

// TestRunCLIRemoteWrite runs `loadgen run --out-remote-write` (metrics
// server off, so only the push can tell) and checks the last push: the
// plan's exact request count, the native latency histogram with as many
// observations, the run marked ended, and the labels.
func TestRunCLIRemoteWrite(t *testing.T) {
	url := startTarget(t)
	rr := &rwReceiver{}
	srv := httptest.NewServer(remote.NewWriteHandler(rr, remote.MessageTypes{remote.WriteV2MessageType}))
	t.Cleanup(srv.Close)

	var stdout, stderr testenv.SyncBuffer
	args := []string{"run", "--target", url, "--metrics-addr", "off", "--store", "off", "--quiet",
		"--out-remote-write", srv.URL + "/api/v1/write", "--remote-write-interval", "500ms",
		"--remote-write-label", "instance=worker-7", "--remote-write-label", "team=perf", writePlan(t, "")}
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("loadgen %s = exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	rr.mu.Lock()
	reqs := rr.reqs
	rr.mu.Unlock()
	// The first push at the start, ~4 during the 2 s run, the final one.
	if len(reqs) < 3 {
		t.Fatalf("the receiver got %d pushes; want at least 3\nstderr:\n%s", len(reqs), stderr.String())
	}
	last := reqs[len(reqs)-1]
	var requests, runActive float64
	var observed uint64
	sawNative := false
	for _, ts := range last.Timeseries {
		ls := writev2.DesymbolizeLabels(ts.LabelsRefs, last.Symbols, nil)
		m := map[string]string{}
		for i := 0; i < len(ls); i += 2 {
			m[ls[i]] = ls[i+1]
		}
		if m["job"] != "loadgen" || m["instance"] != "worker-7" || m["team"] != "perf" {
			t.Fatalf("series %v lacks job=loadgen, instance=worker-7, team=perf", m)
		}
		switch m["__name__"] {
		case "loadgen_requests_total":
			requests += ts.Samples[0].Value
		case "loadgen_run_active":
			runActive += ts.Samples[0].Value
		case "loadgen_request_duration_seconds":
			for _, h := range ts.Histograms {
				observed += h.GetCountInt()
				sawNative = sawNative || len(h.PositiveSpans) > 0
			}
		}
	}
	// tinyPlan: 2 s at 50/s.
	if requests != 100 || observed != 100 || !sawNative {
		t.Errorf("final push: loadgen_requests_total %v, histogram count %d (native %v); want 100, 100, native", requests, observed, sawNative)
	}
	if runActive != 0 {
		t.Errorf("final push: loadgen_run_active = %v; want 0 (the run has ended)", runActive)
	}
}

func TestRunCLIRemoteWriteFlags(t *testing.T) {
	plan := writePlan(t, "")
	host, _ := os.Hostname()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad scheme", []string{"--out-remote-write", "ftp://x/api/v1/write"}, "scheme must be http or https"},
		{"label without url", []string{"--remote-write-label", "a=b"}, "--remote-write-label needs --out-remote-write"},
		{"bad label", []string{"--out-remote-write", "http://127.0.0.1:1/w", "--remote-write-label", "a-b=c"}, `"a-b": not a valid label name`},
		{"label syntax", []string{"--out-remote-write", "http://127.0.0.1:1/w", "--remote-write-label", "ab"}, "want NAME=VALUE"},
		{"interval", []string{"--out-remote-write", "http://127.0.0.1:1/w", "--remote-write-interval", "1ms"}, "must be at least 100ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr testenv.SyncBuffer
			args := append(append([]string{"run", "--store", "off", "--metrics-addr", "off"}, c.args...), plan)
			if code := run(args, &stdout, &stderr); code != exitUsage {
				t.Fatalf("loadgen %s = exit %d; want %d\nstderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr.String())
			}
		})
	}
	// The default instance: host and metrics port.
	var f remoteWriteFlags
	f.url = "http://127.0.0.1:1/api/v1/write"
	if err := f.check("0.0.0.0:9646"); err != nil {
		t.Fatal(err)
	}
	if f.labels["job"] != "loadgen" || f.labels["instance"] != host+":9646" {
		t.Errorf("default labels = %v; want job=loadgen, instance=%s:9646", f.labels, host)
	}
}
