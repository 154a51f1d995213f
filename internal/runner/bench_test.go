package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
)

const benchPlan = `
name: bench-functional
type: benchmark
defaults: {timeout: 5s}
benchmark:
  warmup: 10
  requests: 150
  concurrency: [1, 4]
  tolerance: 25%
  confidence: 0.95
  endpoints:
    - name: get-team
      request: {path: "/api/teams/${random_int(1,50)}"}
      check: {status: [200]}
`

// TestBench: a first run has no baseline and is stored; a second run against the same target is compared with it
// and unchanged; a run against a target 50% slower is a regression (what the CLI turns into exit code 3), also
// when the first run is named as the baseline explicitly.
func TestBench(t *testing.T) {
	st, _ := openStore(t)
	ctx := timeCtx(t, 2*time.Minute)
	run := func(service time.Duration, baseline string) *BenchReport {
		t.Helper()
		_, url := startTarget(t, target.FixedServiceConfig(8, 64, service))
		out := &testenv.SyncBuffer{}
		rep, err := execute[*BenchReport](ctx, &Run{Plan: parsePlan(t, benchPlan, url), Out: out, Store: st,
			Baseline: baseline, Log: testLogger(t)})
		t.Logf("service %v, baseline %q:\n%s", service, baseline, out)
		if err != nil {
			t.Fatalf("Bench: %v", err)
		}
		if len(rep.Endpoints) != 2 {
			t.Fatalf("%d results; want 2 (one endpoint x concurrency 1 and 4)", len(rep.Endpoints))
		}
		for _, e := range rep.Endpoints {
			if e.Errors != 0 || e.Requests < 100 || e.Requests > 250 {
				t.Errorf("%s: %d requests, %d errors; want about 150 and 0", e.Label(), e.Requests, e.Errors)
			}
			if e.P50 < service || e.P50 > service+service/2+2*time.Millisecond {
				t.Errorf("%s: p50 %v; want about the service time %v", e.Label(), e.P50, service)
			}
		}
		return rep
	}

	first := run(10*time.Millisecond, "")
	for _, e := range first.Endpoints {
		if e.Verdict != nil || e.Baseline != nil {
			t.Errorf("first run %s: compared with %+v; want no baseline", e.Label(), e.Baseline)
		}
	}
	if first.Regression {
		t.Error("first run: regression; want none without a baseline")
	}

	same := run(10*time.Millisecond, "")
	for _, e := range same.Endpoints {
		if e.Verdict == nil || e.Baseline == nil || e.Baseline.RunID != first.RunID {
			t.Fatalf("second run %s: baseline %+v; want run %s", e.Label(), e.Baseline, first.RunID)
		}
		if e.Verdict.Regression {
			t.Errorf("same target %s: %s; want no regression", e.Label(), e.Verdict)
		}
	}

	slow := run(15*time.Millisecond, "")
	if !slow.Regression || len(slow.Regressions) != 2 {
		t.Errorf("50%% slower target: regression %v (%v); want a regression at both concurrencies", slow.Regression,
			slow.Regressions)
	}
	for _, e := range slow.Endpoints {
		if e.Baseline == nil || e.Baseline.RunID != same.RunID {
			t.Errorf("slow run %s: baseline %+v; want the latest run %s", e.Label(), e.Baseline, same.RunID)
		}
		if e.Verdict == nil || e.Verdict.Quantiles[0].Change != bench.Regression {
			t.Errorf("slow run %s: %v; want a p50 regression", e.Label(), e.Verdict)
		}
	}

	pinned := run(15*time.Millisecond, first.RunID)
	if !pinned.Regression || pinned.Endpoints[0].Baseline.RunID != first.RunID {
		t.Errorf("--baseline %s: regression %v against %+v; want a regression against it", first.RunID,
			pinned.Regression, pinned.Endpoints[0].Baseline)
	}

	rows, err := st.BenchmarkResults(context.Background(), slow.RunID)
	if err != nil || len(rows) != 2 {
		t.Fatalf("stored results of %s: %d, %v; want 2", slow.RunID, len(rows), err)
	}
	h, err := rows[0].Histogram()
	if err != nil || h.Count() != slow.Endpoints[0].Requests {
		t.Errorf("stored histogram: %v samples (%v); want %d", h.Count(), err, slow.Endpoints[0].Requests)
	}
	r, err := st.GetRun(context.Background(), slow.RunID)
	if err != nil || r.Type != store.TypeBenchmark || r.Status != store.StatusCompleted ||
		!strings.Contains(r.SummaryText, "REGRESSION") {
		t.Errorf("stored run: %+v, %v; want a completed benchmark whose summary says REGRESSION", r, err)
	}
}

// TestBenchUnreachable: a dead target fails the benchmark with a clear message.
func TestBenchUnreachable(t *testing.T) {
	out := &testenv.SyncBuffer{}
	rep, err := execute[*BenchReport](timeCtx(t, 30*time.Second), &Run{Plan: parsePlan(t, benchPlan, deadURL(t)), Out: out})
	t.Logf("output:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "target unreachable") || rep.Status != "failed" {
		t.Errorf("Bench against a dead port: %v, status %s; want failed, target unreachable", err, rep.Status)
	}
}
