package htmlreport

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/knee"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/stress"
)

// Data is everything the page draws: it is embedded in the page as one JSON blob, which the page's script renders.
// Kind "run" has one run; kind "compare" has the baseline and the new run, and Compare.
type Data struct {
	Kind    string   `json:"kind"`
	Title   string   `json:"title"`
	Runs    []*Run   `json:"runs"`
	Compare *Compare `json:"compare,omitempty"`
}

// Run is one stored run, as the page shows it.
type Run struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Plan      string  `json:"plan"`
	Type      string  `json:"type"`
	Model     string  `json:"model,omitempty"`
	Target    string  `json:"target,omitempty"`
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	StartedAt string  `json:"started_at,omitempty"` // RFC 3339, UTC
	EndedAt   string  `json:"ended_at,omitempty"`
	DurationS float64 `json:"duration_s"`
	Verdict   Verdict `json:"verdict"`

	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	ErrorRate  float64 `json:"error_rate"`
	RPS        float64 `json:"rps"`
	Iterations uint64  `json:"iterations,omitempty"`
	Dropped    uint64  `json:"dropped,omitempty"`
	// Latency (from the intended start) and Service (from the actual send), whole run, in ms.
	Latency *report.Latency `json:"latency_ms,omitempty"`
	Service *report.Latency `json:"service_ms,omitempty"`

	Thresholds   []report.Threshold   `json:"thresholds"`
	Health       *report.Health       `json:"health,omitempty"`
	Phases       []Phase              `json:"phases"`
	Steps        []Step               `json:"steps"`
	ErrorReasons []ReasonCount        `json:"error_reasons"`
	ErrorSamples []report.ErrorSample `json:"error_samples"`
	// Series is the run over time, from its snapshots (nil when none were stored).
	Series *Series `json:"series,omitempty"`
	// Distribution holds percentile curves from the stored histograms: all steps merged first, then each step (a
	// benchmark: each endpoint and concurrency).
	Distribution []Curve `json:"distribution"`

	Stress *Stress `json:"stress,omitempty"`
	Knee   *Knee   `json:"knee,omitempty"`
	Bench  *Bench  `json:"bench,omitempty"`
	// Notes say what the page cannot show and why (nothing stored yet, a summary that does not decode, ...).
	Notes []string `json:"notes"`
}

// Verdict is the top of the page: the one-line outcome, and the thresholds and generator health behind it.
type Verdict struct {
	Word             string   `json:"word"` // PASSED, THRESHOLDS FAILED, FAILED, COMPLETED, REGRESSION, ...
	Line             string   `json:"line"` // the whole line, e.g. "PASSED: completed, all 3 thresholds held"
	OK               bool     `json:"ok"`
	ThresholdsPassed int      `json:"thresholds_passed"`
	ThresholdsFailed int      `json:"thresholds_failed"`
	Reliable         *bool    `json:"reliable,omitempty"` // generator health; nil when not measured
	HealthLine       string   `json:"health_line,omitempty"`
	HealthReasons    []string `json:"health_reasons,omitempty"`
	Details          []string `json:"details,omitempty"` // further lines (USL fit, saturated resource, regressions)
}

// Phase is one load phase: its span (seconds since the start of the run) and figures.
type Phase struct {
	Name      string         `json:"name"`
	StartS    float64        `json:"start_s"`
	EndS      float64        `json:"end_s"`
	Requests  uint64         `json:"requests"`
	Errors    uint64         `json:"errors"`
	ErrorRate float64        `json:"error_rate"`
	RPS       float64        `json:"rps"`
	Latency   report.Latency `json:"latency_ms"`
}

// Step is one scenario step's figures (from the summary, else from the stored step result).
type Step struct {
	Name           string            `json:"name"` // scenario/step
	Method         string            `json:"method,omitempty"`
	Requests       int64             `json:"requests"`
	Errors         int64             `json:"errors"`
	ErrorRate      float64           `json:"error_rate"`
	RPS            float64           `json:"rps"`
	Latency        report.Latency    `json:"latency_ms"`
	Service        *report.Latency   `json:"service_ms,omitempty"`
	Timing         *report.Timing    `json:"timing_ms,omitempty"`
	ErrorsByReason map[string]uint64 `json:"errors_by_reason,omitempty"`
}

// ReasonCount is the number of failed requests of one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// Series is the run over time, one column per figure, one row per snapshot. T is seconds since the start of the
// run; latencies are in ms over the executor's live window; CPU and memory in percent.
type Series struct {
	T          []float64 `json:"t"`
	Phase      []int     `json:"phase"` // index into Phases (-1: none)
	RPS        []float64 `json:"rps"`
	TargetRPS  []float64 `json:"target_rps"`
	ErrorsPS   []float64 `json:"errors_ps"`  // failed requests per second since the previous snapshot
	ErrorPct   []float64 `json:"error_pct"`  // share of failures since the previous snapshot, percent
	P50        []float64 `json:"p50"`        // latency from the intended start
	P90        []float64 `json:"p90"`        //
	P99        []float64 `json:"p99"`        //
	ServiceP50 []float64 `json:"svc_p50"`    // service time from the actual send
	ServiceP90 []float64 `json:"svc_p90"`    //
	ServiceP99 []float64 `json:"svc_p99"`    //
	InFlight   []float64 `json:"in_flight"`  //
	VUs        []float64 `json:"vus"`        // active virtual users (closed) or busy iteration slots (open)
	CPU        []float64 `json:"cpu"`        // generator process, % of one core
	HostCPU    []float64 `json:"host_cpu"`   // host, % of all CPUs
	HostMem    []float64 `json:"host_mem"`   // host memory in use, %
	MemMB      []float64 `json:"gen_mem_mb"` // generator resident memory
	// HasP90 and HasService are false for runs stored before snapshots kept p90 and service time (those columns are
	// then zero, and not drawn).
	HasP90     bool `json:"has_p90"`
	HasService bool `json:"has_service"`
}

// Curve is a latency percentile curve: X[i] = -log10(1 - q) (0 = p0, 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99) and
// Ms[i] its latency. It stops where fewer than one observation lies above the quantile, with the maximum.
type Curve struct {
	Name  string    `json:"name"`
	Count uint64    `json:"count"`
	X     []float64 `json:"x"`
	Ms    []float64 `json:"ms"`
}

// Stress is a stress search: its probes (sorted by asked rate for the chart) and the answer.
type Stress struct {
	State          string        `json:"state"`
	MaxSustainable float64       `json:"max_sustainable_rps"`
	Breakdown      float64       `json:"breakdown_rps"`
	LimitedBy      string        `json:"limited_by,omitempty"`
	Message        string        `json:"message,omitempty"`
	ErrorThreshold float64       `json:"error_threshold"` // fraction
	SLOP99Ms       float64       `json:"slo_p99_ms,omitempty"`
	Probes         []StressProbe `json:"probes"` // in search order
}

// StressProbe is one probe of the search.
type StressProbe struct {
	Seq         int     `json:"seq"`
	Phase       string  `json:"phase"`
	TargetRPS   float64 `json:"target_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	ErrorPct    float64 `json:"error_pct"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	OK          bool    `json:"ok"`
	Reason      string  `json:"reason,omitempty"`
}

// Knee is a knee search: throughput against load, the USL fit sampled as a curve, and the knee.
type Knee struct {
	Model            string      `json:"model"` // closed: loads are concurrencies; open: rates
	LoadLabel        string      `json:"load_label"`
	Points           []KneePoint `json:"points"`
	Knee             *KneePoint  `json:"knee,omitempty"`
	USL              *knee.USL   `json:"usl,omitempty"`
	FitSteps         int         `json:"fit_steps,omitempty"`
	FitError         string      `json:"fit_error,omitempty"`
	PeakN            float64     `json:"peak_n,omitempty"` // -1: unbounded
	PeakThroughput   float64     `json:"peak_throughput,omitempty"`
	FitX             []float64   `json:"fit_x"` // the USL curve, sampled
	FitY             []float64   `json:"fit_y"`
	Saturated        string      `json:"saturated,omitempty"`
	SaturatedValue   float64     `json:"saturated_value,omitempty"`
	MaxThroughputRPS float64     `json:"max_throughput_rps"`
}

// KneePoint is one measured load level.
type KneePoint struct {
	Load          float64 `json:"load"`
	ThroughputRPS float64 `json:"throughput_rps"`
	P99Ms         float64 `json:"p99_ms"`
	ErrorPct      float64 `json:"error_pct"`
}

// Bench is a benchmark run: each endpoint at each concurrency, with its verdict against the baseline.
type Bench struct {
	Tolerance   float64    `json:"tolerance,omitempty"`
	Confidence  float64    `json:"confidence,omitempty"`
	Endpoints   []string   `json:"endpoints"`   // in first-seen order
	Concurrency []int      `json:"concurrency"` // ascending
	Rows        []BenchRow `json:"rows"`
	Regression  bool       `json:"regression"`
}

