package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
)

// runFlags are the flags of every command that carries out a run (run, bench, stress and knee): one definition,
// whatever the kind of run.
type runFlags struct {
	target        string
	store         string
	outJSON       string
	outHTML       string
	outJUnit      string
	metricsAddr   string
	linger        time.Duration
	quiet         bool
	durationScale float64
	watchPID      int
	baseline      string
	metricsURL    string
	remoteWrite   remoteWriteFlags
	verbose       bool
	storeRequired bool
	env           envFlags
	segment       string
	runID         string
	startAt       string
	seg           *runner.Segment // --segment, --run-id and --start-at parsed (nil: a run of one process)
}

// testExecutorOptions are added to the executor options of every run: tests provoke a panic through them (e.g.
// WithOnPhase). Nil outside tests.
var testExecutorOptions []executor.Option

func (f *runFlags) set(fs *flag.FlagSet) {
	targetFlag(fs, &f.target)
	storeFlag(fs, &f.store)
	fs.StringVar(&f.outJSON, "out-json", "", "write the report as JSON to this file (\"-\" for stdout)")
	fs.StringVar(&f.outHTML, "out-html", "", "write the run's HTML report (charts included, opens with no network) to this file; with --store off the run is recorded in a temporary SQLite store for it")
	fs.StringVar(&f.outJUnit, "out-junit", "", "write the run's verdicts as JUnit XML to this file (\"-\" for stdout): status and thresholds, or a benchmark's per-endpoint verdicts")
	fs.StringVar(&f.metricsAddr, "metrics-addr", runner.DefaultMetricsAddr, "serve Prometheus /metrics on this address during the run (\"off\" to disable; when the default is taken, a free port is used and printed)")
	fs.DurationVar(&f.linger, "linger", 0, "keep /metrics up this long after the run, for a final scrape")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line while running (the report is still printed)")
	fs.Float64Var(&f.durationScale, "duration-scale", 1, fmt.Sprintf("multiply the time the run takes by this factor, in (0, %d] (e.g. 0.1 for a quick trial): load phases; stress probe_duration and cooldown; knee warmup and step_duration; benchmark warm-up and requests", runner.MaxDurationScale))
	fs.IntVar(&f.watchPID, "watch-pid", 0, "also export CPU, memory, fds and threads of this process (e.g. the target) as loadgen_watched_process_*{process=\"target\"}")
	fs.StringVar(&f.baseline, "baseline", "", "benchmark plans: compare with this stored run ID (default: the last stored benchmark of the same plan, endpoint and concurrency)")
	fs.StringVar(&f.metricsURL, "metrics-url", "", "knee plans: the target's Prometheus /metrics URL, overriding knee.metrics_url (by default a metrics_url on the plan's target follows --target)")
	fs.BoolVar(&f.storeRequired, "store-required", false, "exit 1 when the run's records are not all in the store at its end (the store was unreachable: they wait in the local spool), for CI jobs whose machine, and spool, are thrown away")
	f.env.set(fs)
	f.remoteWrite.set(fs)
	vFlag(fs, &f.verbose)
	fs.StringVar(&f.segment, "segment", "", "run worker I's share of a distributed run of N workers: I/N, or auto/N with I from "+runner.EnvSegmentIndex+" (a Kubernetes Indexed Job); load plans only; needs --run-id")
	fs.StringVar(&f.runID, "run-id", "", "the run's ID (default: a new one); with --segment, the distributed run every worker shares")
	fs.StringVar(&f.startAt, "start-at", "", "with --segment: when every worker starts, RFC 3339 (default: the first worker to reach the store sets it "+runner.DefaultStartDelay.String()+" ahead)")
}

