package executor

import (
	"context"
	"time"
)

// MustPlan is mustPlan.
var MustPlan = mustPlan

// RequestFunc returns a func that sends and records one request of e's
// first step, as a worker does, and reports its success (for the benchmarks
// of package executor_test).
func RequestFunc(e *Executor) func() bool {
	e.start = time.Now()
	w, st, ctx := e.newWorker(0), e.steps[0], context.Background()
	return func() bool {
		ok, _ := e.request(ctx, w, st, e.elapsed(), 0)
		return ok
	}
}

// RecordFunc returns a func that records one successful request of e's first
// step (a 3 ms latency, 2 ms service time, 1 ms TTFB).
func RecordFunc(e *Executor) func() {
	o := &outcome{latency: 3 * time.Millisecond, service: 2 * time.Millisecond, status: 200}
	o.tm.TTFB = time.Millisecond
	o.tm.BytesIn, o.tm.BytesOut = 200, 100
	st := e.steps[0]
	return func() { e.record(st, 0, time.Second, o) }
}
