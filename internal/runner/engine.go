package runner

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
)

// DownWindow is the rolling window used to tell that the target is unreachable: every request completed in it
// failed without an HTTP response (see unreachable), at the last check of an engine.
const DownWindow = 2 * time.Second

// engine is one executor run within a Run, started in the background: a load run has one; a benchmark one per
// endpoint and concurrency (and its warm-up), a stress search one per probe, a knee search one per step. While the
// kind waits for it, the run is monitored (tick).
type engine struct {
	r      *Run
	e      *executor.Executor
	plan   *plan.Plan
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	// onTick, when set, sees every tick's snapshot (a load run's rolling thresholds).
	onTick func(executor.Snapshot)
	view   engineView

	downTicks int           // consecutive checks with the target unreachable
	downSince time.Duration // elapsed time the current unreachable streak began
	unreach   atomic.Bool   // downTicks > 0, for the live stream's goroutine
}

// engineView is what the live view shows of an engine besides its snapshot: which of the run's engines it is, its
// model and its phases (names masked with the plan's secrets).
type engineView struct {
	n      int
	model  string
	total  time.Duration
	phases []live.Phase
}

func newEngineView(n int, d *plan.Plan, mask func(string) string) engineView {
	v := engineView{n: n, model: plan.ModelOpen, total: d.Load.TotalDuration()}
	if d.Load.Model == plan.ModelClosed {
		v.model = plan.ModelClosed
	}
	for _, ph := range d.Load.Phases {
		v.phases = append(v.phases, live.Phase{Name: mask(ph.Name), DurationS: ph.Duration.Seconds()})
	}
	return v
}

