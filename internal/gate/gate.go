// Package gate is the regression gate for stored runs: it compares a new run with a baseline step by step, testing
// each step's p50, p95 and p99 with the bootstrap of internal/bench on the two stored latency histograms, and it
// finds a baseline on its own (the newest passed run of the same plan). `loadgen runs compare --gate` exits 3 on
// a regression; the HTML comparison report shows the same verdict.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/store"
)

// DefaultTolerance is the relative slowdown of a quantile beyond which the gate may call it a regression (when the
// bootstrap interval lies wholly above it).
const DefaultTolerance = 0.05

// Step is the verdict on one step (a benchmark run's steps are its endpoints, per concurrency).
type Step struct {
	Scenario string `json:"scenario"`
	Step     string `json:"step"`
	// Verdict is bench.CompareHist on the two stored histograms; nil when the step is in one run only (Missing).
	Verdict *bench.Verdict `json:"verdict,omitempty"`
	// Missing is "base" or "new" when the step was not measured in that run.
	Missing string `json:"missing,omitempty"`
}

// Name is "scenario/step".
func (s Step) Name() string { return s.Scenario + "/" + s.Step }

// Result is the gate's verdict on a new run against a baseline.
type Result struct {
	Base       store.RunRef `json:"base"`
	New        store.RunRef `json:"new"`
	Tolerance  float64      `json:"tolerance"`
	Confidence float64      `json:"confidence"`
	Steps      []Step       `json:"steps"`
	// Regression is true when any step's p50, p95 or p99 regressed; Regressions names them with the ratio and its
	// interval, e.g. "browse/list-users: slower: p99 x1.21 (interval 1.18-1.24 above 1.05)".
	Regression  bool     `json:"regression"`
	Regressions []string `json:"regressions,omitempty"`
}

