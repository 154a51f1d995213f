// Package runner turns a plan into a run: it serves /metrics, runs the
// executor, prints a progress line every second, evaluates rolling
// thresholds (aborting on abort_on_fail), watches the generator's own health,
// records the run in the store, and returns the end-of-run report.Summary.
// cmd/loadgen's `run` command is a thin shell around Run.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// Defaults.
const (
	// DefaultMetricsAddr is where /metrics is served unless Options says otherwise.
	DefaultMetricsAddr = "127.0.0.1:9646"
	// DefaultProgressInterval is how often the progress line is printed and
	// rolling thresholds and health are checked.
	DefaultProgressInterval = time.Second
	// DefaultSnapshotInterval is how often a metric snapshot is stored.
	DefaultSnapshotInterval = 2 * time.Second
	// DownWindow is the rolling window used to tell that the target is
	// unreachable: every request completed in it failed to connect (or was
	// reset), at the last check of the run.
	DownWindow = 2 * time.Second
	// MetricsOff as Options.MetricsAddr disables the /metrics server.
	MetricsOff = "off"
)

// Options configure Run. The zero value is usable: /metrics on
// DefaultMetricsAddr, no linger, no progress output, no store.
type Options struct {
	// RunID names the run; empty means a new ID (UTC time + random hex).
	RunID string
	// MetricsAddr is the /metrics listen address (default
	// DefaultMetricsAddr; MetricsOff disables it). MetricsListener, when
	// set, is used instead (tests pass a listener on 127.0.0.1:0).
	MetricsAddr     string
	MetricsListener net.Listener
	// Linger keeps /metrics up this long after the run (so Prometheus can
	// scrape the final values). A cancelled ctx cuts it short.
	Linger time.Duration
	// Progress receives a plain progress line every ProgressInterval
	// (nil: none). Lines end in "\n", so they read well in CI logs.
	Progress         io.Writer
	ProgressInterval time.Duration
	// OnSummary, when set, is called with the final summary as soon as it
	// is ready, before lingering (the CLI prints it and writes --out-json).
	OnSummary func(*report.Summary)
	// OnListen is called with the /metrics address once it listens.
	OnListen func(addr string)
	// Watch names processes whose CPU, memory, fds and threads are exported
	// as loadgen_watched_process_*{process=NAME} (label -> pid; names must
	// be a bounded set, e.g. "target").
	Watch map[string]int32
	// Recorder stores the run (nil: not stored); see Recorder.
	Recorder Recorder
	// Log receives diagnostics (nil: discarded).
	Log *slog.Logger
	// ExecutorOptions are passed to executor.New after the runner's own.
	ExecutorOptions []executor.Option
	// Metrics, when set, is where the run records its loadgen_* series: the
	// caller's metrics (e.g. a server that runs one run after another and
	// serves one /metrics across them). The runner then builds no registry
	// of its own: no /metrics server, no Go, process or sysmon collectors,
	// and MetricsAddr, MetricsListener, Linger, OnListen and Watch are not
	// used. loadgen_run_info and the run start time are left to the caller
	// too (Metrics.StartRun/EndRun, or its own bookkeeping when runs
	// overlap).
	Metrics *metrics.Metrics
	// StartPush, when set, is called with the run's registry once it is
	// built (to gather from and to register the pusher's own metrics on);
	// the func it returns pushes the final values and stops, and is called
	// once the run has ended, after OnSummary and before lingering (the CLI
	// starts a Prometheus remote write with it). Not used with Metrics.
	StartPush func(*prometheus.Registry) (stop func(), err error)
	// OnExecutor, when set, is called with the run's executor after
	// executor.New (its live overrides are ready, so SetRate and SetVUs take
	// effect) and after the store has been told the run started, just before
	// the executor runs.
	OnExecutor func(*executor.Executor)
}

// ErrAborted marks a deliberate stop. Cancel Run's ctx with a cause that
// wraps it (context.WithCancelCause) and the run is recorded as aborted, its
// error message starting with the cause's text; a ctx cancelled for any
// other reason (Ctrl-C, a server shutting down, a deadline) gives
// interrupted.
var ErrAborted = errors.New("run aborted")

