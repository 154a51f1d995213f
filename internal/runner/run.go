// Package runner owns a run's life, whatever its kind: the one Run (ID, plan, type, status, where it records and
// reports, start and end); how it starts (the record created as running, the run named in the metrics) and how it
// ends (its status judged in one place, the record finished, the metrics released); its progress line and its
// snapshots; and the four kinds of run, each one function of the form Execute calls: load (the plan's phases),
// benchmark, stress and knee. The algorithms are pure packages (internal/bench, internal/stress, internal/knee);
// the engine is internal/executor.
//
//	r := &runner.Run{Plan: p, Metrics: m, Sink: w, Out: os.Stdout, Progress: live.NewPlain(os.Stderr)}
//	rep, err := runner.Execute(ctx, r) // rep.Head().Status: completed | failed | aborted | interrupted
//
// cmd/loadgen (run, bench, stress, knee) and internal/control (loadgen serve) both call Execute; Expose serves a
// command's /metrics. A new kind of run is a function of the form func(context.Context, *Run) (Report, error) in its
// own file and a line in kinds.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/secret"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/stress"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// Defaults.
const (
	// DefaultProgressInterval is how often the progress line is printed, rolling thresholds and the target's
	// reachability are checked and a snapshot may be stored.
	DefaultProgressInterval = time.Second
	// DefaultFlushTimeout bounds how long the end of a run waits for a *store.Writer Sink to take its records,
	// so that the report says whether they had to be spooled.
	DefaultFlushTimeout = 5 * time.Second
	// SnapshotInterval is how often a snapshot is stored during a run's first SnapshotFineFor; after that, every
	// SnapshotCoarseInterval (a day-long soak keeps about 12,000 snapshots, not 86,400).
	SnapshotInterval       = time.Second
	SnapshotFineFor        = time.Hour
	SnapshotCoarseInterval = 10 * time.Second
	// HostSampleInterval is how often the host's CPU and memory are read for the snapshots.
	HostSampleInterval = 2 * time.Second
)

// Errors.
var (
	// ErrPlan reports a plan that cannot run as its type (no benchmark, stress or knee section, an unknown type).
	ErrPlan = errors.New("plan")
	// ErrAborted marks a deliberate stop: cancel Execute's ctx with a cause that wraps it
	// (context.WithCancelCause) and the run ends aborted, its error starting with the cause's text; a ctx cancelled
	// for any other reason (Ctrl-C, a server shutting down, a deadline) ends it interrupted.
	ErrAborted = errors.New("run aborted")
)

// Run is one run of a plan. Fill in the plan and where it reports, then call Execute, which sets the rest.
type Run struct {
	// ID names the run (default: a new store.NewID).
	ID   string
	Plan *plan.Plan
	// Type is the plan's type: load (the default), benchmark, stress or knee.
	Type string

	// Metrics is where the run's engines record their loadgen_* series (nil: none): the run records into its own
	// view (metrics.StartRun), named in loadgen_run_info while it runs.
	Metrics *metrics.Metrics
	// Sink records the run (default Store; nil: not recorded): created as running at the start, a snapshot every
	// SnapshotInterval, the kind's results and the report at the end. A *store.Writer sends the heartbeats and
	// spools records while the database is away; the report then says so.
	Sink store.Sink
	// Store is read for benchmark baselines (nil: no comparison). StoreURL names the store in the report.
	Store    store.Store
	StoreURL string
	// Out receives the report as printed: a benchmark's, stress search's or knee's lines as they come, then the
	// verdict; a load run's summary at the end (nil: discarded).
	Out io.Writer
	// Progress shows the progress (nil: none): the running engine's figures every ProgressInterval (live.Plain
	// prints the progress line; live.Terminal redraws in place), closed when the run ends, before the end of the
	// report is printed.
	Progress         live.Display
	ProgressInterval time.Duration
	// Live, when set, receives the run's live events (loadgen serve's event stream): a snapshot every LiveInterval
	// from its first engine to its end (between a benchmark's, stress or knee run's engines, the last one's final
	// figures), a phase event as each phase of an engine begins, a threshold event when a rolling threshold first
	// fails. Its end event is the caller's to publish, once Execute has returned.
	Live *live.Hub
	// Log receives diagnostics (nil: discarded); the plan's secrets are masked in it.
	Log *slog.Logger

	// OnEngine, when set, is called with every engine once built (its live overrides are ready, so SetRate and
	// SetVUs take effect) and before it runs: one for a load run, one per benchmark endpoint, stress probe or knee
	// step.
	OnEngine func(*executor.Executor)
	// ExecutorOptions are added to every engine's options.
	ExecutorOptions []executor.Option
	// Segment, when set, makes the run one worker's share of a distributed run (see Segment): load plans only.
	Segment *Segment
	// Baseline is the benchmark run to compare with ("" = the last stored benchmark of the same plan and endpoint).
	Baseline string
	// StressConfig, when set, adjusts the stress search's configuration built from the plan.
	StressConfig func(*stress.Config)
	// Monitor reads the generator's and the host's resources (default sysmon.New()).
	Monitor *sysmon.Monitor
	// FlushTimeout bounds the wait for a *store.Writer Sink at the end (default DefaultFlushTimeout).
	FlushTimeout time.Duration

	// Set by Execute.
	Status             store.Status
	Error              string
	StartedAt, EndedAt time.Time
	// Text is the report as printed (what the kind printed as it went, then the end of the report), as stored.
	Text string

	red     *secret.Redactor
	m       *metrics.Metrics        // the run's own view of Metrics
	fail    context.CancelCauseFunc // a goroutine of the run panicked: cancels the run with the panic
	engines sync.WaitGroup
	out     io.Writer    // Out, and a copy of what was printed (stored with the report)
	printed bytes.Buffer // what the kind printed as it went
	cpu     *cpuMeter
	tick    *time.Ticker           // the monitoring's, shared by the run's engines
	cur     atomic.Pointer[engine] // the engine running now (or the last one)
	// nEngines counts the engines started (by the kind's goroutine).
	nEngines int
	stream   *stream
	host     *sysmon.Sampler   // host figures for stored snapshots (nil when not recorded)
	totals   store.Totals      // what the stored run's list shows, set by the kind
	results  *executor.Results // a load run's measurements (a distributed run's segment records them)
	// mergedAbort is 1 + the index of the plan threshold that failed on a distributed run's merged window (0: none).
	mergedAbort atomic.Int32
	rec         journal
}

// Report is what a run ends with: a load run's *report.Summary, or a *BenchReport, *StressReport or *KneeReport.
// Its JSON form is the --out-json file and the stored summary.
type Report interface {
	// Head is the report's header, filled by Execute.
	Head() *report.Header
	// Passed reports whether the run completed and its verdict holds: thresholds (load), no regression
	// (benchmark).
	Passed() bool
	// WriteText writes the end of the report as printed: a load run's whole summary; for the other kinds the
	// verdict (their lines were printed as they came).
	WriteText(w io.Writer) error
}

// kinds maps a plan type to the function that carries it out. Each ends with a non-nil error when the run did not
// complete; Execute judges the status from it (judge).
var kinds = map[string]func(context.Context, *Run) (Report, error){
	plan.TypeLoad: load, plan.TypeBenchmark: benchmark, plan.TypeStress: stressSearch, plan.TypeKnee: kneeSearch,
}

