package executor

import (
	"sync/atomic"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/httpclient"
)

// liveCell is the lock-free recording side of a Cell.
type liveCell struct {
	requests, errors  atomic.Uint64
	canceled          atomic.Uint64
	failLat           *hist.Histogram
	reasons           [NumReasons]atomic.Uint64
	status            [600]atomic.Uint64 // [0] = no response
	bytesIn, bytesOut atomic.Uint64
	lat, svc          *hist.Histogram
	dns, conn, tls    *hist.Histogram
	ttfb, recv        *hist.Histogram
	redirects         atomic.Uint64
}

func newLiveCell() *liveCell {
	return &liveCell{failLat: hist.New(), lat: hist.New(), svc: hist.New(), dns: hist.New(), conn: hist.New(), tls: hist.New(),
		ttfb: hist.New(), recv: hist.New()}
}

// record counts o. A request the run itself cancelled counts in canceled
// only: it is neither a request nor an error, and its cut-short latency is
// not recorded. A failed request's latency goes to failLat, and also to lat
// and svc when the plan's latency_of is all (latAll).
func (c *liveCell) record(o *outcome, latAll bool) {
	if o.reason == ReasonCanceled {
		c.canceled.Add(1)
		return
	}
	c.requests.Add(1)
	ok := o.reason == ReasonNone
	if !ok {
		c.errors.Add(1)
		c.reasons[o.reason].Add(1)
		c.failLat.Record(o.latency)
	}
	code := o.status
	if code < 0 || code >= len(c.status) {
		code = 0
	}
	c.status[code].Add(1)
	if o.tm.BytesIn > 0 {
		c.bytesIn.Add(uint64(o.tm.BytesIn))
	}
	if o.tm.BytesOut > 0 {
		c.bytesOut.Add(uint64(o.tm.BytesOut))
	}
	if ok || latAll {
		c.lat.Record(o.latency)
		c.svc.Record(o.service)
	}
	c.phases(&o.tm)
	if n := len(o.tm.Hops); n > 0 {
		c.redirects.Add(uint64(n))
		for i := range o.tm.Hops {
			c.phases(&o.tm.Hops[i].Timing)
		}
	}
}

// phases records one response's (or redirect hop's) timing breakdown: the
// dial phases when it opened a connection, wait and receive when a response
// came.
func (c *liveCell) phases(tm *httpclient.Timing) {
	if tm.NewConn {
		if tm.DNS > 0 {
			c.dns.Record(tm.DNS)
		}
		c.conn.Record(tm.Connect)
		if tm.TLS > 0 {
			c.tls.Record(tm.TLS)
		}
	}
	if tm.TTFB > 0 {
		c.ttfb.Record(tm.TTFB)
		c.recv.Record(tm.Receive)
	}
}

// snapshot copies c into a Cell.
func (c *liveCell) snapshot(scenario, step, method string) *Cell {
	out := &Cell{Scenario: scenario, Step: step, Method: method, Status: map[int]uint64{},
		Requests: c.requests.Load(), Errors: c.errors.Load(), Canceled: c.canceled.Load(), FailedLatency: c.failLat.Clone(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Latency: c.lat.Clone(), Service: c.svc.Clone(), DNS: c.dns.Clone(), Connect: c.conn.Clone(),
		TLS: c.tls.Clone(), TTFB: c.ttfb.Clone(), Receive: c.recv.Clone(), Redirects: c.redirects.Load()}
	for i := range c.reasons {
		out.ErrorsByReason[i] = c.reasons[i].Load()
	}
	for code := range c.status {
		if n := c.status[code].Load(); n != 0 {
			out.Status[code] = n
		}
	}
	return out
}

// outcome is what one request produced; a worker reuses one.
type outcome struct {
	latency, service time.Duration
	status           int
	reason           Reason
	checks           uint64 // the checks that failed (expect.Rules.Check's mask)
	tm               httpclient.Timing
}

// winSlot holds the requests that completed in one second of the run.
type winSlot struct {
	sec      atomic.Int64
	requests atomic.Uint64
	errors   atomic.Uint64
	reasons  [NumReasons]atomic.Uint64
	lat      *hist.Histogram
}

// ring is a per-second window of the last len(slots)-3 seconds.
type ring struct{ slots []winSlot }

func newRing(seconds int) *ring {
	r := &ring{slots: make([]winSlot, seconds+3)}
	for i := range r.slots {
		r.slots[i].lat = hist.New()
		r.slots[i].sec.Store(int64(i))
	}
	return r
}

// record counts o in second sec, as liveCell.record does (a cancelled
// request not at all).
func (r *ring) record(sec int64, o *outcome, latAll bool) {
	if o.reason == ReasonCanceled {
		return
	}
	s := &r.slots[sec%int64(len(r.slots))]
	s.requests.Add(1)
	ok := o.reason == ReasonNone
	if !ok {
		s.errors.Add(1)
		s.reasons[o.reason].Add(1)
	}
	if ok || latAll {
		s.lat.Record(o.latency)
	}
}

// prepare readies the slots of seconds cur+1 and cur+2 (housekeeping, once
// per tick): slots are cleared well before they are written.
func (r *ring) prepare(cur int64) {
	for s := cur + 1; s <= cur+2; s++ {
		sl := &r.slots[s%int64(len(r.slots))]
		if sl.sec.Load() != s {
			sl.requests.Store(0)
			sl.errors.Store(0)
			for i := range sl.reasons {
				sl.reasons[i].Store(0)
			}
			sl.lat.Reset()
			sl.sec.Store(s)
		}
	}
}

// sum adds seconds [from, to] into w.
func (r *ring) sum(from, to int64, w *WindowStats) {
	for s := from; s <= to; s++ {
		if s < 0 {
			continue
		}
		sl := &r.slots[s%int64(len(r.slots))]
		if sl.sec.Load() != s {
			continue
		}
		w.Requests += sl.requests.Load()
		w.Errors += sl.errors.Load()
		for i := range sl.reasons {
			w.ErrorsByReason[i] += sl.reasons[i].Load()
		}
		if w.Latency != nil { // nil: counts only (WindowCounts)
			w.Latency.Merge(sl.lat)
		}
	}
}