// BenchRow is one endpoint at one concurrency.
type BenchRow struct {
	Endpoint    string         `json:"endpoint"`
	Method      string         `json:"method"`
	Concurrency int            `json:"concurrency"`
	Requests    int64          `json:"requests"`
	ErrorPct    float64        `json:"error_pct"`
	RPS         float64        `json:"rps"`
	Latency     report.Latency `json:"latency_ms"`
	Change      string         `json:"change,omitempty"` // against the baseline: unchanged, regression, ...
	Reason      string         `json:"reason,omitempty"`
	BaselineRun string         `json:"baseline_run,omitempty"`
}

// Compare is two runs side by side: per-step deltas and the regression gate's verdict.
type Compare struct {
	Steps []CompareStep `json:"steps"`
	Gate  *gate.Result  `json:"gate"`
}

// CompareStep is one step in both runs: figures, deltas and both percentile curves.
type CompareStep struct {
	Name  string          `json:"name"`
	Delta store.StepDelta `json:"delta"`
	Base  *Curve          `json:"base,omitempty"`
	New   *Curve          `json:"new,omitempty"`
	Gate  *bench.Verdict  `json:"gate,omitempty"`
}

// Build reads run id's records from st (the run, its summary, snapshots, step results and the results of its mode)
// and returns the page's data.
func Build(ctx context.Context, st store.Store, id string) (*Data, error) {
	r, err := buildRun(ctx, st, id)
	if err != nil {
		return nil, err
	}
	return &Data{Kind: "run", Title: "loadgen " + r.Type + " report: " + r.Plan + " " + r.ID, Runs: []*Run{r}}, nil
}

// BuildCompare reads two runs (base is the baseline) and compares them: both runs' pages, percentile curves
// overlaid per step, the per-step deltas and the regression gate's verdict with criteria c (zero: the gate's
// defaults).
func BuildCompare(ctx context.Context, st store.Store, baseID, newID string, c bench.Criteria) (*Data, error) {
	base, err := buildRun(ctx, st, baseID)
	if err != nil {
		return nil, err
	}
	cur, err := buildRun(ctx, st, newID)
	if err != nil {
		return nil, err
	}
	g, err := gate.Compare(ctx, st, baseID, newID, c)
	if err != nil {
		return nil, err
	}
	var runs [2]*store.Run
	var steps [2][]store.StepResult
	for i, id := range []string{baseID, newID} {
		if runs[i], err = st.GetRun(ctx, id); err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
		if steps[i], err = gate.Steps(ctx, st, id); err != nil {
			return nil, err
		}
	}
	cmpd, err := store.Compare(runs[0], runs[1], steps[0], steps[1])
	if err != nil {
		return nil, err
	}
	out := &Compare{Gate: g, Steps: []CompareStep{}}
	curves := [2]map[string]*Curve{curveMap(base), curveMap(cur)}
	verdicts := map[string]*bench.Verdict{}
	for _, s := range g.Steps {
		verdicts[s.Name()] = s.Verdict
	}
	for _, d := range cmpd.Steps {
		name := d.Scenario + "/" + d.Step
		if d.Scenario == store.AllSteps {
			name = allSteps
		}
		curve := name
		if d.Scenario == store.BenchmarkScenario { // a benchmark's curves are named by endpoint alone
			curve = d.Step
		}
		out.Steps = append(out.Steps, CompareStep{Name: name, Delta: d, Base: curves[0][curve], New: curves[1][curve],
			Gate: verdicts[name]})
	}
	return &Data{Kind: "compare", Title: "loadgen comparison: " + newID + " against " + baseID,
		Runs: []*Run{base, cur}, Compare: out}, nil
}

const allSteps = "all steps"

func curveMap(r *Run) map[string]*Curve {
	m := map[string]*Curve{}
	for i := range r.Distribution {
		m[r.Distribution[i].Name] = &r.Distribution[i]
	}
	return m
}

