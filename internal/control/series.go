package control

import (
	"sync"

	"github.com/loadlab/loadlab/internal/metrics"
)

// stepSeries keeps serve's per-step series bounded: every engine records
// into one shared *metrics.Metrics, so without it each plan ever run would
// leave its {scenario,step} series behind for the life of the process.
// When a run starts, the series of steps that belonged only to runs that
// have finished are deleted; a step an active run (or the starting one) uses
// is never deleted. The last finished run's series therefore stay until the
// next run starts, so a scrape after a run ends still sees its final values.
type stepSeries struct {
	mu       sync.Mutex
	active   map[string][]metrics.StepKey // run ID -> its steps
	finished map[metrics.StepKey]bool     // steps of runs that ended since the last start
}

// started records run id's steps and forgets the finished runs' steps no
// active run uses.
func (ss *stepSeries) started(m *metrics.Metrics, id string, keys []metrics.StepKey) {
	if m == nil {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.active == nil {
		ss.active = map[string][]metrics.StepKey{}
	}
	ss.active[id] = keys
	inUse := map[metrics.StepKey]bool{}
	for _, ks := range ss.active {
		for _, k := range ks {
			inUse[k] = true
		}
	}
	var forget []metrics.StepKey
	for k := range ss.finished {
		if !inUse[k] {
			forget = append(forget, k)
		}
	}
	// Steps still in use come back to finished when their run ends.
	clear(ss.finished)
	m.ForgetSteps(forget)
}

// ended marks run id's steps as finished (forgotten at the next start
// unless a run still uses them).
func (ss *stepSeries) ended(m *metrics.Metrics, id string) {
	if m == nil {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.finished == nil {
		ss.finished = map[metrics.StepKey]bool{}
	}
	for _, k := range ss.active[id] {
		ss.finished[k] = true
	}
	delete(ss.active, id)
}
