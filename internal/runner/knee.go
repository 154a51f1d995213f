package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/knee"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// ScrapeInterval is how often the knee mode reads the target's gauges during a step's steady window.
const ScrapeInterval = 250 * time.Millisecond

// Resource keys the knee mode adds to knee.Step.Resources besides knee's own (informational, not ratios).
const (
	ResourceTargetInFlight = "target_in_flight"
	ResourceTargetInUse    = "target_pool_in_use"
)

// KneeReport is the outcome of a knee run.
type KneeReport struct {
	report.Header               // Model: closed (loads are concurrencies) or open (loads are rates)
	GainThreshold float64       `json:"gain_threshold"`
	Warmup        time.Duration `json:"warmup_ns"`
	StepDuration  time.Duration `json:"step_duration_ns"`
	Steps         []KneeStep    `json:"steps"`
	Analysis      knee.Analysis `json:"analysis"`
	// PeakN and PeakThroughput repeat the USL's N* and X(N*) (JSON cannot hold +Inf: -1 stands for it).
	PeakN          float64 `json:"peak_n"`
	PeakThroughput float64 `json:"peak_throughput"`
}

// KneeStep is one measured load level.
type KneeStep struct {
	knee.Step
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// ScrapeErrors counts failed reads of the target's metrics during the step.
	ScrapeErrors int `json:"scrape_errors,omitempty"`
}

// kneeSearch carries out a knee run: a step load (closed model at each concurrency of knee.steps, or open model
// at each rate), each step a fresh engine run of a warm-up (knee.warmup, left out) and a steady window
// (knee.step_duration) in which throughput, latency, errors and resources are measured: the generator's CPU and
// the host's CPU, memory and fds (sysmon), and, when knee.metrics_url is set, the target's pool in use, queue and
// in-flight gauges. knee.Analyze then gives the knee step, the USL fit and the saturated resource. A step that
// could not be measured (target unreachable, engine failure, cancelled) ends the search.
func kneeSearch(ctx context.Context, r *Run) (Report, error) {
	p := r.Plan
	k := p.Knee
	model := k.Model
	if model == "" {
		model = plan.ModelClosed
	}
	rep := &KneeReport{Header: report.Header{Model: model}, GainThreshold: k.GainThreshold, Warmup: k.Warmup.Duration,
		StepDuration: k.StepDuration.Duration, Steps: []KneeStep{}, Analysis: knee.Analysis{Knee: -1}}
	unit := "concurrency"
	if model == plan.ModelOpen {
		unit = "rate"
	}
	fmt.Fprintf(r.out, "knee %s: %s model, %s %v, warm-up %s + steady %s per step against %s\n", p.Name, model,
		unit, fmtLoads(k.Steps), k.Warmup.Duration, k.StepDuration.Duration, p.Target)
	if k.MetricsURL != "" {
		fmt.Fprintf(r.out, "reading the target's pool, queue and in-flight gauges from %s\n", k.MetricsURL)
	}
	fmt.Fprintln(r.out, kneeHeader())

	var runErr error
	var steps []knee.Step
	for _, load := range k.Steps {
		st, err := kneeStep(ctx, r, load, model)
		if err != nil {
			runErr = fmt.Errorf("step %s: %w", fmtLoad(load), err)
			break
		}
		rep.Steps = append(rep.Steps, st)
		steps = append(steps, st.Step)
		fmt.Fprintln(r.out, kneeRow(st))
	}
	if len(steps) > 0 {
		rep.Analysis = knee.Analyze(steps, k.GainThreshold)
		if rep.Analysis.FitErr == "" {
			rep.PeakN, rep.PeakThroughput = finite(rep.Analysis.USL.PeakN()), finite(rep.Analysis.USL.PeakThroughput())
		}
	}
	r.totals = kneeTotals(rep)
	if len(rep.Steps) > 0 {
		r.write("add knee result", func(ctx context.Context, sk store.Sink) error {
			return sk.AddKneeResult(ctx, r.ID, kneeStored(rep))
		})
	}
	return rep, runErr
}

// Passed reports whether the knee search completed.
func (k *KneeReport) Passed() bool { return k.Status == store.StatusCompleted }

// WriteText writes the verdict (the knee, the USL fit, the saturated resource) and where the run is stored (the
// steps were printed as they came).
func (k *KneeReport) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, kneeVerdict(k)+k.StoreLine())
	return err
}

func finite(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return -1
	}
	return v
}