func buildRun(ctx context.Context, st store.Store, id string) (*Run, error) {
	row, err := st.GetRun(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	r := &Run{ID: row.ID, Name: row.Name, Plan: row.Plan, Type: string(row.Type), Status: string(row.Status),
		Error: row.Error, StartedAt: rfc(row.StartedAt), EndedAt: rfc(row.EndedAt),
		Requests: row.Totals.Requests, Errors: row.Totals.Errors, ErrorRate: round(row.Totals.ErrorRate, 6),
		RPS: round(row.Totals.RPS, 2), Thresholds: []report.Threshold{}, Phases: []Phase{}, Steps: []Step{},
		ErrorReasons: []ReasonCount{}, ErrorSamples: []report.ErrorSample{}, Distribution: []Curve{}, Notes: []string{}}
	if !row.StartedAt.IsZero() && !row.EndedAt.IsZero() {
		r.DurationS = round(row.EndedAt.Sub(row.StartedAt).Seconds(), 3)
	}
	start := row.StartedAt
	if start.IsZero() {
		start = row.CreatedAt
	}

	var sum *report.Summary
	if row.Type == store.TypeLoad && len(row.SummaryJSON) > 0 {
		sum = &report.Summary{}
		if err := json.Unmarshal(row.SummaryJSON, sum); err != nil {
			r.Notes = append(r.Notes, "the stored summary does not decode ("+err.Error()+"): figures come from the run's other records")
			sum = nil
		}
	}
	if sum != nil {
		fromSummary(r, sum, start)
	} else if row.Type == store.TypeLoad {
		r.Verdict = Verdict{Word: strings.ToUpper(r.Status), Line: strings.ToUpper(r.Status) + statusWhy(row)}
		r.Notes = append(r.Notes, "no summary stored (the run did not finish normally): no thresholds, phases or error samples")
	}

	snaps, err := st.Snapshots(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	r.Series = series(snaps, start, r)

	steps, err := st.StepResults(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	if err := stepCurves(r, steps, sum == nil); err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}

	switch row.Type {
	case store.TypeStress:
		err = buildStress(ctx, st, r, row)
	case store.TypeKnee:
		err = buildKnee(ctx, st, r, row)
	case store.TypeBenchmark:
		err = buildBench(ctx, st, r, row)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	if r.Series == nil && row.Type == store.TypeLoad {
		r.Notes = append(r.Notes, "no snapshots stored: nothing to draw over time")
	}
	return r, nil
}

func statusWhy(row *store.Run) string {
	if row.Error != "" {
		return ": " + row.Error
	}
	return ""
}

// fromSummary fills the load run's verdict and tables from its stored summary.
func fromSummary(r *Run, s *report.Summary, start time.Time) {
	r.Model, r.Target, r.Iterations, r.Dropped = s.Model, s.Target, s.Iterations, s.Dropped
	r.Requests, r.Errors = int64(s.Requests), int64(s.Errors)
	r.ErrorRate, r.RPS = round(s.ErrorRate, 6), round(s.RPS, 2)
	if s.DurationS > 0 {
		r.DurationS = round(s.DurationS, 3)
	}
	lat, svc := s.LatencyMS, s.ServiceMS
	r.Latency, r.Service = &lat, &svc
	r.Thresholds = append(r.Thresholds, s.Thresholds...)
	h := s.Health
	r.Health = &h
	v := Verdict{Word: s.Verdict(), Line: s.StatusLine(), OK: s.Passed()}
	for _, t := range s.Thresholds {
		if t.OK {
			v.ThresholdsPassed++
		} else {
			v.ThresholdsFailed++
		}
	}
	v.Reliable = &h.Reliable
	cpu := "not measured"
	if h.CPUMeasured {
		cpu = fmt.Sprintf("%.1f%%", h.CPUMaxPct)
	}
	v.HealthLine = fmt.Sprintf("schedule lag p99 %.2f ms, generator CPU max %s", h.LagP99MS, cpu)
	v.HealthReasons = h.Reasons
	r.Verdict = v
	for _, p := range s.Phases {
		from := p.StartedAt.Sub(start).Seconds()
		r.Phases = append(r.Phases, Phase{Name: p.Name, StartS: round(from, 3), EndS: round(from+p.DurationS, 3),
			Requests: p.Requests, Errors: p.Errors, ErrorRate: round(p.ErrorRate, 6), RPS: round(p.RPS, 2),
			Latency: p.LatencyMS})
	}
	for _, x := range s.Steps {
		svc, tm := x.ServiceMS, x.TimingMS
		r.Steps = append(r.Steps, Step{Name: x.Scenario + "/" + x.Step, Method: x.Method, Requests: int64(x.Requests),
			Errors: int64(x.Errors), ErrorRate: round(x.ErrorRate, 6), RPS: round(x.RPS, 2), Latency: x.LatencyMS,
			Service: &svc, Timing: &tm, ErrorsByReason: x.ErrorsByReason})
	}
	for reason, n := range s.ErrorsByReason {
		r.ErrorReasons = append(r.ErrorReasons, ReasonCount{reason, n})
	}
	slices.SortFunc(r.ErrorReasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	r.ErrorSamples = append(r.ErrorSamples, s.ErrorSamples...)
}

// series turns snapshots into columns; phases are taken from r.Phases, or from the snapshots' phase names when the
// run has no summary.
func series(snaps []store.Snapshot, start time.Time, r *Run) *Series {
	if len(snaps) == 0 {
		return nil
	}
	derive := len(r.Phases) == 0
	s := &Series{}
	var prev *store.Snapshot
	for i := range snaps {
		x := &snaps[i]
		t := x.TS.Sub(start).Seconds()
		s.T = append(s.T, round(t, 3))
		if derive && x.Phase != "" && (len(r.Phases) == 0 || r.Phases[len(r.Phases)-1].Name != x.Phase) {
			if n := len(r.Phases); n > 0 {
				r.Phases[n-1].EndS = round(t, 3)
			}
			r.Phases = append(r.Phases, Phase{Name: x.Phase, StartS: round(t, 3), EndS: round(t, 3)})
		} else if derive && x.Phase != "" {
			r.Phases[len(r.Phases)-1].EndS = round(t, 3)
		}
		s.Phase = append(s.Phase, phaseAt(r.Phases, x.Phase, t))
		s.RPS = append(s.RPS, round(x.RPS, 2))
		s.TargetRPS = append(s.TargetRPS, round(x.TargetRPS, 2))
		var eps float64
		if prev != nil {
			if dt := x.TS.Sub(prev.TS).Seconds(); dt > 0 {
				eps = float64(max(x.Errors-prev.Errors, 0)) / dt
			}
		} else if t > 0 {
			eps = float64(x.Errors) / t
		}
		s.ErrorsPS = append(s.ErrorsPS, round(eps, 2))
		s.ErrorPct = append(s.ErrorPct, round(100*x.ErrorRate, 3))
		s.P50 = append(s.P50, round(x.P50Ms, 3))
		s.P90 = append(s.P90, round(x.P90Ms, 3))
		s.P99 = append(s.P99, round(x.P99Ms, 3))
		s.ServiceP50 = append(s.ServiceP50, round(x.ServiceP50Ms, 3))
		s.ServiceP90 = append(s.ServiceP90, round(x.ServiceP90Ms, 3))
		s.ServiceP99 = append(s.ServiceP99, round(x.ServiceP99Ms, 3))
		s.HasP90 = s.HasP90 || x.P90Ms > 0
		s.HasService = s.HasService || x.ServiceP50Ms > 0
		s.InFlight = append(s.InFlight, float64(x.InFlight))
		s.VUs = append(s.VUs, float64(x.VUs))
		s.CPU = append(s.CPU, round(x.CPUPct, 2))
		s.HostCPU = append(s.HostCPU, round(x.HostCPUPct, 2))
		s.HostMem = append(s.HostMem, round(x.HostMemPct, 2))
		s.MemMB = append(s.MemMB, round(float64(x.MemBytes)/(1<<20), 1))
		prev = x
	}
	return s
}

// phaseAt returns the index of the phase named name that covers t (the last one of that name starting at or before
// t), -1 when none.
func phaseAt(phases []Phase, name string, t float64) int {
	best := -1
	for i, p := range phases {
		if p.Name == name && p.StartS <= t+1 {
			best = i
		}
	}
	return best
}

// stepCurves adds the percentile curves of the stored histograms (all steps merged first) and, when the run has no
// summary, the step table from the stored step results.
func stepCurves(r *Run, steps []store.StepResult, table bool) error {
	merged := hist.New()
	var curves []Curve
	for _, s := range steps {
		h, err := s.Histogram()
		if err != nil {
			return fmt.Errorf("step %s/%s: %w", s.Scenario, s.Step, err)
		}
		merged.Merge(h)
		if h.Count() > 0 {
			curves = append(curves, curve(s.Scenario+"/"+s.Step, h))
		}
		if table {
			r.Steps = append(r.Steps, Step{Name: s.Scenario + "/" + s.Step, Requests: s.Requests, Errors: s.Errors,
				ErrorRate: round(s.ErrorRate, 6), RPS: round(s.RPS, 2), Latency: latencyOf(s.Latency)})
		}
	}
	if merged.Count() > 0 {
		r.Distribution = append(r.Distribution, curve(allSteps, merged))
	}
	r.Distribution = append(r.Distribution, curves...)
	return nil
}

func latencyOf(l store.Latency) report.Latency {
	return report.Latency{P50: l.P50Ms, P90: l.P90Ms, P95: l.P95Ms, P99: l.P99Ms, P999: l.P999Ms, Max: l.MaxMs, Mean: l.MeanMs}
}

// CurveStep is the spacing of a Curve's points in -log10(1-q): 20 points per decade.
const CurveStep = 0.05

// CurveMax is the last point of a Curve: p99.99.
const CurveMax = 4.0

// curve samples h's quantiles from p0 to p99.99, stopping (with the maximum) where fewer than one observation lies
// above the quantile.
func curve(name string, h *hist.Histogram) Curve {
	c := Curve{Name: name, Count: h.Count()}
	n := float64(h.Count())
	limit := math.Min(CurveMax, math.Log10(n))
	for i := 0; ; i++ {
		x := float64(i) * CurveStep
		if x > limit+1e-9 {
			break
		}
		q := 1 - math.Pow(10, -x)
		c.X = append(c.X, round(x, 2))
		c.Ms = append(c.Ms, round(store.Ms(h.Quantile(q)), 3))
	}
	if last := c.X[len(c.X)-1]; last < CurveMax && last < math.Log10(n)+CurveStep {
		c.X = append(c.X, round(math.Min(CurveMax, math.Log10(n)), 2))
		c.Ms = append(c.Ms, round(store.Ms(h.Max()), 3))
	}
	return c
}

// stressSummary is the part of a stress run's stored summary the page reads.
type stressSummary struct {
	Result stress.Result `json:"result"`
}

func buildStress(ctx context.Context, st store.Store, r *Run, row *store.Run) error {
	res, err := st.StressResult(ctx, row.ID)
	if errors.Is(err, store.ErrNotFound) {
		r.Notes = append(r.Notes, "no stress result stored: the search never finished a probe")
		r.Verdict = Verdict{Word: strings.ToUpper(r.Status), Line: strings.ToUpper(r.Status) + statusWhy(row)}
		return nil
	}
	if err != nil {
		return err
	}
	var sum stressSummary
	if len(row.SummaryJSON) > 0 {
		_ = json.Unmarshal(row.SummaryJSON, &sum) // best effort: reasons and the limit
	}
	s := &Stress{State: res.State, MaxSustainable: res.MaxSustainableRPS, Breakdown: res.BreakdownRPS,
		LimitedBy: string(sum.Result.LimitedBy), Message: cmp.Or(sum.Result.Message, res.Error),
		ErrorThreshold: res.Threshold, SLOP99Ms: res.SLOP99Ms, Probes: []StressProbe{}}
	for i, p := range res.Probes {
		sp := StressProbe{Seq: p.Seq, Phase: p.Phase, TargetRPS: round(p.TargetRPS, 2), AchievedRPS: round(p.AchievedRPS, 2),
			Requests: p.Requests, ErrorPct: round(100*p.ErrorRate, 3), P50Ms: round(p.P50Ms, 3),
			P95Ms: round(p.P95Ms, 3), P99Ms: round(p.P99Ms, 3), OK: p.OK}
		if i < len(sum.Result.Probes) {
			sp.Reason = sum.Result.Probes[i].Reason
		}
		s.Probes = append(s.Probes, sp)
	}
	r.Stress = s
	answer := stress.Result{State: stress.State(res.State), MaxSustainable: res.MaxSustainableRPS,
		Breakdown: res.BreakdownRPS, LimitedBy: sum.Result.LimitedBy, Message: s.Message}
	ok := row.Status == store.StatusCompleted
	r.Verdict = Verdict{Word: res.State, Line: answer.String(), OK: ok}
	if s.Message != "" && !strings.Contains(r.Verdict.Line, s.Message) {
		r.Verdict.Details = append(r.Verdict.Details, s.Message)
	}
	if row.Status != store.StatusCompleted {
		r.Verdict.Details = append(r.Verdict.Details, "run "+string(row.Status)+statusWhy(row))
	}
	return nil
}

// kneeSummary is the part of a knee run's stored summary the page reads.
type kneeSummary struct {
	Model          string        `json:"model"`
	Analysis       knee.Analysis `json:"analysis"`
	PeakN          float64       `json:"peak_n"`
	PeakThroughput float64       `json:"peak_throughput"`
	Steps          []knee.Step   `json:"steps"`
}

func buildKnee(ctx context.Context, st store.Store, r *Run, row *store.Run) error {
	res, err := st.KneeResult(ctx, row.ID)
	if errors.Is(err, store.ErrNotFound) {
		r.Notes = append(r.Notes, "no knee result stored: no step was measured")
		r.Verdict = Verdict{Word: strings.ToUpper(r.Status), Line: strings.ToUpper(r.Status) + statusWhy(row)}
		return nil
	}
	if err != nil {
		return err
	}
	sum := kneeSummary{Analysis: knee.Analysis{Knee: -1}}
	haveSum := len(row.SummaryJSON) > 0 && json.Unmarshal(row.SummaryJSON, &sum) == nil &&
		len(sum.Steps) == len(res.Points)
	k := &Knee{Model: cmp.Or(sum.Model, "closed"), Points: []KneePoint{}, FitX: []float64{}, FitY: []float64{},
		MaxThroughputRPS: round(res.MaxThroughputRPS, 2)}
	k.LoadLabel = "concurrency"
	if k.Model == "open" {
		k.LoadLabel = "rate (req/s)"
	}
	steps := make([]knee.Step, 0, len(res.Points))
	for _, p := range res.Points {
		k.Points = append(k.Points, KneePoint{Load: p.TargetRPS, ThroughputRPS: round(p.ThroughputRPS, 2),
			P99Ms: round(p.P99Ms, 3), ErrorPct: round(100*p.ErrorRate, 3)})
		steps = append(steps, knee.Step{Load: p.TargetRPS, Throughput: p.ThroughputRPS,
			P99: time.Duration(p.P99Ms * 1e6), ErrorRate: p.ErrorRate})
	}
	a := sum.Analysis
	if !haveSum { // re-analyse the stored points (no p50 stored: the knee is judged on p99)
		a = knee.Analyze(steps, 0)
		r.Notes = append(r.Notes, "knee analysis recomputed from the stored points (the summary was not usable)")
	}
	if a.Knee >= 0 && a.Knee < len(k.Points) {
		kp := k.Points[a.Knee]
		k.Knee = &kp
	}
	k.Saturated, k.SaturatedValue = a.Saturated, round(a.SaturatedValue, 4)
	lines := []string{}
	if a.FitErr != "" {
		k.FitError = a.FitErr
		lines = append(lines, "USL fit: "+a.FitErr)
	} else {
		u := a.USL
		// Rounded, so that the embedded figures do not depend on the last bits of the fit.
		shown := knee.USL{Lambda: round(u.Lambda, 3), Sigma: round(u.Sigma, 6), Kappa: round(u.Kappa, 8), R2: round(u.R2, 4)}
		k.USL, k.FitSteps = &shown, a.FitSteps
		k.PeakN, k.PeakThroughput = finite(u.PeakN()), finite(u.PeakThroughput())
		k.FitX, k.FitY = uslCurve(u, k.Points)
		lines = append(lines, fmt.Sprintf("USL (%d steps): sigma=%.4f kappa=%.6f N*=%s peak throughput=%s R2=%.3f",
			a.FitSteps, u.Sigma, u.Kappa, peak(k.PeakN, "%.1f"), peak(k.PeakThroughput, "%.1f/s"), u.R2))
	}
	if k.Saturated != "" {
		lines = append(lines, fmt.Sprintf("Saturated first: %s = %.2f", k.Saturated, k.SaturatedValue))
	}
	r.Knee = k
	v := Verdict{OK: row.Status == store.StatusCompleted, Details: lines}
	switch {
	case k.Knee != nil:
		v.Word = "KNEE"
		v.Line = fmt.Sprintf("Knee at %s %s (step %d): throughput %.1f/s, p99 %.1f ms", k.LoadLabel,
			trimFloat(k.Knee.Load), a.Knee+1, k.Knee.ThroughputRPS, k.Knee.P99Ms)
	default:
		v.Word = "NO KNEE"
		v.Line = "No knee: throughput still rose at every step"
	}
	if row.Status != store.StatusCompleted {
		v.Word = strings.ToUpper(string(row.Status))
		v.Details = append([]string{"run " + string(row.Status) + statusWhy(row)}, v.Details...)
	}
	r.Verdict = v
	return nil
}

// uslCurve samples the fitted USL over the measured loads (and up to its peak when that is within 1.5x the last
// load), 60 points.
func uslCurve(u knee.USL, pts []KneePoint) (xs, ys []float64) {
	xs, ys = []float64{}, []float64{}
	if len(pts) == 0 {
		return xs, ys
	}
	lo, hi := math.Max(1, pts[0].Load), pts[len(pts)-1].Load
	if n := u.PeakN(); !math.IsInf(n, 0) && n > hi && n < 1.5*hi {
		hi = n
	}
	const n = 60
	for i := 0; i <= n; i++ {
		x := lo + (hi-lo)*float64(i)/n
		xs = append(xs, round(x, 3))
		ys = append(ys, round(u.Throughput(x), 2))
	}
	return xs, ys
}

func finite(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return -1
	}
	return round(v, 3)
}

func peak(v float64, format string) string {
	if v < 0 {
		return "unbounded"
	}
	return fmt.Sprintf(format, v)
}

// benchSummary is the part of a benchmark run's stored summary the page reads.
type benchSummary struct {
	Tolerance  float64 `json:"tolerance"`
	Confidence float64 `json:"confidence"`
	Endpoints  []struct {
		Endpoint    string         `json:"endpoint"`
		Concurrency int            `json:"concurrency"`
		Verdict     *bench.Verdict `json:"verdict"`
		Baseline    *struct {
			RunID string `json:"run_id"`
		} `json:"baseline"`
	} `json:"endpoints"`
	Regression  bool     `json:"regression"`
	Regressions []string `json:"regressions"`
}

func buildBench(ctx context.Context, st store.Store, r *Run, row *store.Run) error {
	rows, err := st.BenchmarkResults(ctx, row.ID)
	if err != nil {
		return err
	}
	var sum benchSummary
	if len(row.SummaryJSON) > 0 {
		_ = json.Unmarshal(row.SummaryJSON, &sum) // best effort: the verdicts against the baseline
	}
	b := &Bench{Tolerance: sum.Tolerance, Confidence: sum.Confidence, Endpoints: []string{}, Concurrency: []int{},
		Rows: []BenchRow{}, Regression: sum.Regression}
	merged := hist.New()
	var curves []Curve
	var requests, errs int64
	for _, x := range rows {
		// The stored endpoint is the store key (bench.StoreKey: "NAME c=N" above concurrency 1); rows show NAME.
		name := strings.TrimSuffix(x.Endpoint, fmt.Sprintf(" c=%d", x.Concurrency))
		br := BenchRow{Endpoint: name, Method: x.Method, Concurrency: x.Concurrency, Requests: x.Requests,
			ErrorPct: round(100*x.ErrorRate, 3), RPS: round(x.RPS, 2), Latency: latencyOf(x.Latency)}
		for _, e := range sum.Endpoints {
			if bench.StoreKey(e.Endpoint, e.Concurrency) == x.Endpoint && e.Verdict != nil {
				br.Change, br.Reason = string(e.Verdict.Change), e.Verdict.Reason
				if e.Baseline != nil {
					br.BaselineRun = e.Baseline.RunID
				}
			}
		}
		b.Rows = append(b.Rows, br)
		if !slices.Contains(b.Endpoints, name) {
			b.Endpoints = append(b.Endpoints, name)
		}
		if !slices.Contains(b.Concurrency, x.Concurrency) {
			b.Concurrency = append(b.Concurrency, x.Concurrency)
		}
		h, err := x.Histogram()
		if err != nil {
			return fmt.Errorf("benchmark %s c=%d: %w", x.Endpoint, x.Concurrency, err)
		}
		merged.Merge(h)
		if h.Count() > 0 {
			curves = append(curves, curve(x.Endpoint, h)) // the store key, as store.BenchmarkSteps names the step
		}
		requests += x.Requests
		errs += x.Errors
	}
	sort.Ints(b.Concurrency)
	if merged.Count() > 0 {
		r.Distribution = append(r.Distribution, curve(allSteps, merged))
	}
	r.Distribution = append(r.Distribution, curves...)
	r.Bench = b
	v := Verdict{OK: row.Status == store.StatusCompleted && !sum.Regression}
	switch {
	case row.Status != store.StatusCompleted:
		v.Word, v.Line = strings.ToUpper(string(row.Status)), strings.ToUpper(string(row.Status))+statusWhy(row)
	case sum.Regression:
		v.Word, v.Line = "REGRESSION", "REGRESSION: "+strings.Join(sum.Regressions, "; ")
	default:
		v.Word = "COMPLETED"
		v.Line = fmt.Sprintf("COMPLETED: %d endpoint result(s), no regression against the baseline", len(rows))
	}
	r.Verdict = v
	if r.Requests == 0 {
		r.Requests, r.Errors = requests, errs
	}
	return nil
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// round rounds v to d decimals (NaN and infinities become 0: JSON has neither).
func round(v float64, d int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
