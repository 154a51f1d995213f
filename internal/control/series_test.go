package control

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seriesPlan is an open-model plan of scenario scen with the given steps.
func seriesPlan(name, targetURL, scen string, dur time.Duration, steps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntarget: %s\nscenarios:\n  - name: %s\n    steps:\n", name, targetURL, scen)
	for _, s := range steps {
		fmt.Fprintf(&b, "      - {name: %s, request: {path: /api/health}}\n", s)
	}
	fmt.Fprintf(&b, "load:\n  model: open\n  phases:\n    - {name: steady, duration: %s, rate: 20}\n", dur)
	return b.String()
}

// TestServeForgetsFinishedStepSeries: serve's /metrics keeps the per-step
// series of active runs and of the last finished run only, and sums the
// live gauges of overlapping runs. Plan A (steps
// a1, a2) runs to the end; once plan B (b1) starts, A's series are gone.
// While A and B overlap, both sets are there.
func TestServeForgetsFinishedStepSeries(t *testing.T) {
	tgt := startTarget(t)
	e := newE2E(t, Config{MaxConcurrentRuns: 2})
	metricsHas := func(step string) bool {
		return strings.Contains(e.do("GET", "/metrics", "").raw, `step="`+step+`"`)
	}
	stepSeries := func(step string) []string {
		var out []string
		for _, l := range strings.Split(e.do("GET", "/metrics", "").raw, "\n") {
			if strings.Contains(l, `step="`+step+`"`) || strings.Contains(l, `scenario="sa"`) {
				out = append(out, l)
			}
		}
		return out
	}

	a := e.startRun(seriesPlan("plan-a", tgt.URL, "sa", time.Second, "a1", "a2"))
	waitFor(t, func() bool { return e.get(a).body["status"] == "completed" })
	for _, s := range []string{"a1", "a2"} {
		if !metricsHas(s) {
			t.Fatalf("/metrics lacks step %s after run A ended; want the last finished run's series kept", s)
		}
	}

	b := e.startRun(seriesPlan("plan-b", tgt.URL, "sb", 30*time.Second, "b1"))
	waitFor(t, func() bool { return metricsHas("b1") })
	if left := stepSeries("a1"); len(left) > 0 || metricsHas("a2") {
		t.Fatalf("after run B started, run A's series are still on /metrics:\n%s", strings.Join(append(left, stepSeries("a2")...), "\n"))
	}

	// overlap: A again while B runs; both sets are there, and stay while both run
	a2 := e.startRun(seriesPlan("plan-a", tgt.URL, "sa", 30*time.Second, "a1", "a2"))
	waitFor(t, func() bool { return metricsHas("a1") && metricsHas("a2") })
	if !metricsHas("b1") {
		t.Fatal("run B's series went when run A started while B was running")
	}
	time.Sleep(300 * time.Millisecond)
	for _, s := range []string{"a1", "a2", "b1"} {
		if !metricsHas(s) {
			t.Errorf("/metrics lacks step %s while both runs are active", s)
		}
	}
	// the live gauges are the sums over the runs in progress, not whichever run wrote last: 20 + 20 it/s
	m := e.do("GET", "/metrics", "").raw
	for _, want := range []string{"loadgen_run_active 2", "loadgen_target_rate_iterations_per_second 40",
		`loadgen_phase{phase="steady"} 2`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics with two runs at 20 it/s lacks %q", want)
		}
	}
	for _, id := range []string{a2, b} {
		e.want(e.do("POST", "/api/tests/runs/"+id+"/cancel", ""), http.StatusOK, "")
	}
}
