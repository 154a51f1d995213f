package htmlreport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/knee"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/stress"
)

// The fixture runs, written through the real store code into SQLite: deterministic (fixed seeds and times), so the
// data the page embeds can be compared with golden files.
const (
	loadID     = "20261126-060000-10ad0001"
	baseID     = "20261125-060000-ba5e0001"
	slowID     = "20261126-070000-5104ee01"
	stressID   = "20261126-080000-57e55001"
	kneeID     = "20261126-090000-c4ee0001"
	benchID    = "20261126-100000-be4c0001"
	hourID     = "20261126-110000-00010001"
	fixturePln = "checkout"
)

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "report.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// lognormal returns a histogram of n latencies with median med and log-spread sigma, plus a slow tail.
func lognormal(seed uint64, n int, med time.Duration, sigma float64) *hist.Histogram {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	h := hist.New()
	for range n {
		v := float64(med) * math.Exp(sigma*r.NormFloat64())
		if r.IntN(500) == 0 {
			v *= 6 // a rare slow request
		}
		h.Record(time.Duration(v))
	}
	return h
}

type stepSpec struct {
	scenario, step, method string
	n                      int
	med                    time.Duration
	errs                   int64
}

type phaseSpec struct {
	name     string
	dur      time.Duration
	from, to float64 // req/s
}

// loadRun stores a finished load run: snapshots every interval over the phases, step results with histograms, and
// a summary with thresholds, phases, errors by reason and samples.
func loadRun(t testing.TB, st store.Store, id string, start time.Time, phases []phaseSpec, steps []stepSpec,
	interval time.Duration, slow float64, seed uint64) {
	t.Helper()
	ctx := context.Background()
	var total time.Duration
	for _, p := range phases {
		total += p.dur
	}
	run := &store.Run{ID: id, Name: fixturePln, Plan: fixturePln, Type: store.TypeLoad, Status: store.StatusRunning,
		CreatedAt: start, StartedAt: start, PlanYAML: "name: " + fixturePln + "\n"}
	if err := st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}

	// Snapshots: the rate follows the phases; latency wobbles and rises with the rate.
	var snaps []store.Snapshot
	var reqs, errs float64
	for el := interval; el <= total; el += interval {
		var rate, target float64
		var name string
		off := time.Duration(0)
		for _, p := range phases {
			if el <= off+p.dur {
				f := float64(el-off) / float64(p.dur)
				target, name = p.from+(p.to-p.from)*f, p.name
				break
			}
			off += p.dur
		}
		x := el.Seconds()
		rate = target * (0.98 + 0.02*math.Sin(x/7))
		reqs += rate * interval.Seconds()
		er := 0.002 + 0.004*math.Max(0, math.Sin(x/40))
		errs += rate * interval.Seconds() * er
		base := (20 + target/20) * slow
		snaps = append(snaps, store.Snapshot{TS: start.Add(el), Phase: name, RPS: rate, TargetRPS: target, ErrorRate: er,
			P50Ms: base, P90Ms: base * 2.1, P95Ms: base * 2.6, P99Ms: base * (3.4 + 0.3*math.Sin(x/11)),
			ServiceP50Ms: base * 0.93, ServiceP90Ms: base * 1.9, ServiceP99Ms: base * 2.9,
			InFlight: int64(rate * base / 1000), VUs: int64(rate*base/1000) + 2, Requests: int64(reqs), Errors: int64(errs),
			CPUPct: 8 + target/25, MemBytes: 48<<20 + int64(x)*1024, HostCPUPct: 20 + target/10 + 3*math.Sin(x/5),
			HostMemPct: 41.5})
	}
	for i := 0; i < len(snaps); i += 500 {
		if err := st.AddSnapshots(ctx, id, snaps[i:min(i+500, len(snaps))]); err != nil {
			t.Fatal(err)
		}
	}

	// Step results with their histograms, and the summary built from the same histograms.
	sum := &report.Summary{Header: report.Header{RunID: id, Plan: fixturePln, Type: "load", Model: "open", Target: "http://127.0.0.1:8117",
		Status: store.StatusCompleted, StartedAt: start, EndedAt: start.Add(total)}, DurationS: total.Seconds(),
		ErrorsByReason: map[string]uint64{}, Steps: []report.Step{}, Phases: []report.Phase{}}
	merged := hist.New()
	var rows []store.StepResult
	var totalReq, totalErr int64
	for i, s := range steps {
		h := lognormal(seed+uint64(i), s.n, time.Duration(float64(s.med)*slow), 0.45)
		svc := lognormal(seed+uint64(i)+100, s.n, time.Duration(float64(s.med)*slow*0.93), 0.42)
		merged.Merge(h)
		sr, err := store.NewStepResult(s.scenario, s.step, int64(s.n), s.errs, h, total)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, sr)
		totalReq += int64(s.n)
		totalErr += s.errs
		step := report.Step{Scenario: s.scenario, Step: s.step, Method: s.method, Requests: uint64(s.n),
			Errors: uint64(s.errs), ErrorRate: float64(s.errs) / float64(s.n), RPS: float64(s.n) / total.Seconds(),
			LatencyMS: report.LatencyOf(h), ServiceMS: report.LatencyOf(svc),
			TimingMS: report.Timing{Connect: report.Quantiles{Count: 40, P50: 0.21, P99: 0.9},
				TTFB: report.Quantiles{Count: uint64(s.n), P50: report.LatencyOf(svc).P50 * 0.97, P99: report.LatencyOf(svc).P99 * 0.97}}}
		if s.errs > 0 {
			step.ErrorsByReason = map[string]uint64{"status": uint64(s.errs)}
			sum.ErrorsByReason["status"] += uint64(s.errs)
		}
		sum.Steps = append(sum.Steps, step)
	}
	if err := st.AddStepResults(ctx, id, rows); err != nil {
		t.Fatal(err)
	}
	sum.Requests, sum.Errors = uint64(totalReq), uint64(totalErr)
	sum.ErrorRate = float64(totalErr) / float64(totalReq)
	sum.RPS = float64(totalReq) / total.Seconds()
	sum.LatencyMS, sum.ServiceMS = report.LatencyOf(merged), report.LatencyOf(merged)
	sum.ServiceMS.P99 *= 0.95
	if totalErr > 0 {
		sum.ErrorsByReason["status"] -= 3 // three of the failures were timeouts
		sum.ErrorsByReason["timeout"] = 3
		sum.ErrorSamples = []report.ErrorSample{
			{AtS: 12.5, Phase: phases[0].name, Scenario: steps[0].scenario, Step: steps[0].step, Reason: "status", Status: 503,
				Message: "status 503: <html>overloaded</html>", Count: uint64(steps[0].errs)},
			{AtS: 41.25, Phase: phases[len(phases)-1].name, Scenario: steps[1].scenario, Step: steps[1].step, Reason: "timeout",
				Message: "timeout after 2s", Count: 3},
		}
	}
	off := time.Duration(0)
	for i, p := range phases {
		n := uint64(float64(totalReq) * float64(p.dur) / float64(total))
		sum.Phases = append(sum.Phases, report.Phase{Name: p.name, StartedAt: start.Add(off), DurationS: p.dur.Seconds(),
			Requests: n, Errors: uint64(i), ErrorRate: float64(i) / float64(n), RPS: float64(n) / p.dur.Seconds(),
			LatencyMS: report.LatencyOf(merged)})
		off += p.dur
	}
	sum.Thresholds = []report.Threshold{
		{Expr: "p99 < 300ms", OK: sum.LatencyMS.P99 < 300, Value: sum.LatencyMS.P99, Unit: "ms"},
		{Expr: "error_rate < 1%", OK: sum.ErrorRate < 0.01, Value: sum.ErrorRate, Unit: "ratio"},
		{Expr: "step[pay].p95 < 200ms", OK: sum.Steps[len(sum.Steps)-1].LatencyMS.P95 < 200,
			Value: sum.Steps[len(sum.Steps)-1].LatencyMS.P95, Unit: "ms", Window: "10s"},
	}
	sum.Health = report.Health{LagP50MS: 0.08, LagP99MS: 1.9, LagMaxMS: 7.5, CPUMaxPct: 23.5, CPUMeasured: true, RSSMaxMB: 52}
	sum.Health.JudgeHealth()
	finish(t, st, id, sum.EndedAt, store.StatusCompleted, store.TotalsOf(totalReq, totalErr, merged, total), sum)
}

