package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"

	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadlab/loadlab/internal/expect"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/pacer"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/tmpl"
)

// Defaults of the options.
const (
	DefaultWindow = 60 * time.Second       // longest rolling window kept
	DefaultTick   = time.Millisecond       // open-model pacer wake granularity
	housekeeping  = 100 * time.Millisecond // gauges, phases, VU count, window rings
)

// Option configures an Executor.
type Option func(*Executor)

// WithClient sets the HTTP client (default: httpclient.New with MaxConns
// sized to max_in_flight or the peak VUs).
func WithClient(c *httpclient.Client) Option { return func(e *Executor) { e.client = c } }

// WithAllowHost has every redirect's host checked by allow before it is
// followed (loadgen serve's target allow-list); a refusal fails the request
// with reason other. It applies to the client New builds.
func WithAllowHost(allow func(host string) error) Option {
	return func(e *Executor) { e.allowHost = allow }
}

// WithObserver reports the run's measurements to o as well (see Observer;
// internal/metrics implements it). Give each run its own.
func WithObserver(o Observer) Option { return func(e *Executor) { e.obs = o } }

// WithNow sets the wall clock used for Results timestamps (durations always
// use the monotonic clock).
func WithNow(now func() time.Time) Option { return func(e *Executor) { e.now = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(e *Executor) { e.log = l } }

// WithOnPhase calls f with each phase's name as it begins (from the
// executor's housekeeping goroutine, within ~100 ms of the phase start).
func WithOnPhase(f func(name string)) Option { return func(e *Executor) { e.onPhase = f } }

// WithWindow sets the longest rolling window Window/StepWindows can cover.
func WithWindow(d time.Duration) Option { return func(e *Executor) { e.window = d } }

// WithSeed seeds scenario choice, random data rows and random built-ins.
func WithSeed(seed uint64) Option { return func(e *Executor) { e.seed = seed } }

// WithTick sets the open-model pacer's wake granularity (default 1 ms):
// coarser is cheaper but adds up to a tick of schedule lag.
func WithTick(d time.Duration) Option { return func(e *Executor) { e.tick = d } }

// WithSegment runs generator i's share of the plan when n generators run it
// together (pacer.Segment: open-model iteration k to generator k mod n,
// closed-model VUs split floor/ceil) and gives it data rows i, i+n, i+2n,
// ... of every sequential data source, so no two generators take the same
// row. max_in_flight, SetRate and SetVUs stay this generator's own. New
// fails when i is not in [0, n) or a sequential data source has fewer rows
// than n.
func WithSegment(i, n int) Option { return func(e *Executor) { e.segI, e.segN = i, n } }

// Executor runs one plan once. Build it with New.
type Executor struct {
	p         *plan.Plan
	client    *httpclient.Client
	ownsCl    bool
	cookies   bool // a cookie jar per VU (closed) or per iteration (open)
	allowHost func(string) error
	host      *httpclient.Host
	obs       Observer
	now       func() time.Time
	log       *slog.Logger
	onPhase   func(string)
	window    time.Duration
	seed      uint64
	tick      time.Duration
	segI      int // this generator's segment: segI of segN (0 of 1 alone)
	segN      int

	open        bool
	drop        bool
	latAll      bool    // the plan's latency_of is all: failed requests' latency counts in Latency too
	reqPerIter  float64 // mean requests of an iteration, by scenario weight (Snapshot.RequestsPerIteration)
	maxInFlight int
	thinks      bool           // some step has a think time
	phases      *pacer.Phases  // the plan's schedule
	sched       pacer.Schedule // what the run follows: phases, before any change made while it runs
	phaseRecs   []*phaseRec
	scenarios   []*scenRec
	steps       []*stepRec
	totalWeight int
	data        []*dataRec

	start      time.Time // monotonic
	startedAt  time.Time // wall, from now
	endedAt    time.Time
	running    atomic.Bool
	ran        atomic.Bool     // Run was called
	started    atomic.Bool     // start and startedAt are set: safe to read from any goroutine
	snapMu     sync.Mutex      // guards snapLive
	snapLive   *hist.Histogram // Snapshot's scratch for the live window (reused: no garbage per call)
	svc        svcWindow       // service-time marks for Snapshot's service-time percentiles
	canceled   atomic.Bool
	failure    atomic.Pointer[panics.Error] // the run's first panic (see fail)
	stopRun    context.CancelFunc           // cancels Run's context; set before Run starts a goroutine
	endCh      chan struct{}                // closed when the schedule ends
	endOnce    sync.Once
	mu         sync.Mutex // startedAt, endedAt, samples
	samples    []ErrorSample
	sampleN    atomic.Uint64
	samplesOff atomic.Uint64

	reqs        sync.Pool // *reqState, one per request in flight
	lag         *hist.Histogram
	iterations  atomic.Uint64
	dropped     atomic.Uint64
	inFlight    atomic.Int64
	maxInFl     atomic.Int64
	busy        atomic.Int64
	curPhase    atomic.Int32
	rateNow     atomic.Uint64 // float64 bits: the rate in force (open model), kept by the pacer
	vusTarget   atomic.Int64
	rateOv      atomic.Uint64 // float64 bits; NaN = no override
	vusOv       atomic.Int64  // -1 = no override
	iterCounter atomic.Int64
}

type phaseRec struct {
	p    plan.Phase
	cell *liveCell
	iter atomic.Uint64
	drop atomic.Uint64
	lag  *hist.Histogram
}

type scenRec struct {
	s     *plan.Scenario
	steps []*stepRec
	// abortAny: on_failure abort_iteration (end the iteration at the first failed step); continueAll: on_failure
	// continue (run every step). Neither: end it before a step whose needs a failed step left unset.
	abortAny, continueAll bool
	weight                int
	iter                  atomic.Uint64
	failed                atomic.Uint64
	obs                   ScenarioObserver
}

type stepRec struct {
	scen  string
	st    *plan.Step
	req   *plan.CompiledRequest
	think plan.Think
	cell  *liveCell
	ring  *ring
	obs   StepObserver
	rules *expect.Rules
	// needs are the captures of earlier steps of the scenario that the
	// request uses; skipped counts the iterations that ended before this
	// step because one was missing after a failure (or, with on_failure
	// abort_iteration, because an earlier step failed).
	needs   []string
	skipped atomic.Uint64
	// checkFail[i] counts the responses that failed check rules.Names()[i]
	// (every response is judged by every check: the cell's requests that got
	// a status).
	checkFail []atomic.Uint64
	method    []byte
	keep      int // response body bytes kept: max_body when a check or capture reads the body, else 0
}

type dataRec struct {
	ds   plan.DataSource
	seq  atomic.Uint64
	rand bool
	// The rows a sequential source takes, in turn: first, first+stride, ...
	// (count of them).
	first, stride, count uint64
}

// New prepares an executor for p, which must have been loaded and validated
// (plan.Parse or plan.LoadFile), so every request is compiled.
func New(p *plan.Plan, opts ...Option) (*Executor, error) {
	if p == nil {
		return nil, errors.New("executor: nil plan")
	}
	e := &Executor{p: p, obs: nop{}, now: time.Now, log: slog.New(slog.DiscardHandler), window: DefaultWindow,
		tick: DefaultTick, seed: uint64(time.Now().UnixNano()), lag: hist.New(), endCh: make(chan struct{})}
	e.reqs.New = newReqState
	for _, o := range opts {
		o(e)
	}
	if e.tick <= 0 {
		e.tick = DefaultTick
	}
	if e.window < time.Second {
		e.window = time.Second
	}
	e.rateOv.Store(math.Float64bits(math.NaN()))
	e.vusOv.Store(-1)
	e.curPhase.Store(-1)

	e.open = p.Load.Model != plan.ModelClosed
	e.cookies = p.CookiesOn()
	e.drop = p.Load.DropPolicy == plan.DropDrop
	e.latAll = p.LatencyOf == plan.LatencyAll
	// Nothing below is sized from a plan number as written: a plan built in
	// Go skips plan.Validate, so every number is clamped to its plan limit.
	e.maxInFlight = p.Load.MaxInFlight
	if e.maxInFlight <= 0 {
		e.maxInFlight = plan.DefaultMaxInFlight
	}
	e.maxInFlight = min(e.maxInFlight, plan.MaxInFlight)
	phases, peak, err := Schedule(p)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(p.Load.Phases))
	for i, ph := range p.Load.Phases {
		names[i] = ph.Name
		e.phaseRecs = append(e.phaseRecs, &phaseRec{p: ph, cell: newLiveCell(), lag: hist.New()})
	}
	e.phases = phases
	e.sched = e.phases
	if e.segN == 0 {
		e.segN = 1
	}
	sched, err := pacer.Segment(e.phases, e.segI, e.segN)
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	e.sched = sched

	if e.client == nil {
		conns := e.maxInFlight
		if !e.open {
			conns = max(int(math.Round(peak)), 1)
		}
		cfg := p.ClientConfig()
		cfg.MaxConns, cfg.AllowHost = conns, e.allowHost
		if err := cfg.Check(); err != nil {
			return nil, fmt.Errorf("executor: defaults.http: %w", err)
		}
		e.client = httpclient.New(cfg)
		e.ownsCl = true
	}
	host, err := e.client.Host(p.Target)
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	e.host = host

	secs := int(math.Ceil(e.window.Seconds()))
	codes := p.StatusCodeLabels()
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		w := s.Weight
		if w <= 0 {
			w = plan.DefaultWeight
		}
		sr := &scenRec{s: s, weight: w, obs: e.obs.Scenario(s.Name), abortAny: s.OnFailure == plan.OnFailureAbort,
			continueAll: s.OnFailure == plan.OnFailureContinue}
		e.totalWeight += w
		captured := map[string]bool{}
		for j := range s.Steps {
			st := &s.Steps[j]
			if st.Request.Compiled == nil || st.Rules == nil {
				return nil, fmt.Errorf("executor: scenario %s step %s: request not compiled (validate the plan first)", s.Name, st.Name)
			}
			rec := &stepRec{scen: s.Name, st: st, req: st.Request.Compiled, think: s.Think, cell: newLiveCell(),
				ring: newRing(secs), method: []byte(st.Request.Compiled.Method), rules: st.Rules, keep: st.Rules.Keep(),
				checkFail: make([]atomic.Uint64, len(st.Rules.Names()))}
			if st.Think != nil {
				rec.think = *st.Think
			}
			for _, ref := range st.Request.Compiled.Refs {
				if captured[ref] {
					rec.needs = append(rec.needs, ref)
				}
			}
			for name := range st.Capture {
				captured[name] = true
			}
			rec.obs = sr.obs.Step(st.Name, st.Request.Compiled.Method, codes)
			sr.steps = append(sr.steps, rec)
			e.steps = append(e.steps, rec)
		}
		e.scenarios = append(e.scenarios, sr)
		e.reqPerIter += float64(w) * float64(len(s.Steps))
	}
	if e.totalWeight > 0 {
		e.reqPerIter /= float64(e.totalWeight)
	}
	if len(e.steps) == 0 {
		return nil, errors.New("executor: plan has no steps")
	}
	for _, st := range e.steps {
		e.thinks = e.thinks || !st.think.IsZero()
	}
	for name, ds := range p.Data {
		if len(ds.Rows) > 0 {
			d := &dataRec{ds: ds, rand: ds.Order == plan.OrderRandom, first: 0, stride: 1, count: uint64(len(ds.Rows))}
			if !d.rand && e.segN > 1 { // rows segI, segI+segN, ...: no two generators take the same row
				if len(ds.Rows) < e.segN {
					return nil, fmt.Errorf("executor: data %s has %d rows, fewer than the %d segments sharing them in sequential order", name, len(ds.Rows), e.segN)
				}
				d.first, d.stride = uint64(e.segI), uint64(e.segN)
				d.count = uint64((len(ds.Rows) - e.segI + e.segN - 1) / e.segN)
			}
			e.data = append(e.data, d)
		}
	}
	e.obs.Phases(names)
	return e, nil
}

