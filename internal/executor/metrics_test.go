package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

// TestCodeLabelsBounded: a target answering every status code from 100 to
// 599 creates one loadgen_requests_total series per labelled code it hit,
// plus other: never one per code, and within the plan's series estimate.
func TestCodeLabelsBounded(t *testing.T) {
	s, err := hostile.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := s.URL()
	var rows []string
	for code := 100; code <= 599; code++ {
		path := fmt.Sprintf("status/%d", code)
		if code < 200 && code != 101 {
			path = fmt.Sprintf("interim/%d", code) // an interim response, then 200
		}
		rows = append(rows, "["+path+"]")
	}
	p := executor.MustPlan(t, url, `
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
	e, err := executor.New(p, executor.WithObserver(m.Observer()))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := e.Results()
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