func finish(t testing.TB, st store.Store, id string, at time.Time, status store.Status, totals store.Totals, summary any) {
	t.Helper()
	js, err := json.Marshal(summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(context.Background(), id, store.Finish{Status: status, EndedAt: at, Totals: totals,
		SummaryJSON: js, SummaryText: "(text)\n"}); err != nil {
		t.Fatal(err)
	}
}

var checkoutPhases = []phaseSpec{{"warm-up", 10 * time.Second, 50, 50}, {"ramp-up", 20 * time.Second, 50, 200},
	{"sustained", 30 * time.Second, 200, 200}}

var checkoutSteps = []stepSpec{
	{"browse", "home", "GET", 6000, 12 * time.Millisecond, 4},
	{"browse", "search", "GET", 4000, 45 * time.Millisecond, 9},
	{"buy", "pay", "POST", 1500, 70 * time.Millisecond, 0},
}

// stressRun stores a stress search against a service that breaks between 800 and 900 req/s.
func stressRun(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	start := t0.Add(2 * time.Hour)
	if err := st.CreateRun(ctx, &store.Run{ID: stressID, Name: fixturePln, Plan: fixturePln, Type: store.TypeStress,
		Status: store.StatusRunning, CreatedAt: start, StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	type pr struct {
		phase string
		rate  float64
	}
	seq := []pr{{"ramp", 100}, {"ramp", 200}, {"ramp", 400}, {"ramp", 800}, {"ramp", 1600}, {"bisect", 1200},
		{"bisect", 1000}, {"bisect", 900}, {"bisect", 850}}
	res := stress.Result{State: stress.Completed, MaxSustainable: 850, Breakdown: 900, Message: "search converged within 5%",
		Probes: []stress.Probe{}}
	row := store.StressResult{State: string(stress.Completed), MaxSustainableRPS: 850, BreakdownRPS: 900, Threshold: 0.05,
		SLOP99Ms: 250, CreatedAt: start.Add(5 * time.Minute)}
	for i, p := range seq {
		over := math.Max(0, p.rate-860) / 860
		er := math.Min(0.6, 0.002+over*0.9)
		p99 := 40 + 900*over + p.rate/50
		ok := er <= 0.05 && p99 <= 250
		reason := ""
		if !ok {
			reason = fmt.Sprintf("error rate %.1f%% above 5.0%%", 100*er)
		}
		res.Probes = append(res.Probes, stress.Probe{Rate: p.rate, Achieved: p.rate * (1 - er/2), ErrorRate: er,
			P99: time.Duration(p99 * 1e6), Phase: p.phase, Pass: ok, Reason: reason})
		row.Probes = append(row.Probes, store.StressProbe{Seq: i + 1, Phase: p.phase, TargetRPS: p.rate,
			AchievedRPS: p.rate * (1 - er/2), Requests: int64(p.rate * 10), Errors: int64(p.rate * 10 * er), ErrorRate: er,
			P50Ms: p99 / 4, P95Ms: p99 / 1.6, P99Ms: p99, OK: ok})
	}
	if err := st.AddStressResult(ctx, stressID, row); err != nil {
		t.Fatal(err)
	}
	finish(t, st, stressID, start.Add(5*time.Minute), store.StatusCompleted,
		store.Totals{Requests: 70000, Errors: 5000, ErrorRate: 5.0 / 70, RPS: 850}, map[string]any{"result": res})
}

// kneeRun stores a closed-model knee search against a service with 16 workers of 20 ms (800 req/s).
func kneeRun(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	start := t0.Add(3 * time.Hour)
	if err := st.CreateRun(ctx, &store.Run{ID: kneeID, Name: fixturePln, Plan: fixturePln, Type: store.TypeKnee,
		Status: store.StatusRunning, CreatedAt: start, StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	var steps []knee.Step
	for _, n := range []float64{1, 2, 4, 8, 16, 32, 64} {
		x := 50 * n / (1 + 0.02*(n-1) + 0.0004*n*(n-1))
		p99 := time.Duration((20 + 1.5*math.Max(0, n-14)) * float64(time.Millisecond))
		steps = append(steps, knee.Step{Load: n, Throughput: math.Round(x*10) / 10, P50: p99 * 8 / 10, P99: p99})
	}
	a := knee.Analyze(steps, 0.1)
	row := store.KneeResult{CreatedAt: start.Add(10 * time.Minute), Points: []store.KneePoint{}}
	for _, s := range steps {
		row.Points = append(row.Points, store.KneePoint{TargetRPS: s.Load, ThroughputRPS: s.Throughput,
			P99Ms: store.Ms(s.P99), ErrorRate: s.ErrorRate})
		row.MaxThroughputRPS = math.Max(row.MaxThroughputRPS, s.Throughput)
	}
	if a.Knee >= 0 {
		row.KneeRPS, row.KneeP99Ms = steps[a.Knee].Load, store.Ms(steps[a.Knee].P99)
	}
	if err := st.AddKneeResult(ctx, kneeID, row); err != nil {
		t.Fatal(err)
	}
	finish(t, st, kneeID, start.Add(10*time.Minute), store.StatusCompleted, store.Totals{Requests: 90000, RPS: 640},
		map[string]any{"model": "closed", "analysis": a, "steps": steps})
}

// benchRun stores a benchmark of two endpoints at two concurrencies, one regressed against its baseline.
func benchRun(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	start := t0.Add(4 * time.Hour)
	if err := st.CreateRun(ctx, &store.Run{ID: benchID, Name: fixturePln, Plan: fixturePln, Type: store.TypeBenchmark,
		Status: store.StatusRunning, CreatedAt: start, StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	type ep struct {
		name, method string
		med          time.Duration
	}
	var rows []store.BenchmarkResult
	var eps []map[string]any
	for i, e := range []ep{{"GET /api/teams", "GET", 8 * time.Millisecond}, {"GET /api/users", "GET", 30 * time.Millisecond}} {
		for j, c := range []int{1, 8} {
			h := lognormal(uint64(40+2*i+j), 1000, e.med*time.Duration(1+j), 0.3)
			b := store.BenchmarkResult{Plan: fixturePln, Endpoint: bench.StoreKey(e.name, c), Method: e.method, Concurrency: c, DurationS: 10,
				Requests: 1000, RPS: 100 * float64(c) / float64(1+j), CreatedAt: start, Latency: store.LatencyOf(h)}
			b.Hist, _ = h.MarshalBinary()
			rows = append(rows, b)
			baseMed := e.med * time.Duration(1+j)
			if i == 1 && j == 1 { // the users endpoint at c=8 got twice as slow as its baseline
				baseMed = e.med
			}
			v := bench.CompareHist(lognormal(uint64(90+2*i+j), 1000, baseMed, 0.3), h, bench.Criteria{})
			eps = append(eps, map[string]any{"endpoint": e.name, "concurrency": c, "verdict": v,
				"baseline": map[string]any{"run_id": "20261120-100000-be4c0000"}})
		}
	}
	if err := st.AddBenchmarkResults(ctx, benchID, rows); err != nil {
		t.Fatal(err)
	}
	finish(t, st, benchID, start.Add(time.Minute), store.StatusCompleted, store.Totals{Requests: 4000, RPS: 250},
		map[string]any{"tolerance": 0.1, "confidence": 0.95, "endpoints": eps, "regression": true,
			"regressions": []string{"GET /api/users c=8: slower: p50 x2.00"}})
}

// fixtures stores every fixture run into a fresh SQLite store.
func fixtures(t testing.TB) store.Store {
	t.Helper()
	st := openStore(t)
	loadRun(t, st, baseID, t0.Add(-24*time.Hour), checkoutPhases, checkoutSteps, 2*time.Second, 1, 1)
	loadRun(t, st, loadID, t0, checkoutPhases, checkoutSteps, 2*time.Second, 1, 11)
	slower := append([]stepSpec(nil), checkoutSteps...)
	slower[1].med = slower[1].med * 12 / 10 // search is 20% slower
	loadRun(t, st, slowID, t0.Add(time.Hour), checkoutPhases, slower, 2*time.Second, 1, 21)
	stressRun(t, st)
	kneeRun(t, st)
	benchRun(t, st)
	return st
}

// hourRun stores a one-hour load run: 1800 snapshots at 2 s, 10 steps, 5 phases.
func hourRun(t testing.TB, st store.Store, interval time.Duration) {
	t.Helper()
	phases := []phaseSpec{{"warm-up", 5 * time.Minute, 50, 50}, {"ramp-up", 10 * time.Minute, 50, 400},
		{"sustained", 30 * time.Minute, 400, 400}, {"spike", 5 * time.Minute, 800, 800}, {"recovery", 10 * time.Minute, 400, 400}}
	var steps []stepSpec
	for i := range 10 {
		steps = append(steps, stepSpec{"journey", fmt.Sprintf("step-%02d", i), "GET", 20000 + 4000*i,
			time.Duration(5+7*i) * time.Millisecond, int64(i * 3)})
	}
	steps[len(steps)-1].step = "pay"
	loadRun(t, st, hourID, t0.Add(5*time.Hour), phases, steps, interval, 1, 51)
}
