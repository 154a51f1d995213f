package store

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// timeLayout is how run times are shown (always UTC).
const timeLayout = "2006-01-02 15:04:05"

// FormatRuns writes runs as a table, as `loadgen runs list` shows them.
func FormatRuns(w io.Writer, runs []Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tVERDICT\tPLAN\tNAME\tSTARTED (UTC)\tDURATION\tREQUESTS\tERR%\tRPS\tP95 MS\tP99 MS")
	for _, r := range runs {
		start := r.StartedAt
		if start.IsZero() {
			start = r.CreatedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%.1f\t%s\t%s\n", r.ID, r.Type, r.Status,
			dash(strings.ReplaceAll(string(r.Verdict), "_", " ")), dash(r.Plan), dash(r.Name),
			start.UTC().Format(timeLayout), duration(r), r.Totals.Requests, pct(r.Totals.ErrorRate), r.Totals.RPS,
			msIf(r.Totals.Requests, r.Totals.P95Ms), msIf(r.Totals.Requests, r.Totals.P99Ms))
	}
	if len(runs) == 0 {
		fmt.Fprintln(tw, "(no runs)")
	}
	return tw.Flush()
}

// FormatRun writes a run as `loadgen runs show` does: the summary exactly as
// it was printed at the end of the run, or, for a run that never printed one
// (interrupted, still running), the stored facts.
func FormatRun(w io.Writer, r *Run) error {
	if r.SummaryText != "" {
		_, err := io.WriteString(w, r.SummaryText)
		if err == nil && !strings.HasSuffix(r.SummaryText, "\n") {
			_, err = io.WriteString(w, "\n")
		}
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%s\n", r.ID)
	fmt.Fprintf(tw, "name\t%s\n", dash(r.Name))
	fmt.Fprintf(tw, "plan\t%s\n", dash(r.Plan))
	fmt.Fprintf(tw, "type\t%s\n", r.Type)
	fmt.Fprintf(tw, "status\t%s\n", r.Status)
	if r.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.Error)
	}
	fmt.Fprintf(tw, "created\t%s\n", r.CreatedAt.UTC().Format(timeLayout))
	if !r.StartedAt.IsZero() {
		fmt.Fprintf(tw, "started\t%s\n", r.StartedAt.UTC().Format(timeLayout))
	}
	if !r.EndedAt.IsZero() {
		fmt.Fprintf(tw, "ended\t%s (%s)\n", r.EndedAt.UTC().Format(timeLayout), duration(*r))
	}
	t := r.Totals
	fmt.Fprintf(tw, "requests\t%d (%d errors, %s)\n", t.Requests, t.Errors, pct(t.ErrorRate))
	fmt.Fprintf(tw, "throughput\t%.1f req/s\n", t.RPS)
	fmt.Fprintf(tw, "latency\tp50 %s  p95 %s  p99 %s  max %s ms\n", ms(t.P50Ms), ms(t.P95Ms), ms(t.P99Ms), ms(t.MaxMs))
	fmt.Fprintf(tw, "summary\t(none stored: the run did not finish normally)\n")
	return tw.Flush()
}

// RunRef identifies a run in a Comparison.
type RunRef struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	Type      Type      `json:"type"`
	Status    Status    `json:"status"`
	StartedAt time.Time `json:"started_at,omitzero"`
}

// StepFigures are one run's figures for a step in a Comparison.
type StepFigures struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// StepDelta compares one step between run A (the baseline) and run B.
// Deltas are B - A; percentages are relative to A (0 when A is 0). A or B is
// nil when the step exists in only one run. The row with Scenario "(all)"
// merges every step's histogram of each run.
type StepDelta struct {
	Scenario       string       `json:"scenario"`
	Step           string       `json:"step"`
	A              *StepFigures `json:"a"`
	B              *StepFigures `json:"b"`
	DeltaP50Ms     float64      `json:"delta_p50_ms"`
	DeltaP95Ms     float64      `json:"delta_p95_ms"`
	DeltaP99Ms     float64      `json:"delta_p99_ms"`
	DeltaP50Pct    float64      `json:"delta_p50_pct"`
	DeltaP95Pct    float64      `json:"delta_p95_pct"`
	DeltaP99Pct    float64      `json:"delta_p99_pct"`
	DeltaErrorRate float64      `json:"delta_error_rate"` // fraction points, B - A
}

// Comparison is `loadgen runs compare A B`.
type Comparison struct {
	A     RunRef      `json:"a"`
	B     RunRef      `json:"b"`
	Steps []StepDelta `json:"steps"`
}

// BenchmarkSteps turns a benchmark run's endpoint results into step results
// (scenario "benchmark", step = endpoint) so that Compare can compare
// benchmark runs too.
func BenchmarkSteps(bs []BenchmarkResult) []StepResult {
	out := make([]StepResult, 0, len(bs))
	for _, b := range bs {
		out = append(out, StepResult{Scenario: BenchmarkScenario, Step: b.Endpoint, Requests: b.Requests, Errors: b.Errors,
			ErrorRate: b.ErrorRate, RPS: b.RPS, Latency: b.Latency, Hist: b.Hist})
	}
	return out
}

// BenchmarkScenario is the Scenario BenchmarkSteps gives a benchmark's endpoints.
const BenchmarkScenario = "benchmark"

// AllSteps is the Scenario of the Comparison row that merges all steps.
const AllSteps = "(all)"

// Compare compares two runs step by step using their stored histograms
// (quantiles recomputed from the decoded histograms, and merged exactly for
// the (all) row). Steps without a histogram fall back to their stored figures,
// and a run with such a step gets no (all) figures.
func Compare(a, b *Run, stepsA, stepsB []StepResult) (*Comparison, error) {
	c := &Comparison{A: Ref(a), B: Ref(b)}
	type key struct{ scenario, step string }
	figsA, allA, err := figures(stepsA)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", a.ID, err)
	}
	figsB, allB, err := figures(stepsB)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", b.ID, err)
	}
	seen := map[key]bool{}
	var keys []key
	for _, s := range append(append([]StepResult(nil), stepsA...), stepsB...) {
		k := key{s.Scenario, s.Step}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].scenario != keys[j].scenario {
			return keys[i].scenario < keys[j].scenario
		}
		return keys[i].step < keys[j].step
	})
	for _, k := range keys {
		c.Steps = append(c.Steps, delta(k.scenario, k.step, figsA[k.scenario+"\x00"+k.step], figsB[k.scenario+"\x00"+k.step]))
	}
	if allA != nil || allB != nil {
		c.Steps = append(c.Steps, delta(AllSteps, "", allA, allB))
	}
	return c, nil
}

// Ref identifies r in a comparison.
func Ref(r *Run) RunRef {
	return RunRef{ID: r.ID, Name: r.Name, Plan: r.Plan, Type: r.Type, Status: r.Status, StartedAt: r.StartedAt}
}

// figures decodes each step's histogram; the merged figures cover all steps
// (nil when there are none).
func figures(steps []StepResult) (map[string]*StepFigures, *StepFigures, error) {
	out := map[string]*StepFigures{}
	if len(steps) == 0 {
		return out, nil, nil
	}
	merged := hist.New()
	var all StepFigures
	haveHist := true
	for _, s := range steps {
		f := &StepFigures{Requests: s.Requests, Errors: s.Errors, ErrorRate: s.ErrorRate, P50Ms: s.P50Ms, P95Ms: s.P95Ms, P99Ms: s.P99Ms}
		if len(s.Hist) > 0 {
			h, err := s.Histogram()
			if err != nil {
				return nil, nil, fmt.Errorf("step %s/%s: %w", s.Scenario, s.Step, err)
			}
			l := LatencyOf(h)
			f.P50Ms, f.P95Ms, f.P99Ms = l.P50Ms, l.P95Ms, l.P99Ms
			merged.Merge(h)
		} else {
			haveHist = false
		}
		out[s.Scenario+"\x00"+s.Step] = f
		all.Requests += s.Requests
		all.Errors += s.Errors
	}
	all.ErrorRate = ratio(all.Errors, all.Requests)
	if !haveHist { // percentiles cannot be merged without histograms
		return out, nil, nil
	}
	l := LatencyOf(merged)
	all.P50Ms, all.P95Ms, all.P99Ms = l.P50Ms, l.P95Ms, l.P99Ms
	return out, &all, nil
}

func delta(scenario, step string, a, b *StepFigures) StepDelta {
	d := StepDelta{Scenario: scenario, Step: step, A: a, B: b}
	if a == nil || b == nil {
		return d
	}
	d.DeltaP50Ms, d.DeltaP50Pct = diff(a.P50Ms, b.P50Ms)
	d.DeltaP95Ms, d.DeltaP95Pct = diff(a.P95Ms, b.P95Ms)
	d.DeltaP99Ms, d.DeltaP99Pct = diff(a.P99Ms, b.P99Ms)
	d.DeltaErrorRate = round6(b.ErrorRate - a.ErrorRate)
	return d
}

func diff(a, b float64) (float64, float64) {
	if a == 0 {
		return round6(b - a), 0
	}
	return round6(b - a), round6((b - a) / a * 100)
}

// round6 keeps deltas readable in JSON (nanosecond resolution in ms).
func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// FormatComparison writes a Comparison as `loadgen runs compare` shows it.
func FormatComparison(w io.Writer, c *Comparison) error {
	fmt.Fprintf(w, "A: %s  %s %s %s (%s)\n", c.A.ID, c.A.Type, dash(c.A.Plan), dash(c.A.Name), c.A.Status)
	fmt.Fprintf(w, "B: %s  %s %s %s (%s)\n\n", c.B.ID, c.B.Type, dash(c.B.Plan), dash(c.B.Name), c.B.Status)
	if len(c.Steps) == 0 {
		_, err := fmt.Fprintln(w, "(neither run stored per-step results)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STEP\tREQ A\tREQ B\tP50 A\tP50 B\tΔP50\tP95 A\tP95 B\tΔP95\tP99 A\tP99 B\tΔP99\tERR A\tERR B\tΔERR\t")
	for _, s := range c.Steps {
		name := s.Scenario
		if s.Step != "" {
			name += "/" + s.Step
		}
		a, b := s.A, s.B
		if a == nil {
			a = &StepFigures{P50Ms: math.NaN(), P95Ms: math.NaN(), P99Ms: math.NaN(), ErrorRate: math.NaN(), Requests: -1}
		}
		if b == nil {
			b = &StepFigures{P50Ms: math.NaN(), P95Ms: math.NaN(), P99Ms: math.NaN(), ErrorRate: math.NaN(), Requests: -1}
		}
		both := s.A != nil && s.B != nil
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, count(a.Requests), count(b.Requests),
			ms(a.P50Ms), ms(b.P50Ms), rel(both, s.DeltaP50Pct, a.P50Ms, b.P50Ms),
			ms(a.P95Ms), ms(b.P95Ms), rel(both, s.DeltaP95Pct, a.P95Ms, b.P95Ms),
			ms(a.P99Ms), ms(b.P99Ms), rel(both, s.DeltaP99Pct, a.P99Ms, b.P99Ms),
			pct(a.ErrorRate), pct(b.ErrorRate), points(both, s.DeltaErrorRate))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nlatencies in ms; Δ is B relative to A; ΔERR in percentage points")
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func duration(r Run) string {
	if r.StartedAt.IsZero() || r.EndedAt.IsZero() {
		return "-"
	}
	return r.EndedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", f*100)
}

func ms(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.2f", f)
}

// msIf shows a latency only when there were requests to measure it.
func msIf(requests int64, f float64) string {
	if requests == 0 {
		return "-"
	}
	return ms(f)
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func rel(both bool, p, a, b float64) string {
	if !both || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	if a == 0 {
		if b == 0 {
			return "0%"
		}
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", p)
}

func points(both bool, d float64) string {
	if !both || math.IsNaN(d) {
		return "-"
	}
	return fmt.Sprintf("%+.2f", d*100)
}