// ErrRun wraps failures to start or carry out a run at all (not request
// failures, which are data in the summary).
var ErrRun = errors.New("run")

// Run runs p and returns its summary. It returns an error only when the run
// could not be carried out at all (the plan is rejected by the executor, the
// metrics address is taken) or panicked; a target that is down, a failed
// threshold or a cancelled ctx all give a summary (status failed, aborted or
// interrupted) and a nil error. Run returns after lingering;
// Options.OnSummary sees the summary before that.
//
// A panic in the run (in the executor's goroutines, in Run's own loop, in a
// Recorder) never escapes: the executor is stopped and waited for, and Run
// returns both the summary, status failed with the panic in its error (as
// recorded), and an error wrapping the *panics.Error (panics.As gives its
// stack). Should the summary itself fail to build, the summary is nil.
func Run(ctx context.Context, p *plan.Plan, opts Options) (sum *report.Summary, err error) {
	defer panics.Recover("runner", func(pe *panics.Error) { sum, err = nil, fmt.Errorf("%w: %w", ErrRun, pe) })
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	red := p.Redactor() // the plan's secrets never reach the log, the summary or the store
	opts.Log = red.Logger(opts.Log)
	if opts.RunID == "" {
		opts.RunID = NewRunID(time.Now())
	}
	typ := p.Type
	if typ == "" {
		typ = plan.TypeLoad
	}

	srv, err := startMetrics(opts, p, typ)
	if err != nil {
		return nil, err
	}
	defer srv.close()

	eopts := []executor.Option{
		executor.WithObserver(srv.metrics.Observer()),
		executor.WithOnPhase(func(name string) { opts.Log.Info("phase", "phase", name) }),
		executor.WithLogger(opts.Log),
	}
	eopts = append(eopts, opts.ExecutorOptions...)
	e, err := executor.New(p, eopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRun, err)
	}

	started := time.Now()
	srv.runStarted(opts.RunID, p.Name, typ, started)
	rec := opts.Recorder
	if rec != nil {
		if err := rec.Start(ctx, RunStart{ID: opts.RunID, Plan: p, Type: typ, StartedAt: started}); err != nil {
			opts.Log.Warn("store: recording the run start failed", "err", err)
		}
	}

	if opts.OnExecutor != nil {
		opts.OnExecutor(e)
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	done := make(chan error, 1)
	go func() {
		// e.Run turns its own goroutines' panics into its error; this
		// covers anything left.
		done <- panics.Catch("executor", func() error { return e.Run(runCtx) })
	}()

	w := &watch{
		e: e, p: p, opts: opts, rolling: report.NewRolling(p.Thresholds),
		cpu: newCPUMeter(), total: p.Load.TotalDuration(),
	}
	if rec != nil {
		w.host = sysmon.New().NewSampler()
		w.host.Sample(ctx) // the baseline: the first snapshot's host CPU covers its own interval, not uptime
	}
	var runErr error
	received := false
	loopErr := panics.Catch("runner", func() error {
		runErr, received = w.loop(ctx, done, cancelRun, rec), true
		return nil
	})
	if !received { // the loop panicked: stop the executor and wait for it
		cancelRun()
		runErr = <-done
	}
	crash := panics.As(runErr)
	if crash == nil {
		crash = panics.As(loopErr)
	}
	if runErr != nil && crash == nil {
		srv.runEnded()
		return nil, fmt.Errorf("%w: %w", ErrRun, runErr)
	}
	w.crash = crash
	w.cpu.sample(time.Now())
	w.checkDown(e.Snapshot().Elapsed) // the last second(s) since the final tick

	res := e.Results()
	s := report.FromResults(res)
	s.RunID = opts.RunID
	s.Type = typ
	s.Target = p.Target
	if s.Plan == "" {
		s.Plan = p.Name
	}
	s.Thresholds = w.rolling.Final(p.Thresholds, res)
	s.Health.CPUMaxPct, s.Health.CPUMeasured = w.cpu.maxPct, w.cpu.measured
	s.Health.RSSMaxMB = float64(w.cpu.rssBytes()) / (1 << 20)
	s.Health.JudgeHealth()
	w.judgeStatus(ctx, s, res)
	red.Walk(s)
	srv.runEnded()

	if rec != nil {
		ferr := panics.Catch("store recorder", func() error {
			s.Store = rec.Finish(context.WithoutCancel(ctx), s, res)
			return nil
		})
		if pe := panics.As(ferr); pe != nil {
			// The summary still goes to the caller, failed; the store may
			// keep the run as running until the next start marks it
			// interrupted.
			s.Store = &report.StoreInfo{Message: "not recorded: " + oneLine(pe.Error())}
			if crash == nil {
				crash = pe
				s.Status, s.Error = report.StatusFailed, oneLine(pe.Error())+" (a bug in loadgen: the run was not recorded)"
			}
		}
	}
	if opts.OnSummary != nil {
		opts.OnSummary(s)
	}
	srv.endPush()
	srv.linger(ctx, opts.Linger)
	if crash != nil {
		return s, fmt.Errorf("%w: %w", ErrRun, crash)
	}
	return s, nil
}

