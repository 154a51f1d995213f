package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// Benchmark sizing: the measured window of an endpoint is sized from its warm-up rate so that it holds about
// benchmark.requests requests, within these bounds.
const (
	MinMeasure = 50 * time.Millisecond
	MaxMeasure = 10 * time.Minute
	// MaxBenchOvershoot ends a measured window early once it holds this many times benchmark.requests (a
	// warm-up slowed down by the box underestimates the rate and oversizes the window).
	MaxBenchOvershoot = 1.5
	// MaxWarmup bounds a warm-up given as a number of requests.
	MaxWarmup = time.Minute
	// MinSettle and MaxSettle bound the settling phase of a measured run (see benchEndpoint).
	MinSettle = 100 * time.Millisecond
	MaxSettle = 2 * time.Second
	// benchScenario names the one-step scenario an endpoint runs in.
	benchScenario = "benchmark"
)

// BenchReport is the outcome of a benchmark run.
type BenchReport struct {
	report.Header
	Tolerance  float64         `json:"tolerance"`
	Confidence float64         `json:"confidence"`
	Endpoints  []BenchEndpoint `json:"endpoints"`
	// Regression is true when any endpoint regressed against its baseline (exit code 3).
	Regression  bool     `json:"regression"`
	Regressions []string `json:"regressions,omitempty"`

	width int // of the result lines' labels
}

// BenchEndpoint is one endpoint at one concurrency, with its comparison.
type BenchEndpoint struct {
	bench.Result
	ErrorRate float64 `json:"error_rate"`
	// Baseline is the stored result compared with (nil when none was found).
	Baseline *Baseline      `json:"baseline,omitempty"`
	Verdict  *bench.Verdict `json:"verdict,omitempty"`
}