// clamp bounds x to [0, limit] (NaN is 0).
// Schedule is the plan's load as the pacer's phases, each level (iterations per second in the open model, VUs in
// the closed one) clamped to its plan limit, and the peak level: what a run of p follows, and what a caller
// sizes from p's load without running it.
func Schedule(p *plan.Plan) (*pacer.Phases, float64, error) {
	if len(p.Load.Phases) == 0 {
		return nil, 0, errors.New("executor: plan has no load phases")
	}
	open := p.Load.Model != plan.ModelClosed
	var list []pacer.Phase
	peak := 0.0
	var total time.Duration
	for i, ph := range p.Load.Phases {
		span := min(max(ph.Duration.Duration, 0), plan.MaxDuration)
		if total += span; total > plan.MaxDuration {
			return nil, 0, fmt.Errorf("executor: the load lasts more than %v", plan.MaxDuration)
		}
		var from, limit float64 = 0, plan.MaxRate
		switch {
		case open && ph.Rate == nil:
			return nil, 0, fmt.Errorf("executor: load.phases[%d] (%s): open model needs a rate", i, ph.Name)
		case open:
			from = *ph.Rate
		case ph.VUs == nil:
			return nil, 0, fmt.Errorf("executor: load.phases[%d] (%s): closed model needs vus", i, ph.Name)
		default:
			from, limit = float64(*ph.VUs), plan.MaxVUs
		}
		to := from
		if ph.To != nil {
			to = *ph.To
		}
		from, to = clamp(from, limit), clamp(to, limit)
		peak = max(peak, from, to)
		list = append(list, pacer.Phase{Name: ph.Name, Span: span, From: from, To: to})
	}
	return pacer.NewPhases(list...), peak, nil
}

