package report

import (
	"strings"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/plan"
)

// measure is what a threshold is judged on: a latency histogram, request and
// error counts and the time they cover.
type measure struct {
	latency  *hist.Histogram
	requests uint64
	errors   uint64
	span     time.Duration
}

// value returns the threshold metric's value in its comparison unit
// (seconds for latency, ratio for error_rate, req/s for rps) and the unit
// and scale used in reports (ms for latency).
func (m measure) value(metric string) (v float64, report float64, unit string, ok bool) {
	if m.requests == 0 {
		return 0, 0, unitOf(metric), false
	}
	switch metric {
	case plan.MetricErrorRate:
		r := float64(m.errors) / float64(m.requests)
		return r, r, "ratio", true
	case plan.MetricRPS:
		if m.span <= 0 {
			return 0, 0, "req/s", false
		}
		r := float64(m.requests) / m.span.Seconds()
		return r, r, "req/s", true
	}
	if m.latency == nil || m.latency.Count() == 0 {
		return 0, 0, "ms", false
	}
	var d time.Duration
	switch metric {
	case plan.MetricP50:
		d = m.latency.Quantile(0.50)
	case plan.MetricP90:
		d = m.latency.Quantile(0.90)
	case plan.MetricP95:
		d = m.latency.Quantile(0.95)
	case plan.MetricP99:
		d = m.latency.Quantile(0.99)
	case plan.MetricP999:
		d = m.latency.Quantile(0.999)
	case plan.MetricMax:
		d = m.latency.Max()
	case plan.MetricMean:
		d = m.latency.Mean()
	default:
		return 0, 0, "", false
	}
	return d.Seconds(), ms(d), "ms", true
}

func unitOf(metric string) string {
	switch metric {
	case plan.MetricErrorRate:
		return "ratio"
	case plan.MetricRPS:
		return "req/s"
	}
	return "ms"
}

// worse reports whether a is a worse value than b for a threshold with op.
func worse(a, b float64, op string) bool {
	if op == ">" || op == ">=" {
		return a < b
	}
	return a > b
}

// matchStep reports whether a step cell is selected by a threshold's Step
// ("" = all, "name" = that step name in any scenario, "scenario/step").
func matchStep(sel, scenario, step string) bool {
	if sel == "" {
		return true
	}
	if sc, st, ok := strings.Cut(sel, "/"); ok && scenario == sc && step == st {
		return true
	}
	return sel == step
}

// runMeasure gathers the whole-run measure a threshold refers to.
func runMeasure(th plan.Threshold, res *executor.Results) measure {
	m := measure{span: res.Duration()}
	if th.Step == "" {
		if res.Total != nil {
			m.latency, m.requests, m.errors = res.Total.Latency, res.Total.Requests, res.Total.Errors
		}
		return m
	}
	m.latency = hist.New()
	for _, c := range res.Steps {
		if matchStep(th.Step, c.Scenario, c.Step) {
			m.requests += c.Requests
			m.errors += c.Errors
			m.latency.Merge(c.Latency)
		}
	}
	return m
}

// judge builds the reported Threshold of th over m.
func judge(th plan.Threshold, m measure) Threshold {
	v, rv, unit, ok := m.value(th.Metric)
	t := Threshold{Expr: th.String(), Value: rv, Unit: unit}
	if th.Window.Duration > 0 {
		t.Window = th.Window.Duration.String()
	}
	if !ok {
		t.Note = "no requests measured"
		return t
	}
	t.OK = th.Holds(v)
	return t
}

// Evaluate judges every threshold over the whole run, in plan order. A
// threshold with no requests to judge (a step that never ran) fails with the
// note "no requests measured". Windowed thresholds are judged here over the
// whole run too; runs that track them use Rolling.Final instead.
func Evaluate(ths []plan.Threshold, res *executor.Results) []Threshold {
	out := make([]Threshold, 0, len(ths))
	for _, th := range ths {
		out = append(out, judge(th, runMeasure(th, res)))
	}
	return out
}

// WindowSource gives rolling-window figures of a running executor
// (*executor.Executor implements it).
type WindowSource interface {
	Window(d time.Duration) executor.WindowStats
	StepWindows(d time.Duration) []executor.WindowStats
}

// Rolling evaluates windowed thresholds (Window > 0) while a run goes on:
// call Check about once a second. A threshold is judged once the run has
// lasted at least its window, over the requests completed in the last
// window; windows with no completed requests are skipped. It holds only if
// it held in every window judged; its reported value is the worst one seen
// (the value that failed, for an abort). Rolling is safe for concurrent use.
type Rolling struct {
	// OnFail, when set, is called by Check (on its goroutine, r locked) when a threshold fails for the first time.
	OnFail func(Failure)

	mu    sync.Mutex
	items []rollingItem
}

