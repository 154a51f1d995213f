package runner

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/knee"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
)

const kneePlan = `
name: knee-accuracy
type: knee
defaults: {timeout: 5s}
scenarios:
  - name: read
    steps:
      - name: team
        request: {path: /api/teams/1}
knee:
  model: closed
  steps: [1, 2, 4, 8, 16, 32]
  step_duration: 1500ms
  warmup: 400ms
  gain_threshold: 10%
`

// TestAccuracyKnee: against a target with W = 8 workers and a fixed 20 ms service time (a queue big enough that
// the closed model never gets a 503), throughput rises linearly to W/s = 400 req/s at concurrency 8 and stays
// flat while latency rises, so the knee lands within one step of W (16 with doubling steps) and the USL's
// fitted peak throughput within 10% of 400 req/s. With the target's metrics URL, the saturated resource is the
// target's pool.
func TestAccuracyKnee(t *testing.T) {
	testenv.SkipIfRace(t)
	const workers, service = 8, 20 * time.Millisecond
	_, url := startTarget(t, target.FixedServiceConfig(workers, 64, service))
	p := parsePlan(t, kneePlan+"  metrics_url: "+url+"/metrics\n", url)
	st, _ := openStore(t)
	out := &testenv.SyncBuffer{}
	start := time.Now()
	rep, err := execute[*KneeReport](timeCtx(t, 90*time.Second), &Run{Plan: p, Out: out, Store: st, Log: testLogger(t)})
	t.Logf("output (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("Knee: %v", err)
	}
	a := rep.Analysis
	if a.Knee < 0 {
		t.Fatalf("no knee found; want one within a step of %d", workers)
	}
	kneeLoad := rep.Steps[a.Knee].Load
	if kneeLoad < workers/2 || kneeLoad > 2*workers {
		t.Errorf("knee at concurrency %v; want within one step of W = %d (4, 8 or 16)", kneeLoad, workers)
	}
	want := float64(workers) / service.Seconds()
	peak := a.USL.PeakThroughput()
	t.Logf("knee at %v (W = %d); USL peak %.1f req/s vs W/s = %.0f (%.1f%%), N* %.1f, sigma %.4f kappa %.6f, R2 %.3f",
		kneeLoad, workers, peak, want, 100*(peak-want)/want, a.USL.PeakN(), a.USL.Sigma, a.USL.Kappa, a.USL.R2)
	if a.FitErr != "" || math.Abs(peak-want)/want > 0.10 {
		t.Errorf("USL peak throughput %.1f req/s (fit error %q); want %.0f ± 10%%", peak, a.FitErr, want)
	}
	if a.USL.R2 < 0.9 {
		t.Errorf("USL R2 %.3f; want >= 0.9 on a clean capacity model", a.USL.R2)
	}
	if a.Saturated != knee.TargetPoolInUseRatio {
		t.Errorf("saturated %q (%v); want %s", a.Saturated, a.SaturatedValue, knee.TargetPoolInUseRatio)
	}
	for _, s := range rep.Steps {
		if s.ErrorRate != 0 {
			t.Errorf("step %v: error rate %.3f; want 0 (the queue holds every VU)", s.Load, s.ErrorRate)
		}
	}
	if !strings.Contains(out.String(), "Knee at concurrency") || !strings.Contains(out.String(), "USL (") {
		t.Errorf("output lacks the verdict:\n%s", out)
	}
	kr, err := st.KneeResult(context.Background(), rep.RunID)
	if err != nil {
		t.Fatalf("KneeResult: %v", err)
	}
	if kr.KneeRPS != kneeLoad || len(kr.Points) != len(rep.Steps) {
		t.Errorf("stored knee %v with %d points; want %v with %d", kr.KneeRPS, len(kr.Points), kneeLoad, len(rep.Steps))
	}
}

// TestKneeUnreachable: a dead target fails the run at its first step with a clear message.
func TestKneeUnreachable(t *testing.T) {
	p := parsePlan(t, strings.Replace(kneePlan, "step_duration: 1500ms\n  warmup: 400ms",
		"step_duration: 200ms\n  warmup: 0s", 1), deadURL(t))
	out := &testenv.SyncBuffer{}
	rep, err := execute[*KneeReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Out: out, Log: testLogger(t)})
	t.Logf("output:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "target unreachable") {
		t.Fatalf("Knee against a dead port: %v; want target unreachable", err)
	}
	if rep.Status != "failed" || len(rep.Steps) != 0 {
		t.Errorf("status %s with %d steps; want failed with 0", rep.Status, len(rep.Steps))
	}
}

func TestParseGauges(t *testing.T) {
	in := `# HELP target_pool_in_use Workers held by a request now.
# TYPE target_pool_in_use gauge
target_pool_in_use 7
# TYPE target_pool_workers gauge
target_pool_workers 8
# TYPE target_http_requests_in_flight gauge
target_http_requests_in_flight{route="a"} 3
target_http_requests_in_flight{route="b"} 2
# TYPE other_total counter
other_total 5
`
	got, err := parseGauges(strings.NewReader(in), metricPoolInUse, metricPoolWorkers, metricInFlight, metricQueue)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{metricPoolInUse: 7, metricPoolWorkers: 8, metricInFlight: 5}
	if len(got) != len(want) {
		t.Errorf("parseGauges = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseGauges[%s] = %v; want %v", k, got[k], v)
		}
	}
	if _, err := parseGauges(strings.NewReader("bad metric{"), metricQueue); err == nil {
		t.Error("parseGauges(garbage) = nil error; want one")
	}
}

// TestAccuracyKneeOpen: open-model rate steps against the same capacity model (400 req/s, a queue of 4): the
// throughput (successful requests) stops at capacity, the excess is rejected, so the knee is the first rate
// step past 400 req/s.
func TestAccuracyKneeOpen(t *testing.T) {
	testenv.SkipIfRace(t)
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, 20*time.Millisecond))
	yaml := strings.Replace(kneePlan, "model: closed\n  steps: [1, 2, 4, 8, 16, 32]", "model: open\n  steps: [100, 200, 400, 800]", 1)
	p := parsePlan(t, strings.Replace(yaml, "step_duration: 1500ms", "step_duration: 1s", 1), url)
	out := &testenv.SyncBuffer{}
	rep, err := execute[*KneeReport](timeCtx(t, 60*time.Second), &Run{Plan: p, Out: out, Log: testLogger(t)})
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("Knee: %v", err)
	}
	if rep.Model != "open" || len(rep.Steps) != 4 {
		t.Fatalf("model %s with %d steps; want open with 4", rep.Model, len(rep.Steps))
	}
	if k := rep.Analysis.Knee; k != 3 {
		t.Errorf("knee at step %d; want 3 (800 req/s, the first past capacity)", k)
	}
	if x := rep.Steps[3].Throughput; math.Abs(x-400)/400 > 0.1 {
		t.Errorf("throughput at 800 req/s: %.1f; want the capacity 400 ± 10%%", x)
	}
	if e := rep.Steps[3].ErrorRate; e < 0.3 {
		t.Errorf("error rate at 800 req/s: %.2f; want about half rejected", e)
	}
}
