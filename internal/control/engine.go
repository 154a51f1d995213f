package control

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/modes"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// EngineRunner is the real Runner: load runs go through runner.Run (rolling
// thresholds, target-down detection, health, store recording) and
// benchmark, stress and knee runs through internal/modes. Every engine
// records into one shared *metrics.Metrics, so serve's /metrics shows the
// active runs' loadgen_* series and Prometheus scrapes one endpoint across
// runs; runner.Run builds no registry or /metrics server of its own.
type EngineRunner struct {
	// Store records the runs (nil: not recorded) and is read for benchmark
	// baselines. StoreURL names it in summaries (its password is masked).
	Store    store.Store
	StoreURL string
	// Sink, when set, receives the runs' records instead of Store: serve
	// gives a *store.Writer over Store, so a database outage during a run
	// spools the records (data/spool) instead of losing them, and a slow
	// database never holds a run up. With a *store.Writer the load-run
	// summary says whether records had to be spooled.
	Sink store.Sink
	// Metrics is serve's shared loadgen_* metrics (nil: none).
	Metrics *metrics.Metrics
	// Monitor reads generator and host resources for the modes (nil: a new one).
	Monitor *sysmon.Monitor
	Log     *slog.Logger

	mu      sync.Mutex
	infoFor []string // run_info label values of the last finished run (kept until the next one starts)
	active  int      // runs in progress (loadgen_run_active)
	series  stepSeries
}

var _ Runner = (*EngineRunner)(nil)

// SpoolFlushTimeout bounds how long the end of a load run waits for the
// Sink to take its records before the summary reports what was spooled.
const SpoolFlushTimeout = 2 * time.Second

// ErrCanceled is the cause of a run's context when it was cancelled over the
// API (cancel or stop-all). It wraps runner.ErrAborted (= modes.ErrAborted),
// so the engines record such runs as aborted.
var ErrCanceled error = canceledError{}

type canceledError struct{}

func (canceledError) Error() string { return "cancelled over the control API" }
func (canceledError) Unwrap() error { return runner.ErrAborted }

// sink is where records go: Sink, else Store, else nowhere (nil).
func (er *EngineRunner) sink() store.Sink {
	if er.Sink != nil {
		return er.Sink
	}
	if er.Store != nil {
		return er.Store
	}
	return nil
}

// Run carries out job.
func (er *EngineRunner) Run(ctx context.Context, job Job) Outcome {
	log := er.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := job.Plan
	red := p.Redactor() // the plan's secrets never reach the log or an API answer
	log = red.Logger(log).With("run_id", job.ID)
	typ := p.Type
	if typ == "" {
		typ = plan.TypeLoad
	}
	er.runStarted(job.ID, p.Name, typ)
	defer er.runEnded(job.ID, p.Name, typ)
	er.series.started(er.Metrics, job.ID, modes.StepKeys(p))
	defer er.series.ended(er.Metrics, job.ID)

	started := time.Now()
	var out Outcome
	// A panic anywhere in the run ends this run as failed, the message
	// recorded; serve and its other runs go on. The engines turn their own
	// goroutines' panics into errors (the runner and the modes then settle
	// the run as failed); this catches what escapes them.
	crash := panics.Catch("run", func() error {
		if typ == plan.TypeLoad {
			out = er.runLoad(ctx, job, log)
		} else {
			out = er.runMode(ctx, job, typ, log)
		}
		return nil
	})
	if pe := panics.As(crash); pe != nil {
		out = Outcome{Status: store.StatusFailed, Error: pe.Error() + " (a bug in loadgen)"}
	}
	out.Error, out.Summary = red.String(out.Error), red.Bytes(out.Summary)
	if out.Status == store.StatusFailed && out.Summary == nil {
		er.recordFailure(ctx, job, typ, started, out.Error)
	}
	log.Info("run ended", "status", out.Status, "error", out.Error)
	return out
}

func (er *EngineRunner) runLoad(ctx context.Context, job Job, log *slog.Logger) Outcome {
	// The executor is attached once built (its live overrides are ready, so
	// a PATCH that came early is applied, not lost) and before it runs.
	opts := runner.Options{RunID: job.ID, MetricsAddr: runner.MetricsOff, Metrics: er.Metrics, Log: log,
		OnExecutor: func(e *executor.Executor) { job.Attach(e) }}
	if sk := er.sink(); sk != nil {
		rec := runner.NewStoreRecorder(sk, er.StoreURL, log)
		if f, ok := sk.(flusher); ok {
			rec.Spooled = func() (bool, string) {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SpoolFlushTimeout)
				defer cancel()
				stats, _ := f.Flush(fctx)
				return stats.HadToSpool() || stats.Pending > 0 || stats.Down, stats.Summary()
			}
		}
		opts.Recorder = rec
	}
	sum, err := runner.Run(ctx, job.Plan, opts)
	if pe := panics.As(err); pe != nil {
		log.Error("panic: the run failed", "err", pe.Error(), "stack", string(pe.Stack))
	}
	if err != nil && sum == nil {
		return Outcome{Status: store.StatusFailed, Error: err.Error()}
	}
	// A run that panicked has a summary too (status failed, partial results).
	var b bytes.Buffer
	if err := report.WriteJSON(&b, sum); err != nil {
		return Outcome{Status: store.Status(sum.Status), Error: sum.Error}
	}
	return Outcome{Status: store.Status(sum.Status), Error: sum.Error, Summary: json.RawMessage(bytes.TrimSpace(b.Bytes()))}
}