// Execute carries out r: the run starts (recorded as running, named in the metrics), the kind of its plan's type
// runs, and the run ends (status judged, recorded, the end of the report printed to Out). It returns the report and
// the reason the run did not complete (nil when it did). The report is nil only when the run could not start
// (ErrPlan: exit code 2) or its kind's own code panicked.
//
// A panic never escapes: in an engine's goroutines, in the monitoring, in the kind's code or one of its helpers,
// it stops the run, which ends failed with the panic in its error, recorded; the error returned wraps the
// *panics.Error (panics.As gives its stack).
func Execute(ctx context.Context, r *Run) (rep Report, err error) {
	kind, err := r.init()
	if err != nil {
		return nil, err
	}
	if r.Segment != nil {
		if err := r.joinSegment(ctx); err != nil {
			return nil, err
		}
	}
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	r.fail = fail
	r.begin(runCtx)
	stopWatch := r.watchSegment()
	func() {
		defer panics.Recover(r.Type+" mode", func(pe *panics.Error) {
			fail(pe)
			r.engines.Wait()
			rep, err = nil, pe
		})
		rep, err = kind(runCtx, r)
	}()
	if pe := panics.As(context.Cause(runCtx)); pe != nil && panics.As(err) == nil {
		err = pe // a helper goroutine panicked: that is why the run stopped
	} else if c := context.Cause(runCtx); errors.Is(c, ErrAborted) && ctx.Err() == nil && panics.As(err) == nil {
		err = c // the run stopped itself: another worker of its distributed run aborted
	}
	if pe := panics.As(err); pe != nil {
		r.Log.Debug("panic: the run failed", "err", pe.Error(), "stack", string(pe.Stack))
	}
	r.end(ctx, rep, err)
	stopWatch()
	r.endSegment(ctx, rep)
	return rep, err
}

