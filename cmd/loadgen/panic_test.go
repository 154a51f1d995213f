package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/executor"
)

// panicInEngine makes every engine the commands build panic in its
// housekeeping goroutine as its first phase begins, for the test.
func panicInEngine(t *testing.T) {
	t.Helper()
	testExecutorOptions = []executor.Option{executor.WithOnPhase(func(string) { panic("provoked by the test") })}
	t.Cleanup(func() { testExecutorOptions = nil })
}

// TestRunPanicOneLine: a panic in the run is one line on stderr and exit
// code 1 (not Go's stack dump and exit code 2); -v adds the stack.
func TestRunPanicOneLine(t *testing.T) {
	url := startTarget(t)
	plan := writePlan(t, "")
	panicInEngine(t)
	const want = "loadgen run: panic in executor housekeeping: provoked by the test (a bug in loadgen: the run was stopped; -v prints the stack)"
	for _, verbose := range []bool{false, true} {
		args := []string{"run", plan, "--target", url, "--store", "off", "--metrics-addr", "off", "--quiet"}
		if verbose {
			args = append(args, "-v")
		}
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code != exitError {
			t.Errorf("-v=%v: exit code %d; want %d", verbose, code, exitError)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if !verbose && (len(lines) != 1 || lines[0] != want) {
			t.Errorf("stderr:\n%s\nwant exactly one line: %s", stderr.String(), want)
		}
		if verbose && (lines[0] != strings.TrimSuffix(want, "; -v prints the stack)")+")" ||
			!strings.Contains(stderr.String(), "(*Executor).housekeep")) {
			t.Errorf("-v: stderr:\n%s\nwant the line, then the stack", stderr.String())
		}
		if !strings.Contains(stdout.String(), "FAILED: panic in executor housekeeping: provoked by the test") {
			t.Errorf("-v=%v: the summary does not say the run failed on the panic:\n%s", verbose, stdout.String())
		}
	}
}

// TestModePanicOneLine: the same for the modes (here `loadgen stress`).
func TestModePanicOneLine(t *testing.T) {
	url := startTarget(t)
	path := filepath.Join(t.TempDir(), "stress.yaml")
	body := "name: s\ntarget: " + url + "\nscenarios: [{steps: [{request: {path: /api/teams}}]}]\n" +
		"stress: {probe_duration: 1s, cooldown: 0s, max_probes: 2}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	panicInEngine(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"stress", path, "--store", "off"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != exitError || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "loadgen stress: panic in executor housekeeping: provoked by the test (a bug in loadgen") {
		t.Errorf("exit code %d, stderr:\n%s\nwant %d and one line", code, stderr.String(), exitError)
	}
}

// TestMainRecoversPanic: a panic that escapes a command is caught in main's
// run: one line, exit code 1.
func TestMainRecoversPanic(t *testing.T) {
	register("test-panic", "panics (test only)", func(context.Context, []string, io.Writer, io.Writer) int {
		var m map[string]int
		m["x"]++
		return exitOK
	})
	t.Cleanup(func() { delete(commands, "test-panic") })
	var stderr bytes.Buffer
	code := run([]string{"test-panic"}, io.Discard, &stderr)
	const want = "loadgen test-panic: panic: assignment to entry in nil map (a bug in loadgen: the run was stopped; -v prints the stack)\n"
	if code != exitError || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), exitError, want)
	}
	stderr.Reset()
	if code := run([]string{"test-panic", "-v"}, io.Discard, &stderr); code != exitError || !strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("-v: exit %d, stderr %q; want %d and the stack", code, stderr.String(), exitError)
	}
}
