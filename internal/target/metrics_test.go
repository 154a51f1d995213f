package target

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/loadlab/loadlab/internal/testenv"
)

// contractNames are the target_* names of docs/metrics.md.
var contractNames = []string{
	"target_http_request_duration_seconds",
	"target_http_requests_total",
	"target_http_requests_in_flight",
	"target_pool_workers",
	"target_pool_in_use",
	"target_queue_length",
	"target_queue_capacity",
	"target_rejected_requests_total",
	"target_fault_error_ratio",
	"target_fault_stalls_total",
}

func TestMetricsNativeHistogram(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cfg := fastConfig()
	srv, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	for _, p := range []string{"/api/users/1", "/api/users/2", "/api/users/abc", "/api/users/9999", "/no/such/path", "/api/teams"} {
		do(t, ts, "GET", p, "", nil)
	}
	do(t, ts, "DELETE", "/api/teams", "", nil)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var names []string
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		byName[mf.GetName()] = mf
	}
	for _, n := range contractNames {
		if !slices.Contains(names, n) {
			t.Errorf("gathered names lack %s (contract docs/metrics.md); got %v", n, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "target_") && !slices.Contains(contractNames, n) {
			t.Errorf("gathered %s, which docs/metrics.md does not list", n)
		}
	}

	hist := byName["target_http_request_duration_seconds"]
	if hist == nil || hist.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("target_http_request_duration_seconds = %v; want a histogram", hist)
	}
	routes := map[string]bool{}
	for _, m := range hist.GetMetric() {
		lv := map[string]string{}
		for _, l := range m.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		routes[lv["route"]+" "+lv["code"]] = true
		h := m.GetHistogram()
		if h.Schema == nil {
			t.Errorf("%v: schema unset; want a native histogram", lv)
		} else if got := h.GetSchema(); got != 3 {
			t.Errorf("%v: schema = %d; want 3 (factor 1.1)", lv, got)
		}
		if h.GetSampleCount() == 0 {
			t.Errorf("%v: sample count 0", lv)
		}
		if len(h.GetPositiveSpan()) == 0 || len(h.GetPositiveDelta()) == 0 {
			// a zero-duration observation could land in the zero bucket; ours never take 0 s
			t.Errorf("%v: positive spans %v, deltas %v; want native buckets", lv, h.GetPositiveSpan(), h.GetPositiveDelta())
		}
	}
	for _, want := range []string{"/api/users/{id} 200", "/api/users/{id} 400", "/api/users/{id} 404", "unmatched 404", "unmatched 405", "/api/teams 200"} {
		if !routes[want] {
			t.Errorf("histogram series lack route+code %q (templates, never raw paths); got %v", want, routes)
		}
	}
	for r := range routes {
		if strings.Contains(r, "/api/users/1") || strings.Contains(r, "abc") || strings.Contains(r, "/no/such") {
			t.Errorf("raw path leaked into the route label: %q", r)
		}
	}

	want := `
# HELP target_pool_workers Size of the worker pool (the capacity model's database connections).
# TYPE target_pool_workers gauge
target_pool_workers 32
# HELP target_queue_capacity Most requests that may wait for a worker; beyond it, 503 at once.
# TYPE target_queue_capacity gauge
target_queue_capacity 64
# HELP target_rejected_requests_total Requests rejected with 503 because the pool and the queue were full.
# TYPE target_rejected_requests_total counter
target_rejected_requests_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "target_pool_workers", "target_queue_capacity", "target_rejected_requests_total"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("GatherAndLint = %v, %v; want no problems", probs, err)
	}
}

func newHTTPTest(t *testing.T, srv *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// TestMetricsEndpoint scrapes /metrics as Prometheus does (protobuf first)
// and as text, and checks the text with promtool.
func TestMetricsEndpoint(t *testing.T) {
	_, ts := newTestServer(t, fastConfig())
	do(t, ts, "GET", "/api/teams", "", nil)

	// Prometheus' scrape Accept header asks for protobuf first.
	req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Fatalf("protobuf scrape Content-Type = %q; want application/vnd.google.protobuf", ct)
	}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	found := false
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		if mf.GetName() == "target_http_request_duration_seconds" {
			for _, m := range mf.GetMetric() {
				if m.GetHistogram().Schema != nil && len(m.GetHistogram().GetPositiveSpan()) > 0 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("protobuf scrape carries no native target_http_request_duration_seconds")
	}

	for _, tc := range []struct{ name, accept, wantCT string }{
		{"text", "text/plain;version=0.0.4", "text/plain"},
		{"openmetrics", "application/openmetrics-text;version=1.0.0", "application/openmetrics-text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
			req.Header.Set("Accept", tc.accept)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantCT) {
				t.Errorf("Content-Type = %q; want %s", ct, tc.wantCT)
			}
			for _, n := range append(contractNames, "go_goroutines", "process_cpu_seconds_total") {
				if !strings.Contains(buf.String(), "\n"+n) && !strings.HasPrefix(buf.String(), n) {
					t.Errorf("%s exposition lacks %s", tc.name, n)
				}
			}
			if tc.name != "text" {
				return
			}
			promtool := testenv.Tool(t, "promtool")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(buf.Bytes())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		})
	}
}

// TestOperationalRoutesNotInstrumented: scrapes, health checks and admin
// calls are not load, so they never reach the request metrics (they would
// pull the server-side p50/p99 down) nor the in-flight gauge (a scrape would
// always see itself in flight).
func TestOperationalRoutesNotInstrumented(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	srv, err := New(fastConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	for range 3 {
		do(t, ts, "GET", "/metrics", "", nil)
		do(t, ts, "GET", "/api/health", "", nil)
		do(t, ts, "GET", "/admin/faults", "", nil)
	}
	do(t, ts, "GET", "/api/teams", "", nil)
	if got := testutil.CollectAndCount(srv.metrics.duration); got != 1 {
		t.Errorf("target_http_request_duration_seconds has %d series; want 1 (/api/teams)", got)
	}
	if got := testutil.CollectAndCount(srv.metrics.requests); got != 1 {
		t.Errorf("target_http_requests_total has %d series; want 1 (/api/teams)", got)
	}
	// Scraped over HTTP, as Prometheus does: the scrape does not count itself.
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(b.String(), "target_http_requests_in_flight 0\n") {
		t.Errorf("a scrape sees target_http_requests_in_flight other than 0:\n%s", grepLines(b.String(), "in_flight"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
