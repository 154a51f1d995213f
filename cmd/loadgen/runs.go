package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // mysql:// stores
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // sqlite:// stores
)

func init() {
	register("runs", "list, show and compare stored runs (list | show ID | compare A B)", runsCmd)
}

const runsUsage = `usage:
  loadgen runs list    [--store URL] [--json] [--status S] [--type T] [--plan P] [--limit N] [--offset N]
  loadgen runs show    [--store URL] [--json] ID
  loadgen runs compare [--store URL] [--json] A B    (A is the baseline)`

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
	fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeURL := fs.String("store", "", "results store: sqlite://PATH or mysql://USER:PASS@tcp(HOST:3306)/DB (env "+store.EnvURL+", default "+store.DefaultURL+")")
	spool := fs.String("spool", store.DefaultSpoolDir, "spool directory whose leftover records are written to the store first")
	asJSON := fs.Bool("json", false, "print JSON")
	var f store.Filter
	var status, typ string
	if sub == "list" {
		fs.StringVar(&status, "status", "", "only runs with this status (queued|running|completed|failed|aborted|interrupted)")
		fs.StringVar(&typ, "type", "", "only runs of this type (load|benchmark|stress|knee)")
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
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(stderr, "loadgen runs: unknown subcommand %q\n%s\n", sub, runsUsage)
		return exitUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "loadgen runs %s: want %d argument(s), got %d\n%s\n", sub, n, len(pos), runsUsage)
		return exitUsage
	}
	f.Status, f.Type = store.Status(status), store.Type(typ)

	st, err := store.Open(ctx, store.URLFromEnv(*storeURL))
	if err != nil {
		fmt.Fprintf(stderr, "loadgen runs: %v\n", err)
		return exitError
	}
	defer st.Close()
	res, err := store.ReplaySpool(ctx, st, *spool)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen runs: spooled records not written yet: %v\n", err)
	} else if res.Records > 0 {
		fmt.Fprintf(stderr, "loadgen runs: wrote %d record(s) left in %s by an earlier run\n", res.Records, *spool)
	}
	for _, at := range res.CorruptAt {
		fmt.Fprintf(stderr, "loadgen runs: skipped a torn or corrupt spool line: %s\n", at)
	}
	if n := res.Corrupt - len(res.CorruptAt); n > 0 {
		fmt.Fprintf(stderr, "loadgen runs: skipped %d more torn or corrupt spool line(s)\n", n)
	}
	warnParked(*spool, stderr)

	switch sub {
	case "list":
		err = runsList(ctx, st, f, *asJSON, stdout)
	case "show":
		err = runsShow(ctx, st, pos[0], *asJSON, stdout)
	case "compare":
		err = runsCompare(ctx, st, pos[0], pos[1], *asJSON, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen runs %s: %v\n", sub, err)
		return exitError
	}
	return exitOK
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

func runsCompare(ctx context.Context, st store.Store, idA, idB string, asJSON bool, w io.Writer) error {
	var runs [2]*store.Run
	var steps [2][]store.StepResult
	for i, id := range []string{idA, idB} {
		r, err := st.GetRun(ctx, id)
		if err != nil {
			return err
		}
		runs[i] = r
		if steps[i], err = st.StepResults(ctx, id); err != nil {
			return err
		}
		if len(steps[i]) == 0 { // a benchmark run: compare its endpoints
			bs, err := st.BenchmarkResults(ctx, id)
			if err != nil {
				return err
			}
			steps[i] = store.BenchmarkSteps(bs)
		}
	}
	c, err := store.Compare(runs[0], runs[1], steps[0], steps[1])
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, c)
	}
	if len(steps[0]) == 0 || len(steps[1]) == 0 {
		missing := []string{}
		for i, id := range []string{idA, idB} {
			if len(steps[i]) == 0 {
				missing = append(missing, id)
			}
		}
		fmt.Fprintf(w, "note: no per-step results stored for %s\n", strings.Join(missing, ", "))
	}
	return store.FormatComparison(w, c)
}
