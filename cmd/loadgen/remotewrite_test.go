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

// rwServer serves a Remote Write 2.0 receiver and returns it and its write URL.
func rwServer(t *testing.T) (*rwReceiver, string) {
	rr := &rwReceiver{}
	srv := httptest.NewServer(remote.NewWriteHandler(rr, remote.MessageTypes{remote.WriteV2MessageType}))
	t.Cleanup(srv.Close)
	return rr, srv.URL + "/api/v1/write"
}

// TestRunCLIRemoteWrite runs `loadgen run --out-remote-write` (metrics
// server off, so only the push can tell) and checks the last push: the
// plan's exact request count, the native latency histogram with as many
// observations, the run marked ended, and the labels.
func TestRunCLIRemoteWrite(t *testing.T) {
	url := startTarget(t)
	rr, rwURL := rwServer(t)
	var stdout, stderr testenv.SyncBuffer
	args := []string{"run", "--target", url, "--metrics-addr", "off", "--store", "off", "--quiet",
		"--out-remote-write", rwURL, "--remote-write-interval", "500ms",
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
	p := lastPush(t, rr, "instance", "worker-7", "team", "perf")
	// tinyPlan: 2 s at 50/s.
	if p.requests != 100 || p.observed != 100 || !p.native {
		t.Errorf("final push: loadgen_requests_total %v, histogram count %d (native %v); want 100, 100, native", p.requests, p.observed, p.native)
	}
	if p.runActive != 0 || p.runType != "load" {
		t.Errorf("final push: loadgen_run_active = %v, run_info type %q; want 0 (the run has ended), load", p.runActive, p.runType)
	}
}

// push is what the last push of a run said.
type push struct {
	requests, runActive float64
	observed            uint64
	native              bool
	runType             string
}

// lastPush reads the receiver's last push; every series must carry job=loadgen and the given labels.
func lastPush(t *testing.T, rr *rwReceiver, labels ...string) push {
	t.Helper()
	rr.mu.Lock()
	last := rr.reqs[len(rr.reqs)-1]
	rr.mu.Unlock()
	var p push
	for _, ts := range last.Timeseries {
		ls := writev2.DesymbolizeLabels(ts.LabelsRefs, last.Symbols, nil)
		m := map[string]string{}
		for i := 0; i < len(ls); i += 2 {
			m[ls[i]] = ls[i+1]
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if m["job"] != "loadgen" || m[labels[i]] != labels[i+1] {
				t.Fatalf("series %v lacks job=loadgen, %s=%s", m, labels[i], labels[i+1])
			}
		}
		switch m["__name__"] {
		case "loadgen_requests_total":
			p.requests += ts.Samples[0].Value
		case "loadgen_run_active":
			p.runActive += ts.Samples[0].Value
		case "loadgen_run_info":
			p.runType = m["type"]
		case "loadgen_request_duration_seconds":
			for _, h := range ts.Histograms {
				p.observed += h.GetCountInt()
				p.native = p.native || len(h.PositiveSpans) > 0
			}
		}
	}
	return p
}

// TestStressCLIRemoteWrite: a stress run pushes its metrics too (every kind of run serves and pushes the same
// registry): the final push names the stress run, ended, with the probes' requests.
func TestStressCLIRemoteWrite(t *testing.T) {
	url := startTarget(t)
	rr, rwURL := rwServer(t)
	var stdout, stderr testenv.SyncBuffer
	args := []string{"stress", stressPlan(t, "500ms"), "--target", url, "--metrics-addr", "off", "--store", "off",
		"--quiet", "--out-remote-write", rwURL, "--remote-write-interval", "500ms"}
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("loadgen %s = exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	host, _ := os.Hostname() // no metrics port: --metrics-addr off
	p := lastPush(t, rr, "instance", host)
	if p.runType != "stress" || p.runActive != 0 || p.requests == 0 || float64(p.observed) != p.requests {
		t.Errorf("final push: run_info type %q, run_active %v, %v requests, %d observed; want stress, 0, the probes' requests",
			p.runType, p.runActive, p.requests, p.observed)
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