// kneeStep runs one load level and measures its steady window.
func kneeStep(ctx context.Context, r *Run, load float64, model string) (KneeStep, error) {
	p := r.Plan
	k := p.Knee
	var phases []namedDur
	if k.Warmup.Duration > 0 {
		phases = append(phases, namedDur{"warmup", k.Warmup.Duration})
	}
	phases = append(phases, namedDur{"steady", k.StepDuration.Duration})
	var l plan.Load
	if model == plan.ModelOpen {
		l = plan.Load{Model: plan.ModelOpen, MaxInFlight: p.Load.MaxInFlight, DropPolicy: p.Load.DropPolicy,
			Phases: fixedPhases(0, load, phases...)}
	} else {
		vus := int(math.Round(load))
		if vus < 1 {
			return KneeStep{}, fmt.Errorf("concurrency %v: must be >= 1", load)
		}
		l = plan.Load{Model: plan.ModelClosed, Phases: fixedPhases(vus, 0, phases...)}
	}
	d := derive(p, p.Scenarios, l)

	// At the start of the steady window: a generator/host sample (the end sample then covers the window) and the
	// target's gauge poller.
	sampler := r.Monitor.NewSampler()
	var mu sync.Mutex
	var poller *gaugePoller
	steadyStarted := make(chan struct{})
	onSteady := func(name string) {
		if name != "steady" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if poller == nil && k.MetricsURL != "" {
			poller = startPoller(ctx, r, k.MetricsURL, ScrapeInterval)
		}
		select {
		case <-steadyStarted:
		default:
			close(steadyStarted)
		}
	}
	if k.Warmup.Duration <= 0 {
		onSteady("steady")
	}
	stepDone := make(chan struct{})
	defer close(stepDone)
	r.goSafe("knee sampler", func() { // the first sample is taken off the engine's housekeeping goroutine
		select {
		case <-steadyStarted:
			_, _ = sampler.Sample(ctx)
		case <-stepDone:
		}
	})
	x, err := r.start(ctx, d, executor.WithOnPhase(onSteady))
	if err != nil {
		return KneeStep{}, err
	}
	res, err := x.wait()
	mu.Lock()
	pl := poller
	mu.Unlock()
	var gauges map[string]float64
	var scrapeErrs int
	var lastScrapeErr error
	if pl != nil {
		gauges, scrapeErrs, lastScrapeErr = pl.finish()
	}
	if err != nil {
		return KneeStep{}, err
	}
	if ctx.Err() != nil {
		return KneeStep{}, ctx.Err()
	}
	snap, serr := sampler.Sample(ctx)
	if serr != nil {
		r.Log.Debug("sysmon sample", "err", serr)
	}
	ph := res.Phases[len(res.Phases)-1]
	n, errs := failures(&ph.Cell)
	if n > 0 && unreachableFailures(&ph.Cell) == n {
		return KneeStep{}, fmt.Errorf("target unreachable: all %d requests got no response (%s)", n,
			sampleError(res))
	}
	span := ph.Planned.Seconds()
	st := KneeStep{Requests: n, Errors: errs, ScrapeErrors: scrapeErrs,
		Step: knee.Step{Load: load, Resources: resources(snap, gauges)}}
	if span > 0 {
		// Throughput counts successful requests: a target that answers fast errors is not scaling.
		st.Throughput = float64(n-errs) / span
	}
	if n > 0 {
		st.ErrorRate = float64(errs) / float64(n)
	}
	if ph.Latency != nil {
		st.P50, st.P95, st.P99 = ph.Latency.Quantile(0.5), ph.Latency.Quantile(0.95), ph.Latency.Quantile(0.99)
	}
	if scrapeErrs > 0 {
		r.Log.Warn("target metrics scrape failed", "url", k.MetricsURL, "failures", scrapeErrs, "err", lastScrapeErr)
	}
	return st, nil
}

// resources maps a sysmon sample and the target's mean gauges to knee resource keys.
func resources(s sysmon.Snapshot, gauges map[string]float64) map[string]float64 {
	r := map[string]float64{knee.GeneratorCPU: s.Generator.CPUSaturationRatio, knee.HostCPU: s.Host.CPUUsageRatio}
	if s.Host.MemoryTotalBytes > 0 {
		r[knee.HostMemory] = float64(s.Host.MemoryUsedBytes) / float64(s.Host.MemoryTotalBytes)
	}
	if s.Host.MaxFDs > 0 {
		r[knee.FDsRatio] = float64(s.Host.OpenFDs) / float64(s.Host.MaxFDs)
	}
	if w, ok := gauges[metricPoolWorkers]; ok && w > 0 {
		if u, ok := gauges[metricPoolInUse]; ok {
			r[knee.TargetPoolInUseRatio] = u / w
			r[ResourceTargetInUse] = u
		}
	}
	if q, ok := gauges[metricQueue]; ok {
		r[knee.TargetQueue] = q
	}
	if f, ok := gauges[metricInFlight]; ok {
		r[ResourceTargetInFlight] = f
	}
	return r
}

