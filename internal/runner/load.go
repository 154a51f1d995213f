package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// load carries out a load run: the plan's phases through one engine, rolling thresholds checked every tick (an
// abort_on_fail threshold that fails ends the run), and the report.Summary built from the engine's results:
// totals, latency, per-step and per-phase tables, thresholds over the whole run, the generator's health. The
// run did not complete (the error says why) when it panicked, a rolling threshold ended it, no request
// completed, every request failed, or the target was unreachable at its end.
func load(ctx context.Context, r *Run) (Report, error) {
	p := r.Plan
	rolling := report.NewRolling(localRolling(p.Thresholds, r.Segment != nil))
	rolling.OnFail = r.thresholdFailed
	var abort *report.Abort // set by a tick, on this goroutine (engine.wait)
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	x, err := r.start(ectx, p)
	if err != nil {
		return nil, err
	}
	x.onTick = func(s executor.Snapshot) {
		if a := rolling.Check(x.e, s.Elapsed); a != nil && abort == nil {
			abort = a
			r.Log.Warn("threshold failed: aborting the run", "threshold", a.Expr)
			cancel()
		}
	}
	res, err := x.wait()
	if err != nil && panics.As(err) == nil {
		return nil, err // the engine could not run at all
	}
	r.cpu.sample(time.Now())
	r.results = res

	s := report.FromResults(res)
	if p.LatencyOf != "" {
		s.LatencyOf = p.LatencyOf
	}
	s.Thresholds = rolling.Final(p.Thresholds, res)
	if i := int(r.mergedAbort.Load()) - 1; i >= 0 && i < len(s.Thresholds) { // a distributed run's merged window
		s.Thresholds[i].OK, s.Thresholds[i].Aborted, s.Thresholds[i].Note = false, true, "failed on the merged window of the distributed run"
	}
	s.Health.CPUMaxPct, s.Health.CPUMeasured = r.cpu.maxPct, r.cpu.measured
	s.Health.RSSMaxMB = float64(r.cpu.rssBytes()) / (1 << 20)
	s.Health.JudgeHealth()
	if t := res.Total; t != nil {
		r.totals = store.TotalsOf(int64(t.Requests), int64(t.Errors), t.Latency, res.Duration())
	}
	steps := make([]store.StepResult, 0, len(res.Steps))
	for _, c := range res.Steps {
		sr, err := store.NewStepResult(c.Scenario, c.Step, int64(c.Requests), int64(c.Errors), c.Latency, res.Duration())
		if err != nil {
			r.rec.fail("encode step result", err)
			continue
		}
		sr.Timing = &store.Timing{DNS: store.PhaseOf(c.DNS), Connect: store.PhaseOf(c.Connect), TLS: store.PhaseOf(c.TLS),
			Wait: store.PhaseOf(c.TTFB), Receive: store.PhaseOf(c.Receive)}
		steps = append(steps, sr)
	}
	r.write("add step results", func(ctx context.Context, sk store.Sink) error { return sk.AddStepResults(ctx, r.ID, steps) })

	switch {
	case err != nil: // a panic: partial results
		return s, err
	case ctx.Err() != nil:
		return s, ctx.Err()
	case abort != nil:
		return s, &abortError{abort}
	case s.Requests == 0:
		return s, errors.New("no request completed")
	case s.Errors == s.Requests:
		return s, fmt.Errorf("all %d requests failed: %s", s.Requests, failureCause(res, nil))
	case x.down():
		return s, fmt.Errorf("target unreachable from about %s to the end of the run (%d of %d requests failed): %s",
			fmtDur(x.downSince), s.Errors, s.Requests, failureCause(res, unreachable))
	}
	return s, nil
}

// localRolling is the windowed thresholds a run judges on its own window: all of them, except, for a worker of a
// distributed run (segment), the run-wide rps and error_rate ones. Those are the whole run's: a worker's share of
// 100 it/s over 2 workers is 50, and "rps > 70" would fail (and with abort_on_fail end a healthy run) on it.
// watchSegment judges them on the merged window and Merge over the whole merged run.
func localRolling(ths []plan.Threshold, segment bool) []plan.Threshold {
	if !segment {
		return ths
	}
	var out []plan.Threshold
	for _, th := range ths {
		if mergedMetric(th) {
			continue
		}
		out = append(out, th)
	}
	return out
}

// mergedMetric reports whether th is a run-wide windowed rps or error_rate threshold: one a distributed run judges
// on the merged window of its workers.
func mergedMetric(th plan.Threshold) bool {
	return th.Window.Duration > 0 && th.Step == "" && (th.Metric == plan.MetricRPS || th.Metric == plan.MetricErrorRate)
}

// failureCause describes the commonest failure reasons and one sample message, on one line: "connect 1500 (dial
// tcp 127.0.0.1:8117: connect: connection refused)".
func failureCause(res *executor.Results, only func(executor.Reason) bool) string {
	type rc struct {
		r executor.Reason
		n uint64
	}
	var rs []rc
	for r, n := range res.Total.ErrorsByReason {
		if n > 0 && (only == nil || only(executor.Reason(r))) {
			rs = append(rs, rc{executor.Reason(r), n})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n })
	if len(rs) == 0 {
		return "unknown cause"
	}
	var parts []string
	for i, x := range rs {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.r, x.n))
	}
	out := strings.Join(parts, ", ")
	var best *executor.ErrorSample
	for i := range res.ErrorSamples {
		es := &res.ErrorSamples[i]
		if es.Reason == rs[0].r && (best == nil || es.Count > best.Count) {
			best = es
		}
	}
	if best != nil && best.Message != "" {
		out += " (" + oneLine(best.Message) + ")"
	}
	return out
}