// Compare loads the runs baseID and newID from st and compares them (see CompareSteps).
func Compare(ctx context.Context, st store.Store, baseID, newID string, c bench.Criteria) (*Result, error) {
	var runs [2]*store.Run
	var steps [2][]store.StepResult
	for i, id := range []string{baseID, newID} {
		r, err := st.GetRun(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
		runs[i] = r
		if steps[i], err = Steps(ctx, st, id); err != nil {
			return nil, err
		}
	}
	return CompareSteps(runs[0], runs[1], steps[0], steps[1], c)
}

// Steps returns a stored run's per-step results with their histograms: a load run's step results, or a benchmark
// run's endpoint results as steps (store.BenchmarkSteps).
func Steps(ctx context.Context, st store.Store, id string) ([]store.StepResult, error) {
	steps, err := st.StepResults(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: step results: %w", id, err)
	}
	if len(steps) > 0 {
		return steps, nil
	}
	bs, err := st.BenchmarkResults(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: benchmark results: %w", id, err)
	}
	return store.BenchmarkSteps(bs), nil
}

// CompareSteps tests every step of the new run against the same step of the baseline with bench.CompareHist
// (p50, p95 and p99; a quantile with too few samples above it is not tested). Zero criteria take the gate's
// DefaultTolerance and bench's other defaults. A step in one run only is listed as missing and never a regression.
func CompareSteps(base, cur *store.Run, baseSteps, curSteps []store.StepResult, c bench.Criteria) (*Result, error) {
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	if !(c.Confidence > 0 && c.Confidence < 1) {
		c.Confidence = bench.DefaultConfidence
	}
	r := &Result{Base: store.Ref(base), New: store.Ref(cur), Tolerance: c.Tolerance, Confidence: c.Confidence,
		Steps: []Step{}}
	byKey := map[[2]string]store.StepResult{}
	for _, s := range baseSteps {
		byKey[[2]string{s.Scenario, s.Step}] = s
	}
	seen := map[[2]string]bool{}
	for _, s := range curSteps {
		k := [2]string{s.Scenario, s.Step}
		seen[k] = true
		b, ok := byKey[k]
		if !ok {
			r.Steps = append(r.Steps, Step{Scenario: s.Scenario, Step: s.Step, Missing: "base"})
			continue
		}
		bh, err := b.Histogram()
		if err != nil {
			return nil, fmt.Errorf("run %s step %s/%s: %w", base.ID, b.Scenario, b.Step, err)
		}
		ch, err := s.Histogram()
		if err != nil {
			return nil, fmt.Errorf("run %s step %s/%s: %w", cur.ID, s.Scenario, s.Step, err)
		}
		v := bench.CompareHist(bh, ch, c)
		st := Step{Scenario: s.Scenario, Step: s.Step, Verdict: &v}
		r.Steps = append(r.Steps, st)
		if v.Regression {
			r.Regression = true
			r.Regressions = append(r.Regressions, st.Name()+": "+v.Reason)
		}
	}
	for _, s := range baseSteps {
		if !seen[[2]string{s.Scenario, s.Step}] {
			r.Steps = append(r.Steps, Step{Scenario: s.Scenario, Step: s.Step, Missing: "new"})
		}
	}
	return r, nil
}

// ErrNoBaseline reports that no passed run of the plan precedes the new run.
var ErrNoBaseline = errors.New("no baseline")

// Baseline resolves a baseline given as a run ID or "last-passed" (the newest passed run of newID's plan and type
// created before it: LastPassed) to a run ID.
func Baseline(ctx context.Context, st store.Store, baseline, newID string) (string, error) {
	if baseline != "last-passed" {
		return baseline, nil
	}
	cur, err := st.GetRun(ctx, newID)
	if err != nil {
		return "", fmt.Errorf("run %s: %w", newID, err)
	}
	base, err := LastPassed(ctx, st, cur)
	if err != nil {
		return "", err
	}
	return base.ID, nil
}

// LastPassed returns the newest run of the same plan and type as cur, created before it, that passed: completed,
// every threshold held and (for a benchmark) no regression. ErrNoBaseline when there is none.
func LastPassed(ctx context.Context, st store.Store, cur *store.Run) (*store.Run, error) {
	const page = 100
	f := store.Filter{Plan: cur.Plan, Type: cur.Type, Status: store.StatusCompleted, Limit: page}
	for {
		runs, err := st.ListRuns(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("runs of plan %s: %w", cur.Plan, err)
		}
		for _, r := range runs {
			if r.ID == cur.ID || !before(&r, cur) {
				continue // the run itself, or one created after it
			}
			full, err := st.GetRun(ctx, r.ID)
			if err != nil {
				return nil, fmt.Errorf("run %s: %w", r.ID, err)
			}
			if Passed(full) {
				return full, nil
			}
		}
		if len(runs) < page {
			return nil, fmt.Errorf("%w: no passed %s run of plan %q before %s", ErrNoBaseline, cur.Type, cur.Plan, cur.ID)
		}
		f.Offset += page
	}
}

// before reports whether a was created before b (IDs, which sort by creation time, break ties).
func before(a, b *store.Run) bool {
	return a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID
}

// Passed reports whether a stored run passed: status completed, every threshold of its summary held, and no
// benchmark regression.
func Passed(r *store.Run) bool {
	if r.Status != store.StatusCompleted {
		return false
	}
	if len(r.SummaryJSON) == 0 {
		return true
	}
	var s struct {
		Thresholds []struct {
			OK bool `json:"ok"`
		} `json:"thresholds"`
		Regression bool `json:"regression"`
	}
	if err := json.Unmarshal(r.SummaryJSON, &s); err != nil {
		return false
	}
	for _, t := range s.Thresholds {
		if !t.OK {
			return false
		}
	}
	return !s.Regression
}

// Format writes the gate's verdict as `loadgen runs compare --gate` prints it: one line per step and quantile
// tested, then GATE PASSED or GATE FAILED.
func Format(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "\nREGRESSION GATE (bootstrap on the stored histograms: tolerance %.0f%%, confidence %.0f%%)\n",
		100*r.Tolerance, 100*r.Confidence)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  step\tquantile\tbase ms\tnew ms\tratio\tinterval\tverdict")
	for _, s := range r.Steps {
		if s.Verdict == nil {
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\tnot tested: not in the %s run\n", s.Name(), s.Missing)
			continue
		}
		for _, q := range s.Verdict.Quantiles {
			if q.Change == bench.NotTested {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\t\tnot tested: too few samples\n", s.Name(), q.Name, ms(q.Base), ms(q.Cur))
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\tx%.3f\t[%.3f, %.3f]\t%s\n", s.Name(), q.Name, ms(q.Base), ms(q.Cur),
				q.Ratio, q.Lo, q.Hi, q.Change)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Regression {
		_, err := fmt.Fprintf(w, "GATE FAILED: %s\n", strings.Join(r.Regressions, "; "))
		return err
	}
	_, err := fmt.Fprintf(w, "GATE PASSED: no step's p50, p95 or p99 is significantly slower than %s\n", r.Base.ID)
	return err
}

func ms[T ~int64](d T) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }
