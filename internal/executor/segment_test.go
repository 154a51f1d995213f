package executor

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSegmentsRunThePlanOnce runs three segments of a plan (one after the
// other: the shares do not depend on timing) and checks that together they
// send exactly the plan's requests, each data row once, with distinct
// ${iteration} numbers.
func TestSegmentsRunThePlanOnce(t *testing.T) {
	c, url := counterServer(t, 0)
	var rows []string
	for i := range 31 {
		rows = append(rows, fmt.Sprintf("[u%d]", i))
	}
	// 31 iterations (a rate 3 does not divide), 31 rows: each row used once.
	p := mustPlan(t, url, `
data: {users: {columns: [name], rows: [`+strings.Join(rows, ", ")+`]}}
scenarios: [{name: s, steps: [{name: hit, request: {path: "/${users.name}/${iteration}"}}]}]
load: {model: open, phases: [{name: p, duration: 1s, rate: 31}]}
`)
	total := uint64(0)
	for i := range 3 {
		_, res, _ := run(t, p, WithSegment(i, 3))
		if want := []uint64{11, 10, 10}[i]; res.Total.Requests != want {
			t.Errorf("segment %d/3 sent %d requests, want %d", i, res.Total.Requests, want)
		}
		total += res.Total.Requests
	}
	if total != 31 || c.n.Load() != 31 {
		t.Errorf("segments sent %d, server counted %d, want 31", total, c.n.Load())
	}
	users, iters := map[string]int{}, map[string]int{}
	for path, n := range c.byPath {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		users[parts[0]] += n
		iters[parts[1]] += n
	}
	if len(users) != 31 || len(iters) != 31 {
		t.Errorf("%d distinct rows and %d distinct iteration numbers, want 31 each: %v", len(users), len(iters), c.byPath)
	}
}

func TestSegmentErrors(t *testing.T) {
	_, url := counterServer(t, 0)
	p := mustPlan(t, url, `
data: {users: {columns: [name], rows: [[a], [b]]}}
scenarios: [{name: s, steps: [{name: hit, request: {path: "/${users.name}"}}]}]
load: {model: open, phases: [{name: p, duration: 1s, rate: 3}]}
`)
	for _, tc := range []struct {
		i, n int
		want string
	}{
		{3, 3, "want 0 <= I < N"},
		{0, 3, "data users has 2 rows, fewer than the 3 segments"},
	} {
		if _, err := New(p, WithSegment(tc.i, tc.n)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with segment %d/%d: %v, want %q", tc.i, tc.n, err, tc.want)
		}
	}
}

// TestSegmentsNumberVUsAcrossGenerators: the closed model's ${vu} of every
// segment is the run's own VU number, so two generators never send as the
// same virtual user: 5 VUs split 3/2 give ${vu} 0..4 once each.
func TestSegmentsNumberVUsAcrossGenerators(t *testing.T) {
	c, url := counterServer(t, 20*time.Millisecond)
	p := mustPlan(t, url, `
scenarios: [{name: s, steps: [{name: hit, request: {path: "/${vu}"}}]}]
load: {model: closed, phases: [{name: p, duration: 300ms, vus: 5}]}
`)
	for i := range 2 {
		run(t, p, WithSegment(i, 2))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byPath) != 5 {
		t.Errorf("the two segments sent as %d distinct VUs, want the plan's 5: %v", len(c.byPath), c.byPath)
	}
}
