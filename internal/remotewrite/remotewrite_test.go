package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/loadlab/loadlab/internal/testenv"
)

// receiver is a Remote Write 2.0 endpoint on loopback (client_golang's own
// handler) that keeps the requests it decoded and answers with the statuses
// of answers in turn (204 once they run out).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []*writev2.Request
	headers []http.Header
	answers []int
	calls   atomic.Int32
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers}
	h := remote.NewWriteHandler(r, remote.MessageTypes{remote.WriteV2MessageType})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// Store implements the handler's storage.
func (r *receiver) Store(req *http.Request, _ remote.WriteMessageType) (*remote.WriteResponse, error) {
	resp := remote.NewWriteResponse()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) > 0 {
		code := r.answers[0]
		r.answers = r.answers[1:]
		if code/100 != 2 {
			resp.SetStatusCode(code)
			return resp, fmt.Errorf("answering %d", code)
		}
	}
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
	r.reqs = append(r.reqs, &wr)
	return resp, nil
}

func (r *receiver) url() string { return r.srv.URL + "/api/v1/write" }

func (r *receiver) requests() []*writev2.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// series flattens a request: `name{a="b",...}` -> the series.
func series(req *writev2.Request) map[string]*writev2.TimeSeries {
	out := map[string]*writev2.TimeSeries{}
	for _, ts := range req.Timeseries {
		ls := writev2.DesymbolizeLabels(ts.LabelsRefs, req.Symbols, nil)
		var b strings.Builder
		for i := 0; i < len(ls); i += 2 {
			if ls[i] == "__name__" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", ls[i], ls[i+1])
		}
		var name string
		for i := 0; i < len(ls); i += 2 {
			if ls[i] == "__name__" {
				name = ls[i+1]
			}
		}
		out[name+"{"+b.String()+"}"] = ts
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBuild(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."}, []string{"code", "instance"})
	reqs.WithLabelValues("200", "inner").Add(7)
	temp := prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_temperature_celsius", Help: "Temperature."})
	temp.Set(-3.5)
	sum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "app_size_bytes", Help: "Sizes.", Objectives: map[float64]float64{0.5: 0.05}})
	sum.Observe(10)
	sum.Observe(30)
	classic := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_wait_seconds", Help: "Waits.", Buckets: []float64{1, 2}})
	classic.Observe(0.5)
	classic.Observe(1.5)
	classic.Observe(5)
	native := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_latency_seconds", Help: "Latency.", NativeHistogramBucketFactor: 1.1})
	for _, v := range []float64{0.001, 0.001, 0.01, 1} {
		native.Observe(v)
	}
	empty := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_idle_seconds", Help: "Never observed.", NativeHistogramBucketFactor: 1.1})
	reg.MustRegister(reqs, temp, sum, classic, native, empty)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := checkLabels(map[string]string{"job": "loadgen", "instance": "w1"})
	if err != nil {
		t.Fatal(err)
	}
	req, n := newBuilder(ext).build(mfs, 1234)
	if n.floats != 1+1+3+5 || n.histograms != 2 {
		t.Errorf("counts = %+v; want 10 floats, 2 histograms", n)
	}
	got := series(req)
	const ext2 = `instance="w1",job="loadgen"`
	wantFloats := map[string]float64{
		`app_requests_total{code="200",exported_instance="inner",` + ext2 + `}`: 7,
		`app_temperature_celsius{` + ext2 + `}`:                                 -3.5,
		`app_size_bytes{` + ext2 + `,quantile="0.5"}`:                           10,
		`app_size_bytes_sum{` + ext2 + `}`:                                      40,
		`app_size_bytes_count{` + ext2 + `}`:                                    2,
		`app_wait_seconds_bucket{` + ext2 + `,le="1"}`:                          1,
		`app_wait_seconds_bucket{` + ext2 + `,le="2"}`:                          2,
		`app_wait_seconds_bucket{` + ext2 + `,le="+Inf"}`:                       3,
		`app_wait_seconds_sum{` + ext2 + `}`:                                    7,
		`app_wait_seconds_count{` + ext2 + `}`:                                  3,
	}
	for k, want := range wantFloats {
		ts, ok := got[k]
		if !ok {
			t.Errorf("series %s missing; have %v", k, slices.Sorted(maps.Keys(got)))
			continue
		}
		if len(ts.Samples) != 1 || ts.Samples[0].Value != want || ts.Samples[0].Timestamp != 1234 {
			t.Errorf("%s = %v; want one sample %v at 1234", k, ts.Samples, want)
		}
	}
	if ts := got[`app_requests_total{code="200",exported_instance="inner",`+ext2+`}`]; ts != nil {
		if ts.Metadata.Type != writev2.Metadata_METRIC_TYPE_COUNTER || req.Symbols[ts.Metadata.HelpRef] != "Requests." {
			t.Errorf("counter metadata = %v (help %q)", ts.Metadata, req.Symbols[ts.Metadata.HelpRef])
		}
	}

	h := got[`app_latency_seconds{`+ext2+`}`]
	if h == nil || len(h.Histograms) != 1 || len(h.Samples) != 0 {
		t.Fatalf("native histogram series = %v; want one histogram sample", h)
	}
	hg := h.Histograms[0]
	if hg.GetCountInt() != 4 || hg.Sum != 1.012 || hg.Schema != 3 || hg.Timestamp != 1234 || h.Metadata.Type != writev2.Metadata_METRIC_TYPE_HISTOGRAM {
		t.Errorf("native histogram = count %d sum %v schema %d ts %d type %v; want 4, 1.012, 3, 1234, histogram",
			hg.GetCountInt(), hg.Sum, hg.Schema, hg.Timestamp, h.Metadata.Type)
	}
	var buckets int64
	var running int64
	for _, d := range hg.PositiveDeltas {
		running += d
		buckets += running
	}
	if buckets != 4 {
		t.Errorf("native buckets hold %d observations; want 4", buckets)
	}
	if _, ok := got[`app_latency_seconds_bucket{`+ext2+`,le="+Inf"}`]; ok {
		t.Error("a native histogram was also sent as classic buckets")
	}
	e := got[`app_idle_seconds{`+ext2+`}`]
	if e == nil || len(e.Histograms) != 1 || e.Histograms[0].GetCountInt() != 0 || len(e.Histograms[0].PositiveSpans) != 0 {
		t.Errorf("empty native histogram = %v; want one histogram with count 0 and no spans", e)
	}
}

