package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/htmlreport"
	"github.com/loadlab/loadlab/internal/junit"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
)

func init() {
	for _, c := range []struct{ name, typ, summary string }{
		{"run", "", "run a plan (of any type) against a target and print its report"},
		{"bench", plan.TypeBenchmark, "benchmark each endpoint in isolation and compare with the stored baseline (exit 3 on a regression)"},
		{"stress", plan.TypeStress, "find the highest sustainable request rate: Max sustainable RPS = X | Breakdown at Y RPS"},
		{"knee", plan.TypeKnee, "step the load up, find the knee, fit the Universal Scalability Law, name the saturated resource"},
	} {
		register(c.name, c.summary, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runCmd(ctx, c.name, c.typ, args, stdout, stderr)
		})
	}
}

// runCmd is `loadgen run|bench|stress|knee [flags] PLAN.yaml`: flags in, the plan loaded (as typ when set), the
// run carried out by runner.Execute, the outputs written, the documented exit code out.
func runCmd(ctx context.Context, name, typ string, args []string, stdout, stderr io.Writer) int {
	prog := "loadgen " + name
	var f runFlags
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.set(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen %s [flags] PLAN.yaml\n", name)
		fmt.Fprintln(stderr, "\nExit codes: "+exitCodesHelp[name])
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "%s: want exactly one plan file, got %d arguments\n", prog, len(pos))
		fs.Usage()
		return exitUsage
	}
	// With --out-json -, stdout carries the JSON alone: the report as printed goes to stderr (so `| jq` works).
	jsonOut := stdout
	if f.outJSON == "-" {
		stdout = stderr
	}
	// On a terminal the progress is redrawn in place, and what else is printed while it runs (the log, a
	// benchmark's, stress or knee run's lines on stdout) goes above it; elsewhere, one plain line a second.
	var disp live.Display
	logw := stderr
	if !f.quiet {
		disp = live.For(stderr, os.Getenv)
		if t, ok := disp.(*live.Terminal); ok {
			logw = t.Above(stderr)
			if live.IsTerminal(stdout, os.Getenv) {
				stdout = t.Above(stdout)
			}
		}
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := f.check(fs)
	var p *plan.Plan
	if err == nil {
		p, err = loadRunPlan(pos[0], typ, &f)
	}
	var st *openedStore
	if err == nil {
		use := recordRuns
		if f.outHTML != "" {
			use = recordRunsOrTemp
		}
		st, err = openStore(f.store, use, log)
	}
	switch {
	case errors.Is(err, plan.ErrInvalid):
		fmt.Fprintln(stderr, err) // one "file:line:col: path: message" per line
		fmt.Fprintf(stderr, "%s: %s: the plan is invalid\n", prog, pos[0])
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUsage
	}
	defer st.close(ctx, prog, stderr)

	var watch map[string]int32
	if f.watchPID > 0 {
		watch = map[string]int32{"target": int32(f.watchPID)}
	}
	x, err := runner.Expose(runner.ExposeOptions{Addr: f.metricsAddr, Watch: watch, Log: log,
		StartPush: f.remoteWrite.start(log, stderr)})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitError
	}
	r := &runner.Run{Plan: p, Metrics: x.Metrics, Out: stdout, Log: log, Baseline: f.baseline,
		ExecutorOptions: testExecutorOptions, Segment: f.seg}
	if f.seg == nil {
		r.ID = f.runID
	}
	ann := &announcer{w: stderr, Display: disp}
	if x.Addr != "" {
		ann.line = fmt.Sprintf("loadgen: serving metrics on http://%s/metrics\n", x.Addr)
		if x.Taken != "" {
			ann.line = fmt.Sprintf("loadgen: %s is taken: serving metrics on http://%s/metrics\n", x.Taken, x.Addr)
		}
	}
	switch {
	case !f.quiet:
		r.Progress = ann
	case x.Taken != "" || strings.HasSuffix(f.metricsAddr, ":0"):
		// --quiet prints the metrics address only when loadgen picked the port: nothing else says where it is.
		ann.announce()
	default:
		ann.once.Do(func() {}) // --quiet: the address is the one asked for
	}
	if st != nil {
		r.Sink, r.Store, r.StoreURL = st.w, st.st, st.url
		if st.tmp != "" {
			r.StoreURL = "a temporary store, for --out-html (--store off)"
		}
	}
	rep, err := runner.Execute(ctx, r)
	if rep == nil || panics.As(err) != nil {
		reportRunError(stderr, prog, err, f.verbose)
	}
	code = exitCode(rep, err)
	if f.seg != nil && rep != nil && rep.Head().Status == store.StatusCompleted {
		code = exitOK // a worker's share ran: the thresholds are judged on the merged run (loadgen gather)
	}
	if rep != nil && warnUnstored(stderr, prog, rep.Head(), f.storeRequired) {
		code = exitError
	}
	if rep != nil {
		if err := writeOutputs(ctx, &f, rep, st, jsonOut); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			code = exitError
		}
	}
	if f.linger > 0 && x.Addr != "" {
		ann.announce()
		fmt.Fprintf(stderr, "loadgen: keeping /metrics up for %s (Ctrl-C to stop)\n", f.linger)
	}
	x.End(ctx, f.linger)
	return code
}