// check validates the flags that need no plan; a problem is a usage error (exit code 2) in every command.
func (f *runFlags) check(fs *flag.FlagSet) error {
	metricsSet := false
	fs.Visit(func(fl *flag.Flag) { metricsSet = metricsSet || fl.Name == "metrics-addr" })
	switch {
	case !(f.durationScale > 0 && f.durationScale <= runner.MaxDurationScale):
		return fmt.Errorf("--duration-scale must be > 0 and <= %d, got %v", runner.MaxDurationScale, f.durationScale)
	case f.watchPID < 0:
		return fmt.Errorf("--watch-pid must be a process id, got %d", f.watchPID)
	case f.linger < 0:
		return fmt.Errorf("--linger must be >= 0, got %s", f.linger)
	case f.metricsAddr != runner.MetricsOff && !validAddr(f.metricsAddr):
		return fmt.Errorf("--metrics-addr %q: want HOST:PORT or %q", f.metricsAddr, runner.MetricsOff)
	case f.baseline != "" && store.URLFromEnv(f.store) == "off":
		return errors.New("--baseline needs a store")
	case f.segment == "" && f.startAt != "":
		return errors.New("--start-at needs --segment")
	case f.segment != "" && f.runID == "":
		return errors.New("--segment needs --run-id: the ID every worker of the distributed run shares")
	case len(f.runID) > 48:
		return fmt.Errorf("--run-id %q: at most 48 bytes", f.runID)
	}
	if f.segment != "" {
		i, n, err := runner.ParseSegment(f.segment, os.Getenv)
		if err != nil {
			return err
		}
		f.seg = &runner.Segment{RunID: f.runID, Index: i, Of: n}
		if f.startAt != "" {
			if f.seg.StartAt, err = time.Parse(time.RFC3339Nano, f.startAt); err != nil {
				return fmt.Errorf("--start-at %q: want RFC 3339, e.g. 2026-12-02T14:00:00Z", f.startAt)
			}
		}
	}
	if err := checkTargetFlag(f.target); err != nil {
		return err
	}
	if !metricsSet {
		f.metricsAddr = "" // the default: another port when it is taken
	}
	return f.remoteWrite.check(cmp.Or(f.metricsAddr, runner.DefaultMetricsAddr))
}

func validAddr(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}

// checkTargetFlag blames --target (or LOADGEN_TARGET) for a target URL that is not one, before the plan is read, so
// the error does not point at the plan's target line; a URL without a scheme gets the http:// hint.
func checkTargetFlag(target string) error {
	if target == "" {
		return nil
	}
	err := plan.CheckTarget(target)
	if err == nil {
		return nil
	}
	hint := "want a base URL such as http://127.0.0.1:8117"
	if !strings.Contains(target, "://") {
		hint = "did you mean http://" + target + "?"
	}
	why := strings.TrimPrefix(err.Error(), fmt.Sprintf("invalid URL %q: ", target))
	return fmt.Errorf("--target (or LOADGEN_TARGET) %q: %s; %s", target, why, hint)
}

// targetFlag is --target of the commands that take a plan.
func targetFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "target", os.Getenv("LOADGEN_TARGET"), "base URL of the system under test; overrides the plans' target (env LOADGEN_TARGET)")
}

// storeFlag is --store of every command that records or reads runs; a URL that names no store is a usage error
// (exit code 2) in every one of them (openStore).
func storeFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "store", "", "result store: sqlite://PATH or mysql://USER:PASS@tcp(HOST:3306)/DB; \"off\" records nothing (env "+
		store.EnvURL+"; default "+store.DefaultURLDoc+")")
}

// vFlag is -v of every command.
func vFlag(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "v", false, "verbose: print the stack of a panic (a bug in loadgen); serve also logs debug messages")
}

// parseInterleaved parses args with fs, allowing positional arguments between
// flags (`loadgen bench plan.yaml --target URL`), and returns the positional
// arguments in order. When parsing stops (-h, or a bad flag that fs has
// already reported), ok is false and code is the exit code: exitOK for -h,
// exitUsage otherwise.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		if fs.NArg() == 0 {
			return pos, exitOK, true
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
