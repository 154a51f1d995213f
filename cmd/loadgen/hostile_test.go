package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

// hostileRSSLimit is the peak RSS a `loadgen run` with 50 requests in flight
// must stay under, whatever the target sends (BENCHMARKS.md, "Hostile targets").
const hostileRSSLimit = 100e6

// TestHostileTargetMemory runs the loadgen binary, 50 virtual users without
// think time, against the worst memory cases of the hostile server: an
// endless chunked body, 32 MiB bodies and an absurd Content-Length trickled,
// each step with a body check so that max_body (1 MiB) of every body is kept.
// The process's peak RSS must stay under 100 MB, and every request must end
// with the expected reason. Before bounded bodies, the endless body alone took
// a run like this to gigabytes, and the absurd length panicked at once.
func TestHostileTargetMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	srv, err := hostile.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	bin := testenv.BuildBinary(context.Background(), t, t.TempDir(), "./cmd/loadgen")
	dir := t.TempDir()
	planPath := filepath.Join(dir, "hostile.yaml")
	if err := os.WriteFile(planPath, []byte(`name: hostile
target: `+srv.URL()+`
defaults: {timeout: 1s}
scenarios:
  - name: s
    steps:
      - name: endless
        request: {path: /chunked-endless}
        check: {body_contains: zzz}
      - name: big
        request: {path: /big-chunked/33554432}
        check: {body_contains: zzz}
      - name: trickle
        request: {path: /cl-absurd-trickle}
        check: {body_contains: zzz}
load:
  model: closed
  phases: [{name: a, duration: 4s, vus: 50}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "summary.json")
	var stdout, stderr testenv.SyncBuffer
	cmd := exec.Command(bin, "run", "--store", "off", "--metrics-addr", "off", "--quiet", "--out-json", out, planPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child's peak RSS is its VmHWM, sampled until it exits. (Its rusage
	// Maxrss would not do: Linux starts it at this test process's own peak,
	// recorded when the child execs from a clone of this process.)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if kb := vmHWM(cmd.Process.Pid); kb<<10 > peak {
			peak = kb << 10
		}
		select {
		case err = <-done:
			break wait
		case <-tick.C:
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != exitError && code != exitOK {
		t.Fatalf("loadgen run: %v (exit %d); want 0 or 1 (the run failed its requests, not the process)\nstdout:\n%s\nstderr:\n%s",
			err, code, stdout.String(), stderr.String())
	}
	if peak == 0 {
		t.Fatal("could not read the child's VmHWM from /proc")
	}
	t.Logf("peak RSS %.1f MB", float64(peak)/1e6)
	if float64(peak) >= hostileRSSLimit {
		t.Errorf("peak RSS %.1f MB; want under %.0f MB with 50 requests in flight against hostile bodies", float64(peak)/1e6, hostileRSSLimit/1e6)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("summary: %v\nstderr:\n%s", err, stderr.String())
	}
	var sum report.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"endless": "timeout", "big": "check", "trickle": "timeout"}
	for _, st := range sum.Steps {
		reason, ok := want[st.Step]
		if !ok {
			continue
		}
		delete(want, st.Step)
		// big: a 32 MiB body may not finish within 1 s on a busy box, so every one may time out (seen in CI with
		// other jobs on the box); it must never pass or fail with any other reason. The other two can only time out.
		if st.Requests == 0 || st.Errors != st.Requests || (reason == "timeout" && st.ErrorsByReason[reason] != st.Requests) ||
			st.Errors != st.ErrorsByReason["check"]+st.ErrorsByReason["timeout"] {
			t.Errorf("step %s: %d requests, errors %v; want every one failed with reason %s (big: check or timeout)", st.Step, st.Requests, st.ErrorsByReason, reason)
		}
	}
	if len(want) > 0 {
		t.Errorf("steps missing from the summary: %v", want)
	}
}

// vmHWM returns the peak resident set size (KiB) of process pid from
// /proc/PID/status, or 0 when it cannot be read (the process is gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
