package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
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

// TestDefaultStoreInDataDir: with no --store, a run is recorded in the user's data directory whatever the working
// directory, so `runs list` in another directory shows it; the summary names the store.
func TestDefaultStoreInDataDir(t *testing.T) {
	url := startTarget(t)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv(store.EnvURL, "")
	planPath := writePlan(t, "")
	t.Chdir(t.TempDir())
	var stdout, stderr testenv.SyncBuffer
	if code := run([]string{"run", "--metrics-addr", "off", "--quiet", "--duration-scale", "0.5", "--target", url, planPath},
		&stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	if want := "STORE   " + store.DefaultURL(); !strings.Contains(stdout.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, stdout.String())
	}
	id := regexp.MustCompile(`run (\d{8}-\d{6}-[0-9a-f]+)`).FindStringSubmatch(stdout.String())
	if id == nil {
		t.Fatalf("no run id in:\n%s", stdout.String())
	}
	t.Chdir(t.TempDir())
	var out, errb testenv.SyncBuffer
	if code := run([]string{"runs", "list"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), id[1]) {
		t.Errorf("runs list in another directory = exit %d:\n%s%s; want run %s", code, out.String(), errb.String(), id[1])
	}
}
