package runner

import (
	"time"

	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/report"
)

// LiveInterval is how often a run publishes a snapshot to Run.Live.
const LiveInterval = 500 * time.Millisecond

// stream publishes a run's live view to Run.Live from its own goroutine: every LiveInterval, one snapshot of the
// engine running now (one per tick, whatever the number of subscribers: the hub fans it out), preceded by a phase
// event for each phase of that engine that began since the last one.
type stream struct {
	stop, done chan struct{}
	last       *engine // the engine of the last snapshot
	phase      int     // the last phase of last announced
}

func (r *Run) startStream() {
	if r.Live == nil {
		return
	}
	st := &stream{stop: make(chan struct{}), done: make(chan struct{}), phase: -1}
	r.stream = st
	r.goSafe("live stream", func() {
		defer close(st.done)
		t := time.NewTicker(LiveInterval)
		defer t.Stop()
		for {
			select {
			case <-st.stop:
				return
			case <-t.C:
				r.publish(st)
			}
		}
	})
}

// stopStream stops the stream once every engine has ended and publishes the final figures.
func (r *Run) stopStream() {
	st := r.stream
	if st == nil {
		return
	}
	close(st.stop)
	<-st.done
	r.publish(st)
}

func (r *Run) publish(st *stream) {
	x := r.cur.Load()
	if x == nil {
		return // no engine yet
	}
	s := x.e.Snapshot()
	if x != st.last {
		st.last, st.phase = x, -1
	}
	for st.phase < s.PhaseIndex && st.phase+1 < len(x.view.phases) {
		st.phase++
		start := 0.0
		for _, p := range x.view.phases[:st.phase] {
			start += p.DurationS
		}
		ph := x.view.phases[st.phase]
		r.publishEvent(live.TypePhase, live.PhaseChange{Engine: x.view.n, Phase: ph.Name, Index: st.phase,
			Of: len(x.view.phases), StartS: start, DurationS: ph.DurationS})
	}
	r.publishEvent(live.TypeSnapshot, x.live(s))
}

func (r *Run) publishEvent(typ string, v any) {
	if err := r.Live.Publish(typ, v); err != nil {
		r.Log.Warn("live stream", "err", err)
	}
}

// thresholdFailed publishes the first failure of a rolling threshold.
func (r *Run) thresholdFailed(f report.Failure) {
	if r.Live == nil {
		return
	}
	a := f.Abort
	r.publishEvent(live.TypeThreshold, live.ThresholdFailure{Expr: r.red.String(a.Expr), Window: a.Window.String(),
		Value: a.Value, Unit: a.Unit, ElapsedS: a.Elapsed.Seconds(), Aborted: f.Aborted,
		Message: r.red.String(f.Message())})
}
