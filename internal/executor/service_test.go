package executor

import (
	"fmt"
	"testing"
	"time"
)

// TestServiceWindow: Snapshot's service-time percentiles cover the live window (the cumulative histogram minus the
// mark at the window's first second), not the whole run, and fall back to the whole run when no mark exists.
func TestServiceWindow(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: p, duration: 100ms, rate: 10}]}")
	e, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	svc := e.steps[0].cell.svc
	e.markService(0)
	for range 1000 { // seconds 0-4: fast
		svc.Record(2 * time.Millisecond)
	}
	e.markService(5)
	for range 100 { // from second 5 on: slow
		svc.Record(40 * time.Millisecond)
	}
	for _, tc := range []struct {
		from         int64
		wantP50, p99 time.Duration
	}{
		{5, 40 * time.Millisecond, 40 * time.Millisecond}, // the window starts at the mark: only the slow part
		{0, 2 * time.Millisecond, 40 * time.Millisecond},  // the whole run
		{3, 2 * time.Millisecond, 40 * time.Millisecond},  // no mark for second 3: the whole run
	} {
		var s Snapshot
		e.serviceWindow(tc.from, &s)
		if !near(s.ServiceP50, tc.wantP50) || !near(s.ServiceP99, tc.p99) {
			t.Errorf("serviceWindow(from %d) = p50 %v p99 %v; want %v, %v", tc.from, s.ServiceP50, s.ServiceP99,
				tc.wantP50, tc.p99)
		}
	}
}

func near(got, want time.Duration) bool {
	d := got - want
	return d >= -want/100 && d <= want/100
}

// BenchmarkServiceWindow is the cost the service-time window adds per second of a run with 10 steps: housekeep's
// mark (once a second) and one Snapshot's window (the runner polls once a second). Off the request path.
func BenchmarkServiceWindow(b *testing.B) {
	steps := ""
	for i := range 10 {
		steps += fmt.Sprintf("{name: s%d, request: {path: /}},", i)
	}
	p := mustPlan(b, "http://127.0.0.1:1", "\nscenarios: [{name: s, steps: ["+steps+"]}]\n"+
		"load: {model: open, phases: [{name: p, duration: 1s, rate: 1}]}")
	e, err := New(p)
	if err != nil {
		b.Fatal(err)
	}
	for i, st := range e.steps {
		for j := range 2000 {
			st.cell.svc.Record(time.Duration(1+i+j%300) * time.Millisecond)
		}
	}
	e.markService(0)
	var s Snapshot
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e.markService(int64(i + 1))
		e.serviceWindow(int64(i), &s)
	}
}