// warnUnstored says loudly, on stderr, when the run's records are not all in the store at its end (they wait in the
// local spool, written at a later start on this machine), and reports whether --store-required makes that a failure.
func warnUnstored(stderr io.Writer, prog string, h *report.Header, required bool) bool {
	if h.Store == nil || h.Store.Unwritten == 0 {
		return false
	}
	fmt.Fprintf(stderr, "%s: WARNING: run %s is NOT fully in the store %s: %d record(s) wait in the local spool %s and are "+
		"written only when loadgen next opens that store on this machine and reaches it.", prog, h.RunID, h.Store.URL,
		h.Store.Unwritten, h.Store.Spool)
	if required {
		fmt.Fprintf(stderr, " Exit 1: --store-required.\n")
	} else {
		fmt.Fprintf(stderr, " In CI keep that file, or use --store-required to fail the job (exit 1) when this happens.\n")
	}
	return required
}

// exitCodesHelp is each command's own line of exit codes in its -h.
var exitCodesHelp = map[string]string{
	"run": "0 passed, 1 the run failed (target unreachable, every request failed, interrupted, --store-required and " +
		"records left in the spool, ...), 2 bad plan or flags, 3 thresholds failed (or an abort_on_fail threshold ended " +
		"the run) or, for a benchmark plan, a regression.",
	"bench": "0 no endpoint regressed, 1 the benchmark failed (an endpoint could not be measured: target unreachable; " +
		"interrupted, ...), 2 bad plan or flags, 3 an endpoint regressed against its baseline.",
	"stress": "0 the search COMPLETED (its answer is printed), 1 it ended in ERROR (target unreachable, failing at " +
		"every rate, ...) or was interrupted, 2 bad plan or flags.",
	"knee": "0 the search completed (the knee and the USL fit are printed), 1 a step could not be measured (target " +
		"unreachable, ...) or it was interrupted, 2 bad plan or flags.",
}

// loadRunPlan loads the plan file (as typ when set) with --target and the knee's --metrics-url, and scales it by
// --duration-scale.
func loadRunPlan(path, typ string, f *runFlags) (*plan.Plan, error) {
	var opts []plan.Option
	if typ != "" {
		opts = append(opts, plan.WithType(typ))
	}
	env, err := f.env.option()
	if err != nil {
		return nil, err
	}
	if env != nil {
		opts = append(opts, env)
	}
	if f.target != "" {
		opts = append(opts, plan.WithTarget(f.target)) // last: see the knee's metrics_url below
	}
	p, err := plan.LoadFile(path, opts...)
	if err != nil {
		return nil, err
	}
	switch {
	case f.seg != nil && orLoad(p.Type) != plan.TypeLoad:
		return nil, fmt.Errorf("--segment: %s is a %s plan; only load plans run as segments of a distributed run (a %s run searches on its own measurements, which one worker cannot see whole)", path, p.Type, p.Type)
	case f.baseline != "" && p.Type != plan.TypeBenchmark:
		return nil, fmt.Errorf("--baseline: %s is a %s plan; only benchmark plans have a baseline", path, orLoad(p.Type))
	case f.metricsURL != "" && p.Knee == nil:
		return nil, fmt.Errorf("--metrics-url: %s is a %s plan; only knee plans read the target's metrics", path, orLoad(p.Type))
	case f.metricsURL != "":
		p.Knee.MetricsURL = f.metricsURL
	case f.target != "" && p.Knee != nil && p.Knee.MetricsURL != "":
		// The target's metrics follow --target when the plan points them at its own target.
		if orig, err := plan.LoadFile(path, opts[:len(opts)-1]...); err == nil {
			if rest, ok := strings.CutPrefix(p.Knee.MetricsURL, strings.TrimSuffix(orig.Target, "/")); ok {
				p.Knee.MetricsURL = strings.TrimSuffix(f.target, "/") + rest
			}
		}
	}
	if f.durationScale > 0 && f.durationScale != 1 {
		if err := runner.ScaleDurations(p, f.durationScale); err != nil {
			return nil, fmt.Errorf("--duration-scale: %w", err)
		}
	}
	return p, nil
}

