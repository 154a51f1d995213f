package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/htmlreport"
)

func init() {
	register("report", "write a stored run's HTML report, or two runs compared (RUN_ID | BASE NEW)", reportCmd)
}

const reportUsage = `usage:
  loadgen report [--store URL] [-o FILE] RUN_ID                      one run's report
  loadgen report [--store URL] [-o FILE] [--tolerance 5%] BASE NEW   NEW compared with the baseline BASE
  loadgen report [--store URL] [-o FILE] --baseline last-passed NEW
The report is one self-contained HTML file (charts included) that opens from disk with no network.`

// reportCmd is `loadgen report`: a thin layer over htmlreport.Write and WriteCompare.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hf historyFlags
	hf.set(fs)
	out := fs.String("o", "", "write the report to FILE (- for stdout; default loadgen-report-RUN_ID.html, or loadgen-compare-BASE-NEW.html)")
	var gf gateFlags
	gf.register(fs, false)
	fs.Usage = func() { fmt.Fprintln(stderr, reportUsage); fs.PrintDefaults() }
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if n := len(pos); n == 0 || n > 2 || gf.baseline != "" && n != 1 {
		fmt.Fprintf(stderr, "loadgen report: want RUN_ID, BASE NEW, or --baseline B NEW; got %d argument(s)\n%s\n", len(pos), reportUsage)
		return exitUsage
	}

	ost, code := hf.open(ctx, "loadgen report", stderr)
	if ost == nil {
		return code
	}
	defer ost.close(ctx, "loadgen report", stderr)
	st := ost.st

	var b bytes.Buffer
	var err error
	name := *out
	if len(pos) == 1 && gf.baseline == "" {
		err = htmlreport.Write(ctx, &b, st, pos[0])
		if name == "" {
			name = "loadgen-report-" + pos[0] + ".html"
		}
	} else {
		var baseID, newID string
		baseID, newID, err = gf.resolve(ctx, st, pos)
		if errors.Is(err, gate.ErrNoBaseline) {
			fmt.Fprintf(stderr, "loadgen report: %v (write the run's own report with: loadgen report %s)\n", err, newID)
			return exitError
		}
		if err == nil {
			err = htmlreport.WriteCompare(ctx, &b, st, baseID, newID, gf.criteria())
			if name == "" {
				name = "loadgen-compare-" + baseID + "-" + newID + ".html"
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return exitError
	}
	if name == "-" {
		if _, err := stdout.Write(b.Bytes()); err != nil {
			fmt.Fprintf(stderr, "loadgen report: %v\n", err)
			return exitError
		}
		return exitOK
	}
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stderr, "loadgen report: wrote %s (%d KB)\n", name, (b.Len()+1023)/1024)
	return exitOK
}
