package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/junit"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // mysql:// stores
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // sqlite:// stores
)

func init() {
	register("runs", "list, show and compare stored runs, gate on a regression, follow a run in serve (list | show ID | compare BASE NEW [--gate] | watch ID)", runsCmd)
}

const runsUsage = `usage:
  loadgen runs list    [--store URL] [--json] [--status S] [--verdict V] [--type T] [--plan P] [--limit N] [--offset N]
  loadgen runs show    [--store URL] [--json] ID
  loadgen runs compare [--store URL] [--json] BASE NEW                 (BASE is the baseline)
  loadgen runs compare [--store URL] [--json] --baseline last-passed NEW
      --gate [--tolerance 5%] [--out-junit FILE]: the regression gate (exit 3 when a step got slower)
  loadgen runs watch   [--server URL] [--token T] [--quiet] ID   (follow a run in loadgen serve; exit with its code)`

// runsCmd is `loadgen runs list|show|compare`: a thin layer over store.Open
// and the store's formatting functions.
func runsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, runsUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	if sub == "watch" { // a client of serve, not of the store
		return runsWatch(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hf historyFlags
	hf.set(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var f store.Filter
	var status, typ, verdict string
	var gf gateFlags
	if sub == "compare" {
		gf.register(fs, true)
	}
	if sub == "list" {
		fs.StringVar(&status, "status", "", "only runs with this status (queued|running|completed|failed|aborted|interrupted|partial)")
		fs.StringVar(&typ, "type", "", "only runs of this type (load|benchmark|stress|knee)")
		fs.StringVar(&verdict, "verdict", "", "only runs with this verdict (passed|thresholds_failed|regressed)")
		fs.StringVar(&f.Plan, "plan", "", "only runs of this plan name")
		fs.IntVar(&f.Limit, "limit", 20, "at most this many runs")
		fs.IntVar(&f.Offset, "offset", 0, "skip this many runs (paging)")
	}
	fs.Usage = func() { fmt.Fprintln(stderr, runsUsage); fs.PrintDefaults() }
	pos, code, ok := parseInterleaved(fs, args[1:])
	if !ok {
		return code
	}
	want := map[string]int{"list": 0, "show": 1, "compare": 2}
	if sub == "compare" && gf.baseline != "" {
		want[sub] = 1
	}
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(stderr, "loadgen runs: unknown subcommand %q\n%s\n", sub, runsUsage)
		return exitUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "loadgen runs %s: want %d argument(s), got %d\n%s\n", sub, n, len(pos), runsUsage)
		return exitUsage
	}
	f.Status, f.Type, f.Verdict = store.Status(status), store.Type(typ), store.Verdict(verdict)
	if err := checkFilter(f); err != nil {
		fmt.Fprintf(stderr, "loadgen runs %s: %v\n", sub, err)
		return exitUsage
	}

	ost, code := hf.open(ctx, "loadgen runs", stderr)
	if ost == nil {
		return code
	}
	defer ost.close(ctx, "loadgen runs", stderr)
	st := ost.st
	warnParked(hf.spool, stderr)

	code = exitOK
	var err error
	switch sub {
	case "list":
		err = runsList(ctx, st, f, *asJSON, stdout)
	case "show":
		err = runsShow(ctx, st, pos[0], *asJSON, stdout)
	case "compare":
		code, err = runsCompare(ctx, st, pos, gf, *asJSON, stdout, stderr)
	}
	if errors.Is(err, store.ErrNotFound) {
		// A run ID that names no run is the caller's mistake, as a bad flag is.
		fmt.Fprintf(stderr, "loadgen runs %s: %v in %s (loadgen runs list shows the stored runs)\n", sub, err, store.Redacted(ost.url))
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen runs %s: %v\n", sub, err)
		return exitError
	}
	return code
}

// checkFilter refuses a filter value that names no status, type or verdict (it would list nothing, silently).
func checkFilter(f store.Filter) error {
	switch {
	case f.Status != "" && !f.Status.Valid():
		return fmt.Errorf("--status %q: want queued, running, completed, failed, aborted, interrupted or partial", f.Status)
	case f.Type != "" && !store.ValidType(f.Type):
		return fmt.Errorf("--type %q: want load, benchmark, stress or knee", f.Type)
	case f.Verdict != "" && !f.Verdict.Valid():
		return fmt.Errorf("--verdict %q: want passed, thresholds_failed or regressed", f.Verdict)
	}
	return nil
}