// init checks r and fills in its defaults; it returns the function of its kind.
func (r *Run) init() (func(context.Context, *Run) (Report, error), error) {
	p := r.Plan
	if r.Type = p.Type; r.Type == "" {
		r.Type = plan.TypeLoad
	}
	kind, ok := kinds[r.Type]
	section := map[string]bool{plan.TypeLoad: true, plan.TypeBenchmark: p.Benchmark != nil, plan.TypeStress: p.Stress != nil,
		plan.TypeKnee: p.Knee != nil}
	if !ok || !section[r.Type] {
		return nil, fmt.Errorf("%w: plan %s has type %q but no %s section", ErrPlan, p.Name, r.Type, r.Type)
	}
	if r.ID == "" && r.Segment == nil { // a segment's ID is its distributed run's (joinSegment)
		r.ID = store.NewID()
	}
	if r.Sink == nil && r.Store != nil {
		r.Sink = r.Store
	}
	if r.ProgressInterval <= 0 {
		r.ProgressInterval = DefaultProgressInterval
	}
	if r.FlushTimeout <= 0 {
		r.FlushTimeout = DefaultFlushTimeout
	}
	if r.Monitor == nil {
		r.Monitor = sysmon.New()
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	// The plan's secrets never reach the log, the output, the report or the store (nor the progress and the live
	// events: phase names are masked in each engine's view).
	r.red = p.Redactor()
	r.Log = r.red.Logger(r.Log)
	r.out = r.red.Writer(io.MultiWriter(r.Out, &r.printed))
	r.Out = r.red.Writer(r.Out)
	return kind, nil
}

// begin starts the run: the record created as running (and settled, so that it outlives a SIGKILL), the run named
// in the metrics, the resource meters started.
func (r *Run) begin(ctx context.Context) {
	r.StartedAt, r.Status = time.Now(), store.StatusRunning
	r.cpu, r.tick = newCPUMeter(), time.NewTicker(r.ProgressInterval)
	if r.Metrics != nil {
		r.m = r.Metrics.StartRun(r.ID, r.Plan.Name, r.Type, r.StartedAt, stepKeys(r.Plan))
	}
	if r.Sink != nil {
		r.host = r.Monitor.NewSampler()
		r.host.Sample(ctx) // the baseline: the first snapshot's host CPU covers its own interval, not the uptime
	}
	r.rec.start(ctx, r)
	r.startStream()
}

// end ends the run: the status judged, the report's header filled, the record finished, the metrics released, the
// end of the report printed.
func (r *Run) end(ctx context.Context, rep Report, err error) {
	r.EndedAt = time.Now()
	r.tick.Stop()
	r.stopStream()
	if r.Progress != nil {
		r.Progress.Close()
	}
	r.Status, r.Error = r.judge(ctx, err)
	r.Error = r.red.String(r.Error)
	if r.m != nil {
		r.Metrics.EndRun(r.m)
	}
	if rep == nil {
		r.rec.finish(ctx, r, nil, "")
		return
	}
	h := rep.Head()
	h.RunID, h.Plan, h.Type, h.Target, h.Status, h.Error = r.ID, r.Plan.Name, r.Type, r.Plan.Target, r.Status, r.Error
	if h.StartedAt.IsZero() {
		h.StartedAt = r.StartedAt
	}
	if h.EndedAt.IsZero() {
		h.EndedAt = r.EndedAt
	}
	r.red.Walk(rep)
	if r.Sink != nil {
		h.Store = &report.StoreInfo{URL: store.Redacted(r.StoreURL)} // as stored: known before the final flush
	}
	var text bytes.Buffer
	text.Write(r.printed.Bytes())
	if err := rep.WriteText(&text); err != nil {
		r.rec.fail("render the report", err)
	}
	r.Text = r.red.String(text.String())
	h.Store = r.rec.finish(ctx, r, rep, r.Text)
	fmt.Fprintln(r.Out)
	if err := rep.WriteText(r.Out); err != nil {
		r.Log.Warn("print the report", "err", err)
	}
}

// judge decides how a run ended, in one place for every kind: failed when it panicked; aborted when its ctx was
// cancelled with a cause wrapping ErrAborted; interrupted when it was cancelled otherwise; aborted when a rolling
// threshold ended it; failed when its kind says why it did not complete (the target unreachable, every request
// failed, a stress search in ERROR, ...); else completed. The stress search's states map onto it: COMPLETED is
// completed, ERROR failed, CANCELED interrupted or aborted.
func (r *Run) judge(ctx context.Context, err error) (store.Status, string) {
	after := fmtDur(time.Since(r.StartedAt))
	var abort *abortError
	switch pe := panics.As(err); {
	case pe != nil:
		return store.StatusFailed, fmt.Sprintf("%s (a bug in loadgen: the run was stopped after %s; partial results)",
			oneLine(pe.Error()), after)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrAborted):
		return store.StatusAborted, fmt.Sprintf("%s after %s: partial results", oneLine(context.Cause(ctx).Error()), after)
	case ctx.Err() != nil:
		return store.StatusInterrupted, fmt.Sprintf("interrupted after %s: partial results", after)
	case errors.Is(err, ErrAborted):
		return store.StatusAborted, fmt.Sprintf("%s after %s: partial results", oneLine(err.Error()), after)
	case errors.As(err, &abort):
		return store.StatusAborted, abort.Error()
	case err != nil:
		return store.StatusFailed, oneLine(err.Error())
	}
	return store.StatusCompleted, ""
}

// abortError is a rolling threshold that ended the run (abort_on_fail).
type abortError struct{ a *report.Abort }

func (e *abortError) Error() string { return e.a.Message() }

// goSafe runs f on a new goroutine of the run: a panic in f fails the run (its ctx ends with the panic as the
// cause) instead of the process.
func (r *Run) goSafe(where string, f func()) {
	go func() {
		defer panics.Recover(where, func(pe *panics.Error) { r.fail(pe) })
		f()
	}()
}

// stepKeys returns the (scenario, step) label values the engines of a run of p record their per-step series under
// (internal/metrics): the plan's own scenarios and steps for load, stress and knee runs, and the one-step benchmark
// scenario of each endpoint for benchmark runs.
func stepKeys(p *plan.Plan) []metrics.StepKey {
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

// JSON is the report as JSON, indented (the --out-json file, the API's summary).
func JSON(rep Report) ([]byte, error) {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the report: %w", err)
	}
	return append(b, '\n'), nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func fmtDur(d time.Duration) string { return live.FormatDuration(d) }
