// Package modes runs the benchmark, stress and knee modes end to end: it turns a plan's benchmark, stress or
// knee section into engine runs (internal/executor), measures them, applies the pure algorithms (internal/bench,
// internal/stress, internal/knee), prints progress and the verdict, and stores the run and its results
// (internal/store).
//
//	rep, err := modes.Bench(ctx, p, modes.Options{Out: os.Stdout, Store: st})  // rep.Regression -> exit 3
//	rep, err := modes.Stress(ctx, p, opts)                                      // rep.Result: stress.Result
//	rep, err := modes.Knee(ctx, p, opts)                                        // rep.Analysis: knee.Analysis
//
// Every engine run is a fresh executor built from a plan derived from the user's: the benchmark runs one
// endpoint at a time in the closed model with C virtual users; a stress probe runs the plan's scenarios in the
// open model at one rate for probe_duration; a knee step runs them at one concurrency (or rate) for warm-up +
// step_duration.
package modes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/secret"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/stress"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// Options are what every mode takes besides the plan.
type Options struct {
	// Out receives the progress and the result lines (nil: discarded).
	Out io.Writer
	// Log receives diagnostics (nil: discarded).
	Log *slog.Logger
	// Store, when set, keeps the run (type benchmark|stress|knee) and its results, and is read for benchmark
	// baselines. A store error never stops a mode: it is logged and reported in Report.StoreError.
	Store store.Store
	// Sink, when set, receives the run's records instead of Store (Store is then only read, for baselines):
	// typically a *store.Writer over Store, so that a database outage spools the records instead of losing
	// them, and a slow database never holds the mode up.
	Sink store.Sink
	// RunID names the stored run (default store.NewID()).
	RunID string
	// Baseline is the benchmark run to compare with; "" means the last stored benchmark of the same plan and
	// endpoint.
	Baseline string
	// ExecutorOptions are passed to every executor.New after the mode's own.
	ExecutorOptions []executor.Option
	// OnExecutor, when set, is called with every engine the mode builds (one per benchmark endpoint, stress
	// probe or knee step), after executor.New and before it runs.
	OnExecutor func(*executor.Executor)
	// Monitor reads the generator's CPU and the host's resources (default sysmon.New()).
	Monitor *sysmon.Monitor
	// Now is the clock for stored timestamps (default time.Now).
	Now func() time.Time
	// StressConfig, when set, adjusts the search configuration built from the plan (e.g. a looser generator rule
	// on a shared CI box).
	StressConfig func(*stress.Config)

	guard *guard // set by guarded: the mode's goroutines and engines
}

// guard keeps a mode's goroutines from crashing the process: goroutines it starts (go) cancel the mode's context
// with their panic as the cause, and its engines are counted so that a mode that panics can wait for them.
type guard struct {
	cancel  context.CancelCauseFunc
	engines sync.WaitGroup
}

// fail stops the mode: its context ends with pe as the cause, so its engines and helpers stop and it settles as
// failed with pe's message.
func (g *guard) fail(pe *panics.Error) {
	if g != nil {
		g.cancel(pe)
	}
}

// goSafe runs f on a new goroutine; a panic in f fails the mode (see fail) instead of the process.
func (g *guard) goSafe(where string, f func()) {
	go func() {
		defer panics.Recover(where, g.fail)
		f()
	}()
}

// guarded runs a mode (run) so that no panic escapes it: a panic in one of its goroutines fails the mode as
// described in guard; a panic in run itself cancels the mode, waits for its engines, records the run as failed
// (when a store is set) and comes back as an error wrapping the *panics.Error, with a nil report.
func guarded[R any](ctx context.Context, p *plan.Plan, o Options, typ store.Type,
	run func(context.Context, *plan.Plan, Options) (*R, error)) (rep *R, err error) {
	o = o.withDefaults().redacted(p) // the run ID is fixed here, for the record below
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	o.guard = &guard{cancel: cancel}
	defer panics.Recover(string(typ)+" mode", func(pe *panics.Error) {
		cancel(pe)
		o.guard.engines.Wait()
		o.Log.Debug("panic: the run failed", "err", pe.Error(), "stack", string(pe.Stack))
		if sk := o.recordSink(); sk != nil {
			_ = panics.Catch("store", func() error {
				return sk.FinishRun(context.WithoutCancel(ctx), o.RunID, store.Finish{Status: store.StatusFailed,
					Error: pe.Error() + " (a bug in loadgen)", EndedAt: o.Now()})
			})
		}
		rep, err = nil, pe
	})
	return run(ctx, p, o)
}