// loop watches the running executor until it ends (done) and returns its
// error: every ProgressInterval it checks rolling thresholds (cancelling the
// run on abort_on_fail), the target's health, prints progress and stores a
// snapshot.
func (w *watch) loop(ctx context.Context, done <-chan error, cancelRun func(), rec Recorder) error {
	e, opts := w.e, w.opts
	tick := time.NewTicker(opts.ProgressInterval)
	defer tick.Stop()
	lastSnap := time.Now()
	for {
		select {
		case err := <-done:
			return err
		case now := <-tick.C:
			snap := e.Snapshot()
			w.cpu.sample(now)
			if a := w.rolling.Check(e, snap.Elapsed); a != nil && w.abort == nil {
				w.abort = a
				opts.Log.Warn("threshold failed: aborting the run", "threshold", a.Expr)
				cancelRun()
			}
			w.checkDown(snap.Elapsed)
			w.progress(snap)
			if rec != nil && now.Sub(lastSnap) >= DefaultSnapshotInterval-opts.ProgressInterval/2 {
				lastSnap = now
				rec.Snapshot(snap, w.resources(ctx))
			}
		}
	}
}

// watch is the state of the monitoring loop of one run.
type watch struct {
	e       *executor.Executor
	p       *plan.Plan
	opts    Options
	rolling *report.Rolling
	cpu     *cpuMeter
	host    *sysmon.Sampler // the resource monitor's host figures for stored snapshots (nil without a recorder)
	total   time.Duration

	abort     *report.Abort
	crash     *panics.Error // the run panicked (the executor or the loop): it failed
	downTicks int           // consecutive checks with the target unreachable
	downSince time.Duration // elapsed time the current unreachable streak began
	downSeen  bool          // the target was unreachable at the last check
}

// resources gathers the figures stored with a snapshot: the generator's own CPU and memory, and the host's CPU and
// memory from the resource monitor (a failed read leaves its figure at 0).
func (w *watch) resources(ctx context.Context) Resources {
	r := Resources{CPUPct: w.cpu.lastPct, RSSBytes: w.cpu.rssBytes()}
	if w.host != nil {
		hs, _ := w.host.Sample(ctx)
		r.HostCPUPct = hs.Host.CPUUsageRatio * 100
		if hs.Host.MemoryTotalBytes > 0 {
			r.HostMemPct = float64(hs.Host.MemoryUsedBytes) / float64(hs.Host.MemoryTotalBytes) * 100
		}
	}
	return r
}

// unreachable reasons: the request never got an HTTP response because the
// target was not there.
func unreachable(r executor.Reason) bool {
	switch r {
	case executor.ReasonConnect, executor.ReasonDNS, executor.ReasonTLS, executor.ReasonReset:
		return true
	}
	return false
}

