package executor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLiveCallsDuringStart: Snapshot, Window and StepWindows may be called from
// other goroutines while Run is starting (the control API and the modes poll
// them); under -race this catches an unpublished start time.
func TestLiveCallsDuringStart(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: p, duration: 300ms, rate: 50}]}")
	e, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				e.Snapshot()
				e.Window(time.Second)
				e.StepWindows(time.Second)
			}
		}()
	}
	time.Sleep(5 * time.Millisecond) // pollers running before Run starts
	_, res, _ := run(t, p)           // a second executor: baseline that the plan runs
	if err := e.Run(t.Context()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	if got, want := e.Results().Total.Requests, res.Total.Requests; got != want {
		t.Errorf("requests = %d; want %d (same plan, exact pacer counts)", got, want)
	}
	if s := e.Snapshot(); s.Running || s.Elapsed < 300*time.Millisecond {
		t.Errorf("Snapshot after Run = running %v, elapsed %v; want stopped, >= 300ms", s.Running, s.Elapsed)
	}
}

// TestLiveCallsAllocationFree: Snapshot and WindowCounts are polled every second for a whole run (runner, control
// API); they must leave no garbage, or a long run's memory creeps up (the 10-minute soak in BENCHMARKS.md).
func TestLiveCallsAllocationFree(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: p, duration: 1200ms, rate: 50}]}")
	e, _, _ := run(t, p)
	if s := e.Snapshot(); s.Requests == 0 || s.P99 == 0 {
		t.Fatalf("Snapshot after a run = %+v; want requests and a p99", s)
	}
	if a := testing.AllocsPerRun(20, func() { e.Snapshot() }); a != 0 {
		t.Errorf("Snapshot allocates %v times per call; want 0", a)
	}
	if a := testing.AllocsPerRun(20, func() { e.WindowCounts(2 * time.Second) }); a != 0 {
		t.Errorf("WindowCounts allocates %v times per call; want 0", a)
	}
	if w, c := e.Window(2*time.Second), e.WindowCounts(2*time.Second); w.Requests != c.Requests || c.Latency != nil {
		t.Errorf("WindowCounts = %d requests (latency %v); want Window's %d and no histogram", c.Requests, c.Latency, w.Requests)
	}
}