func TestSpans(t *testing.T) {
	sp := func(o int32, l uint32) *dto.BucketSpan { return &dto.BucketSpan{Offset: &o, Length: &l} }
	tests := []struct {
		name string
		in   []*dto.BucketSpan
		want []*writev2.BucketSpan
	}{
		{"none", nil, nil},
		{"empty marker", []*dto.BucketSpan{sp(0, 0)}, nil},
		{"kept", []*dto.BucketSpan{sp(-3, 2), sp(4, 1)}, []*writev2.BucketSpan{{Offset: -3, Length: 2}, {Offset: 4, Length: 1}}},
		{"zero length folded into the next offset", []*dto.BucketSpan{sp(2, 1), sp(3, 0), sp(1, 2)}, []*writev2.BucketSpan{{Offset: 2, Length: 1}, {Offset: 4, Length: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spans(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("spans(%v) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	g := prometheus.NewRegistry()
	tests := []struct {
		name     string
		url      string
		labels   map[string]string
		interval time.Duration
		want     string
	}{
		{"scheme", "ftp://example.com/api/v1/write", nil, 0, "scheme must be http or https"},
		{"no host", "http:///api/v1/write", nil, 0, "no host"},
		{"parse", "http://[::1", nil, 0, "remote-write URL"},
		{"label name", "http://127.0.0.1:1/w", map[string]string{"in-stance": "x"}, 0, `label "in-stance": not a valid label name`},
		{"reserved", "http://127.0.0.1:1/w", map[string]string{"__name__": "x"}, 0, "reserved"},
		{"empty value", "http://127.0.0.1:1/w", map[string]string{"job": ""}, 0, "empty value"},
		{"interval", "http://127.0.0.1:1/w", nil, time.Millisecond, "must be at least 100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(tt.url, g, tt.labels, tt.interval, nil)
			if err == nil {
				w.Close(context.Background())
				t.Fatalf("New(%q, %v, %v) succeeded; want an error containing %q", tt.url, tt.labels, tt.interval, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%q, %v, %v) = %v; want an error containing %q", tt.url, tt.labels, tt.interval, err, tt.want)
			}
		})
	}
}

// TestPushAndClose: the first push goes out right away, the next ones every
// interval, and Close pushes the final values; the writer's own metrics and
// the caller's labels and headers travel with them.
func TestPushAndClose(t *testing.T) {
	r := newReceiver(t)
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_events_total", Help: "Events."})
	reg.MustRegister(c)
	w, err := New(r.url(), reg, map[string]string{"job": "loadgen", "instance": "w0"}, time.Hour, nil,
		WithRegisterer(reg), WithHeader("X-Scope-OrgID", "tenant-1"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first push", func() bool { return len(r.requests()) == 1 && testutil.ToFloat64(w.m.floats) > 0 })
	c.Add(5)
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	reqs := r.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests; want 2 (first and final)", len(reqs))
	}
	first, final := series(reqs[0]), series(reqs[1])
	const k = `app_events_total{instance="w0",job="loadgen"}`
	if first[k] == nil || first[k].Samples[0].Value != 0 {
		t.Errorf("first push %s = %v; want 0", k, first[k])
	}
	if final[k] == nil || final[k].Samples[0].Value != 5 {
		t.Errorf("final push %s = %v; want 5", k, final[k])
	}
	if final[k].Samples[0].Timestamp <= first[k].Samples[0].Timestamp {
		t.Errorf("final timestamp %d not after the first %d", final[k].Samples[0].Timestamp, first[k].Samples[0].Timestamp)
	}
	// The final push carries the health of the pushes before it.
	if s := final[`loadgen_remote_write_samples_total{instance="w0",job="loadgen",type="float"}`]; s == nil || s.Samples[0].Value == 0 {
		t.Errorf("final push lacks the samples sent by the first: %v", s)
	}
	if got := testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonRejected)) + testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonUnavailable)); got != 0 {
		t.Errorf("failures = %v; want 0", got)
	}
	if got := r.headers[0].Get("X-Scope-OrgID"); got != "tenant-1" {
		t.Errorf("header X-Scope-OrgID = %q; want tenant-1", got)
	}
	if got := r.headers[0].Get("Content-Type"); got != "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
		t.Errorf("Content-Type = %q; want remote write 2.0", got)
	}
}

// TestInterval: without Close, pushes keep coming every interval.
func TestInterval(t *testing.T) {
	r := newReceiver(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_up", Help: "Up."}))
	w, err := New(r.url(), reg, map[string]string{"job": "x"}, MinInterval, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three pushes", func() bool { return len(r.requests()) >= 3 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := r.requests()
	var last int64
	for i, req := range reqs {
		ts := series(req)[`app_up{job="x"}`].Samples[0].Timestamp
		if ts <= last {
			t.Errorf("push %d at %d, not after the previous %d", i, ts, last)
		}
		last = ts
	}
}

// TestRetry: a 503 is retried within the push; the push then lands.
func TestRetry(t *testing.T) {
	r := newReceiver(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_up", Help: "Up."}))
	w, err := New(r.url(), reg, map[string]string{"job": "x"}, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first push to land", func() bool { return len(r.requests()) == 1 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.m.retries); got != 2 {
		t.Errorf("retries = %v; want 2", got)
	}
	if got := r.calls.Load(); got != 4 {
		t.Errorf("receiver saw %d requests; want 4 (503, 503, 204, final 204)", got)
	}
	if got := testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonUnavailable)); got != 0 {
		t.Errorf("unavailable failures = %v; want 0", got)
	}
}

// TestRejected: a 4xx is not retried; the push is dropped, counted and
// logged, and the writer goes on.
func TestRejected(t *testing.T) {
	r := newReceiver(t, http.StatusBadRequest, http.StatusNotFound)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_up", Help: "Up."}))
	var logBuf testenv.SyncBuffer
	w, err := New(r.url(), reg, map[string]string{"job": "x"}, time.Hour, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first push to be dropped", func() bool { return testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonRejected)) == 1 })
	err = w.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "rejected") || !strings.Contains(err.Error(), "--web.enable-remote-write-receiver") {
		t.Errorf("Close = %v; want a rejected error with the 404 hint", err)
	}
	if got := testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonRejected)); got != 2 {
		t.Errorf("rejected failures = %v; want 2", got)
	}
	if got := testutil.ToFloat64(w.m.retries); got != 0 {
		t.Errorf("retries = %v; want 0 (4xx is not retried)", got)
	}
	if got := r.calls.Load(); got != 2 {
		t.Errorf("receiver saw %d requests; want 2", got)
	}
	if !strings.Contains(logBuf.String(), "push dropped") || !strings.Contains(logBuf.String(), "status=400") {
		t.Errorf("log lacks the dropped push:\n%s", logBuf.String())
	}
}

// TestUnavailable: an endpoint that does not answer makes Close give up at
// its deadline with an "unavailable" error that says why.
func TestUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connections to it are refused
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_up", Help: "Up."}))
	w, err := New("http://"+addr+"/api/v1/write", reg, map[string]string{"job": "x"}, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), ReasonUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Close = %v; want an unavailable error naming the refused connection", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v; want it to wrap the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v; want it bounded by its 700ms deadline", d)
	}
	if got := testutil.ToFloat64(w.m.retries); got < 1 {
		t.Errorf("retries = %v; want at least 1", got)
	}
	if got := testutil.ToFloat64(w.m.failures.WithLabelValues(ReasonUnavailable)); got < 1 {
		t.Errorf("unavailable failures = %v; want at least 1", got)
	}
}