// historyFlags are the flags of the commands that read the stored runs (runs and report).
type historyFlags struct {
	store, spool string
	verbose      bool
}

func (h *historyFlags) set(fs *flag.FlagSet) {
	storeFlag(fs, &h.store)
	fs.StringVar(&h.spool, "spool", "", "spool directory whose leftover records are written to the store first (default: the store's own in the data directory)")
	vFlag(fs, &h.verbose)
}

// open opens the store to read the stored runs, first writing the records an earlier run left in the spool
// directory; problems are reported on stderr as prog. A store URL that names no store is a usage error (exit
// code 2), a store that cannot be read exit code 1.
func (h *historyFlags) open(ctx context.Context, prog string, stderr io.Writer) (*openedStore, int) {
	o, err := openStore(h.store, readRuns, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return nil, exitUsage
	}
	if err := o.st.Ping(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		o.close(ctx, prog, stderr)
		return nil, exitError
	}
	if h.spool == "" {
		h.spool = store.SpoolDirFor(o.url)
	}
	res, err := store.ReplaySpool(ctx, o.st, h.spool)
	if err != nil {
		fmt.Fprintf(stderr, "%s: spooled records not written yet: %v\n", prog, err)
	} else if res.Records > 0 {
		fmt.Fprintf(stderr, "%s: wrote %d record(s) left in %s by an earlier run\n", prog, res.Records, h.spool)
	}
	for _, at := range res.CorruptAt {
		fmt.Fprintf(stderr, "%s: skipped a torn or corrupt spool line: %s\n", prog, at)
	}
	if n := res.Corrupt - len(res.CorruptAt); n > 0 {
		fmt.Fprintf(stderr, "%s: skipped %d more torn or corrupt spool line(s)\n", prog, n)
	}
	return o, exitOK
}

// warnParked prints a warning while records the store refused are parked in
// the spool directory.
func warnParked(dir string, stderr io.Writer) {
	p, err := store.ParkedRecords(dir)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen runs: WARNING: cannot read parked records in %s: %v\n", dir, err)
		return
	}
	if p.Records == 0 {
		return
	}
	fmt.Fprintf(stderr, "loadgen runs: WARNING: %d record(s) the store refused are parked in %s", p.Records, strings.Join(p.Files, ", "))
	if p.GaveUp > 0 {
		fmt.Fprintf(stderr, " (%d refused %d times: no longer retried, look at them)", p.GaveUp, store.MaxParkedAttempts)
	}
	if p.Records > p.GaveUp {
		fmt.Fprintf(stderr, "; %d will be retried at the next start", p.Records-p.GaveUp)
	}
	fmt.Fprintln(stderr)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runsList(ctx context.Context, st store.Store, f store.Filter, asJSON bool, w io.Writer) error {
	runs, err := st.ListRuns(ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, runs)
	}
	return store.FormatRuns(w, runs)
}

// runDetail is `runs show --json`: the run and all its stored results
// (histograms left out; they are in the database).
type runDetail struct {
	Run        *store.Run              `json:"run"`
	Steps      []store.StepResult      `json:"steps"`
	Benchmarks []store.BenchmarkResult `json:"benchmarks,omitempty"`
	Stress     *store.StressResult     `json:"stress,omitempty"`
	Knee       *store.KneeResult       `json:"knee,omitempty"`
	Snapshots  int                     `json:"snapshots"`
}

