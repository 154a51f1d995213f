package executor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadlab/loadlab/internal/panics"
)

// vu is one closed-model virtual user. It runs on a goroutine only while it
// sends requests: a think time is a timer (time.AfterFunc) whose callback
// continues the VU on a new goroutine, so a thinking VU holds no goroutine
// stack (about 4 KB) and no channel waiters, only this struct, its worker
// and its timer. With 10,000 VUs thinking 1 s that is most of them at any
// moment.
//
// Ownership: the VU's fields belong to whoever runs it: its goroutine, or,
// while it thinks, the party whose timer.Stop returned true (the schedule's
// end sweeps sleeping VUs that way) or the timer callback.
//
// Each of those entry points (start's goroutine, wake, stopThinking) defers
// panics.Recover with v.recovered: a panic stops the run (Executor.fail) and
// the VU exits, so Run's wait group never waits for it.
type vu struct {
	e      *Executor
	ctx    context.Context
	wg     *sync.WaitGroup
	id     int
	alive  atomic.Bool
	w      *worker
	timer  *time.Timer   // think time (nil when the plan has none); set once in newVU
	handed atomic.Uint32 // bumped before arming the timer: orders the VU's writes before whoever continues it
	total  time.Duration
	sc     *scenRec // iteration in progress (nil: between iterations)
	step   int      // next step of sc
	phase  int32
	due    time.Duration // when the next request is due (elapsed run time)
	failed bool
}

func (e *Executor) newVU(ctx context.Context, wg *sync.WaitGroup, id int, total time.Duration) *vu {
	v := &vu{e: e, ctx: ctx, wg: wg, id: id, w: e.newWorker(id), total: total}
	if e.thinks {
		v.timer = time.AfterFunc(time.Hour, v.wake)
		v.timer.Stop()
	}
	return v
}

// start launches the VU (alive must have been set and wg incremented).
func (v *vu) start() {
	v.e.busy.Add(1)
	v.due = v.e.elapsed()
	v.sc = nil
	go func() {
		defer panics.Recover(whereVU, v.recovered)
		v.run()
	}()
}

const whereVU = "virtual user"

// recovered handles a panic of the VU's code: the panicking party owned the
// VU and it had not exited (exit is the last thing a VU does), so it exits
// now, after stopping the run.
func (v *vu) recovered(pe *panics.Error) {
	v.e.fail(pe)
	v.exit()
}

// run sends the VU's requests until it has to think (the timer then
// continues it) or stops.
func (v *vu) run() {
	e := v.e
	for {
		if v.sc == nil {
			if v.ctx.Err() != nil || v.due >= v.total || int64(v.id) >= e.vusTarget.Load() {
				v.exit()
				return
			}
			ph := e.sched.Phase(v.due)
			if ph < 0 {
				v.exit()
				return
			}
			v.phase = int32(ph)
			v.sc = e.beginIteration(v.w, v.phase)
			v.step, v.failed = 0, false
		}
		if v.step >= len(v.sc.steps) {
			v.endIteration()
			continue
		}
		// The closed model stops at the end of the schedule.
		if v.step > 0 && (v.ctx.Err() != nil || e.scheduleEnded()) {
			v.due = e.elapsed()
			v.endIteration()
			continue
		}
		st := v.sc.steps[v.step]
		if v.failed && v.sc.stop(st, v.w.scope) {
			for _, rest := range v.sc.steps[v.step:] { // not sent: counted as skipped
				rest.skipped.Add(1)
			}
			v.endIteration()
			continue
		}
		ok, end := e.request(v.ctx, v.w, st, v.due, v.phase)
		if !ok {
			v.failed = true
		}
		v.due = end
		v.step++
		if d := v.w.think(st); d > 0 {
			v.handed.Add(1)
			v.timer.Reset(d)
			// The schedule may have ended before the timer was armed, after
			// the sweep that stops thinking VUs: take the VU back then.
			if (v.ctx.Err() != nil || e.scheduleEnded()) && v.timer.Stop() {
				v.interrupt()
			}
			return
		}
	}
}

// wake is the think timer's callback (on its own goroutine).
func (v *vu) wake() {
	defer panics.Recover(whereVU, v.recovered)
	v.handed.Load()
	v.due = v.e.elapsed()
	v.run()
}

// interrupt ends a think time cut short by the end of the schedule (or a
// cancelled run), on the caller's goroutine: the iteration ends there and
// the VU stops, as its next iteration check fails.
func (v *vu) interrupt() {
	v.handed.Load()
	v.due = v.e.elapsed()
	v.endIteration()
	v.run()
}

func (v *vu) endIteration() {
	v.e.endIteration(v.sc, v.failed)
	v.sc = nil
}

func (v *vu) exit() {
	v.w.sess.Close() // its per_vu connections; a VU started again dials anew
	v.e.busy.Add(-1)
	v.alive.Store(false)
	v.wg.Done()
}

// stopThinking interrupts v if it is thinking: called by runClosed once the
// schedule has ended (vusTarget 0, endCh closed), so the VU stops now
// instead of after its think time.
func (v *vu) stopThinking() {
	defer panics.Recover(whereVU, v.recovered)
	if v.timer != nil && v.timer.Stop() {
		v.interrupt()
	}
}
