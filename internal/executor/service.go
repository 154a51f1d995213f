package executor

import (
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// svcWindow gives Snapshot the service-time percentiles over the live window without touching the request path:
// once a second, housekeep marks the run's cumulative service-time histogram (every step's merged), and the
// window's distribution is the cumulative histogram now minus the mark taken at the window's first second.
type svcWindow struct {
	mu    sync.Mutex
	secs  []int64           // secs[i] is the run second marks[i] was taken at (-1: none)
	marks []*hist.Histogram // cumulative service time at the start of secs[i]
	cur   *hist.Histogram   // Snapshot's scratch
	last  int64             // the last second marked
}

// mark records the cumulative service-time histogram at the start of second sec (housekeep, once per second).
func (e *Executor) markService(sec int64) {
	w := &e.svc
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.marks == nil {
		n := int(LiveWindow/time.Second) + 2
		w.secs, w.marks, w.cur, w.last = make([]int64, n), make([]*hist.Histogram, n), hist.New(), -1
		for i := range w.marks {
			w.secs[i], w.marks[i] = -1, hist.New()
		}
	}
	if sec == w.last {
		return
	}
	w.last = sec
	i := int(sec % int64(len(w.marks)))
	w.marks[i].Reset()
	for _, st := range e.steps {
		w.marks[i].Merge(st.cell.svc)
	}
	w.secs[i] = sec
}

// serviceWindow fills s's service-time percentiles over the seconds from `from` on: the whole run when from is 0
// or its mark is missing.
func (e *Executor) serviceWindow(from int64, s *Snapshot) {
	w := &e.svc
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == nil {
		w.cur = hist.New()
	}
	w.cur.Reset()
	for _, st := range e.steps {
		w.cur.Merge(st.cell.svc)
	}
	if from > 0 && w.marks != nil {
		if i := int(from % int64(len(w.marks))); w.secs[i] == from {
			w.cur.Subtract(w.marks[i])
		}
	}
	s.ServiceP50, s.ServiceP90, s.ServiceP99 = w.cur.Quantile(0.5), w.cur.Quantile(0.9), w.cur.Quantile(0.99)
}
