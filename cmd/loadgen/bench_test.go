package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
)

const modeBenchPlan = `name: cli-bench
type: benchmark
target: http://127.0.0.1:1
benchmark:
  warmup: 5
  requests: 120
  concurrency: [2]
  tolerance: 20%
  endpoints:
    - name: team
      request: {path: /api/teams/1}
      check: {status: [200]}
`

func modeTarget(t *testing.T, service time.Duration) string {
	t.Helper()
	srv, err := target.New(target.FixedServiceConfig(4, 64, service), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestBenchCmd: `loadgen bench` stores a baseline (exit 0), then against a 60% slower target reports the
// regression with exit code 3 and writes --out-json.
func TestBenchCmd(t *testing.T) {
	dir := t.TempDir()
	planPath := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(planPath, []byte(modeBenchPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	storeURL := "sqlite://" + filepath.Join(dir, "loadgen.db")
	bench := func(url string, extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", planPath, "--target", url, "--store", storeURL}, extra...)
		code := run(args, &stdout, &stderr)
		t.Logf("loadgen %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		return code, stdout.String(), stderr.String()
	}
	code, out, _ := bench(modeTarget(t, 10*time.Millisecond))
	if code != exitOK || !strings.Contains(out, "GET /api/teams/1 [team] c=2 p50=") ||
		!strings.Contains(out, "no baseline") || !strings.Contains(out, "STORE   sqlite://") {
		t.Fatalf("first bench: exit %d; want 0 with a result line, no baseline, stored", code)
	}
	jsonPath := filepath.Join(dir, "out.json")
	code, out, _ = bench(modeTarget(t, 16*time.Millisecond), "--out-json", jsonPath)
	if code != exitThreshold || !strings.Contains(out, "REGRESSION") {
		t.Fatalf("bench against a slower target: exit %d; want %d and REGRESSION", code, exitThreshold)
	}
	var rep struct {
		Type       string `json:"type"`
		Status     string `json:"status"`
		Regression bool   `json:"regression"`
		Endpoints  []struct {
			Endpoint string `json:"endpoint"`
			Verdict  struct {
				Change string `json:"change"`
			} `json:"verdict"`
		} `json:"endpoints"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--out-json: %v\n%s", err, b)
	}
	if rep.Type != "benchmark" || rep.Status != "completed" || !rep.Regression || len(rep.Endpoints) != 1 ||
		rep.Endpoints[0].Verdict.Change != "regression" {
		t.Errorf("--out-json = %+v; want a completed benchmark with one regressed endpoint", rep)
	}
}

func TestModeCmdUsage(t *testing.T) {
	dir := t.TempDir()
	planPath := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(planPath, []byte(modeBenchPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"no plan", []string{"stress"}, exitUsage, "want exactly one plan file"},
		{"two plans", []string{"knee", planPath, planPath}, exitUsage, "want exactly one plan file"},
		{"missing file", []string{"bench", filepath.Join(dir, "nope.yaml")}, exitUsage, "nope.yaml"},
		{"baseline without a store", []string{"bench", planPath, "--store", "off", "--baseline", "x"}, exitUsage,
			"--baseline needs a store"},
		{"unknown flag", []string{"knee", "--nope", planPath}, exitUsage, "flag provided but not defined"},
		{"help", []string{"bench", "-h"}, exitOK, "usage: loadgen bench"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.want || !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("loadgen %v = %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.want, tc.msg)
			}
		})
	}
}

// deadTargetStressPlan writes a small stress plan named name and returns its
// path and the URL of a target that no longer listens.
func deadTargetStressPlan(t *testing.T, name string) (planPath, dead string) {
	t.Helper()
	planPath = filepath.Join(t.TempDir(), "stress.yaml")
	plan := `name: ` + name + `
type: stress
target: http://127.0.0.1:1
scenarios:
  - steps:
      - request: {path: /api/health}
stress: {start_rate: 20, probe_duration: 200ms, cooldown: 0s}
`
	if err := os.WriteFile(planPath, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nil)
	dead = srv.URL
	srv.Close()
	return planPath, dead
}

// TestStressCmdUnreachable: `loadgen stress` against a dead target ends in ERROR with exit code 1.
func TestStressCmdUnreachable(t *testing.T) {
	planPath, dead := deadTargetStressPlan(t, "cli-stress")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	xmlPath := filepath.Join(t.TempDir(), "stress.xml")
	code := runCmd(ctx, "stress", plan.TypeStress, []string{planPath, "--target", dead, "--store", "off", "--out-junit", xmlPath},
		&stdout, &stderr)
	if code != exitError || !strings.Contains(stdout.String(), "ERROR: target unreachable") {
		t.Errorf("stress against a dead target: exit %d\n%s%s; want %d and ERROR: target unreachable", code,
			stdout.String(), stderr.String(), exitError)
	}
	// --out-junit: one failed status case, whatever the kind of run
	b, err := os.ReadFile(xmlPath)
	if err != nil || !strings.Contains(string(b), `<testcase name="status" classname="loadgen.cli-stress"`) ||
		!strings.Contains(string(b), `<failure message="run failed" type="failed">target unreachable`) {
		t.Errorf("--out-junit = %s (%v); want the status case failed with the reason", b, err)
	}
}

// TestRunDispatchesModes: `loadgen run` on a plan of type stress runs the stress mode (a dead target ends in ERROR
// with exit code 1) instead of failing for want of load phases.
func TestRunDispatchesModes(t *testing.T) {
	planPath, dead := deadTargetStressPlan(t, "run-stress")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runCmd(ctx, "run", "", []string{"--target", dead, "--store", "off", "--metrics-addr", "off", planPath}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stdout.String(), "ERROR: target unreachable") {
		t.Errorf("loadgen run on a stress plan against a dead target: exit %d\n%s%s; want %d and ERROR: target unreachable",
			code, stdout.String(), stderr.String(), exitError)
	}
}

// TestModeStoreDownSpools: a benchmark whose store is unreachable still runs to the end (exit 0); its records are
// spooled to the default spool directory for the next start, and the output says so, loudly on stderr with the
// spool file's path; with --store-required the same run exits 1.
func TestModeStoreDownSpools(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // the spool goes to $XDG_DATA_HOME/loadlab/spool
	planPath := "bench.yaml"
	if err := os.WriteFile(planPath, []byte(modeBenchPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deadStore := "mysql://root@tcp(" + testenv.FreeAddr(t) + ")/test?parseTime=true"
	code := runCmd(ctx, "bench", plan.TypeBenchmark, []string{planPath, "--target", modeTarget(t, 2*time.Millisecond), "--store", deadStore},
		&stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "written at the next start") {
		t.Fatalf("bench with the store down: exit %d\n%s%s; want %d and the spool message", code, stdout.String(),
			stderr.String(), exitOK)
	}
	spool := store.SpoolDirFor(deadStore) // the dead store's own spool directory
	files, err := filepath.Glob(filepath.Join(spool, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("spool files = %v, %v; want at least one in %s", files, err, spool)
	}
	if !strings.Contains(stderr.String(), "WARNING: run ") || !strings.Contains(stderr.String(), spool) {
		t.Errorf("stderr lacks the warning naming the spool %s:\n%s", spool, stderr.String())
	}
	// Another store never takes records spooled for this one: they stay for the store they were meant for.
	stdout.Reset()
	stderr.Reset()
	other := "sqlite://" + filepath.Join(t.TempDir(), "other.db")
	if code := runsCmd(ctx, []string{"list", "--store", other}, &stdout, &stderr); code != exitOK {
		t.Fatalf("runs list --store %s: exit %d\n%s", other, code, stderr.String())
	}
	if strings.Contains(stdout.String(), "bench") || strings.Contains(stderr.String(), "wrote") {
		t.Errorf("runs list on another store wrote the dead store's spooled records into it:\n%s%s", stdout.String(), stderr.String())
	}
	if after, _ := filepath.Glob(filepath.Join(spool, "*.jsonl")); len(after) != len(files) {
		t.Errorf("spool files after runs list on another store: %v; want %v kept", after, files)
	}
	stdout.Reset()
	stderr.Reset()
	code = runCmd(ctx, "bench", plan.TypeBenchmark, []string{planPath, "--target", modeTarget(t, 2*time.Millisecond), "--store", deadStore,
		"--store-required"}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "Exit 1: --store-required") {
		t.Errorf("bench --store-required with the store down: exit %d; want %d\n%s", code, exitError, stderr.String())
	}
}
