package executor

import (
	"math"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// Snapshot returns the live state of the run (see Snapshot).
func (e *Executor) Snapshot() Snapshot {
	s := Snapshot{Running: e.running.Load(), PhaseIndex: -1, RequestsPerIteration: e.reqPerIter}
	if !e.started.Load() {
		return s
	}
	el := e.elapsed()
	if !s.Running {
		e.mu.Lock()
		el = e.endedAt.Sub(e.startedAt)
		e.mu.Unlock()
	}
	s.Elapsed = el
	if i := int(e.curPhase.Load()); i >= 0 && s.Running {
		s.PhaseIndex, s.Phase = i, e.phaseRecs[i].p.Name
	}
	if e.open {
		s.IntendedRate = math.Float64frombits(e.rateNow.Load())
	} else {
		s.TargetVUs = int(e.vusTarget.Load())
	}
	for _, st := range e.steps {
		s.Requests += st.cell.requests.Load()
		s.Errors += st.cell.errors.Load()
		for i := range st.cell.reasons {
			s.ErrorsByReason[i] += st.cell.reasons[i].Load()
		}
	}
	s.Iterations = e.iterations.Load()
	s.Dropped = e.dropped.Load()
	s.InFlight = e.inFlight.Load()
	s.VUs = e.busy.Load()
	sec := int64(el / time.Second)
	var last WindowStats // counts only
	for _, st := range e.steps {
		st.ring.sum(sec-1, sec-1, &last)
	}
	if sec >= 1 {
		s.AchievedRPS = float64(last.Requests)
	}
	// The live window's latency goes into a scratch histogram reused across calls, so that a caller polling every
	// second (the runner, the control API) leaves no garbage: a long run's memory stays flat.
	e.snapMu.Lock()
	if e.snapLive == nil {
		e.snapLive = hist.New()
	}
	e.snapLive.Reset()
	w := WindowStats{Latency: e.snapLive}
	e.windowInto(LiveWindow, &w)
	s.P50, s.P95, s.P99 = w.Latency.Quantile(0.5), w.Latency.Quantile(0.95), w.Latency.Quantile(0.99)
	s.P90 = w.Latency.Quantile(0.9)
	e.snapMu.Unlock()
	from, _, _ := e.windowBounds(LiveWindow)
	e.serviceWindow(from, &s)
	s.LagP99 = e.lag.Quantile(0.99)
	return s
}

// window computes the bounds of a window of length d ending now.
func (e *Executor) windowBounds(d time.Duration) (from, to int64, span time.Duration) {
	el := e.elapsed()
	if !e.running.Load() {
		e.mu.Lock()
		if !e.endedAt.IsZero() {
			el = e.endedAt.Sub(e.startedAt)
		}
		e.mu.Unlock()
	}
	if d > e.window {
		d = e.window
	}
	if d < time.Second {
		d = time.Second
	}
	to = int64(el / time.Second)
	k := int64(math.Ceil(d.Seconds()))
	from = to - k + 1
	if from < 0 {
		from = 0
	}
	span = el - time.Duration(from)*time.Second
	return from, to, span
}

// Window returns the run-wide figures of the requests completed in the last
// d (at most the WithWindow limit), for rolling thresholds.
func (e *Executor) Window(d time.Duration) WindowStats {
	w := WindowStats{Latency: hist.New()}
	e.windowInto(d, &w)
	return w
}

// WindowCounts is Window without the latency histogram (Latency is nil): the
// request, error and reason counts of the last d, allocation-free.
func (e *Executor) WindowCounts(d time.Duration) WindowStats {
	var w WindowStats
	e.windowInto(d, &w)
	return w
}

// windowInto adds the run-wide figures of the last d into w (its latency too,
// when w.Latency is not nil).
func (e *Executor) windowInto(d time.Duration, w *WindowStats) {
	if !e.started.Load() {
		return
	}
	from, to, span := e.windowBounds(d)
	w.Span = span
	for _, st := range e.steps {
		st.ring.sum(from, to, w)
	}
}

// StepWindows returns Window's figures per (scenario, step), in plan order.
func (e *Executor) StepWindows(d time.Duration) []WindowStats {
	out := make([]WindowStats, len(e.steps))
	var from, to int64
	var span time.Duration
	if e.started.Load() {
		from, to, span = e.windowBounds(d)
	}
	for i, st := range e.steps {
		out[i] = WindowStats{Scenario: st.scen, Step: st.st.Name, Span: span, Latency: hist.New()}
		if e.started.Load() {
			st.ring.sum(from, to, &out[i])
		}
	}
	return out
}

// Results returns a copy of everything measured so far (final after Run).
func (e *Executor) Results() *Results {
	e.mu.Lock()
	started, ended := e.startedAt, e.endedAt
	samples := append([]ErrorSample(nil), e.samples...)
	e.mu.Unlock()
	model := "open"
	if !e.open {
		model = "closed"
	}
	r := &Results{Plan: e.p.Name, Model: model, Started: started, Ended: ended, Canceled: e.canceled.Load(),
		Total: NewCell("", "", ""), ScheduleLag: e.lag.Clone(), Iterations: e.iterations.Load(),
		Dropped: e.dropped.Load(), MaxInFlight: e.maxInFl.Load(), ErrorSamples: samples,
		ErrorSamplesDropped: e.samplesOff.Load()}
	for _, st := range e.steps {
		c := st.cell.snapshot(st.scen, st.st.Name, st.req.Method)
		c.Skipped = st.skipped.Load()
		if names := st.rules.Names(); len(names) > 0 {
			// A check's failures are counted after its response (record): read after the cell, a failure may
			// be one more than the responses seen, so Failed is capped.
			checked := c.Requests - c.Status[0]
			for i, n := range names {
				c.Checks = append(c.Checks, CheckCount{Name: n, Checked: checked, Failed: min(st.checkFail[i].Load(), checked)})
			}
		}
		r.Steps = append(r.Steps, c)
		r.Total.Merge(c)
	}
	r.Total.Checks, r.Total.Skipped = nil, 0 // per step only
	var el time.Duration
	if !started.IsZero() {
		el = e.elapsed()
		if !ended.IsZero() {
			el = ended.Sub(started)
		}
	}
	for i, pr := range e.phaseRecs {
		off, end := e.phases.Bounds(i)
		res := &PhaseResult{Name: pr.p.Name, Index: i, Planned: end - off, Iterations: pr.iter.Load(),
			Dropped: pr.drop.Load(), ScheduleLag: pr.lag.Clone(), Cell: *pr.cell.snapshot("", "", "")}
		if pr.p.Rate != nil {
			res.Rate, res.To = *pr.p.Rate, *pr.p.Rate
		}
		if pr.p.VUs != nil {
			res.VUs, res.ToVUs = *pr.p.VUs, *pr.p.VUs
		}
		if pr.p.To != nil {
			res.To, res.ToVUs = *pr.p.To, int(math.Round(*pr.p.To))
		}
		if !started.IsZero() && el > off {
			res.Start = started.Add(off)
			if el >= end {
				res.End = started.Add(end)
			} else if !ended.IsZero() {
				res.End = ended
			}
		}
		r.Phases = append(r.Phases, res)
	}
	for _, sc := range e.scenarios {
		r.Scenarios = append(r.Scenarios, ScenarioResult{Name: sc.s.Name, Weight: float64(sc.weight),
			Iterations: sc.iter.Load(), Failed: sc.failed.Load()})
	}
	return r
}
