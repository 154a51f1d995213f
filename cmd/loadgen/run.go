package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // registers mysql://
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // registers sqlite://
)

func init() {
	register("run", "run a load plan against a target and print the summary", runCmd)
}

// runFlags are the flags of `loadgen run`.
type runFlags struct {
	target        string
	metricsAddr   string
	linger        time.Duration
	outJSON       string
	store         string
	quiet         bool
	durationScale float64
	watchPID      int
	remoteWrite   remoteWriteFlags
	verbose       bool
}

// testExecutorOptions are added to the executor options of `run` and of the
// modes: tests provoke a panic through them (e.g. WithOnPhase). Nil outside
// tests.
var testExecutorOptions []executor.Option

func (f *runFlags) set(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", os.Getenv("LOADGEN_TARGET"), "base URL of the system under test; overrides the plan's target (env LOADGEN_TARGET)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", runner.DefaultMetricsAddr, "serve Prometheus /metrics on this address during the run (\"off\" to disable)")
	fs.DurationVar(&f.linger, "linger", 0, "keep /metrics up this long after the run, for a final scrape")
	fs.StringVar(&f.outJSON, "out-json", "", "write the summary as JSON to this file (\"-\" for stdout)")
	fs.StringVar(&f.store, "store", "", "result store URL: sqlite://PATH or mysql://DSN, \"off\" to disable (env LOADGEN_STORE; default sqlite://data/loadgen.db)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line while running (the summary is still printed)")
	fs.IntVar(&f.watchPID, "watch-pid", 0, "also export CPU, memory, fds and threads of this process (e.g. the target) as loadgen_watched_process_*{process=\"target\"}")
	fs.Float64Var(&f.durationScale, "duration-scale", 1, "multiply every phase duration by this factor (e.g. 0.1 for a quick trial)")
	f.remoteWrite.set(fs)
	fs.BoolVar(&f.verbose, "v", false, "verbose: on a panic (a bug in loadgen) print its stack too")
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("run plan.yaml --quiet").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.set(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen run [flags] PLAN.yaml")
		fmt.Fprintln(stderr, "\nExit codes: 0 passed, 1 run failed (target down, interrupted, ...), 2 bad plan or flags, 3 thresholds failed.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "loadgen run: want exactly one plan file, got %d arguments\n", len(pos))
		fs.Usage()
		return exitUsage
	}
	if f.durationScale <= 0 {
		fmt.Fprintf(stderr, "loadgen run: -duration-scale must be > 0, got %v\n", f.durationScale)
		return exitUsage
	}

	if f.watchPID < 0 {
		fmt.Fprintf(stderr, "loadgen run: -watch-pid must be a process id, got %d\n", f.watchPID)
		return exitUsage
	}

	if err := f.remoteWrite.check(f.metricsAddr); err != nil {
		fmt.Fprintf(stderr, "loadgen run: %v\n", err)
		return exitUsage
	}

	var popts []plan.Option
	if f.target != "" {
		popts = append(popts, plan.WithTarget(f.target))
	}
	p, err := plan.LoadFile(pos[0], popts...)
	if err != nil {
		fmt.Fprintln(stderr, err) // one "file:line:col: path: message" per line
		if errors.Is(err, plan.ErrInvalid) {
			fmt.Fprintf(stderr, "loadgen run: %s: the plan is invalid\n", pos[0])
		}
		return exitUsage
	}
	// type: benchmark|stress|knee plans run in their mode, as `loadgen bench|stress|knee` would.
	if f.remoteWrite.url != "" && p.Type != "" && p.Type != plan.TypeLoad {
		fmt.Fprintf(stderr, "loadgen run: --out-remote-write works with load plans only; %s is a %s plan\n", pos[0], p.Type)
		return exitUsage
	}
	if code, ok := runPlanMode(ctx, p, modeFlags{store: f.store, outJSON: f.outJSON, verbose: f.verbose}, stdout, stderr); ok {
		return code
	}
	if f.durationScale != 1 {
		for i := range p.Load.Phases {
			d := &p.Load.Phases[i].Duration.Duration
			*d = time.Duration(float64(*d) * f.durationScale)
		}
	}

	opts := runner.Options{
		MetricsAddr: f.metricsAddr,
		Linger:      f.linger,
		Log:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnListen: func(addr string) {
			fmt.Fprintf(stderr, "loadgen: serving metrics on http://%s/metrics\n", addr)
		},
		ExecutorOptions: testExecutorOptions,
	}
	if !f.quiet {
		opts.Progress = stderr
	}
	opts.StartPush = f.remoteWrite.start(opts.Log, stderr)
	if f.watchPID > 0 {
		opts.Watch = map[string]int32{"target": int32(f.watchPID)}
	}
	closeStore, err := openRecorder(ctx, &opts, f.store, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen run: %v\n", err)
		return exitError
	}
	defer closeStore()

	jsonErr := error(nil)
	opts.OnSummary = func(s *report.Summary) {
		fmt.Fprintln(stdout)
		if err := report.WriteText(stdout, s); err != nil {
			fmt.Fprintf(stderr, "loadgen run: print summary: %v\n", err)
		}
		if f.outJSON != "" {
			jsonErr = writeSummaryJSON(f.outJSON, s, stdout)
		}
		if f.linger > 0 {
			fmt.Fprintf(stderr, "loadgen: keeping /metrics up for %s (Ctrl-C to stop)\n", f.linger)
		}
	}
	s, err := runner.Run(ctx, p, opts)
	if err != nil {
		// A panic: the summary (status failed) is printed, then one line.
		reportRunError(stderr, "loadgen run", err, f.verbose)
		if errors.Is(err, plan.ErrInvalid) {
			return exitUsage
		}
		return exitError
	}
	if jsonErr != nil {
		fmt.Fprintf(stderr, "loadgen run: %v\n", jsonErr)
		return exitError
	}
	return exitCode(s)
}

// exitCode maps a summary to the documented exit codes.
func exitCode(s *report.Summary) int {
	switch s.Status {
	case report.StatusCompleted:
		if s.ThresholdsOK() {
			return exitOK
		}
		return exitThreshold
	case report.StatusAborted:
		return exitThreshold
	}
	return exitError // failed, interrupted
}

func writeSummaryJSON(path string, s *report.Summary, stdout io.Writer) error {
	if path == "-" {
		return report.WriteJSON(stdout, s)
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("out-json: %w", err)
	}
	if err := report.WriteJSON(fh, s); err != nil {
		fh.Close()
		return fmt.Errorf("out-json %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("out-json %s: %w", path, err)
	}
	return nil
}

// openRecorder sets opts.Recorder to record the run in the result store
// named by --store / LOADGEN_STORE (default sqlite://data/loadgen.db); "off"
// records nothing. The store sits behind store's asynchronous Writer on a
// lazily connecting Store: a database that is down at the start or goes away
// mid-run never stops the run; records are spooled (data/spool) and written
// when it answers again, and the summary says so. The returned func flushes
// and closes the store.
func openRecorder(ctx context.Context, opts *runner.Options, flagURL string, stderr io.Writer) (func(), error) {
	url := store.URLFromEnv(flagURL)
	if url == "off" {
		return func() {}, nil
	}
	rs, err := openRecordStore(url, opts.Log)
	if err != nil {
		return nil, err
	}
	rec := runner.NewStoreRecorder(rs.w, url, opts.Log)
	rec.Spooled = func() (bool, string) {
		stats := rs.settle(ctx)
		return stats.HadToSpool() || stats.Pending > 0, stats.Summary()
	}
	opts.Recorder = rec
	return func() { rs.close(ctx, "loadgen run", stderr) }, nil
}
