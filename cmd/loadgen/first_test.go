package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/testenv"
)

// TestOutJSONStdout: with --out-json -, stdout is the JSON alone (it decodes
// as one summary, nothing before or after) and the text summary goes to stderr.
func TestOutJSONStdout(t *testing.T) {
	url := startTarget(t)
	var stdout, stderr testenv.SyncBuffer
	args := []string{"run", "--metrics-addr", "off", "--store", "off", "--quiet", "--duration-scale", "0.5", "--out-json", "-",
		"--target", url, writePlan(t, "")}
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	var s report.Summary
	if err := dec.Decode(&s); err != nil || s.Plan != "tiny" || s.Requests == 0 {
		t.Fatalf("stdout is not one summary (%v): %+v\n%s", err, s, stdout.String())
	}
	if dec.More() {
		t.Errorf("stdout holds more than the JSON:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "PASSED: completed") {
		t.Errorf("stderr lacks the text summary:\n%s", stderr.String())
	}
}

// TestVersion: `loadgen version` and `loadgen --version` print the version,
// commit, build date and Go version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr testenv.SyncBuffer
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("loadgen %s = exit %d; want 0\n%s", args[0], code, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"loadgen ", "\ncommit ", "\nbuilt ", "\ngo1."} {
			if !strings.Contains(out, want) {
				t.Errorf("loadgen %s printed %q; want it to hold %q", args[0], out, want)
			}
		}
	}
	var stdout, stderr testenv.SyncBuffer
	if code := run([]string{"version", "x"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("loadgen version x = exit %d; want %d", code, exitUsage)
	}
}