// flusher is the part of *store.Writer that tells whether records had to
// be spooled.
type flusher interface {
	Flush(ctx context.Context) (store.Stats, bool)
}

func (er *EngineRunner) runMode(ctx context.Context, job Job, typ string, log *slog.Logger) Outcome {
	// Modes run one engine after another; each is attached as it is built
	// (live figures then restart with each probe or endpoint; PATCH is
	// refused for these runs).
	o := modes.Options{Log: log, RunID: job.ID, Monitor: er.Monitor, Sink: er.Sink,
		OnExecutor: func(e *executor.Executor) { job.Attach(e) }}
	if er.Metrics != nil {
		o.ExecutorOptions = []executor.Option{executor.WithObserver(er.Metrics.Observer())}
	}
	if er.Store != nil {
		o.Store = er.Store
	}
	var (
		rep any
		hdr *modes.Header
		err error
	)
	switch typ {
	case plan.TypeBenchmark:
		r, e := modes.Bench(ctx, job.Plan, o)
		rep, err = r, e
		if r != nil {
			hdr = &r.Header
		}
	case plan.TypeStress:
		r, e := modes.Stress(ctx, job.Plan, o)
		rep, err = r, e
		if r != nil {
			hdr = &r.Header
		}
	case plan.TypeKnee:
		r, e := modes.Knee(ctx, job.Plan, o)
		rep, err = r, e
		if r != nil {
			hdr = &r.Header
		}
	default:
		return Outcome{Status: store.StatusFailed, Error: "unknown run type " + typ}
	}
	if pe := panics.As(err); pe != nil {
		log.Error("panic: the run failed", "err", pe.Error(), "stack", string(pe.Stack))
	}
	if hdr == nil {
		msg := "the run could not start"
		if err != nil {
			msg = err.Error()
		}
		return Outcome{Status: store.StatusFailed, Error: msg}
	}
	out := Outcome{Status: store.Status(hdr.Status), Error: hdr.Error}
	if !out.Status.Terminal() {
		out.Status = store.StatusFailed
	}
	if out.Error == "" && err != nil {
		out.Error = err.Error()
	}
	if b, jerr := json.Marshal(rep); jerr == nil {
		out.Summary = b
	}
	return out
}

// recordFailure stores a run that failed before the runner or mode could
// record it (e.g. the engine refused the plan), so the store has every run
// the API accepted; a run they created but could not finish (a panic) is
// finished as failed.
func (er *EngineRunner) recordFailure(ctx context.Context, job Job, typ string, at time.Time, msg string) {
	sk := er.sink()
	if sk == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if er.Store != nil {
		if sr, err := er.Store.GetRun(ctx, job.ID); err == nil {
			if !sr.Status.Terminal() {
				_ = sk.FinishRun(ctx, job.ID, store.Finish{Status: store.StatusFailed, Error: msg, EndedAt: time.Now()})
			}
			return // recorded by the runner or the mode
		}
	}
	r := &store.Run{ID: job.ID, Name: job.Plan.Name, Plan: job.Plan.Name, Type: store.Type(typ), Status: store.StatusFailed,
		Error: msg, PlanYAML: job.Plan.StoredYAML(), Owner: store.Owner(), CreatedAt: at, StartedAt: at}
	if err := sk.CreateRun(ctx, r); err != nil {
		return
	}
	_ = sk.FinishRun(ctx, job.ID, store.Finish{Status: store.StatusFailed, Error: msg, EndedAt: time.Now()})
}

// runStarted names the run in loadgen_run_info{run_id,plan,type} (always 1,
// as every _info metric), counts it in loadgen_run_active and sets the start
// time. The last finished run's info series is deleted, so loadgen_run_info
// holds the runs in progress, or the last one when none is.
func (er *EngineRunner) runStarted(id, name, typ string) {
	if er.Metrics == nil {
		return
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.infoFor != nil {
		er.Metrics.RunInfo.DeleteLabelValues(er.infoFor...)
		er.infoFor = nil
	}
	er.active++
	er.Metrics.RunInfo.WithLabelValues(id, name, typ).Set(1)
	er.Metrics.RunActive.Set(float64(er.active))
	er.Metrics.RunStart.SetToCurrentTime()
}

// runEnded uncounts the run from loadgen_run_active. Its info series stays
// (at 1) while it is the last run, so a scrape after the end still names it;
// it goes at once when other runs are still in progress.
func (er *EngineRunner) runEnded(id, name, typ string) {
	if er.Metrics == nil {
		return
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	er.active--
	er.Metrics.RunActive.Set(float64(er.active))
	if er.active > 0 {
		er.Metrics.RunInfo.DeleteLabelValues(id, name, typ)
		return
	}
	er.infoFor = []string{id, name, typ}
}