func orLoad(typ string) string { return cmp.Or(typ, plan.TypeLoad) }

// exitCode maps a run's end to the documented exit codes: a plan that cannot run as its type 2, a run that could
// not start 1, else runner.ExitCodeOf (0 passed; 3 completed but its verdict failed, or aborted by a threshold; 1
// anything else).
func exitCode(rep runner.Report, err error) int {
	if rep == nil {
		if errors.Is(err, runner.ErrPlan) || errors.Is(err, plan.ErrInvalid) {
			return exitUsage
		}
		return exitError
	}
	return runner.ExitCodeOf(rep)
}

// writeOutputs writes --out-json, --out-junit and --out-html (from the store, once the run's records are in).
func writeOutputs(ctx context.Context, f *runFlags, rep runner.Report, st *openedStore, stdout io.Writer) error {
	var errs []error
	if f.outJSON != "" {
		b, err := runner.JSON(rep)
		if err == nil {
			err = writeOut(f.outJSON, b, stdout)
		}
		errs = append(errs, wrap("--out-json", err))
	}
	if f.outJUnit != "" {
		var b bytes.Buffer
		err := junit.Write(&b, junitSuites(rep)...)
		if err == nil {
			err = writeOut(f.outJUnit, b.Bytes(), stdout)
		}
		errs = append(errs, wrap("--out-junit", err))
	}
	if f.outHTML != "" {
		var b bytes.Buffer
		err := htmlreport.Write(ctx, &b, st.st, rep.Head().RunID)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("run %s is not in the store yet (%s): write it later with loadgen report %s", rep.Head().RunID,
				rep.Head().StoreLine(), rep.Head().RunID)
		}
		if err == nil {
			err = writeOut(f.outHTML, b.Bytes(), stdout)
		}
		errs = append(errs, wrap("--out-html", err))
	}
	return errors.Join(errs...)
}

// junitSuites are a run's verdicts as JUnit: a load run's status and thresholds, a benchmark's status and
// per-endpoint verdicts, a stress or knee run's status.
func junitSuites(rep runner.Report) []junit.Suite {
	switch r := rep.(type) {
	case *report.Summary:
		return []junit.Suite{junit.Summary(r)}
	case *runner.BenchReport:
		var steps []gate.Step
		for _, e := range r.Endpoints {
			s := gate.Step{Scenario: "benchmark", Step: e.Label(), Verdict: e.Verdict}
			if e.Verdict == nil {
				s.Missing = "base"
			}
			steps = append(steps, s)
		}
		return []junit.Suite{junit.Status(&r.Header), junit.Verdicts("loadgen bench "+r.Plan, steps)}
	}
	return []junit.Suite{junit.Status(rep.Head())}
}

func writeOut(path string, b []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// announcer is the progress display that says where /metrics is served, once: before the first progress update (a
// run that stops at once prints nothing but its error), or when asked (--quiet, lingering).
type announcer struct {
	live.Display
	w    io.Writer
	line string
	once sync.Once
}

func (a *announcer) announce() { a.once.Do(func() { io.WriteString(a.w, a.line) }) }

func (a *announcer) Update(s live.Snapshot) {
	a.announce()
	a.Display.Update(s)
}
