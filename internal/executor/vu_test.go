package executor

import (
	"context"
	"testing"
	"time"
)

// Closed-model VUs think on a timer (no goroutine); the end of the schedule
// and a cancelled run must still stop thinking VUs at once, and multi-step
// iterations must keep their order and think times.
func TestClosedThinkingVUsStop(t *testing.T) {
	tests := []struct {
		name      string
		scenario  string
		duration  string
		cancelAt  time.Duration // 0: let the schedule end
		wantPaths map[string]int
	}{
		{"schedule ends during a long think", `{name: s, think: 30s, steps: [{name: a, request: {path: /a}}]}`,
			"400ms", 0, map[string]int{"/a": 4}},
		{"cancel during a long think", `{name: s, think: 30s, steps: [{name: a, request: {path: /a}}]}`,
			"60s", 400 * time.Millisecond, map[string]int{"/a": 4}},
		{"think between steps, schedule ends before step b", `{name: s, steps: [{name: a, request: {path: /a}, think: 30s}, {name: b, request: {path: /b}}]}`,
			"400ms", 0, map[string]int{"/a": 4}},
		{"no think: steps run back to back", `{name: s, steps: [{name: a, request: {path: /a}}, {name: b, request: {path: /b}, think: 150ms}]}`,
			"400ms", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, url := counterServer(t, 0)
			p := mustPlan(t, url, "\nscenarios: ["+tc.scenario+"]\nload:\n  model: closed\n  phases: [{name: a, duration: "+
				tc.duration+", vus: 4}]\n")
			e, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAt > 0 {
				time.AfterFunc(tc.cancelAt, cancel)
			}
			start := time.Now()
			if err := e.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Run took %v; want thinking VUs stopped within moments of the end (< 5 s)", took)
			}
			res := e.Results()
			c.mu.Lock()
			got := c.byPath
			c.mu.Unlock()
			if tc.wantPaths != nil {
				for path, want := range tc.wantPaths {
					if got[path] != want {
						t.Errorf("requests to %s = %d; want %d (all: %v)", path, got[path], want, got)
					}
				}
				if len(got) != len(tc.wantPaths) {
					t.Errorf("paths hit = %v; want only %v", got, tc.wantPaths)
				}
				if res.Iterations != 4 {
					t.Errorf("iterations = %d; want 4 (one per VU)", res.Iterations)
				}
			} else {
				// a then b (no think), then 150 ms think: 4 VUs x 2-3 iterations in 400 ms
				if got["/a"] < 8 || got["/a"] > 12 || got["/b"] < got["/a"]-4 || got["/b"] > got["/a"] {
					t.Errorf("requests = %v; want /a 8..12 and /b within 4 below /a", got)
				}
			}
			if res.Total.Errors != 0 {
				t.Errorf("errors = %d; want 0", res.Total.Errors)
			}
			if snap := e.Snapshot(); snap.VUs != 0 {
				t.Errorf("VUs after Run = %d; want 0", snap.VUs)
			}
		})
	}
}

// A VU that stops when the VU count drops (ramp down) and is needed again
// later (ramp up) restarts with the same worker, timer and scope.
func TestClosedVUsRestartAfterRampDown(t *testing.T) {
	c, url := counterServer(t, 0)
	p := mustPlan(t, url, `
scenarios: [{name: s, think: 20ms, steps: [{name: hit, request: {path: /}}]}]
load:
  model: closed
  phases:
    - {name: up, duration: 300ms, vus: 3}
    - {name: down, duration: 300ms, vus: 1}
    - {name: again, duration: 300ms, vus: 3}
`)
	_, res, _ := run(t, p)
	if res.Total.Errors != 0 {
		t.Errorf("errors = %d; want 0", res.Total.Errors)
	}
	if got := c.peak.Load(); got > 3 {
		t.Errorf("peak concurrency = %d; want <= 3", got)
	}
	// 3 VUs x ~15 + 1 x ~15 + 3 x ~15 iterations at 20 ms think; generous bounds for a busy box
	if n := c.n.Load(); n < 20 || n > 120 {
		t.Errorf("requests = %d; want 20..120", n)
	}
	if len(res.Phases) != 3 || res.Phases[2].Iterations == 0 {
		t.Errorf("phases = %+v; want 3 phases, iterations in the last", res.Phases)
	}
}