type rollingItem struct {
	th      plan.Threshold
	judged  bool
	failed  bool
	aborted bool
	worst   float64 // comparison unit
	report  float64 // report unit, of worst
	unit    string
	at      time.Duration // elapsed time of the first failure
}

// NewRolling tracks the windowed thresholds among ths (others are ignored).
func NewRolling(ths []plan.Threshold) *Rolling {
	r := &Rolling{}
	for _, th := range ths {
		if th.Window.Duration > 0 {
			r.items = append(r.items, rollingItem{th: th, unit: unitOf(th.Metric)})
		}
	}
	return r
}

// Len returns the number of windowed thresholds tracked.
func (r *Rolling) Len() int { return len(r.items) }

// Abort describes a threshold that ended the run.
type Abort struct {
	Expr    string
	Window  time.Duration
	Value   float64 // in Unit
	Unit    string
	Elapsed time.Duration // run time when it failed
}

// Message is the one-line explanation used as the summary's error.
func (a *Abort) Message() string {
	return "threshold \"" + a.Expr + "\" failed over the last " + a.Window.String() +
		" at " + a.Elapsed.Round(100*time.Millisecond).String() + " (" + FormatValue(a.Value, a.Unit) +
		"): run aborted (abort_on_fail)"
}

// Failure is a windowed threshold's first failure: where and by how much, and whether it ended the run.
type Failure struct {
	Abort
	Aborted bool
}

// Message is the failure in one line.
func (f Failure) Message() string {
	if f.Aborted {
		return f.Abort.Message()
	}
	return "threshold \"" + f.Expr + "\" failed over the last " + f.Window.String() + " at " +
		f.Elapsed.Round(100*time.Millisecond).String() + " (" + FormatValue(f.Value, f.Unit) + ")"
}

// Check judges every windowed threshold whose window fits in elapsed, and
// returns the first abort_on_fail threshold that failed now, or nil.
func (r *Rolling) Check(src WindowSource, elapsed time.Duration) *Abort {
	r.mu.Lock()
	defer r.mu.Unlock()
	var abort *Abort
	for i := range r.items {
		it := &r.items[i]
		w := it.th.Window.Duration
		if elapsed < w {
			continue
		}
		m := windowMeasure(it.th, src, w)
		v, rv, unit, ok := m.value(it.th.Metric)
		if !ok {
			continue
		}
		it.unit = unit
		if !it.judged || worse(v, it.worst, it.th.Op) {
			it.worst, it.report = v, rv
		}
		it.judged = true
		if it.th.Holds(v) {
			continue
		}
		first := !it.failed
		if first {
			it.failed, it.at = true, elapsed
		}
		if it.th.AbortOnFail && abort == nil {
			it.aborted = true
			it.worst, it.report = v, rv
			abort = &Abort{Expr: it.th.String(), Window: w, Value: rv, Unit: unit, Elapsed: elapsed}
		}
		if first && r.OnFail != nil {
			r.OnFail(Failure{Abort: Abort{Expr: it.th.String(), Window: w, Value: rv, Unit: unit, Elapsed: elapsed},
				Aborted: it.aborted})
		}
	}
	return abort
}

func windowMeasure(th plan.Threshold, src WindowSource, w time.Duration) measure {
	if th.Step == "" {
		ws := src.Window(w)
		return measure{latency: ws.Latency, requests: ws.Requests, errors: ws.Errors, span: ws.Span}
	}
	m := measure{latency: hist.New()}
	for _, ws := range src.StepWindows(w) {
		if matchStep(th.Step, ws.Scenario, ws.Step) {
			m.requests += ws.Requests
			m.errors += ws.Errors
			m.latency.Merge(ws.Latency)
			if ws.Span > m.span {
				m.span = ws.Span
			}
		}
	}
	return m
}

// Final returns every threshold of ths judged, in plan order: windowed ones
// from the rolling evaluation (or, when the run never lasted a full window,
// over the whole run with a note), the others over the whole run.
func (r *Rolling) Final(ths []plan.Threshold, res *executor.Results) []Threshold {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Threshold, 0, len(ths))
	k := 0
	for _, th := range ths {
		if th.Window.Duration <= 0 {
			out = append(out, judge(th, runMeasure(th, res)))
			continue
		}
		if k >= len(r.items) || r.items[k].th.String() != th.String() {
			out = append(out, judge(th, runMeasure(th, res))) // not tracked by r
			continue
		}
		it := r.items[k]
		k++
		if !it.judged {
			t := judge(th, runMeasure(th, res))
			if t.Note == "" {
				t.Note = "run shorter than the window: judged over the whole run"
			}
			out = append(out, t)
			continue
		}
		t := Threshold{Expr: th.String(), OK: !it.failed, Value: it.report, Unit: it.unit,
			Window: th.Window.Duration.String(), Aborted: it.aborted}
		if it.failed && !it.aborted {
			t.Note = "first failed at " + it.at.Round(time.Second).String()
		}
		out = append(out, t)
	}
	return out
}
