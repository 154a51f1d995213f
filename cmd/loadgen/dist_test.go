package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/mysqltest"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

// distTarget is the demo target's stand-in for the distributed-run tests: it counts the requests it serves and
// answers /d/K after a latency that depends only on K (${iteration}), so a plan run by one process and by three
// workers sends the same latencies whichever process sends which iteration.
type distTarget struct {
	n   atomic.Int64
	url string
}

// newDistTarget starts a distTarget; with failFirst, it answers 500 to every iteration of worker 0 of 3
// (${iteration} 1, 4, 7, ...).
func newDistTarget(t *testing.T, failFirst ...bool) *distTarget {
	d := &distTarget{}
	fail := len(failFirst) > 0 && failFirst[0]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.n.Add(1)
		k, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/d/"))
		if fail && k%3 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		// 200..799 ms, spread evenly over K: long enough that the box's scheduling noise (a few ms) stays well
		// under 2% of any percentile.
		time.Sleep(time.Duration(200+(k*37)%600) * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	d.url = srv.URL
	return d
}

// distPlan is a load plan of rate iterations per second for dur against /d/${iteration}.
func distPlan(t *testing.T, dur string, rate int, thresholds string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dist.yaml")
	body := fmt.Sprintf(`name: dist
target: http://127.0.0.1:1
scenarios: [{name: s, steps: [{name: d, request: {path: "/d/${iteration}"}, check: {status: [200]}}]}]
load: {model: open, max_in_flight: 400, phases: [{name: steady, duration: %s, rate: %d}]}
thresholds: [%s]
`, dur, rate, thresholds)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// distProc is a loadgen process of the test.
type distProc struct {
	cmd            *exec.Cmd
	stdout, stderr testenv.SyncBuffer
}

func startProc(t *testing.T, bin string, args ...string) *distProc {
	t.Helper()
	p := &distProc{cmd: exec.Command(bin, args...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() }) // by PID, only if still running
	return p
}

// wait returns the process's exit code (failing the test past 90 s).
func (p *distProc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(90 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("%s did not end\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args, " "), p.stdout.String(), p.stderr.String())
		return -1
	}
}

func readSummary(t *testing.T, path string) *report.Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

// TestDistributed runs distributed runs the way a user does: worker processes of `loadgen run --segment I/3`
// sharing a run ID and a MariaDB store, and `loadgen gather`, against a target that counts what it serves. One
// set-up (binary, database) for every case; the cases run side by side.
func TestDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs worker processes")
	}
	bin := testenv.BuildBinary(context.Background(), t, t.TempDir(), "./cmd/loadgen")
	cfg := mysqltest.NewDatabase(t, "loadgen_dist_")
	storeURL := "mysql://" + cfg.FormatDSN()
	common := []string{"--store", storeURL, "--metrics-addr", "off", "--quiet"}

	// Three workers and gather against one target, and one process running the same plan against another target
	// at the same time (the same box's conditions): the target counts exactly the plan's requests; the merged p50
	// and p99 are those of the single process within 2%; "rps < 150" holds on every worker (about 67 req/s each)
	// but not on the merged 201 req/s, so the workers pass and gather fails (exit 3).
	t.Run("merged", func(t *testing.T) {
		t.Parallel()
		const rate, secs = 201, 4 // 804 iterations: 268 to each worker
		plan := distPlan(t, strconv.Itoa(secs)+"s", rate, `"rps < 150", "p99 < 2s"`)
		multi, single := newDistTarget(t), newDistTarget(t)
		dir := t.TempDir()
		one := startProc(t, bin, append([]string{"run", "--target", single.url, "--out-json", filepath.Join(dir, "single.json"), plan},
			common...)...)
		var workers []*distProc
		for i := range 3 {
			workers = append(workers, startProc(t, bin, append([]string{"run", "--target", multi.url, "--segment", fmt.Sprintf("%d/3", i),
				"--run-id", "merged", plan}, common...)...))
		}
		g := startProc(t, bin, append([]string{"gather", "merged", "--segments", "3", "--timeout", "60s", "--out-json",
			filepath.Join(dir, "gathered.json")}, common[:2]...)...)
		for i, w := range workers {
			if code := w.wait(t); code != exitOK {
				t.Errorf("worker %d exited %d, want 0 (rps < 150 holds on its share)\n%s%s", i, code, w.stdout.String(), w.stderr.String())
			}
		}
		if code := g.wait(t); code != exitThreshold {
			t.Errorf("gather exited %d, want %d (rps < 150 fails on the merged figures)\n%s%s", code, exitThreshold, g.stdout.String(), g.stderr.String())
		}
		if code := one.wait(t); code != exitThreshold {
			t.Errorf("single process exited %d, want %d\n%s", code, exitThreshold, one.stderr.String())
		}
		got, want := readSummary(t, filepath.Join(dir, "gathered.json")), readSummary(t, filepath.Join(dir, "single.json"))
		if n := multi.n.Load(); n != rate*secs || got.Requests != rate*secs {
			t.Errorf("target served %d, gather counted %d; want the plan's %d", n, got.Requests, rate*secs)
		}
		if got.Status != store.StatusCompleted || len(got.Workers) != 3 || got.Thresholds[0].OK || !got.Thresholds[1].OK {
			t.Errorf("gathered: status %s, %d workers, thresholds %+v", got.Status, len(got.Workers), got.Thresholds)
		}
		for _, w := range got.Workers {
			if w.Requests != rate*secs/3 || w.Status != store.StatusCompleted {
				t.Errorf("worker %d: %d requests (%s), want %d completed", w.Segment, w.Requests, w.Status, rate*secs/3)
			}
		}
		t.Logf("merged p50 %.2f p99 %.2f ms; single process p50 %.2f p99 %.2f ms; start skew %.1f %.1f %.1f ms",
			got.LatencyMS.P50, got.LatencyMS.P99, want.LatencyMS.P50, want.LatencyMS.P99,
			got.Workers[0].StartSkewMS, got.Workers[1].StartSkewMS, got.Workers[2].StartSkewMS)
		if !within(got.LatencyMS.P50, want.LatencyMS.P50, 0.02) || !within(got.LatencyMS.P99, want.LatencyMS.P99, 0.02) {
			t.Errorf("merged p50 %.2f p99 %.2f ms, single process p50 %.2f p99 %.2f ms: not within 2%%",
				got.LatencyMS.P50, got.LatencyMS.P99, want.LatencyMS.P50, want.LatencyMS.P99)
		}
		// runs show reads the merged run as stored.
		var out, errb testenv.SyncBuffer
		if code := run([]string{"runs", "show", "--store", storeURL, "merged"}, &out, &errb); code != exitOK ||
			!strings.Contains(out.String(), "WORKERS") || !strings.Contains(out.String(), fmt.Sprintf("requests %d", rate*secs)) {
			t.Errorf("runs show merged: exit %d\n%s%s", code, out.String(), errb.String())
		}
	})

	// A worker killed while it runs makes the run partial: gather names it and exits 1.
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		plan := distPlan(t, "4s", 30, "")
		target := newDistTarget(t)
		var workers []*distProc
		for i := range 3 {
			workers = append(workers, startProc(t, bin, append([]string{"run", "--target", target.url, "--segment", fmt.Sprintf("%d/3", i),
				"--run-id", "killed", plan}, common...)...))
		}
		dir := t.TempDir()
		g := startProc(t, bin, append([]string{"gather", "killed", "--segments", "3", "--timeout", "60s", "--out-json",
			filepath.Join(dir, "gathered.json")}, common[:2]...)...)
		deadline := time.Now().Add(30 * time.Second)
		for target.n.Load() < 10 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := workers[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		workers[2].wait(t)
		for i, w := range workers[:2] {
			if code := w.wait(t); code != exitOK {
				t.Errorf("worker %d exited %d, want 0\n%s", i, code, w.stderr.String())
			}
		}
		if code := g.wait(t); code != exitError {
			t.Errorf("gather exited %d, want %d (partial)\n%s%s", code, exitError, g.stdout.String(), g.stderr.String())
		}
		got := readSummary(t, filepath.Join(dir, "gathered.json"))
		if got.Status != store.StatusPartial || !strings.Contains(got.Error, "2 (interrupted)") || got.Workers[2].Status != store.StatusInterrupted {
			t.Errorf("gathered: status %s, error %q, worker 2 %+v; want partial naming segment 2", got.Status, got.Error, got.Workers[2])
		}
		if !strings.Contains(g.stdout.String(), "PARTIAL: segments 2 (interrupted) of 3 did not complete") {
			t.Errorf("gather's summary does not name the partial run:\n%s", g.stdout.String())
		}
	})

	// A worker whose abort_on_fail threshold fails on its own window aborts; the others see it in the store and stop
	// within a few seconds; the merged run is aborted and gather exits 3. A per-step threshold, judged by each worker
	// on its own window (a run-wide error_rate one is the merged window's: every worker could see it fail).
	t.Run("abort", func(t *testing.T) {
		t.Parallel()
		plan := distPlan(t, "40s", 30, `{expr: "step[d].error_rate < 10%", window: 2s, abort_on_fail: true}`)
		target := newDistTarget(t, true)
		start := time.Now()
		var workers []*distProc
		for i := range 3 {
			workers = append(workers, startProc(t, bin, append([]string{"run", "--target", target.url, "--segment", fmt.Sprintf("%d/3", i),
				"--run-id", "abort", plan}, common...)...))
		}
		dir := t.TempDir()
		g := startProc(t, bin, append([]string{"gather", "abort", "--segments", "3", "--timeout", "60s", "--out-json",
			filepath.Join(dir, "gathered.json")}, common[:2]...)...)
		for i, w := range workers {
			code := w.wait(t)
			if want := []int{exitThreshold, exitError, exitError}[i]; code != want {
				t.Errorf("worker %d exited %d, want %d\n%s%s", i, code, want, w.stdout.String(), w.stderr.String())
			}
		}
		// 5 s to start, about 2 s to fail the window, 2 s to see it: far from the plan's 40 s.
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("the workers ended %v after they started; want a few seconds after the abort", el.Round(time.Second))
		}
		if code := g.wait(t); code != exitThreshold {
			t.Errorf("gather exited %d, want %d\n%s%s", code, exitThreshold, g.stdout.String(), g.stderr.String())
		}
		got := readSummary(t, filepath.Join(dir, "gathered.json"))
		if got.Status != store.StatusAborted || !got.Thresholds[0].Aborted {
			t.Errorf("gathered: status %s, thresholds %+v; want aborted by the threshold", got.Status, got.Thresholds)
		}
		for _, w := range got.Workers {
			if w.Status != store.StatusAborted {
				t.Errorf("worker %d: %s (%s), want aborted", w.Segment, w.Status, w.Error)
			}
		}
	})

	// Two workers scraped by the pinned Prometheus as two instances of job loadgen: the sum of their native
	// histograms gives the merged p99 within 5% of gather's (Prometheus keeps a coarser grid than the store), and the
	// sum of their counters the exact count.
	t.Run("prometheus", func(t *testing.T) {
		t.Parallel()
		const rate, secs = 60, 6
		plan := distPlan(t, strconv.Itoa(secs)+"s", rate, "")
		target := newDistTarget(t)
		addrs := []string{testenv.FreeAddr(t), testenv.FreeAddr(t)}
		p := promtest.Start(t, promtest.Config(t, promtest.Target{Job: "loadgen", Addr: addrs[0]}, promtest.Target{Job: "loadgen", Addr: addrs[1]}))
		var workers []*distProc
		for i, addr := range addrs {
			workers = append(workers, startProc(t, bin, "run", "--target", target.url, "--segment", fmt.Sprintf("%d/2", i),
				"--run-id", "prom", "--store", storeURL, "--quiet", "--metrics-addr", addr, "--linger", "6s", plan))
		}
		dir := t.TempDir()
		g := startProc(t, bin, append([]string{"gather", "prom", "--segments", "2", "--timeout", "60s", "--out-json",
			filepath.Join(dir, "gathered.json")}, common[:2]...)...)
		for i, w := range workers {
			if code := w.wait(t); code != exitOK {
				t.Errorf("worker %d exited %d\n%s", i, code, w.stderr.String())
			}
		}
		if code := g.wait(t); code != exitOK {
			t.Fatalf("gather exited %d\n%s%s", code, g.stdout.String(), g.stderr.String())
		}
		got := readSummary(t, filepath.Join(dir, "gathered.json"))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The workers are gone: their last scraped values (stale markers aside) are the run's.
		count, ok1 := p.Scalar(t, ctx, `sum(last_over_time(loadgen_requests_total{job="loadgen"}[2m]))`, time.Time{})
		p99, ok2 := p.Scalar(t, ctx, `histogram_quantile(0.99, sum(last_over_time(loadgen_request_duration_seconds{job="loadgen"}[2m])))`, time.Time{})
		instances, _ := p.Scalar(t, ctx, `count(count by (instance) (last_over_time(loadgen_requests_total{job="loadgen"}[2m])))`, time.Time{})
		t.Logf("Prometheus: %v requests from %v instances, merged p99 %.2f ms; gather: %d requests, p99 %.2f ms",
			count, instances, p99*1000, got.Requests, got.LatencyMS.P99)
		if !ok1 || !ok2 || instances != 2 {
			t.Fatalf("Prometheus has no merged figures of two instances (count %v, p99 %v, instances %v)", ok1, ok2, instances)
		}
		if count != float64(got.Requests) || got.Requests != rate*secs {
			t.Errorf("Prometheus counted %v requests, gather %d; want both %d", count, got.Requests, rate*secs)
		}
		if !within(p99*1000, got.LatencyMS.P99, 0.05) {
			t.Errorf("Prometheus merged p99 %.2f ms, gathered p99 %.2f ms: not within 5%%", p99*1000, got.LatencyMS.P99)
		}
	})

	// A rolling threshold that holds on every worker's own window (30 req/s each) but fails on the merged window
	// (90 req/s), judged from the workers' snapshots in the store: every worker stops within a few seconds, the run
	// is aborted, gather exits 3.
	t.Run("merged-window", func(t *testing.T) {
		t.Parallel()
		plan := distPlan(t, "40s", 90, `{expr: "rps < 60", window: 3s, abort_on_fail: true}`)
		target := newDistTarget(t)
		start := time.Now()
		var workers []*distProc
		for i := range 3 {
			workers = append(workers, startProc(t, bin, append([]string{"run", "--target", target.url, "--segment", fmt.Sprintf("%d/3", i),
				"--run-id", "window", plan}, common...)...))
		}
		dir := t.TempDir()
		g := startProc(t, bin, append([]string{"gather", "window", "--segments", "3", "--timeout", "60s", "--out-json",
			filepath.Join(dir, "gathered.json")}, common[:2]...)...)
		for i, w := range workers {
			if code := w.wait(t); code != exitThreshold && code != exitError {
				t.Errorf("worker %d exited %d, want 3 (it saw the merged window fail) or 1 (another worker did first)\n%s", i, code, w.stderr.String())
			}
		}
		// 5 s to start, 3 s of snapshots for a window, 2 s to read them: far from the plan's 40 s.
		if el := time.Since(start); el > 25*time.Second {
			t.Errorf("the workers ended %v after they started; want a few seconds after the merged window failed", el.Round(time.Second))
		}
		if code := g.wait(t); code != exitThreshold {
			t.Errorf("gather exited %d, want %d\n%s%s", code, exitThreshold, g.stdout.String(), g.stderr.String())
		}
		got := readSummary(t, filepath.Join(dir, "gathered.json"))
		if got.Status != store.StatusAborted || !got.Thresholds[0].Aborted || got.Thresholds[0].OK {
			t.Errorf("gathered: status %s, thresholds %+v; want aborted by the merged window", got.Status, got.Thresholds)
		}
		for _, w := range got.Workers {
			if w.Status != store.StatusAborted {
				t.Errorf("worker %d: %s (%s), want aborted", w.Segment, w.Status, w.Error)
			}
		}
		t.Logf("ended after %v: %s", time.Since(start).Round(100*time.Millisecond), got.Error)
	})

	// Bad uses of --segment are usage errors (exit 2).
	t.Run("flags", func(t *testing.T) {
		t.Parallel()
		plan := distPlan(t, "1s", 1, "")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"run", "--segment", "3/3", "--run-id", "x", plan}, "index \"3\" must be a whole number from 0 to 2"},
			{[]string{"run", "--segment", "0/3", plan}, "--segment needs --run-id"},
			{[]string{"run", "--segment", "auto/3", "--run-id", "x", plan}, "JOB_COMPLETION_INDEX is not set"},
			{[]string{"run", "--segment", "0/2", "--run-id", "x", "--start-at", "soon", plan}, "--start-at \"soon\": want RFC 3339"},
			{[]string{"bench", "--segment", "0/2", "--run-id", "x", plan}, "only load plans run as segments"},
		} {
			var out, errb testenv.SyncBuffer
			if code := run(append(tc.args, "--store", "off", "--metrics-addr", "off"), &out, &errb); code != exitUsage ||
				!strings.Contains(errb.String(), tc.want) {
				t.Errorf("loadgen %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, errb.String(), exitUsage, tc.want)
			}
		}
	})
}
