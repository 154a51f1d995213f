package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

// hostileRSSLimit is the peak RSS a `loadgen run` with 50 requests in flight
// must stay under, whatever the target sends (BENCHMARKS.md, "Hostile targets").
const hostileRSSLimit = 100 << 20

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
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitError && code != exitOK {
		t.Fatalf("loadgen run: %v (exit %d); want 0 or 1 (the run failed its requests, not the process)\nstdout:\n%s\nstderr:\n%s",
			err, code, stdout.String(), stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("no rusage for the child process")
	}
	peak := ru.Maxrss << 10 // KiB on Linux
	t.Logf("peak RSS %.1f MB", float64(peak)/1e6)
	if peak >= hostileRSSLimit {
		t.Errorf("peak RSS %.1f MB; want under %.0f MB with 50 requests in flight against hostile bodies", float64(peak)/1e6, float64(hostileRSSLimit)/1e6)
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
		// big: a 32 MiB body may not finish within 1 s on a busy box (timeout); it must never pass or be anything else.
		if st.Requests == 0 || st.ErrorsByReason[reason] == 0 || st.Errors != st.ErrorsByReason["check"]+st.ErrorsByReason["timeout"] {
			t.Errorf("step %s: %d requests, errors %v; want every one failed, mostly with reason %s", st.Step, st.Requests, st.ErrorsByReason, reason)
		}
	}
	if len(want) > 0 {
		t.Errorf("steps missing from the summary: %v", want)
	}
}
