package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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

// TestEnvFlags: -e NAME=VALUE and --env-file fill ${env.NAME}; -e wins over the file, the file over the process
// environment; a bad -e or an unreadable file is exit 2.
func TestEnvFlags(t *testing.T) {
	url := startTarget(t)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "env.yaml")
	if err := os.WriteFile(planPath, []byte(`name: env
target: http://127.0.0.1:1
scenarios:
  - steps:
      - {name: user, request: {path: "/api/users/${env.LOADLAB_TEST_UID}"}, check: {status: [200]}}
load: {phases: [{name: p, duration: 1s, rate: 5}]}
thresholds: ["error_rate < 1%"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "test.env")
	if err := os.WriteFile(envFile, []byte("# ids\nexport LOADLAB_TEST_UID=\"99999\"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADLAB_TEST_UID", "88888")
	common := []string{"run", "--metrics-addr", "off", "--store", "off", "--quiet", "--target", url}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"-e wins over the file", []string{"-e", "LOADLAB_TEST_UID=1", "--env-file", envFile}, exitOK},
		{"the file wins over the environment", []string{"--env-file", envFile}, exitError}, // user 99999: every request 404
		{"bad -e", []string{"-e", "NOEQUALS"}, exitUsage},
		{"missing env file", []string{"--env-file", filepath.Join(dir, "none.env")}, exitUsage},
	} {
		var stdout, stderr testenv.SyncBuffer
		args := append(append(append([]string{}, common...), tc.args...), planPath)
		if code := run(args, &stdout, &stderr); code != tc.code {
			t.Errorf("%s: exit %d; want %d\n%s%s", tc.name, code, tc.code, stdout.String(), stderr.String())
		}
	}
	os.Unsetenv("LOADLAB_TEST_UID")
	var stdout, stderr testenv.SyncBuffer
	if code := run([]string{"validate", "-e", "LOADLAB_TEST_UID=3", planPath}, &stdout, &stderr); code != exitOK {
		t.Errorf("validate -e: exit %d\n%s", code, stderr.String())
	}
	if code := run([]string{"validate", planPath}, &stdout, &stderr); code != exitUsage {
		t.Errorf("validate without the variable: exit %d; want %d", code, exitUsage)
	}
}

// TestQuietMetricsLine: --quiet silences the metrics-address line when the address is the one asked for, and keeps
// it when loadgen picked the port (127.0.0.1:0), which nothing else would tell.
func TestQuietMetricsLine(t *testing.T) {
	url := startTarget(t)
	for _, tc := range []struct {
		addr  string
		shown bool
	}{{testenv.FreeAddr(t), false}, {"127.0.0.1:0", true}} {
		var stdout, stderr testenv.SyncBuffer
		args := []string{"run", "--quiet", "--store", "off", "--metrics-addr", tc.addr, "--duration-scale", "0.25", "--target", url,
			writePlan(t, "")}
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		if got := strings.Contains(stderr.String(), "serving metrics on"); got != tc.shown {
			t.Errorf("--quiet --metrics-addr %s: address line printed %v; want %v\n%s", tc.addr, got, tc.shown, stderr.String())
		}
	}
}

// TestBadTargetBlamesTheFlag: a --target that is not a URL is the flag's fault, not the plan's line, with a hint.
func TestBadTargetBlamesTheFlag(t *testing.T) {
	for _, cmd := range []string{"run", "validate", "stress"} {
		var stdout, stderr testenv.SyncBuffer
		if code := run([]string{cmd, "--target", "localhost:9", writePlan(t, "")}, &stdout, &stderr); code != exitUsage {
			t.Fatalf("%s --target localhost:9: exit %d; want %d", cmd, code, exitUsage)
		}
		if want := `--target (or LOADGEN_TARGET) "localhost:9": scheme must be http or https; did you mean http://localhost:9?`; !strings.Contains(stderr.String(), want) || strings.Contains(stderr.String(), "tiny.yaml:") {
			t.Errorf("%s: stderr %q; want %q and no plan line", cmd, stderr.String(), want)
		}
	}
}

// TestHelpExitCodes: each of run, bench, stress and knee lists its own exit codes in -h.
func TestHelpExitCodes(t *testing.T) {
	for cmd, want := range map[string][]string{"run": {"3 thresholds failed"}, "bench": {"3 an endpoint regressed"},
		"stress": {"0 the search COMPLETED", "ERROR"}, "knee": {"0 the search completed", "knee"}} {
		var stdout, stderr testenv.SyncBuffer
		if code := run([]string{cmd, "-h"}, &stdout, &stderr); code != exitOK {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		for _, w := range want {
			if !strings.Contains(stderr.String(), "Exit codes: ") || !strings.Contains(stderr.String(), w) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, w, stderr.String())
			}
		}
	}
	var stdout, stderr testenv.SyncBuffer
	run([]string{"stress", "-h"}, &stdout, &stderr)
	if strings.Contains(stderr.String(), "3 ") && strings.Contains(stderr.String(), "regression") {
		t.Errorf("stress -h lists the benchmark's exit code 3:\n%s", stderr.String())
	}
}

// TestRunTargetMovesKneeMetrics: `loadgen run --target` moves a knee plan's metrics_url when it points at the plan's
// own target, as `loadgen knee --target` does; -e options before --target keep it so.
func TestRunTargetMovesKneeMetrics(t *testing.T) {
	plan := filepath.Join(testenv.RepoRoot(t), "testplans", "knee.yaml")
	for _, typ := range []string{"", "knee"} {
		f := runFlags{target: "http://127.0.0.1:9999", durationScale: 1}
		f.env.vars = envVars{"UNUSED": "1"}
		p, err := loadRunPlan(plan, typ, &f)
		if err != nil {
			t.Fatal(err)
		}
		if p.Knee == nil || p.Knee.MetricsURL != "http://127.0.0.1:9999/metrics" {
			t.Errorf("type %q: knee.metrics_url = %v; want it moved to the --target", typ, p.Knee)
		}
	}
}
