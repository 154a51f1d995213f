package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/pacer"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
)

// breakStep makes step j of scenario 0 panic when a worker renders its
// request: a compiled header without a template (a plan built in Go by
// mistake) is a nil pointer dereference on the hot path.
func breakStep(p *plan.Plan, j int) {
	cr := *p.Scenarios[0].Steps[j].Request.Compiled
	cr.Headers = append(append([]plan.HeaderTemplate(nil), cr.Headers...), plan.HeaderTemplate{Name: "X-Broken"})
	p.Scenarios[0].Steps[j].Request.Compiled = &cr
}

// runPanicking runs p, which must panic, and returns the panic and how long
// Run took. The run lasts a minute unless the panic stops it: a Run that is
// still going after 20 s has hung.
func runPanicking(t *testing.T, p *plan.Plan, opts ...Option) (*Executor, *panics.Error, time.Duration) {
	t.Helper()
	e, err := New(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = e.Run(ctx)
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("Run did not end after the panic (returned %v after %v)", err, took)
	}
	pe := panics.As(err)
	if pe == nil {
		t.Fatalf("Run = %v; want a *panics.Error", err)
	}
	if s := e.Snapshot(); s.InFlight != 0 || s.VUs != 0 || s.Running {
		t.Errorf("after the panic: in flight %d, busy %d, running %v; want 0, 0, false", s.InFlight, s.VUs, s.Running)
	}
	return e, pe, took
}

const twoSteps = `
scenarios:
  - name: s
    steps:
      - {name: ok, request: {path: /ok}}
      - {name: broken, request: {path: /broken}}
`

func TestPanicOpenWorker(t *testing.T) {
	c, url := counterServer(t, 0)
	p := mustPlan(t, url, twoSteps+"load: {model: open, phases: [{name: a, duration: 1m, rate: 50}]}\n")
	breakStep(p, 1)
	e, pe, _ := runPanicking(t, p)
	if pe.Where != "executor worker" || !strings.Contains(pe.Error(), "nil pointer dereference") {
		t.Errorf("panic = %q (in %q); want a nil pointer dereference in an executor worker", pe.Error(), pe.Where)
	}
	if !strings.Contains(string(pe.Stack), "(*Executor).request") {
		t.Errorf("the stack does not show where it panicked:\n%s", pe.Stack)
	}
	// What was measured before the panic is kept.
	if got := e.Results().Steps[0].Requests; got == 0 || int64(got) != c.n.Load() {
		t.Errorf("first step: %d requests recorded, %d answered; want the same, > 0", got, c.n.Load())
	}
}

func TestPanicClosedVU(t *testing.T) {
	_, url := counterServer(t, 0)
	p := mustPlan(t, url, twoSteps+"load: {model: closed, phases: [{name: a, duration: 1m, vus: 20}]}\n")
	breakStep(p, 1)
	_, pe, _ := runPanicking(t, p)
	if pe.Where != "virtual user" {
		t.Errorf("panic in %q; want virtual user", pe.Where)
	}
}

// TestPanicThinkCallback: the broken step runs after a think time, on the
// think timer's goroutine (vu.wake).
func TestPanicThinkCallback(t *testing.T) {
	_, url := counterServer(t, 0)
	p := mustPlan(t, url, `
scenarios:
  - name: s
    think: 20ms
    steps:
      - {name: ok, request: {path: /ok}}
      - {name: broken, request: {path: /broken}}
load: {model: closed, phases: [{name: a, duration: 1m, vus: 50}]}
`)
	breakStep(p, 1)
	_, pe, _ := runPanicking(t, p)
	if pe.Where != "virtual user" || !strings.Contains(string(pe.Stack), "(*vu).wake") {
		t.Errorf("panic in %q; want a virtual user's think callback (vu.wake), stack:\n%s", pe.Where, pe.Stack)
	}
}

func TestPanicHousekeeping(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: a, duration: 1m, rate: 20}]}")
	_, pe, _ := runPanicking(t, p, WithOnPhase(func(string) { panic("onPhase failed") }))
	if pe.Where != "executor housekeeping" || pe.Value != "onPhase failed" {
		t.Errorf("panic = %q in %q; want onPhase failed in executor housekeeping", pe.Value, pe.Where)
	}
}

// panicSchedule panics at its fifth iteration.
type panicSchedule struct{ pacer.Schedule }

func (ps panicSchedule) At(k uint64) (time.Duration, int, bool) {
	if k >= 5 {
		panic("pacer failed")
	}
	return ps.Schedule.At(k)
}

func TestPanicPacer(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: a, duration: 1m, rate: 100}]}")
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	e.sched = panicSchedule{e.sched}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if pe := panics.As(err); ctx.Err() != nil || pe == nil || pe.Where != "executor pacer" {
		t.Fatalf("Run = %v (ctx %v); want the pacer's panic, promptly", err, ctx.Err())
	}
	if got := e.Results().Total.Requests; got > 5 {
		t.Errorf("%d requests recorded; want at most the 5 paced before the panic", got)
	}
}

// TestNewClampsPlanNumbers: a plan built in Go skips validation; the
// executor must not size anything from its numbers.
func TestNewClampsPlanNumbers(t *testing.T) {
	_, p := hitPlan(t, 0, "load: {model: open, phases: [{name: a, duration: 1s, rate: 10}]}")
	p.Load.MaxInFlight = 1 << 50 // make(chan slot, 1<<50) would panic
	huge := 1e19
	p.Load.Phases[0].To = &huge
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if e.maxInFlight != plan.MaxInFlight {
		t.Errorf("maxInFlight = %d; want the plan limit %d", e.maxInFlight, plan.MaxInFlight)
	}
	e.SetRate(1e300)
	if got := e.rateOv.Load(); got == 0 {
		t.Error("SetRate(1e300) was dropped")
	}
	e.SetVUs(1 << 40)
	if got := e.vusOv.Load(); got != plan.MaxVUs {
		t.Errorf("SetVUs(1<<40) = %d; want the plan limit %d", got, plan.MaxVUs)
	}

	_, cp := hitPlan(t, 0, "load: {model: closed, phases: [{name: a, duration: 1s, vus: 1, to: 5}]}")
	cp.Load.Phases[0].To = &huge // the VU count must not overflow to a negative one
	ce, err := New(cp)
	if err != nil {
		t.Fatal(err)
	}
	if got := ce.sched.VUs(time.Second - time.Microsecond); got < plan.MaxVUs-1 || got > plan.MaxVUs {
		t.Errorf("VUs at the end of a ramp to 1e19 = %d; want the plan limit %d", got, plan.MaxVUs)
	}

	cp.Load.Phases[0].Duration = plan.D(plan.MaxDuration + time.Hour)
	cp.Load.Phases = append(cp.Load.Phases, cp.Load.Phases[0])
	if _, err := New(cp); err == nil {
		t.Error("New accepted a load longer than plan.MaxDuration")
	}
}
