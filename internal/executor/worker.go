package executor

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/plan"
)

// worker is the state of one open-model worker or closed-model virtual user:
// reused request/response objects and buffers, its own random source and
// variable scope. Nothing in it is shared.
type worker struct {
	id     int
	scope  *plan.Scope
	rnd    *rand.Rand
	req    *fasthttp.Request
	resp   *fasthttp.Response
	url    []byte
	hval   []byte
	body   []byte
	out    outcome
	timer  *time.Timer
	header func(string) string
}

func (e *Executor) newWorker(id int) *worker {
	w := &worker{id: id, scope: e.p.NewScope(id, e.seed), req: &fasthttp.Request{}, resp: &fasthttp.Response{},
		url: make([]byte, 0, 256), hval: make([]byte, 0, 128), body: make([]byte, 0, 256)}
	w.rnd = w.scope.Rand()
	w.header = func(name string) string { return string(w.resp.Header.Peek(name)) }
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	return w
}

// iteration runs one scenario iteration whose first request is due at
// intended (elapsed run time), counted in phase.
func (e *Executor) iteration(ctx context.Context, w *worker, intended time.Duration, phase int32) {
	sc := e.pickScenario(w.rnd)
	e.iterations.Add(1)
	sc.iter.Add(1)
	if phase >= 0 {
		e.phaseRecs[phase].iter.Add(1)
	}
	w.scope.Reset()
	w.scope.SetIteration(e.iterCounter.Add(1))
	for _, d := range e.data {
		var row []string
		if d.rand {
			row = d.ds.Rows[w.rnd.IntN(len(d.ds.Rows))]
		} else {
			row = d.ds.Rows[(d.seq.Add(1)-1)%uint64(len(d.ds.Rows))]
		}
		for i, k := range d.ds.Keys {
			if i < len(row) {
				w.scope.Set(k, row[i])
			}
		}
	}
	due := intended
	failed := false
	for i, st := range sc.steps {
		if i > 0 {
			// The closed model stops at the end of the schedule; an open-model
			// iteration, once started on schedule, runs to its end.
			if ctx.Err() != nil || (!e.open && e.scheduleEnded()) {
				break
			}
		}
		if !e.request(ctx, w, st, due, phase) {
			failed = true
		}
		due = e.elapsed()
		if th := st.think; !th.IsZero() {
			d := th.Min.Duration
			if span := th.Max.Duration - th.Min.Duration; span > 0 {
				d += time.Duration(w.rnd.Int64N(int64(span) + 1))
			}
			if !e.sleep(ctx, w, d) {
				break
			}
			due = e.elapsed()
		}
	}
	if failed {
		sc.failed.Add(1)
	}
	if sc.mIter != nil {
		sc.mIter.Inc()
	}
}

func (e *Executor) scheduleEnded() bool {
	select {
	case <-e.endCh:
		return true
	default:
		return false
	}
}

// sleep waits d unless ctx ends or the schedule ends; it reports whether the
// full d passed.
func (e *Executor) sleep(ctx context.Context, w *worker, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	w.timer.Reset(d)
	end := e.endCh
	if e.open {
		end = nil // see iteration
	}
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
	case <-end:
	}
	w.timer.Stop()
	return false
}

// request sends one step and records it; it reports success.
func (e *Executor) request(ctx context.Context, w *worker, st *stepRec, due time.Duration, phase int32) bool {
	cr := st.req
	req, resp := w.req, w.resp
	req.Reset()
	req.Header.SetMethodBytes(st.method)
	w.url = cr.URL.Append(w.url[:0], w.scope)
	req.SetRequestURIBytes(w.url)
	for i := range cr.Headers {
		h := &cr.Headers[i]
		w.hval = h.Value.Append(w.hval[:0], w.scope)
		req.Header.SetBytesV(h.Name, w.hval)
	}
	if cr.Body != nil {
		w.body = cr.Body.Append(w.body[:0], w.scope)
		req.SetBodyRaw(w.body)
		if cr.ContentType != "" {
			req.Header.SetContentType(cr.ContentType)
		}
	}

	o := &w.out
	if v := e.inFlight.Add(1); v > e.maxInFl.Load() {
		for {
			cur := e.maxInFl.Load()
			if v <= cur || e.maxInFl.CompareAndSwap(cur, v) {
				break
			}
		}
	}
	err := e.host.Do(req, resp, cr.Timeout, &o.tm)
	e.inFlight.Add(-1)
	end := e.elapsed()
	o.latency = end - due
	o.service = o.tm.End.Sub(o.tm.Start)
	o.status = 0
	o.reason = ReasonNone
	var why string
	if err != nil {
		o.reason = httpclient.Classify(err)
		if ctx.Err() != nil {
			o.reason = ReasonCanceled
		}
		why = err.Error()
	} else {
		o.status = resp.StatusCode()
		chk := &st.st.Check
		if chk.IsZero() {
			if !chk.StatusOK(o.status) {
				o.reason = ReasonStatus
				why = "unexpected status " + itoa(o.status)
			}
		} else if ok, msg := chk.Eval(o.status, resp.Body(), o.latency); !ok {
			o.reason = ReasonCheck
			if len(chk.Status) == 0 && !chk.StatusOK(o.status) {
				o.reason = ReasonStatus
			}
			why = msg
		}
		if o.reason == ReasonNone {
			for i := range st.caps {
				c := &st.caps[i]
				if v, ok := c.c.Extract(o.status, w.header, resp.Body()); ok {
					w.scope.Set(c.name, v)
				}
			}
		}
	}
	e.record(st, phase, end, o)
	if o.reason != ReasonNone {
		e.sampleError(end, phase, st, o, why)
		return false
	}
	return true
}

func (e *Executor) record(st *stepRec, phase int32, end time.Duration, o *outcome) {
	st.cell.record(o)
	if phase >= 0 {
		e.phaseRecs[phase].cell.record(o)
	}
	sec := int64(end / time.Second)
	st.ring.record(sec, o)
	if sm := st.sm; sm != nil {
		if o.reason == ReasonNone {
			sm.Success.Observe(o.latency.Seconds())
		} else {
			sm.Failure.Observe(o.latency.Seconds())
			sm.Errors[o.reason].Inc()
		}
		sm.Service.Observe(o.service.Seconds())
		sm.Request(o.status).Inc()
		m := e.m
		if o.tm.NewConn {
			if o.tm.DNS > 0 {
				m.DNS.Observe(o.tm.DNS.Seconds())
			}
			m.Connect.Observe(o.tm.Connect.Seconds())
			if o.tm.TLS > 0 {
				m.TLS.Observe(o.tm.TLS.Seconds())
			}
		}
		if o.tm.TTFB > 0 {
			m.TTFB.Observe(o.tm.TTFB.Seconds())
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
