package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/loadlab/loadlab/internal/modes"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // registers mysql://
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // registers sqlite://
)

func init() {
	register("bench", "benchmark each endpoint in isolation and compare with the stored baseline (exit 3 on a regression)",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return modeCmd(ctx, plan.TypeBenchmark, args, stdout, stderr)
		})
}

// modeFlags are the flags of `loadgen bench|stress|knee`.
type modeFlags struct {
	target     string
	outJSON    string
	store      string
	baseline   string
	metricsURL string
	verbose    bool
}

// modeCmd is `loadgen bench|stress|knee [flags] PLAN`: load the plan as that type, run the mode, print, store.
func modeCmd(ctx context.Context, typ string, args []string, stdout, stderr io.Writer) int {
	name := map[string]string{plan.TypeBenchmark: "bench", plan.TypeStress: "stress", plan.TypeKnee: "knee"}[typ]
	var f modeFlags
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.target, "target", os.Getenv("LOADGEN_TARGET"),
		"base URL of the system under test; overrides the plan's target (env LOADGEN_TARGET)")
	fs.StringVar(&f.outJSON, "out-json", "", "write the result as JSON to this file (\"-\" for stdout)")
	fs.StringVar(&f.store, "store", "", "result store URL: sqlite://PATH or mysql://DSN, \"off\" to disable "+
		"(env LOADGEN_STORE; default "+store.DefaultURL+")")
	if typ == plan.TypeBenchmark {
		fs.StringVar(&f.baseline, "baseline", "", "compare with this stored run ID (default: the last stored "+
			"benchmark of the same plan, endpoint and concurrency)")
	}
	fs.BoolVar(&f.verbose, "v", false, "verbose: on a panic (a bug in loadgen) print its stack too")
	if typ == plan.TypeKnee {
		fs.StringVar(&f.metricsURL, "metrics-url", "", "the target's Prometheus /metrics URL, overriding "+
			"knee.metrics_url (by default a metrics_url on the plan's target follows --target)")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen %s [flags] PLAN.yaml\n", name)
		fmt.Fprintln(stderr, "\nExit codes: 0 ok, 1 the run failed (target unreachable, interrupted, store, ...), "+
			"2 bad plan or flags, 3 benchmark regression.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "loadgen %s: want exactly one plan file, got %d arguments\n", name, len(pos))
		fs.Usage()
		return exitUsage
	}
	popts := []plan.Option{plan.WithType(typ)}
	if f.target != "" {
		popts = append(popts, plan.WithTarget(f.target))
	}
	p, err := plan.LoadFile(pos[0], popts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if p.Knee != nil {
		switch {
		case f.metricsURL != "":
			p.Knee.MetricsURL = f.metricsURL
		case f.target != "" && p.Knee.MetricsURL != "":
			// The target's metrics follow --target when the plan points them at its own target.
			if orig, err := plan.LoadFile(pos[0], plan.WithType(typ)); err == nil {
				if rest, ok := strings.CutPrefix(p.Knee.MetricsURL, strings.TrimSuffix(orig.Target, "/")); ok {
					p.Knee.MetricsURL = strings.TrimSuffix(f.target, "/") + rest
				}
			}
		}
	}
	return runMode(ctx, p, f, stdout, stderr)
}

// runPlanMode runs p in its mode when p.Type is benchmark, stress or knee (ok true), for `loadgen run`: f holds
// its --store, --out-json and -v.
func runPlanMode(ctx context.Context, p *plan.Plan, f modeFlags, stdout, stderr io.Writer) (code int, ok bool) {
	switch p.Type {
	case plan.TypeBenchmark, plan.TypeStress, plan.TypeKnee:
		return runMode(ctx, p, f, stdout, stderr), true
	}
	return 0, false
}

// runMode runs a loaded plan in the mode of its type and maps the outcome to an exit code.
func runMode(ctx context.Context, p *plan.Plan, f modeFlags, stdout, stderr io.Writer) int {
	prog := "loadgen " + p.Type
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := modes.Options{Out: stdout, Log: log, Baseline: f.baseline, ExecutorOptions: testExecutorOptions}
	url := store.URLFromEnv(f.store)
	if f.store == "off" || url == "off" {
		url = ""
	}
	var rs *recordStore
	if url != "" {
		// The database may be down now or go away mid-run: reads (baselines) fail softly, and the records go
		// through the async writer, which spools them to data/spool until the database is back.
		var err error
		if rs, err = openRecordStore(url, log); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return exitUsage
		}
		defer rs.close(ctx, prog, stderr)
		opts.Store, opts.Sink = rs.st, rs.w
	} else if f.baseline != "" {
		fmt.Fprintf(stderr, "%s: --baseline needs a store\n", prog)
		return exitUsage
	}

	var rep any
	var header *modes.Header
	var err error
	code := exitOK
	switch p.Type {
	case plan.TypeBenchmark:
		var r *modes.BenchReport
		r, err = modes.Bench(ctx, p, opts)
		if r != nil {
			rep, header = r, &r.Header
			if r.Regression {
				code = exitThreshold
			}
		}
	case plan.TypeStress:
		var r *modes.StressReport
		r, err = modes.Stress(ctx, p, opts)
		if r != nil {
			rep, header = r, &r.Header
		}
	case plan.TypeKnee:
		var r *modes.KneeReport
		r, err = modes.Knee(ctx, p, opts)
		if r != nil {
			rep, header = r, &r.Header
		}
	default:
		fmt.Fprintf(stderr, "%s: plan type %q is not benchmark, stress or knee\n", prog, p.Type)
		return exitUsage
	}
	if err != nil {
		reportRunError(stderr, prog, err, f.verbose)
		if errors.Is(err, modes.ErrMode) {
			return exitUsage
		}
		code = exitError
	}
	if header != nil && rs != nil {
		stats := rs.settle(ctx)
		switch {
		case header.StoreError != "":
			fmt.Fprintf(stderr, "%s: store %s: %s\n", prog, store.Redacted(url), header.StoreError)
		case stats.HadToSpool() || stats.Pending > 0:
			fmt.Fprintf(stdout, "run %s: %s\n", header.RunID, stats.Summary())
		default:
			fmt.Fprintf(stdout, "stored as run %s in %s\n", header.RunID, store.Redacted(url))
		}
	}
	if rep != nil && f.outJSON != "" {
		if err := writeModeJSON(f.outJSON, rep, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return exitError
		}
	}
	return code
}

func writeModeJSON(path string, v any, stdout io.Writer) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("out-json: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("out-json: %w", err)
	}
	return nil
}
