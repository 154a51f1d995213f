package executor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

func startHostile(t *testing.T) string {
	t.Helper()
	s, err := hostile.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

// TestHostileTarget: bodies over max_body pass unless a check or capture
// needed the part dropped (then reason check, naming the limit), a malformed
// response is reason protocol with the parser's message, an endless body
// ends at the timeout, and every byte read counts in BytesIn.
func TestHostileTarget(t *testing.T) {
	url := startHostile(t)
	p := mustPlan(t, url, `
defaults: {max_body: 64KiB}
scenarios:
  - name: s
    steps:
      - name: big-found
        request: {path: /big/4194304}
        check: {body_contains: "0123456789abcdef"}
      - name: big-plain
        request: {path: /big-chunked/4194304, max_body: 0}
      - name: big-miss
        request: {path: /big/4194304}
        check: {body_contains: "zzz"}
      - name: big-capture
        request: {path: /big-chunked/4194304}
        capture: {z: "regex:z(z+)"}
      - name: small-capture
        request: {path: /ok}
        capture: {z: "regex:z(z+)"}
      - name: garbage
        request: {path: /garbage}
      - name: endless
        request: {path: /chunked-endless, timeout: 300ms}
load:
  phases: [{name: a, duration: 1s, rate: 2}]
`)
	_, res, _ := run(t, p)
	want := map[string]Reason{"big-found": ReasonNone, "big-plain": ReasonNone, "big-miss": ReasonCheck, "big-capture": ReasonCheck,
		"small-capture": ReasonNone, "garbage": ReasonProtocol, "endless": ReasonTimeout}
	for step, reason := range want {
		c := res.Step("s", step)
		if c == nil || c.Requests != 2 {
			t.Fatalf("step %s: %+v; want 2 requests", step, c)
		}
		if reason == ReasonNone && c.Errors != 0 || reason != ReasonNone && c.ErrorsByReason[reason] != 2 {
			t.Errorf("step %s: errors %v; want %v", step, c.ErrorCounts(), reason)
		}
		if strings.HasPrefix(step, "big") && c.BytesIn < 2*4194304 {
			t.Errorf("step %s: BytesIn %d; want every byte read counted (>= %d)", step, c.BytesIn, 2*4194304)
		}
	}
	msgs := map[string]string{}
	for _, s := range res.ErrorSamples {
		msgs[s.Step] = s.Message
	}
	for step, sub := range map[string]string{
		"big-miss":    `body does not contain "zzz" (only the first 64KiB of the 4194304-byte body were kept: max_body)`,
		"big-capture": "capture z (regex:z(z+)): not found (only the first 64KiB of the 4194304-byte body were kept: max_body)",
		"garbage":     "malformed response:",
	} {
		if !strings.Contains(msgs[step], sub) {
			t.Errorf("error sample of %s = %q; want it to contain %q", step, msgs[step], sub)
		}
	}
}

// TestCodeLabelsBounded: a target answering every status code from 100 to
// 599 creates one loadgen_requests_total series per labelled code it hit,
// plus other: never one per code, and within the plan's series estimate.
func TestCodeLabelsBounded(t *testing.T) {
	url := startHostile(t)
	var rows []string
	for code := 100; code <= 599; code++ {
		path := fmt.Sprintf("status/%d", code)
		if code < 200 && code != 101 {
			path = fmt.Sprintf("interim/%d", code) // an interim response, then 200
		}
		rows = append(rows, "["+path+"]")
	}
	p := mustPlan(t, url, `
data: {codes: {columns: [path], rows: [`+strings.Join(rows, ", ")+`]}}
scenarios:
  - name: s
    steps:
      - name: any
        request: {path: "/${codes.path}"}
        check: {status: [200, 299, 418]}
load:
  phases: [{name: a, duration: 1s, rate: 500}]
`)
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	_, res, _ := run(t, p, WithMetrics(m))
	c := res.Step("s", "any")
	if c.Requests != 500 || len(c.Status) != 401 { // 2xx-5xx and 101
		t.Fatalf("requests %d, distinct codes %d; want 500 requests answering 401 codes (every 1xx but 101 ends as 200)", c.Requests, len(c.Status))
	}
	labelled := len(p.StatusCodeLabels())
	if got, want := testutil.CollectAndCount(m.Requests), labelled+2; got != want { // every labelled code, other, and none (pre-created)
		t.Errorf("loadgen_requests_total series = %d; want %d (the %d labelled codes, other and none; not one per code)", got, want, labelled)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("s", "any", "GET", "418")); got != 1 {
		t.Errorf(`code="418" (named by a check) = %v; want 1`, got)
	}
	if got, want := testutil.ToFloat64(m.Requests.WithLabelValues("s", "any", "GET", metrics.CodeOther)), float64(400-labelled+1); got != want {
		t.Errorf(`code="other" = %v; want %v`, got, want) // +1: 200 is labelled but 101 is not
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "step" && l.GetValue() == "any" {
					series++
				}
			}
		}
	}
	if est := p.SeriesEstimate(); series > est {
		t.Errorf("the step has %d series; want at most the plan's estimate %d", series, est)
	}
}