// redacted masks the plan's secrets in what the mode writes (Out, Log).
func (o Options) redacted(p *plan.Plan) Options {
	r := p.Redactor()
	o.Out, o.Log = r.Writer(o.Out), r.Logger(o.Log)
	return o
}

func (o Options) withDefaults() Options {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Monitor == nil {
		o.Monitor = sysmon.New()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunID == "" {
		o.RunID = store.NewID()
	}
	return o
}

// ErrMode reports a plan that cannot run in the asked mode.
var ErrMode = errors.New("mode")

// ErrAborted is runner.ErrAborted: cancel a mode's ctx with a cause that wraps it (context.WithCancelCause) and
// the run is recorded as aborted, its error starting with the cause's text. A ctx cancelled for any other reason
// (Ctrl-C, a server shutting down, a deadline) records the run as interrupted.
var ErrAborted = runner.ErrAborted

// canceled returns the status of a run whose ctx ended and the text its error starts with.
func canceled(ctx context.Context) (status store.Status, prefix string) {
	if pe := panics.As(context.Cause(ctx)); pe != nil { // see guard
		return store.StatusFailed, pe.Error()
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrAborted) {
		return store.StatusAborted, cause.Error()
	}
	return store.StatusInterrupted, "interrupted"
}

// recordSink is where the run's records go: Sink, else Store, else nowhere.
func (o Options) recordSink() store.Sink {
	if o.Sink != nil {
		return o.Sink
	}
	if o.Store != nil {
		return o.Store
	}
	return nil
}

// Common header of every report.
type Header struct {
	RunID     string    `json:"run_id"`
	Plan      string    `json:"plan"`
	Type      string    `json:"type"`
	Target    string    `json:"target"`
	Status    string    `json:"status"` // completed | failed | aborted | interrupted (as stored)
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// StoreError is the first store write that failed ("" when all went through or no store was used).
	StoreError string `json:"store_error,omitempty"`
}

// begin opens a mode's run: the report's header (started now), the run created in the store as running, and
// a heartbeat that lasts until stopBeat is called.
func begin(ctx context.Context, p *plan.Plan, o Options, typ store.Type) (h Header, rec *recorder, stopBeat func()) {
	h = Header{RunID: o.RunID, Plan: p.Name, Type: string(typ), Target: p.Target, StartedAt: o.Now()}
	rec = &recorder{st: o.recordSink(), log: o.Log, runID: o.RunID, red: p.Redactor()}
	rec.start(ctx, p, typ, h.StartedAt)
	return h, rec, rec.beat(ctx, o)
}

// settle sets the header's status from the run's error: completed when nil, aborted or interrupted when ctx
// ended (see canceled), failed otherwise.
func (h *Header) settle(ctx context.Context, runErr error) {
	switch {
	case ctx.Err() != nil && panics.As(context.Cause(ctx)) != nil: // a goroutine of the mode panicked (see guard)
		h.Status, h.Error = string(store.StatusFailed), panics.As(context.Cause(ctx)).Error()
	case runErr != nil && ctx.Err() != nil:
		st, prefix := canceled(ctx)
		h.Status, h.Error = string(st), prefix+": "+runErr.Error()
	case runErr != nil:
		h.Status, h.Error = string(store.StatusFailed), runErr.Error()
	default:
		h.Status = string(store.StatusCompleted)
	}
}

// StepKeys returns the (scenario, step) label values the engines of a run of p record their per-step series
// under (internal/metrics): the plan's own scenarios and steps for load, stress and knee runs, and the one-step
// benchmark scenario of each endpoint for benchmark runs. loadgen serve uses it to forget the series of finished
// runs' steps.
func StepKeys(p *plan.Plan) []metrics.StepKey {
	var out []metrics.StepKey
	if p.Type == plan.TypeBenchmark && p.Benchmark != nil {
		for _, ep := range p.Benchmark.Endpoints {
			out = append(out, metrics.StepKey{Scenario: benchScenario, Step: ep.Name})
		}
		return out
	}
	for _, sc := range p.Scenarios {
		for _, st := range sc.Steps {
			out = append(out, metrics.StepKey{Scenario: sc.Name, Step: st.Name})
		}
	}
	return out
}

// derive returns a shallow copy of p for one engine run: type load, no thresholds, the given scenarios and load.
// The scenarios' steps (and their compiled requests) are shared, read-only.
func derive(p *plan.Plan, scenarios []plan.Scenario, load plan.Load) *plan.Plan {
	d := *p
	d.Type = plan.TypeLoad
	d.Thresholds = nil
	d.Benchmark, d.Stress, d.Knee = nil, nil, nil
	d.Scenarios = scenarios
	d.Load = load
	return &d
}

func closedPhases(vus int, phases ...namedDur) []plan.Phase {
	out := make([]plan.Phase, 0, len(phases))
	for _, ph := range phases {
		n := vus
		out = append(out, plan.Phase{Name: ph.name, Duration: plan.D(ph.d), VUs: &n})
	}
	return out
}

func openPhases(rate float64, phases ...namedDur) []plan.Phase {
	out := make([]plan.Phase, 0, len(phases))
	for _, ph := range phases {
		r := rate
		out = append(out, plan.Phase{Name: ph.name, Duration: plan.D(ph.d), Rate: &r})
	}
	return out
}

type namedDur struct {
	name string
	d    time.Duration
}

// recorder wraps the optional store: it remembers the first failure and never stops the mode.
type recorder struct {
	st     store.Sink
	log    *slog.Logger
	runID  string
	red    *secret.Redactor // the plan's secrets, masked in the report
	failed error
}

func (r *recorder) fail(what string, err error) {
	if err == nil {
		return
	}
	r.log.Warn("store: "+what+" failed", "err", err)
	if r.failed == nil {
		r.failed = fmt.Errorf("%s: %w", what, err)
	}
}

func (r *recorder) start(ctx context.Context, p *plan.Plan, typ store.Type, at time.Time) {
	if r.st == nil {
		return
	}
	run := &store.Run{ID: r.runID, Name: p.Name, Plan: p.Name, Type: typ, Status: store.StatusRunning,
		PlanYAML: p.StoredYAML(), Owner: store.Owner(), CreatedAt: at, StartedAt: at, HeartbeatAt: at}
	r.fail("create run", r.st.CreateRun(ctx, run))
	store.SettleStart(ctx, r.st) // the record must outlive a SIGKILL of this process
}

// HeartbeatInterval is how often a mode records that its run is alive while it runs.
const HeartbeatInterval = 10 * time.Second

// beat records a heartbeat every HeartbeatInterval until the returned func is called, so that a long benchmark
// endpoint or knee step is never taken for an abandoned run (store.Abandoned).
func (r *recorder) beat(ctx context.Context, o Options) (stop func()) {
	if r.st == nil {
		return func() {}
	}
	now := o.Now
	done := make(chan struct{})
	finished := make(chan struct{})
	o.guard.goSafe("heartbeat", func() {
		defer close(finished)
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.st.Heartbeat(ctx, r.runID, now()); err != nil && ctx.Err() == nil {
					r.log.Warn("store: heartbeat failed", "err", err)
				}
			}
		}
	})
	return func() {
		close(done)
		<-finished
	}
}

// finish masks the plan's secrets in the report (summary, a pointer, holds
// h) and stores it with its text.
func (r *recorder) finish(ctx context.Context, h *Header, totals store.Totals, summary any, text string) {
	r.red.Walk(summary)
	r.red.Walk(h)
	text = r.red.String(text)
	if r.st == nil {
		return
	}
	js, err := json.Marshal(summary)
	r.fail("encode summary", err)
	f := store.Finish{Status: store.Status(h.Status), Error: h.Error, EndedAt: h.EndedAt, Totals: totals,
		SummaryJSON: js, SummaryText: text}
	// The run's results are written even when ctx was cancelled (an interrupted search is still stored).
	r.fail("finish run", r.st.FinishRun(context.WithoutCancel(ctx), r.runID, f))
	if r.failed != nil {
		h.StoreError = r.failed.Error()
	}
}

func ms(d time.Duration) float64 { return store.Ms(d) }

// fmtMs formats a duration in milliseconds with one decimal.
func fmtMs(d time.Duration) string { return fmt.Sprintf("%.1fms", ms(d)) }
