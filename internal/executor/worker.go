package executor

import (
	"context"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/expect"
	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/tmpl"
)

// worker is the state of one open-model worker or closed-model virtual user:
// its own random source and variable scope, and a timer for think time
// (created on first use). Nothing in it is shared. What a request needs
// while it is in flight (reqState) comes from the executor's pool, so a
// closed-model VU that is thinking holds only this small struct, its scope
// and its goroutine.
type worker struct {
	id    int
	scope *tmpl.Scope
	rnd   *rand.Rand
	timer *time.Timer
	// sess carries the worker's cookie jar (nil when the plan turns cookies
	// off) and, under connection_reuse per_vu, its own connections.
	sess *httpclient.Session
	jar  *httpclient.Jar
}

func (e *Executor) newWorker(id int) *worker {
	// ${vu} (and the VU's random stream) numbered across the generators of a distributed run: VU id of
	// segment segI is the run's VU id*segN+segI, as the VUs are dealt out (pacer.SplitVUs).
	w := &worker{id: id, scope: e.p.NewScope(id*e.segN+e.segI, e.seed), sess: e.client.NewSession()}
	w.rnd = w.scope.Rand()
	if e.cookies {
		w.jar = httpclient.NewJar()
		w.sess.SetJar(w.jar)
	}
	return w
}

// reqState is one request's working set: fasthttp's request and response
// objects (with their header buffers), the buffers the request is rendered
// into and the outcome. Workers take one from Executor.reqs per request and
// put it back when the request is recorded, so the number alive follows the
// requests in flight, not the VU count, and steady state allocates nothing.
type reqState struct {
	req    fasthttp.Request
	resp   fasthttp.Response
	url    []byte
	hval   []byte
	body   []byte
	out    outcome
	result expect.Response // the response as checks and captures read it
}

func newReqState() any {
	rs := &reqState{}
	// The kept part of a body (up to max_body, only for steps that read it)
	// stays with the pooled state instead of going back to fasthttp's pool:
	// the next request reuses it, so kept bodies make no garbage.
	rs.resp.KeepBodyBuffer = true
	rs.result.Header = func(name string) string { return string(rs.resp.Header.Peek(name)) }
	return rs
}

// iteration runs one scenario iteration whose first request is due at
// intended (elapsed run time), counted in phase. It returns the elapsed run
// time at its end (read from the clock once, by the last request or after
// the last think time).
func (e *Executor) iteration(ctx context.Context, w *worker, intended time.Duration, phase int32) time.Duration {
	sc := e.beginIteration(w, phase)
	due := intended
	failed := false
	for i, st := range sc.steps {
		if i > 0 {
			// The closed model stops at the end of the schedule; an open-model
			// iteration, once started on schedule, runs to its end.
			if ctx.Err() != nil || (!e.open && e.scheduleEnded()) {
				due = e.elapsed()
				break
			}
		}
		if failed && sc.stop(st, w.scope) {
			// The rest of the iteration is not sent: its steps are counted as skipped.
			for _, rest := range sc.steps[i:] {
				rest.skipped.Add(1)
			}
			break
		}
		ok, end := e.request(ctx, w, st, due, phase)
		if !ok {
			failed = true
		}
		due = end
		if d := w.think(st); d > 0 {
			done := e.sleep(ctx, w, d)
			due = e.elapsed()
			if !done {
				break
			}
		}
	}
	e.endIteration(sc, failed)
	return due
}

// stop reports whether an iteration of sc in which a step failed ends before step st (on_failure).
func (sc *scenRec) stop(st *stepRec, scope *tmpl.Scope) bool {
	switch {
	case sc.continueAll:
		return false
	case sc.abortAny:
		return true
	}
	for _, n := range st.needs {
		if _, ok := scope.Lookup(n); !ok {
			return true
		}
	}
	return false
}

// think draws the think time after step st.
func (w *worker) think(st *stepRec) time.Duration {
	th := st.think
	if th.IsZero() {
		return 0
	}
	d := th.Min.Duration
	if span := th.Max.Duration - th.Min.Duration; span > 0 {
		d += time.Duration(w.rnd.Int64N(int64(span) + 1))
	}
	return d
}