func runsShow(ctx context.Context, st store.Store, id string, asJSON bool, w io.Writer) error {
	r, err := st.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if !asJSON {
		return store.FormatRun(w, r)
	}
	d := runDetail{Run: r}
	if d.Steps, err = st.StepResults(ctx, id); err != nil {
		return err
	}
	for i := range d.Steps {
		d.Steps[i].Hist = nil
	}
	if d.Benchmarks, err = st.BenchmarkResults(ctx, id); err != nil {
		return err
	}
	for i := range d.Benchmarks {
		d.Benchmarks[i].Hist = nil
	}
	if d.Stress, err = st.StressResult(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if d.Knee, err = st.KneeResult(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	snaps, err := st.Snapshots(ctx, id)
	if err != nil {
		return err
	}
	d.Snapshots = len(snaps)
	return printJSON(w, d)
}

func runsCompare(ctx context.Context, st store.Store, pos []string, gf gateFlags, asJSON bool, stdout,
	stderr io.Writer) (int, error) {
	baseID, newID, err := gf.resolve(ctx, st, pos)
	if errors.Is(err, gate.ErrNoBaseline) && gf.gate {
		// The first run of a plan has nothing to be compared with: the gate has nothing to judge.
		fmt.Fprintf(stdout, "GATE SKIPPED: %v\n", err)
		if gf.junit != "" {
			if err := junit.WriteFile(gf.junit, junit.Suite{Name: "loadgen gate " + newID, Tests: 1, Skipped: 1,
				Cases: []junit.Case{{Name: "baseline", Classname: "loadgen.gate", Skipped: &junit.Skipped{Message: err.Error()}}}}); err != nil {
				return exitError, err
			}
		}
		return exitOK, nil
	}
	if err != nil {
		return exitError, err
	}
	var runs [2]*store.Run
	var steps [2][]store.StepResult
	for i, id := range []string{baseID, newID} {
		if runs[i], err = st.GetRun(ctx, id); err != nil {
			return exitError, err
		}
		if steps[i], err = gate.Steps(ctx, st, id); err != nil {
			return exitError, err
		}
	}
	c, err := store.Compare(runs[0], runs[1], steps[0], steps[1])
	if err != nil {
		return exitError, err
	}
	var g *gate.Result
	if gf.gate {
		if g, err = gate.CompareSteps(runs[0], runs[1], steps[0], steps[1], gf.criteria()); err != nil {
			return exitError, err
		}
		if gf.junit != "" {
			if err := junit.WriteFile(gf.junit, junit.Gate(g)); err != nil {
				return exitError, err
			}
		}
	}
	code := exitOK
	if g != nil && g.Regression {
		code = exitThreshold
	}
	if asJSON {
		if g == nil {
			return code, printJSON(stdout, c)
		}
		return code, printJSON(stdout, struct {
			Comparison *store.Comparison `json:"comparison"`
			Gate       *gate.Result      `json:"gate"`
		}{c, g})
	}
	if len(steps[0]) == 0 || len(steps[1]) == 0 {
		missing := []string{}
		for i, id := range []string{baseID, newID} {
			if len(steps[i]) == 0 {
				missing = append(missing, id)
			}
		}
		fmt.Fprintf(stdout, "note: no per-step results stored for %s\n", strings.Join(missing, ", "))
	}
	if err := store.FormatComparison(stdout, c); err != nil {
		return exitError, err
	}
	if g != nil {
		if err := gate.Format(stdout, g); err != nil {
			return exitError, err
		}
	}
	return code, nil
}

// gateFlags are the flags of the regression gate and of the baseline choice, shared by `runs compare` and
// `report`.
type gateFlags struct {
	gate      bool
	baseline  string // "" (BASE NEW given), "last-passed" or a run ID
	tolerance float64
	junit     string
}

func (g *gateFlags) register(fs *flag.FlagSet, gateOnly bool) {
	g.tolerance = gate.DefaultTolerance
	fs.StringVar(&g.baseline, "baseline", "", "the baseline: a run ID, or last-passed (the newest passed run of NEW's plan "+
		"and type created before it); then only NEW is given")
	fs.Func("tolerance", fmt.Sprintf("the gate's tolerance: a quantile regressed when its bootstrap interval lies wholly "+
		"above 1 + tolerance (e.g. 5%% or 0.05; default %.0f%%)", 100*gate.DefaultTolerance), func(v string) error {
		t, err := plan.ParseRatio(v)
		if err != nil || t <= 0 || t >= 1 {
			return fmt.Errorf("want a ratio in (0, 1) such as 5%% or 0.05, got %q", v)
		}
		g.tolerance = t
		return nil
	})
	if gateOnly {
		fs.BoolVar(&g.gate, "gate", false, "judge NEW against BASE with the regression gate: exit 3 when a step's "+
			"p50, p95 or p99 is significantly slower")
		fs.StringVar(&g.junit, "out-junit", "", "with --gate: write the gate's verdicts as JUnit XML to FILE (- for stdout)")
	}
}

func (g *gateFlags) criteria() bench.Criteria { return bench.Criteria{Tolerance: g.tolerance} }

// resolve returns the baseline and the new run from the positional arguments (BASE NEW, or NEW with --baseline).
// With --baseline last-passed and no such run, newID is set and the error wraps gate.ErrNoBaseline.
func (g *gateFlags) resolve(ctx context.Context, st store.Store, pos []string) (baseID, newID string, err error) {
	if g.baseline == "" {
		return pos[0], pos[1], nil
	}
	baseID, err = gate.Baseline(ctx, st, g.baseline, pos[0])
	return baseID, pos[0], err
}
