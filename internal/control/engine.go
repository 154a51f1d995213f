package control

import (
	"context"
	"log/slog"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// EngineRunner is the real Runner: every run, whatever its type, goes through runner.Execute, the lifecycle loadgen's
// commands use too. Every run records into one shared *metrics.Metrics, so serve's /metrics shows the runs in
// progress and Prometheus scrapes one endpoint across runs.
type EngineRunner struct {
	// Store is read for benchmark baselines. StoreURL names it in summaries (its password is masked).
	Store    store.Store
	StoreURL string
	// Sink receives the runs' records (nil: Store, runner.Run's default): serve gives a *store.Writer over Store, so a
	// database outage during a run spools the records (spool/ in the data directory) instead of losing them, a slow database
	// never holds a run up, and the summary says whether records had to be spooled.
	Sink store.Sink
	// Metrics is serve's shared loadgen_* metrics (nil: none).
	Metrics *metrics.Metrics
	// Monitor reads generator and host resources (nil: a new one).
	Monitor *sysmon.Monitor
	Log     *slog.Logger
}

var _ Runner = (*EngineRunner)(nil)

// SpoolFlushTimeout bounds how long the end of a run waits for the Sink to take its records before the summary
// reports what was spooled.
const SpoolFlushTimeout = 2 * time.Second

// ErrCanceled is the cause of a run's context when it was cancelled over the API (cancel or stop-all). It wraps
// runner.ErrAborted, so the run ends aborted.
var ErrCanceled error = canceledError{}

type canceledError struct{}

func (canceledError) Error() string { return "cancelled over the control API" }
func (canceledError) Unwrap() error { return runner.ErrAborted }

// Run carries out job.
func (er *EngineRunner) Run(ctx context.Context, job Job) Outcome {
	log := er.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner.Run{ID: job.ID, Plan: job.Plan, Metrics: er.Metrics, Sink: er.Sink, Store: er.Store, StoreURL: er.StoreURL,
		Monitor: er.Monitor, Log: log.With("run_id", job.ID), FlushTimeout: SpoolFlushTimeout,
		// Each engine is attached once built (its live overrides are ready, so a PATCH that came early is
		// applied) and before it runs; modes run one engine after another.
		OnEngine: func(e *executor.Executor) { job.Attach(e) }, Live: job.Live}
	if job.AllowHost != nil {
		r.ExecutorOptions = []executor.Option{executor.WithAllowHost(job.AllowHost)}
	}
	rep, err := runner.Execute(ctx, r)
	if pe := panics.As(err); pe != nil {
		log.Error("panic: the run failed", "run_id", job.ID, "err", pe.Error(), "stack", string(pe.Stack))
	}
	// The outcome is what was recorded; a run that could not start was not recorded.
	out := Outcome{Status: r.Status, Error: r.Error, Text: r.Text}
	if out.Status == "" {
		out.Status, out.Error = store.StatusFailed, job.Plan.Redactor().String(err.Error())
	}
	if rep != nil {
		out.Summary, _ = runner.JSON(rep)
		out.Verdict = runner.VerdictOf(rep)
	}
	log.Info("run ended", "run_id", job.ID, "status", out.Status, "error", out.Error)
	return out
}