// Baseline identifies the stored result an endpoint was compared with.
type Baseline struct {
	RunID    string  `json:"run_id"`
	Requests int64   `json:"requests"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

// benchmark carries out a benchmark run: for each endpoint (benchmark.endpoints, or every scenario step) and each
// concurrency C of benchmark.concurrency, a warm-up left out of the results, then about benchmark.requests
// requests with C virtual users (closed model, no think time), each measured from its send to its last byte.
// Each result is compared with the baseline (Run.Baseline, or the last stored benchmark of the same plan, endpoint
// and concurrency); BenchReport.Regression says whether any endpoint is significantly slower. An endpoint that
// could not be measured (target unreachable, engine failure, cancelled) ends the benchmark.
func benchmark(ctx context.Context, r *Run) (Report, error) {
	p := r.Plan
	b := p.Benchmark
	rep := &BenchReport{Tolerance: b.Tolerance, Confidence: b.Confidence, Endpoints: []BenchEndpoint{}}
	concurrency := b.Concurrency
	if len(concurrency) == 0 {
		concurrency = []int{1}
	}
	fmt.Fprintf(r.out, "benchmark %s: %d endpoints x concurrency %v, %d requests each (warm-up %s) against %s\n",
		p.Name, len(b.Endpoints), concurrency, b.Requests, warmupString(b.Warmup), p.Target)

	for _, ep := range b.Endpoints { // align the result lines on the longest label
		for _, c := range concurrency {
			l := bench.Result{Endpoint: ep.Name, Request: ep.Request.Method + " " + ep.Request.Path, Concurrency: c}
			rep.width = max(rep.width, len(l.Label()))
		}
	}
	var runErr error
	total := hist.New()
	var reqs, errs uint64
	var elapsed time.Duration
loop:
	for _, ep := range b.Endpoints {
		for _, c := range concurrency {
			res, err := benchEndpoint(ctx, r, ep, c)
			if err != nil {
				runErr = fmt.Errorf("endpoint %s (concurrency %d): %w", ep.Name, c, err)
				break loop
			}
			be := BenchEndpoint{Result: res, ErrorRate: res.ErrorRate()}
			compareBaseline(ctx, r, &be, b)
			rep.Endpoints = append(rep.Endpoints, be)
			total.Merge(res.Histogram)
			reqs, errs, elapsed = reqs+res.Requests, errs+res.Errors, elapsed+res.Duration
			fmt.Fprintln(r.out, benchLine(be, rep.width))
			if be.Verdict != nil && be.Verdict.Regression {
				rep.Regression = true
				rep.Regressions = append(rep.Regressions, fmt.Sprintf("%s: %s", res.Label(), be.Verdict.Reason))
			}
		}
	}
	r.totals = store.TotalsOf(int64(reqs), int64(errs), total, elapsed)
	if len(rep.Endpoints) > 0 {
		rows := make([]store.BenchmarkResult, 0, len(rep.Endpoints))
		for _, e := range rep.Endpoints {
			row, err := benchRow(p.Name, e.Result, time.Now())
			r.rec.fail("encode benchmark result", err)
			rows = append(rows, row)
		}
		r.write("add benchmark results", func(ctx context.Context, sk store.Sink) error {
			return sk.AddBenchmarkResults(ctx, r.ID, rows)
		})
	}
	return rep, runErr
}

// Passed reports whether the benchmark completed without a regression.
func (b *BenchReport) Passed() bool { return b.Status == store.StatusCompleted && !b.Regression }

// WriteText writes the verdict and where the run is stored (the result lines were printed as they came).
func (b *BenchReport) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s\n%s", benchVerdict(b), b.StoreLine())
	return err
}

func warmupString(w plan.Warmup) string {
	if w.Duration > 0 {
		return w.Duration.String()
	}
	return fmt.Sprintf("%d requests", w.Requests)
}

// benchEndpoint measures one endpoint at concurrency c: the warm-up (also the rate estimate that sizes the
// measured window), then the measured run.
func benchEndpoint(ctx context.Context, r *Run, ep plan.Step, c int) (bench.Result, error) {
	p := r.Plan
	b := p.Benchmark
	sc := []plan.Scenario{{Name: benchScenario, Weight: 1, Steps: []plan.Step{ep}}}
	request := ep.Request.Method + " " + ep.Request.Path

	// Warm-up: a duration, or until the given number of requests completed (at least c, so that every virtual
	// user's connection is open and the rate estimate sees all of them).
	warmN := uint64(max(b.Warmup.Requests, c))
	warmFor := MaxWarmup
	if b.Warmup.Duration > 0 {
		warmFor, warmN = b.Warmup.Duration, 0
	}
	d := derive(p, sc, plan.Load{Model: plan.ModelClosed, Phases: fixedPhases(c, 0, namedDur{"warmup", warmFor})})
	x, err := r.start(ctx, d)
	if err != nil {
		return bench.Result{}, err
	}
	t0 := time.Now()
	if warmN > 0 {
		x.watch(func() bool { return ctx.Err() != nil || x.e.Snapshot().Requests >= warmN })
	}
	warm, err := x.stop()
	if err != nil {
		return bench.Result{}, err
	}
	if ctx.Err() != nil {
		return bench.Result{}, ctx.Err()
	}
	wreq, werr := failures(warm.Total)
	if wreq > 0 && unreachableFailures(warm.Total) == wreq {
		return bench.Result{}, fmt.Errorf("target unreachable: all %d warm-up requests got no response (%s)",
			wreq, sampleError(warm))
	}
	warmDur := time.Since(t0)
	if wreq == 0 || warmDur <= 0 {
		return bench.Result{}, errors.New("warm-up completed no request: is the target answering?")
	}
	if werr == wreq {
		r.Log.Warn("every warm-up request failed", "endpoint", ep.Name, "cause", sampleError(warm))
	}
	rate := float64(wreq) / warmDur.Seconds()
	measure := time.Duration(float64(b.Requests) / rate * float64(time.Second))
	measure = min(max(measure, MinMeasure), MaxMeasure)
	// The measured run opens its own connections: a short settling phase (about two requests per virtual user)
	// opens them, and only the iterations started in the "measure" phase count. In a steady state the iterations
	// started in a window of length D are X*D, so n/D is the throughput without an end-of-run bias.
	settle := time.Duration(2 * float64(c) / rate * float64(time.Second))
	settle = min(max(settle, MinSettle), MaxSettle)

	d = derive(p, sc, plan.Load{Model: plan.ModelClosed,
		Phases: fixedPhases(c, 0, namedDur{"settle", settle}, namedDur{"measure", measure})})
	x, err = r.start(ctx, d)
	if err != nil {
		return bench.Result{}, err
	}
	// A warm-up slowed down (other processes on the box, cold caches) underestimates the rate and oversizes the
	// window: the window also ends once the run holds MaxBenchOvershoot times the requests asked for (plus the
	// settling requests), so "about N" never becomes many times N.
	limit := uint64(MaxBenchOvershoot*float64(b.Requests)) + uint64(2*c)
	x.watch(func() bool { return ctx.Err() != nil || x.e.Snapshot().Requests >= limit })
	res, err := x.stop()
	if err != nil {
		return bench.Result{}, err
	}
	if ctx.Err() != nil {
		return bench.Result{}, ctx.Err()
	}
	if len(res.Phases) != 2 {
		return bench.Result{}, fmt.Errorf("engine returned %d phases; want 2", len(res.Phases))
	}
	ph := res.Phases[1]
	cell := &ph.Cell
	n, nerr := failures(cell)
	dur := ph.Planned
	if !ph.Start.IsZero() && ph.End.After(ph.Start) {
		dur = ph.End.Sub(ph.Start) // shorter when the window was cut at MaxBenchOvershoot
	}
	lat := cell.Service // send to last byte: no think time or scheduling in a closed benchmark
	if lat == nil || lat.Count() == 0 {
		lat = cell.Latency
	}
	br := bench.NewResult(ep.Name, ep.Request.Method, request, c, n, nerr, dur, lat.Clone())
	br.ErrorsByReason = cell.ErrorCounts()
	delete(br.ErrorsByReason, executor.ReasonCanceled.String())
	return br, nil
}

// sampleError returns the first error sample's message ("" when none).
func sampleError(r *executor.Results) string {
	if r == nil || len(r.ErrorSamples) == 0 {
		return "no error sample"
	}
	return r.ErrorSamples[0].Message
}

// compareBaseline finds the endpoint's baseline and compares; a store problem leaves the endpoint uncompared.
func compareBaseline(ctx context.Context, r *Run, be *BenchEndpoint, b *plan.Benchmark) {
	if r.Store == nil {
		return
	}
	runID := r.Baseline
	if runID == "" {
		latest, err := r.Store.LatestBenchmark(ctx, r.Plan.Name, bench.StoreKey(be.Endpoint, be.Concurrency))
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				r.Log.Warn("baseline lookup failed", "endpoint", be.Endpoint, "err", err)
			}
			return
		}
		runID = latest.RunID
	}
	rows, err := r.Store.BenchmarkResults(ctx, runID)
	if err != nil {
		r.Log.Warn("baseline lookup failed", "run", runID, "err", err)
		return
	}
	for _, row := range rows {
		if row.Endpoint != bench.StoreKey(be.Endpoint, be.Concurrency) {
			continue
		}
		h, err := row.Histogram()
		if err != nil {
			r.Log.Warn("baseline histogram unreadable", "run", runID, "endpoint", be.Endpoint, "err", err)
			return
		}
		be.Baseline = &Baseline{RunID: runID, Requests: row.Requests, P50Ms: row.P50Ms, P95Ms: row.P95Ms,
			P99Ms: row.P99Ms}
		v := bench.Compare(bench.Result{Histogram: h}, be.Result, b.Tolerance, b.Confidence)
		be.Verdict = &v
		return
	}
}

// benchLine is the printed line of one endpoint, with its comparison.
func benchLine(e BenchEndpoint, width int) string {
	s := e.Result.Format(width)
	switch {
	case e.Verdict != nil:
		s += fmt.Sprintf("  | %s", e.Verdict)
	case e.Baseline == nil:
		s += "  | no baseline"
	}
	return s
}

// benchVerdict is the final line.
func benchVerdict(r *BenchReport) string {
	switch {
	case r.Status != store.StatusCompleted:
		return fmt.Sprintf("benchmark %s: %s", strings.ToUpper(string(r.Status)), r.Error)
	case r.Regression:
		return fmt.Sprintf("REGRESSION (tolerance %.0f%%, confidence %.0f%%): %s", 100*r.Tolerance,
			100*r.Confidence, strings.Join(r.Regressions, "; "))
	}
	compared := 0
	for _, e := range r.Endpoints {
		if e.Verdict != nil {
			compared++
		}
	}
	return fmt.Sprintf("no regression: %d of %d results compared with a baseline (tolerance %.0f%%, confidence "+
		"%.0f%%)", compared, len(r.Endpoints), 100*r.Tolerance, 100*r.Confidence)
}

func benchRow(planName string, r bench.Result, at time.Time) (store.BenchmarkResult, error) {
	row := store.BenchmarkResult{Plan: planName, Endpoint: bench.StoreKey(r.Endpoint, r.Concurrency), Method: r.Method, Concurrency: r.Concurrency,
		DurationS: r.Duration.Seconds(), Requests: int64(r.Requests), Errors: int64(r.Errors),
		ErrorRate: r.ErrorRate(), RPS: r.RPS, CreatedAt: at, Latency: store.LatencyOf(r.Histogram)}
	b, err := r.Histogram.MarshalBinary()
	row.Hist = b
	return row, err
}