func (w *watch) checkDown(elapsed time.Duration) {
	ws := w.e.WindowCounts(DownWindow) // counts only: no histogram allocated every second
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
		if w.downTicks == 0 {
			w.downSince = elapsed - ws.Span
			if w.downSince < 0 {
				w.downSince = 0
			}
		}
		w.downTicks++
	default:
		w.downTicks = 0
	}
	w.downSeen = w.downTicks > 0
}

func (w *watch) progress(s executor.Snapshot) {
	if w.opts.Progress == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s/%s] ", fmtDur(s.Elapsed), fmtDur(w.total))
	if s.Phase != "" {
		fmt.Fprintf(&b, "phase %s  ", s.Phase)
	}
	fmt.Fprintf(&b, "rate %.1f req/s", s.AchievedRPS)
	if s.IntendedRate > 0 {
		fmt.Fprintf(&b, " (target %.1f it/s)", s.IntendedRate)
	}
	if w.p.Load.Model == plan.ModelClosed {
		fmt.Fprintf(&b, "  vus %d/%d", s.VUs, s.TargetVUs)
	}
	fmt.Fprintf(&b, "  p99 %s  requests %d  errors %d", fmtLatency(s.P99), s.Requests, s.Errors)
	if s.Requests > 0 {
		fmt.Fprintf(&b, " (%.2f%%)", 100*float64(s.Errors)/float64(s.Requests))
	}
	fmt.Fprintf(&b, "  in-flight %d", s.InFlight)
	if s.Dropped > 0 {
		fmt.Fprintf(&b, "  dropped %d", s.Dropped)
	}
	if w.downSeen {
		b.WriteString("  TARGET UNREACHABLE")
	}
	b.WriteByte('\n')
	io.WriteString(w.opts.Progress, b.String())
}

// judgeStatus sets s.Status and s.Error: failed (the run panicked),
// aborted (ctx cancelled with a cause wrapping ErrAborted), interrupted (ctx
// cancelled otherwise), aborted (a rolling threshold), failed (no request
// got through, every request failed, or the target was unreachable at the
// end of the run), else completed.
func (w *watch) judgeStatus(ctx context.Context, s *report.Summary, res *executor.Results) {
	switch {
	case w.crash != nil:
		s.Status = report.StatusFailed
		s.Error = fmt.Sprintf("%s (a bug in loadgen: the run was stopped after %s; partial results)",
			oneLine(w.crash.Error()), fmtDur(res.Duration()))
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrAborted):
		s.Status = report.StatusAborted
		s.Error = fmt.Sprintf("%s after %s: partial results", oneLine(context.Cause(ctx).Error()), fmtDur(res.Duration()))
	case ctx.Err() != nil:
		s.Status = report.StatusInterrupted
		s.Error = fmt.Sprintf("interrupted after %s: partial results", fmtDur(res.Duration()))
	case w.abort != nil:
		s.Status = report.StatusAborted
		s.Error = w.abort.Message()
	case s.Requests == 0:
		s.Status = report.StatusFailed
		s.Error = "no request completed"
	case s.Errors == s.Requests:
		s.Status = report.StatusFailed
		s.Error = fmt.Sprintf("all %d requests failed: %s", s.Requests, failureCause(res, nil))
	case w.downSeen:
		s.Status = report.StatusFailed
		s.Error = fmt.Sprintf("target unreachable from about %s to the end of the run (%d of %d requests failed): %s",
			fmtDur(w.downSince), s.Errors, s.Requests, failureCause(res, unreachable))
	default:
		s.Status = report.StatusCompleted
	}
}

// failureCause describes the commonest failure reasons and one sample
// message, on one line: "connect 1500 (dial tcp 127.0.0.1:8117: connect:
// connection refused)".
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

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func fmtDur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func fmtLatency(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// NewRunID returns a run ID: UTC time to the second and 8 random hex digits
// ("20261126-053422-3fa9c1d2"), the same shape as store.NewID.
func NewRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