func clamp(x, limit float64) float64 {
	if !(x > 0) {
		return 0
	}
	return min(x, limit)
}

// SetRate overrides the open-model rate (iterations per second) from now on;
// r < 0 clears the override (the phases' schedule resumes). Rates above
// plan.MaxRate are taken as plan.MaxRate.
func (e *Executor) SetRate(r float64) {
	if r < 0 || math.IsNaN(r) {
		r = math.NaN()
	} else {
		r = clamp(r, plan.MaxRate)
	}
	e.rateOv.Store(math.Float64bits(r))
}

// SetVUs overrides the closed-model number of virtual users; n < 0 clears it.
// Counts above plan.MaxVUs are taken as plan.MaxVUs.
func (e *Executor) SetVUs(n int) {
	if n < 0 {
		n = -1
	}
	e.vusOv.Store(int64(min(n, plan.MaxVUs)))
}

// fail records the run's first panic and stops the run: the schedule ends,
// workers and virtual users stop, requests in flight are aborted, and Run
// returns the panic (*panics.Error) once every goroutine it started has
// returned. It is the handler every goroutine of the run defers with
// panics.Recover.
func (e *Executor) fail(pe *panics.Error) {
	if e.failure.CompareAndSwap(nil, pe) {
		e.log.Debug("panic: stopping the run", "err", pe.Error(), "stack", string(pe.Stack))
	}
	e.endSchedule()
	if e.stopRun != nil {
		e.stopRun()
	}
	e.client.Abort()
}