// start builds a fresh executor for d and runs it until its schedule ends, ctx ends or stop is called.
func (r *Run) start(ctx context.Context, d *plan.Plan, extra ...executor.Option) (*engine, error) {
	opts := []executor.Option{executor.WithLogger(r.Log)}
	if r.m != nil {
		opts = append(opts, executor.WithObserver(r.m.Observer()))
	}
	opts = append(append(opts, extra...), r.ExecutorOptions...)
	e, err := executor.New(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if r.OnEngine != nil {
		r.OnEngine(e)
	}
	rctx, cancel := context.WithCancel(ctx)
	r.nEngines++
	x := &engine{r: r, e: e, plan: d, cancel: cancel, done: make(chan struct{}),
		view: newEngineView(r.nEngines, d, func(s string) string { return r.red.String(s) })}
	r.cur.Store(x)
	r.engines.Add(1)
	go func() {
		defer close(x.done)
		defer r.engines.Done()
		// e.Run turns its goroutines' panics into its error (the run then fails); this covers the rest.
		defer panics.Recover("engine", func(pe *panics.Error) { x.err = pe })
		x.err = e.Run(rctx)
	}()
	return x, nil
}

// wait monitors the engine until it ends, then returns its final results. A panic of the monitoring stops the
// engine and comes back as the error, with the results so far.
func (x *engine) wait() (*executor.Results, error) {
	err := panics.Catch("runner", func() error { x.watch(nil); return nil })
	x.cancel()
	<-x.done
	x.check(x.e.Snapshot().Elapsed) // the last second(s) since the final tick
	x.r.rec.engineEnded(x.e.Snapshot())
	if err == nil && x.err != nil {
		err = fmt.Errorf("engine: %w", x.err)
	}
	return x.e.Results(), err
}

// stop ends the run early (a graceful stop) and waits for it.
func (x *engine) stop() (*executor.Results, error) {
	x.cancel()
	return x.wait()
}

// watch ticks every ProgressInterval (the run's ticker: a run of short engines is monitored too) until the engine ends or until (when set) returns true (polled every 5 ms).
func (x *engine) watch(until func() bool) {
	var poll <-chan time.Time
	if until != nil {
		p := time.NewTicker(5 * time.Millisecond)
		defer p.Stop()
		poll = p.C
	}
	for {
		select {
		case <-x.done:
			return
		case <-poll:
			if until() {
				return
			}
		case now := <-x.r.tick.C:
			x.tick(now)
		}
	}
}

// tick is one look at the running engine: the generator's CPU, the kind's own check (rolling thresholds), the
// target's reachability, the progress line, a snapshot when one is due.
func (x *engine) tick(now time.Time) {
	r := x.r
	s := x.e.Snapshot()
	r.cpu.sample(now)
	if x.onTick != nil {
		x.onTick(s)
	}
	x.check(s.Elapsed)
	if r.Progress != nil {
		r.Progress.Update(x.live(s))
	}
	r.rec.snapshot(context.WithoutCancel(context.Background()), r, now, s)
}

// unreachable reports whether r means that the request never got an HTTP response because the target was not
// there: no name, no connection, no TLS, or the connection reset or closed before a response. The one definition
// for load runs (failed: target unreachable), benchmark warm-ups and knee steps (target unreachable) and stress
// probes (ERROR).
func unreachable(r executor.Reason) bool {
	switch r {
	case executor.ReasonConnect, executor.ReasonDNS, executor.ReasonTLS, executor.ReasonReset:
		return true
	}
	return false
}

// check updates whether the target is unreachable: every request completed in the last DownWindow failed as
// unreachable.
func (x *engine) check(elapsed time.Duration) {
	ws := x.e.WindowCounts(DownWindow) // counts only: no histogram allocated every second
	var bad uint64
	for r, n := range ws.ErrorsByReason {
		if unreachable(executor.Reason(r)) {
			bad += n
		}
	}
	switch {
	case ws.Requests == 0:
		// nothing completed: keep the current verdict
	case bad == ws.Requests:
		if x.downTicks == 0 {
			x.downSince = max(elapsed-ws.Span, 0)
		}
		x.downTicks++
	default:
		x.downTicks = 0
	}
	x.unreach.Store(x.downTicks > 0)
}

func (x *engine) down() bool { return x.downTicks > 0 }

// live is the live view of the engine at snapshot s: the progress display's, and the live stream's.
func (x *engine) live(s executor.Snapshot) live.Snapshot {
	l := live.FromEngine(s)
	v := x.view
	l.Engine, l.Model, l.TotalS, l.Phases = v.n, v.model, v.total.Seconds(), v.phases
	if s.PhaseIndex >= 0 && s.PhaseIndex < len(v.phases) {
		l.Phase = v.phases[s.PhaseIndex].Name
	}
	if x.r.cpu != nil {
		l.CPUPct = x.r.cpu.last()
	}
	l.Unreachable = x.unreach.Load()
	return l
}

// runToEnd runs d to the end of its schedule.
func (r *Run) runToEnd(ctx context.Context, d *plan.Plan) (*executor.Results, error) {
	x, err := r.start(ctx, d)
	if err != nil {
		return nil, err
	}
	return x.wait()
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failures returns the requests and errors of c: the target's or the network's (requests canceled by the run itself,
// an early stop, are in neither: the executor counts them apart in Cell.Canceled).
func failures(c *executor.Cell) (requests, errs uint64) {
	if c == nil {
		return 0, 0
	}
	return c.Requests, c.Errors
}

// unreachableFailures counts the requests of c that got no HTTP response because the target was not there.
func unreachableFailures(c *executor.Cell) uint64 {
	if c == nil {
		return 0
	}
	var n uint64
	for r, k := range c.ErrorsByReason {
		if unreachable(executor.Reason(r)) {
			n += k
		}
	}
	return n
}

// derive returns a shallow copy of p for one engine run of a benchmark, stress or knee run: type load, no
// thresholds, the given scenarios and load. The scenarios' steps (and their compiled requests) are shared, read-only.
func derive(p *plan.Plan, scenarios []plan.Scenario, load plan.Load) *plan.Plan {
	d := *p
	d.Type = plan.TypeLoad
	d.Thresholds = nil
	d.Benchmark, d.Stress, d.Knee = nil, nil, nil
	d.Scenarios = scenarios
	d.Load = load
	return &d
}

// fixedPhases returns one phase per name and duration, each at vus virtual users (closed model) or, when vus is 0, at
// rate iterations per second (open model).
func fixedPhases(vus int, rate float64, ph ...namedDur) []plan.Phase {
	out := make([]plan.Phase, 0, len(ph))
	for _, p := range ph {
		x := plan.Phase{Name: p.name, Duration: plan.D(p.d)}
		if vus > 0 {
			n := vus
			x.VUs = &n
		} else {
			r := rate
			x.Rate = &r
		}
		out = append(out, x)
	}
	return out
}

type namedDur struct {
	name string
	d    time.Duration
}

func ms(d time.Duration) float64 { return store.Ms(d) }

// fmtMs formats a duration in milliseconds with one decimal.
func fmtMs(d time.Duration) string { return fmt.Sprintf("%.1fms", ms(d)) }
