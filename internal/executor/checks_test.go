package executor

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// failingServer answers every fifth request 200 {"token":"t"} after 1 ms, and
// the others 500 {"error":"boom"} after 20 ms: failed requests are slower.
func failingServer(t *testing.T) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1)%5 == 0 {
			time.Sleep(time.Millisecond)
			w.Write([]byte(`{"token":"t"}`))
			return
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"boom"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCheckPassRatesAndFailedLatency: each explicit check of a step is
// counted (responses judged, failures), a 500 outside check.status is reason
// status, the error sample names the check that failed, and failed requests'
// latency is kept apart from Latency (successful requests only), unless
// latency_of is all.
func TestCheckPassRatesAndFailedLatency(t *testing.T) {
	const steps = `
scenarios:
  - name: s
    steps:
      - name: login
        request: {path: /}
        check: {status: [200], json: {$.token: t}}
load:
  model: closed
  phases: [{name: a, duration: 1s, vus: 4}]
`
	url := failingServer(t)
	for _, all := range []bool{false, true} {
		yaml := steps
		if all {
			yaml = "latency_of: all\n" + steps
		}
		_, res, _ := run(t, mustPlan(t, url, yaml))
		c := res.Steps[0]
		if c.Requests < 20 {
			t.Fatalf("requests %d; want at least 20", c.Requests)
		}
		ok := c.Requests - c.Errors
		if c.ErrorsByReason[ReasonStatus] != c.Errors || c.ErrorsByReason[ReasonCheck] != 0 {
			t.Errorf("errors by reason %v; want every failure as status (a 500 outside check.status)", c.ErrorCounts())
		}
		if len(c.Checks) != 2 || c.Checks[0].Name != "status in [200]" || c.Checks[1].Name != "json $.token = t" {
			t.Fatalf("Checks = %+v; want status in [200] and json $.token = t", c.Checks)
		}
		for _, ck := range c.Checks {
			if ck.Checked != c.Requests || ck.Failed != c.Errors {
				t.Errorf("check %s: checked %d failed %d; want %d and %d", ck.Name, ck.Checked, ck.Failed, c.Requests, c.Errors)
			}
		}
		if got := c.FailedLatency.Count(); got != c.Errors {
			t.Errorf("FailedLatency count %d; want %d (the errors)", got, c.Errors)
		}
		want := ok
		if all {
			want = c.Requests
		}
		if got := c.Latency.Count(); got != want || c.Service.Count() != want {
			t.Errorf("latency_of all=%v: Latency count %d, Service count %d; want %d", all, got, c.Service.Count(), want)
		}
		if !all && c.Latency.Max() >= 20*time.Millisecond {
			t.Errorf("Latency max %v; want the successful requests' (about 1 ms), not the failed ones' (20 ms)", c.Latency.Max())
		}
		if len(res.ErrorSamples) == 0 || res.ErrorSamples[0].Check != "status in [200]" || res.ErrorSamples[0].Status != 500 {
			t.Errorf("ErrorSamples = %+v; want one naming check status in [200] and status 500", res.ErrorSamples)
		}
	}
}