func (e *Executor) elapsed() time.Duration { return time.Since(e.start) }

func (e *Executor) endSchedule() { e.endOnce.Do(func() { close(e.endCh) }) }

// Run executes the plan; see the package documentation. It returns an error
// only when Run was called twice or the run panicked: a panic in any of its
// goroutines (a worker, a virtual user, a think-time callback, the pacer,
// housekeeping) stops the run at once and comes back as a *panics.Error, the
// results measured until then kept.
func (e *Executor) Run(ctx context.Context) (err error) {
	if !e.ran.CompareAndSwap(false, true) {
		return errors.New("executor: Run called twice")
	}
	e.mu.Lock()
	e.startedAt = e.now()
	e.start = time.Now()
	e.mu.Unlock()
	e.started.Store(true) // publishes start to Snapshot/Window callers on other goroutines
	e.running.Store(true)
	defer e.running.Store(false)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.stopRun = cancel
	defer panics.Recover("executor", func(pe *panics.Error) { e.fail(pe); err = pe })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer panics.Recover("executor housekeeping", e.fail)
		e.housekeep(runCtx)
	}()

	// Abort in-flight requests as soon as the caller cancels.
	stopAbort := context.AfterFunc(ctx, func() {
		e.canceled.Store(true)
		e.endSchedule()
		e.client.Abort()
	})
	defer stopAbort()

	if e.open {
		e.runOpen(runCtx)
	} else {
		e.runClosed(runCtx)
	}
	e.endSchedule()
	cancel() // housekeeping stops
	wg.Wait()
	// Every worker and virtual user has returned: nothing is in flight, even
	// when one panicked between counting its request in and out.
	e.inFlight.Store(0)

	e.mu.Lock()
	e.endedAt = e.now()
	e.mu.Unlock()
	if e.ctxDone(ctx) {
		e.canceled.Store(true)
	}
	e.curPhase.Store(-1)
	e.obs.Phase("")
	e.obs.Gauges(Gauges{})
	if e.ownsCl {
		e.client.CloseIdleConnections()
	}
	if pe := e.failure.Load(); pe != nil {
		return pe
	}
	return nil
}