func fmtLoad(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtLoads(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmtLoad(v)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func kneeHeader() string {
	return fmt.Sprintf("%6s %12s %9s %9s %7s %6s %7s %8s", "load", "throughput/s", "p50", "p99", "errors", "pool",
		"queue", "gen cpu")
}

func kneeRow(s KneeStep) string {
	opt := func(key, format string, scale float64) string {
		v, ok := s.Resources[key]
		if !ok {
			return "-"
		}
		return fmt.Sprintf(format, v*scale)
	}
	return fmt.Sprintf("%6s %12.1f %9s %9s %6.1f%% %6s %7s %8s", fmtLoad(s.Load), s.Throughput, fmtMs(s.P50),
		fmtMs(s.P99), 100*s.ErrorRate, opt(knee.TargetPoolInUseRatio, "%.0f%%", 100), opt(knee.TargetQueue, "%.1f", 1),
		opt(knee.GeneratorCPU, "%.0f%%", 100))
}

func kneeVerdict(r *KneeReport) string {
	var b strings.Builder
	a := r.Analysis
	if r.Status != store.StatusCompleted {
		fmt.Fprintf(&b, "knee %s: %s\n", strings.ToUpper(string(r.Status)), r.Error)
	}
	if a.Knee >= 0 && a.Knee < len(r.Steps) {
		s := r.Steps[a.Knee]
		fmt.Fprintf(&b, "Knee at %s %s (step %d): throughput %.1f/s (%.1f/s at the step before), p99 %s\n",
			kneeUnit(r.Model), fmtLoad(s.Load), a.Knee+1, s.Throughput, r.Steps[a.Knee-1].Throughput, fmtMs(s.P99))
	} else if len(r.Steps) > 0 {
		fmt.Fprintf(&b, "No knee: throughput still rose by at least %.0f%% of the linear gain at every step\n",
			100*r.GainThreshold)
	}
	if a.FitErr != "" {
		fmt.Fprintf(&b, "USL fit: %s\n", a.FitErr)
	} else if len(r.Steps) > 0 {
		u := a.USL
		fmt.Fprintf(&b, "USL (%d steps): sigma=%.4f kappa=%.6f N*=%s peak throughput=%s R2=%.3f\n", a.FitSteps,
			u.Sigma, u.Kappa, fmtPeak(u.PeakN(), "%.1f"), fmtPeak(u.PeakThroughput(), "%.1f/s"), u.R2)
	}
	switch {
	case a.Saturated != "":
		fmt.Fprintf(&b, "Saturated first: %s = %.2f\n", a.Saturated, a.SaturatedValue)
	case len(r.Steps) > 0:
		fmt.Fprintf(&b, "Saturated first: nothing observed at or above its limit (the limit is elsewhere)\n")
	}
	return b.String()
}

func kneeUnit(model string) string {
	if model == plan.ModelOpen {
		return "rate"
	}
	return "concurrency"
}

func fmtPeak(v float64, format string) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return fmt.Sprintf(format, v)
}

// kneeStored is the stored knee result. The store's knee table keys points by "target_rps": the step's load
// (a concurrency in the closed model).
func kneeStored(r *KneeReport) store.KneeResult {
	row := store.KneeResult{CreatedAt: time.Now(), Points: []store.KneePoint{}}
	for _, s := range r.Steps {
		row.Points = append(row.Points, store.KneePoint{TargetRPS: s.Load, ThroughputRPS: s.Throughput,
			P99Ms: ms(s.P99), ErrorRate: s.ErrorRate})
		row.MaxThroughputRPS = math.Max(row.MaxThroughputRPS, s.Throughput)
	}
	if a := r.Analysis; a.Knee >= 0 && a.Knee < len(r.Steps) {
		row.KneeRPS, row.KneeP99Ms = r.Steps[a.Knee].Load, ms(r.Steps[a.Knee].P99)
	}
	return row
}

func kneeTotals(r *KneeReport) store.Totals {
	var reqs, errs int64
	var rps float64
	for _, s := range r.Steps {
		reqs, errs, rps = reqs+int64(s.Requests), errs+int64(s.Errors), math.Max(rps, s.Throughput)
	}
	t := store.TotalsOf(reqs, errs, nil, 0)
	t.RPS = rps
	if a := r.Analysis; a.Knee >= 0 && a.Knee < len(r.Steps) { // latency at the knee
		t.P50Ms, t.P95Ms, t.P99Ms = ms(r.Steps[a.Knee].P50), ms(r.Steps[a.Knee].P95), ms(r.Steps[a.Knee].P99)
	}
	return t
}
