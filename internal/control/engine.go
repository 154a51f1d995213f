package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/modes"
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
// runs; runner.Run's own per-run /metrics server is turned off.
type EngineRunner struct {
	// Store records the runs (nil: not recorded). StoreURL names it in
	// summaries (its password is masked).
	Store    store.Store
	StoreURL string
	// Metrics is serve's shared loadgen_* metrics (nil: none).
	Metrics *metrics.Metrics
	// Monitor reads generator and host resources for the modes (nil: a new one).
	Monitor *sysmon.Monitor
	Log     *slog.Logger

	mu      sync.Mutex
	infoFor []string // run_info label values of the last run (kept at 0 until the next one starts)
}

var _ Runner = (*EngineRunner)(nil)

// Run carries out job.
func (er *EngineRunner) Run(ctx context.Context, job Job) Outcome {
	log := er.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("run_id", job.ID)
	p := job.Plan
	typ := p.Type
	if typ == "" {
		typ = plan.TypeLoad
	}
	er.runStarted(job.ID, p.Name, typ)
	defer er.runEnded(job.ID, p.Name, typ)

	var eopts []executor.Option
	if er.Metrics != nil {
		eopts = append(eopts, executor.WithMetrics(er.Metrics))
	}
	started := time.Now()
	var out Outcome
	if typ == plan.TypeLoad {
		out = er.runLoad(ctx, job, log, eopts)
	} else {
		out = er.runMode(ctx, job, typ, log, eopts)
	}
	if out.Status == store.StatusFailed && out.Summary == nil {
		er.recordFailure(ctx, job, typ, started, out.Error)
	}
	log.Info("run ended", "status", out.Status, "error", out.Error)
	return out
}

func (er *EngineRunner) runLoad(ctx context.Context, job Job, log *slog.Logger, eopts []executor.Option) Outcome {
	// The executor is captured as it is built and attached when its first
	// phase begins (after New has initialised the live overrides, so a PATCH
	// that came early is applied, not lost).
	var built *executor.Executor
	var once sync.Once
	eopts = append(eopts,
		executor.Option(func(e *executor.Executor) { built = e }),
		executor.WithOnPhase(func(name string) {
			log.Info("phase", "phase", name)
			once.Do(func() { job.Attach(built) })
		}),
	)
	opts := runner.Options{RunID: job.ID, MetricsAddr: runner.MetricsOff, Log: log, ExecutorOptions: eopts}
	if er.Store != nil {
		opts.Recorder = &cancelAware{Recorder: runner.NewStoreRecorder(er.Store, er.StoreURL, log), ctx: ctx}
	}
	sum, err := runner.Run(ctx, job.Plan, opts)
	if err != nil {
		return Outcome{Status: store.StatusFailed, Error: err.Error()}
	}
	markCanceled(ctx, sum)
	var b bytes.Buffer
	if err := report.WriteJSON(&b, sum); err != nil {
		return Outcome{Status: store.Status(sum.Status), Error: sum.Error}
	}
	return Outcome{Status: store.Status(sum.Status), Error: sum.Error, Summary: json.RawMessage(bytes.TrimSpace(b.Bytes()))}
}

// markCanceled turns the runner's "interrupted" into "aborted" when the run
// was cancelled over the API (interrupted stays for a server shutdown).
func markCanceled(ctx context.Context, s *report.Summary) {
	if s.Status == report.StatusInterrupted && errors.Is(context.Cause(ctx), ErrCanceled) {
		s.Status = report.StatusAborted
		s.Error = "cancelled over the control API after " + fmt.Sprintf("%.1fs", s.DurationS) + ": partial results"
	}
}

// cancelAware records the status as aborted, not interrupted, for a run
// cancelled over the API.
type cancelAware struct {
	runner.Recorder
	ctx context.Context
}

func (c *cancelAware) Finish(ctx context.Context, s *report.Summary, res *executor.Results) *report.StoreInfo {
	markCanceled(c.ctx, s)
	return c.Recorder.Finish(ctx, s, res)
}

func (er *EngineRunner) runMode(ctx context.Context, job Job, typ string, log *slog.Logger, eopts []executor.Option) Outcome {
	// Modes run one engine after another; each is attached as it is built
	// (live figures then restart with each probe or endpoint). PATCH is
	// refused for these runs, so the overrides New initialises don't matter.
	eopts = append(eopts, executor.Option(func(e *executor.Executor) { job.Attach(e) }))
	o := modes.Options{Log: log, RunID: job.ID, ExecutorOptions: eopts, Monitor: er.Monitor}
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
// the API accepted.
func (er *EngineRunner) recordFailure(ctx context.Context, job Job, typ string, at time.Time, msg string) {
	if er.Store == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := er.Store.GetRun(ctx, job.ID); err == nil {
		return // recorded by the runner or the mode
	}
	r := &store.Run{ID: job.ID, Name: job.Plan.Name, Plan: job.Plan.Name, Type: store.Type(typ), Status: store.StatusFailed,
		Error: msg, PlanYAML: store.Redact(string(job.Plan.Raw)), Owner: store.Owner(), CreatedAt: at, StartedAt: at}
	if err := er.Store.CreateRun(ctx, r); err != nil {
		return
	}
	_ = er.Store.FinishRun(ctx, job.ID, store.Finish{Status: store.StatusFailed, Error: msg, EndedAt: time.Now()})
}

// runStarted sets loadgen_run_info{run_id,plan,type} to 1 and the start
// time; the previous finished run's series is deleted so the label set
// stays bounded (active runs plus the last finished one).
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
	er.Metrics.RunInfo.WithLabelValues(id, name, typ).Set(1)
	er.Metrics.RunStart.SetToCurrentTime()
}

// runEnded sets the run's run_info to 0 (kept until the next run starts, so
// a scrape after the end still names it).
func (er *EngineRunner) runEnded(id, name, typ string) {
	if er.Metrics == nil {
		return
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.infoFor != nil {
		er.Metrics.RunInfo.DeleteLabelValues(er.infoFor...)
	}
	er.Metrics.RunInfo.WithLabelValues(id, name, typ).Set(0)
	er.infoFor = []string{id, name, typ}
}