// beginIteration picks the scenario, counts the iteration and fills the
// worker's scope (iteration number, data rows).
func (e *Executor) beginIteration(w *worker, phase int32) *scenRec {
	sc := e.pickScenario(w.rnd)
	e.iterations.Add(1)
	sc.iter.Add(1)
	if phase >= 0 {
		e.phaseRecs[phase].iter.Add(1)
	}
	w.scope.Reset()
	if e.open && w.jar != nil {
		w.jar.Reset() // open model: one jar per iteration
	}
	w.scope.SetIteration((e.iterCounter.Add(1)-1)*int64(e.segN) + int64(e.segI) + 1)
	for _, d := range e.data {
		var row []string
		if d.rand {
			row = d.ds.Rows[w.rnd.IntN(len(d.ds.Rows))]
		} else {
			row = d.ds.Rows[d.first+d.stride*((d.seq.Add(1)-1)%d.count)]
		}
		for i, k := range d.ds.Keys {
			if i < len(row) {
				w.scope.Set(k, row[i])
			}
		}
	}
	return sc
}

// endIteration counts a finished iteration of sc.
func (e *Executor) endIteration(sc *scenRec, failed bool) {
	if failed {
		sc.failed.Add(1)
	}
	sc.obs.Iteration()
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
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
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

// request sends one step and records it; it reports success and the elapsed
// run time at which the response ended (the clock reading Host.Do took).
func (e *Executor) request(ctx context.Context, w *worker, st *stepRec, due time.Duration, phase int32) (bool, time.Duration) {
	rs := e.reqs.Get().(*reqState)
	defer e.reqs.Put(rs)
	cr := st.req
	req, resp := &rs.req, &rs.resp
	req.Reset()
	req.Header.SetMethodBytes(st.method)
	rs.url = cr.URL.Append(rs.url[:0], w.scope)
	req.SetRequestURIBytes(rs.url)
	for i := range cr.Headers {
		h := &cr.Headers[i]
		rs.hval = h.Value.Append(rs.hval[:0], w.scope)
		req.Header.SetBytesV(h.Name, rs.hval)
	}
	if cr.Body != nil {
		rs.body = cr.Body.Append(rs.body[:0], w.scope)
		req.SetBodyRaw(rs.body)
		if cr.ContentType != "" {
			req.Header.SetContentType(cr.ContentType)
		}
	}

	o := &rs.out
	if v := e.inFlight.Add(1); v > e.maxInFl.Load() {
		for {
			cur := e.maxInFl.Load()
			if v <= cur || e.maxInFl.CompareAndSwap(cur, v) {
				break
			}
		}
	}
	w.sess.SetRedirects(cr.Redirects)
	err := w.sess.Do(e.host, req, resp, cr.Timeout, st.keep, &o.tm)
	e.inFlight.Add(-1)
	end := o.tm.End.Sub(e.start)
	o.latency = end - due
	o.service = o.tm.End.Sub(o.tm.Start)
	o.status = 0
	o.reason = ReasonNone
	o.checks = 0
	var why string
	if err != nil {
		o.reason = httpclient.Classify(err)
		if ctx.Err() != nil {
			o.reason = ReasonCanceled
		}
		why = err.Error()
	} else {
		o.status = resp.StatusCode()
		// The body is at most st.keep bytes of the o.tm.BodyBytes received.
		rs.result.Reset(o.status, resp.Body(), o.tm.BodyBytes, o.latency)
		var v expect.Verdict
		v, why, o.checks = st.rules.Check(&rs.result)
		switch v {
		case expect.FailStatus:
			o.reason = ReasonStatus
		case expect.FailCheck:
			o.reason = ReasonCheck
		default:
			if ok, msg := st.rules.Capture(&rs.result, w.scope); !ok {
				o.reason, why = ReasonCheck, msg
			}
		}
	}
	e.record(st, phase, end, o)
	switch o.reason {
	case ReasonNone:
	case ReasonCanceled:
		// Cut short by the run's end: not an error, so no error sample and no failed iteration; the caller
		// stops the iteration on ctx.
	default:
		e.sampleError(end, phase, st, o, why, w.scope)
		return false, end
	}
	return true, end
}

func (e *Executor) record(st *stepRec, phase int32, end time.Duration, o *outcome) {
	st.cell.record(o, e.latAll)
	if phase >= 0 {
		e.phaseRecs[phase].cell.record(o, e.latAll)
	}
	// Responses judged are counted by the cell (requests with a status); only failed checks cost anything here.
	for m := o.checks; m != 0; m &= m - 1 {
		st.checkFail[bits.TrailingZeros64(m)].Add(1)
	}
	sec := int64(end / time.Second)
	st.ring.record(sec, o, e.latAll)
	st.obs.Record(o.latency, o.service, o.status, o.reason, &o.tm)
}
