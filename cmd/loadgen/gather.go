package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/loadlab/loadlab/internal/runner"
)

func init() {
	register("gather", "wait for the workers of a distributed run (run --segment), print the merged summary, exit with its verdict", gatherCmd)
}

// gatherFlags are loadgen gather's flags.
type gatherFlags struct {
	store, outJSON string
	segments       int
	timeout        time.Duration
	verbose        bool
}

func (f *gatherFlags) set(fs *flag.FlagSet) {
	storeFlag(fs, &f.store)
	fs.IntVar(&f.segments, "segments", 0, "how many segments the run has (the N of --segment I/N); required")
	fs.DurationVar(&f.timeout, "timeout", runner.DefaultGatherTimeout, "wait at most this long for every segment to end; those that have not make the run partial")
	fs.StringVar(&f.outJSON, "out-json", "", "write the merged summary as JSON to this file (\"-\" for stdout)")
	vFlag(fs, &f.verbose)
}

// gatherCmd is `loadgen gather RUN_ID --segments N [--timeout D] [--out-json F]`: runner.Gather over the store,
// the merged summary printed, the exit code of its end (0, 1, 3).
func gatherCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen gather", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f gatherFlags
	f.set(fs)
	storeURL, outJSON, segments, timeout := f.store, f.outJSON, &f.segments, &f.timeout
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen gather [flags] RUN_ID --segments N")
		fmt.Fprintln(stderr, "\nExit codes: 0 passed, 1 the run failed or is partial (a segment never reported or did not complete), "+
			"2 bad flags, 3 thresholds failed on the merged figures.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	storeURL, outJSON = f.store, f.outJSON
	switch {
	case len(pos) != 1:
		fmt.Fprintf(stderr, "loadgen gather: want exactly one run ID, got %d arguments\n", len(pos))
		fs.Usage()
		return exitUsage
	case *segments < 1 || *segments > runner.MaxSegments:
		fmt.Fprintf(stderr, "loadgen gather: --segments must be from 1 to %d, got %d\n", runner.MaxSegments, *segments)
		return exitUsage
	case *timeout <= 0:
		fmt.Fprintf(stderr, "loadgen gather: --timeout must be > 0, got %s\n", *timeout)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openStore(storeURL, readRuns, log)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen gather: %v\n", err)
		return exitUsage
	}
	defer st.close(ctx, "loadgen gather", stderr)
	s, err := runner.Gather(ctx, st.st, pos[0], *segments, runner.GatherOptions{Timeout: *timeout, StoreURL: st.url,
		Poll: time.Second})
	if err != nil {
		fmt.Fprintf(stderr, "loadgen gather: %v\n", err)
		return exitError
	}
	if err := s.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "loadgen gather: %v\n", err)
		return exitError
	}
	code = runner.ExitCodeOf(s)
	if outJSON != "" {
		b, err := runner.JSON(s)
		if err == nil {
			err = writeOut(outJSON, b, stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen gather: --out-json: %v\n", err)
			return exitError
		}
	}
	return code
}