func (e *Executor) ctxDone(ctx context.Context) bool { return ctx.Err() != nil }

// housekeep updates phases, gauges and window rings every 100 ms until ctx
// ends.
func (e *Executor) housekeep(ctx context.Context) {
	t := time.NewTicker(housekeeping)
	defer t.Stop()
	for {
		el := e.elapsed()
		sec := int64(el / time.Second)
		for _, s := range e.steps {
			s.ring.prepare(sec)
		}
		e.markService(sec)
		i := e.sched.Phase(el)
		if old := e.curPhase.Swap(int32(i)); old != int32(i) && i >= 0 {
			name := e.phaseRecs[i].p.Name
			e.log.Info("phase", "phase", name, "elapsed", el.Round(time.Millisecond))
			e.obs.Phase(name)
			if e.onPhase != nil {
				e.onPhase(name)
			}
		}
		e.obs.Gauges(Gauges{InFlight: e.inFlight.Load(), VUs: e.busy.Load(), TargetRate: math.Float64frombits(e.rateNow.Load())})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// slot is one open-model iteration: its intended start and phase.
type slot struct {
	at    time.Duration
	phase int32
}

func (e *Executor) runOpen(ctx context.Context) {
	ch := make(chan slot, max(e.maxInFlight, 1024)) // maxInFlight <= plan.MaxInFlight (New)
	var wg sync.WaitGroup
	var idle atomic.Int64
	workers := 0
	spawn := func() {
		workers++
		wg.Add(1)
		w := e.newWorker(workers - 1)
		go func() {
			defer wg.Done()
			defer w.sess.Close()
			defer panics.Recover("executor worker", e.fail)
			for {
				idle.Add(1)
				select {
				case s, ok := <-ch:
					idle.Add(-1)
					if !ok {
						return
					}
					e.startIteration(ctx, w, s)
				case <-ctx.Done():
					idle.Add(-1)
					return
				}
			}
		}()
	}
	dispatch := func(s slot) bool {
		if e.drop && e.busy.Load()+int64(len(ch)) >= int64(e.maxInFlight) {
			e.dropped.Add(1)
			if s.phase >= 0 {
				e.phaseRecs[s.phase].drop.Add(1)
			}
			e.obs.Dropped()
			return true
		}
		if idle.Load() <= int64(len(ch)) && workers < e.maxInFlight {
			spawn()
		}
		select {
		case ch <- s:
			return true
		case <-ctx.Done():
			return false
		}
	}

	// The workers stop and are waited for however the pacer below ends,
	// a panic included (recovered first: the run is stopped, then this).
	defer func() {
		e.endSchedule()
		close(ch)
		wg.Wait()
	}()
	defer panics.Recover("executor pacer", e.fail)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sched, rate := e.sched, math.NaN() // the schedule in force and the rate set by SetRate (NaN: none)
	var k uint64                       // the next iteration
	var last time.Duration             // intended start of the last one released
	total := sched.Duration()
	for {
		el := e.elapsed()
		if ov := math.Float64frombits(e.rateOv.Load()); ov != rate && !(math.IsNaN(ov) && math.IsNaN(rate)) {
			rate = ov
			if math.IsNaN(ov) { // cleared: the plan's schedule resumes from now
				sched = pacer.Resume(e.sched, el, k)
			} else {
				sched = pacer.WithRate(e.sched, max(el, last), k, ov)
			}
		}
		next := total
		for {
			at, ph, ok := sched.At(k)
			if !ok { // none left before the end (or a rate of 0): wait for the end, or a rate change
				break
			}
			if at > el {
				next = at
				break
			}
			if !dispatch(slot{at: at, phase: int32(ph)}) {
				return
			}
			last = at
			k++
		}
		if el >= total {
			return // the schedule ends at its planned end, even when its last iteration came early
		}
		e.rateNow.Store(math.Float64bits(sched.Rate(el)))
		timer.Reset(min(max(next-el, 0), e.tick))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

func (e *Executor) runClosed(ctx context.Context) {
	var wg sync.WaitGroup
	var vus []*vu
	// However the scheduler below ends (a panic included, recovered first),
	// the schedule ends, VUs thinking now stop now, and all are waited for.
	defer func() {
		e.vusTarget.Store(0)
		e.endSchedule()
		for _, v := range vus {
			v.stopThinking()
		}
		wg.Wait()
	}()
	defer panics.Recover("executor scheduler", e.fail)
	total := e.sched.Duration()
	t := time.NewTicker(housekeeping / 2)
	defer t.Stop()
	sched, n := e.sched, int64(-1) // the schedule in force and the VU count set by SetVUs (-1: none)
	for {
		el := e.elapsed()
		if el >= total || ctx.Err() != nil {
			break
		}
		if ov := e.vusOv.Load(); ov != n {
			sched, n = e.sched, ov
			if ov >= 0 {
				sched = pacer.WithVUs(e.sched, int(ov))
			}
		}
		target := sched.VUs(el)
		e.vusTarget.Store(int64(target))
		for id := 0; id < target; id++ {
			if id == len(vus) {
				vus = append(vus, e.newVU(ctx, &wg, id, total))
			}
			v := vus[id]
			if v.alive.Load() {
				continue
			}
			v.alive.Store(true)
			wg.Add(1)
			v.start()
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// startIteration runs one open-model slot, recording its schedule lag.
func (e *Executor) startIteration(ctx context.Context, w *worker, s slot) {
	e.busy.Add(1)
	defer e.busy.Add(-1)
	lag := e.elapsed() - s.at
	e.lag.Record(lag)
	if s.phase >= 0 {
		e.phaseRecs[s.phase].lag.Record(lag)
	}
	e.obs.ScheduleLag(lag)
	e.iteration(ctx, w, s.at, s.phase)
}

// sampleError keeps a failure's message as an error sample. The message is
// masked first (the plan's secrets, and the secret headers as this request
// sent them: a server may echo them), then cut to 200 bytes.
func (e *Executor) sampleError(el time.Duration, phase int32, s *stepRec, o *outcome, msg string, vars tmpl.Vars) {
	if e.sampleN.Add(1) > 1000 { // only the first failures take the lock
		e.samplesOff.Add(1)
		return
	}
	msg = e.p.Redactor().String(msg, s.req.AppendSecrets(nil, vars)...)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	check := ""
	if o.checks != 0 {
		// The first check that failed, unless the verdict came from the default status rule (100-399).
		if n := s.rules.Names()[bits.TrailingZeros64(o.checks)]; o.reason != ReasonStatus || strings.HasPrefix(n, "status ") {
			check = n
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.samples {
		x := &e.samples[i]
		// One sample per failing check and status (its message, e.g. a latency, varies from one failure to the
		// next), else per message.
		if x.Scenario == s.scen && x.Step == s.st.Name && x.Reason == o.reason &&
			(check != "" && x.Check == check && x.Status == o.status || check == "" && x.Check == "" && x.Message == msg) {
			x.Count++
			return
		}
	}
	if len(e.samples) >= MaxErrorSamples {
		e.samplesOff.Add(1)
		return
	}
	name := ""
	if phase >= 0 {
		name = e.phaseRecs[phase].p.Name
	}
	e.samples = append(e.samples, ErrorSample{At: el, Phase: name, Scenario: s.scen, Step: s.st.Name,
		Reason: o.reason, Check: check, Status: o.status, Message: msg, Count: 1})
}

func (e *Executor) pickScenario(r *rand.Rand) *scenRec {
	if len(e.scenarios) == 1 {
		return e.scenarios[0]
	}
	x := r.IntN(e.totalWeight)
	for _, s := range e.scenarios {
		if x < s.weight {
			return s
		}
		x -= s.weight
	}
	return e.scenarios[len(e.scenarios)-1]
}

func (e *Executor) phaseName(i int) string {
	if i < 0 || i >= len(e.phaseRecs) {
		return ""
	}
	return e.phaseRecs[i].p.Name
}
