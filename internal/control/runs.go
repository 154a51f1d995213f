package control

import (
	"context"
	"encoding/json"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
)

// run is one run this process is carrying out (or carried out recently).
// Its status only moves forward: queued -> running -> terminal, and the
// terminal status, the final figures and the summary are set together.
type run struct {
	id, name, typ, target, model string
	created                      time.Time
	cancel                       context.CancelCauseFunc
	done                         chan struct{}
	hub                          *live.Hub // its live events

	// guarded by Server.mu
	status         store.Status
	started, ended time.Time
	engine         Engine
	rateOv         *float64 // override asked over PATCH (applied on attach too)
	vusOv          *int
	final          *executor.Snapshot // the engine's last snapshot, after the run
	outcome        Outcome
	cancelAsked    bool
}

// Live is the live figures of a run: those of its engine (live.FromEngine), as the live stream's snapshots show
// them too.
type Live = live.Snapshot

func liveOf(s executor.Snapshot) *Live {
	l := live.FromEngine(s)
	return &l
}

// Overrides are the live load changes made over PATCH.
type Overrides struct {
	Rate *float64 `json:"rate,omitempty"`
	VUs  *int     `json:"vus,omitempty"`
}

// RunView is a run as the API shows it (GET /api/tests/runs/{id} and the
// items of GET /api/tests/runs).
type RunView struct {
	RunID  string       `json:"run_id"`
	Name   string       `json:"name"`
	Type   string       `json:"type"`
	Model  string       `json:"model,omitempty"`
	Target string       `json:"target,omitempty"`
	Status store.Status `json:"status"`
	// Verdict is set once the run has ended: passed, thresholds_failed, regressed, or none (see store.Verdict).
	Verdict   store.Verdict `json:"verdict,omitempty"`
	Error     string        `json:"error,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	StartedAt time.Time     `json:"started_at,omitzero"`
	EndedAt   time.Time     `json:"ended_at,omitzero"`
	// Live is set while the run is carried out by this server (and kept,
	// final, once it ended).
	Live      *Live      `json:"live,omitempty"`
	Overrides *Overrides `json:"overrides,omitempty"`
	// Totals come from the store for runs this server no longer holds.
	Totals *store.Totals `json:"totals,omitempty"`
	// Summary is the full end-of-run summary, only on GET of one run.
	Summary json.RawMessage `json:"summary,omitempty"`
}

// viewLocked renders r; the caller holds s.mu. The engine it returns (nil
// once the run ended) must be snapshotted with fill, outside the lock.
func (s *Server) viewLocked(r *run, full bool) (RunView, Engine) {
	v := RunView{RunID: r.id, Name: r.name, Type: r.typ, Model: r.model, Target: r.target, Status: r.status,
		CreatedAt: r.created, StartedAt: r.started, EndedAt: r.ended, Error: r.outcome.Error, Verdict: r.outcome.Verdict}
	if r.final != nil {
		v.Live = liveOf(*r.final)
	}
	if r.rateOv != nil || r.vusOv != nil {
		v.Overrides = &Overrides{Rate: r.rateOv, VUs: r.vusOv}
	}
	if full {
		v.Summary = r.outcome.Summary
	}
	if r.final == nil {
		return v, r.engine
	}
	return v, nil
}

// fill adds e's live figures to v. Engine counters only grow and stop when
// the run ends, so a snapshot taken after the lock is released is never
// behind the state the view was copied from.
func fill(v *RunView, e Engine) {
	if e != nil {
		v.Live = liveOf(e.Snapshot())
	}
}

// render is viewLocked + fill for one run.
func (s *Server) render(r *run, full bool) RunView {
	s.mu.Lock()
	v, e := s.viewLocked(r, full)
	s.mu.Unlock()
	fill(&v, e)
	return v
}

func storedView(r *store.Run, full bool) RunView {
	v := RunView{RunID: r.ID, Name: r.Name, Type: string(r.Type), Status: r.Status, Verdict: r.Verdict, Error: r.Error,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt}
	t := r.Totals
	v.Totals = &t
	if full && len(r.SummaryJSON) > 0 {
		v.Summary = r.SummaryJSON
	}
	return v
}

// start registers a run and starts it in the background. It fails with 409
// when MaxConcurrentRuns runs are active.
func (s *Server) start(p *plan.Plan) (*run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errorf(EUNAVAILABLE, "the server is shutting down")
	}
	if s.active >= s.cfg.MaxConcurrentRuns {
		return nil, errorf(ECONFLICT, "%d run(s) already active; the limit is %d (--max-concurrent-runs): wait for it to end, cancel it, or POST /api/tests/stop-all",
			s.active, s.cfg.MaxConcurrentRuns)
	}
	typ := p.Type
	if typ == "" {
		typ = plan.TypeLoad
	}
	model := ""
	if typ == plan.TypeLoad {
		model = p.Load.Model
	}
	ctx, cancel := context.WithCancelCause(s.baseCtx)
	r := &run{id: s.newID(), name: p.Name, typ: typ, target: p.Target, model: model, created: s.now(),
		cancel: cancel, done: make(chan struct{}), status: store.StatusQueued, hub: live.NewHub(s.cfg.MaxSubscribers)}
	s.runs[r.id] = r
	s.active++
	s.wg.Add(1)
	go s.carry(ctx, r, p)
	return r, nil
}

// carry runs r to its end and records the outcome.
func (s *Server) carry(ctx context.Context, r *run, p *plan.Plan) {
	defer s.wg.Done()
	defer close(r.done)
	var last Engine
	attach := func(e Engine) {
		s.mu.Lock()
		defer s.mu.Unlock()
		last = e
		if r.status.Terminal() {
			return
		}
		// running once an engine runs (the runner has recorded the run by
		// then); a run that fails to start goes from queued to failed
		if r.status == store.StatusQueued {
			r.status, r.started = store.StatusRunning, s.now()
		}
		r.engine = e
		if r.rateOv != nil {
			e.SetRate(*r.rateOv)
		}
		if r.vusOv != nil {
			e.SetVUs(*r.vusOv)
		}
	}
	var out Outcome
	// The last line of defence of serve's runs: whatever Runner panics, the
	// run fails and the server goes on.
	if pe := panics.As(panics.Catch("run", func() error {
		out = s.runner.Run(ctx, Job{ID: r.id, Plan: p, Attach: attach, Live: r.hub, AllowHost: s.allow.checkHost})
		return nil
	})); pe != nil {
		s.log.Error("panic: the run failed", "run_id", r.id, "err", pe.Error(), "stack", string(pe.Stack))
		out = Outcome{Status: store.StatusFailed, Error: pe.Error() + " (a bug in loadgen)"}
	}
	if !out.Status.Terminal() {
		out.Status = store.StatusFailed
		if out.Error == "" {
			out.Error = "the run ended without a status"
		}
	}
	s.mu.Lock()
	if last != nil {
		f := last.Snapshot()
		f.Running = false
		r.final = &f
	}
	r.engine = nil
	r.outcome = out
	r.status, r.ended = out.Status, s.now()
	s.active--
	s.finished = append(s.finished, r.id)
	for len(s.finished) > KeepFinished {
		delete(s.runs, s.finished[0])
		s.finished = s.finished[1:]
	}
	r.cancel(nil) // release the context
	s.mu.Unlock()
	s.publishEnd(r) // with the terminal status, the final figures and the summary, as GET shows them from now on
}

// cancelRun asks run id to stop; it fails with 404 for an unknown run and
// 409 for a finished one.
func (s *Server) cancelRun(ctx context.Context, id string) (*run, error) {
	s.mu.Lock()
	r, ok := s.runs[id]
	if ok && !r.status.Terminal() {
		r.cancelAsked = true
		r.cancel(ErrCanceled)
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	if ok {
		return nil, errorf(ECONFLICT, "run %s already ended (%s)", id, r.status)
	}
	if err := s.storedRunExists(ctx, id); err != nil {
		return nil, err
	}
	return nil, errorf(ECONFLICT, "run %s is not running in this server", id)
}

func (s *Server) storedRunExists(ctx context.Context, id string) error {
	if s.store == nil {
		return errorf(ENOTFOUND, "run %s not found", id)
	}
	sr, err := s.store.GetRun(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return errorf(ENOTFOUND, "run %s not found", id)
		}
		return err
	}
	if !sr.Status.Terminal() {
		return errorf(ECONFLICT, "run %s is %s but not carried out by this server (another process owns it)", id, sr.Status)
	}
	return errorf(ECONFLICT, "run %s already ended (%s)", id, sr.Status)
}

// stopAll cancels every active run and returns their IDs.
func (s *Server) stopAll() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := []string{}
	for id, r := range s.runs {
		if !r.status.Terminal() {
			r.cancelAsked = true
			r.cancel(ErrCanceled)
			ids = append(ids, id)
		}
	}
	return ids
}

// patch applies a PATCH body to run id.
func (s *Server) patch(ctx context.Context, id string, rate *float64, vus *int) (RunView, error) {
	s.mu.Lock()
	r, ok := s.runs[id]
	if !ok {
		s.mu.Unlock()
		if err := s.storedRunExists(ctx, id); err != nil {
			return RunView{}, err
		}
		return RunView{}, errorf(ENOTFOUND, "run %s not found", id)
	}
	var err error
	switch {
	case r.status.Terminal():
		err = errorf(ECONFLICT, "run %s already ended (%s)", id, r.status)
	case r.typ != plan.TypeLoad:
		err = errorf(ECONFLICT, "run %s is a %s run: only load runs take rate or vus changes", id, r.typ)
	case rate != nil && r.model == plan.ModelClosed:
		err = errorf(ECONFLICT, "run %s uses the closed model: change vus, not rate", id)
	case vus != nil && r.model != plan.ModelClosed:
		err = errorf(ECONFLICT, "run %s uses the open model: change rate, not vus", id)
	}
	if err != nil {
		s.mu.Unlock()
		return RunView{}, err
	}
	if rate != nil {
		v := *rate
		r.rateOv = &v
		if r.engine != nil {
			r.engine.SetRate(v)
		}
	}
	if vus != nil {
		v := *vus
		r.vusOv = &v
		if r.engine != nil {
			r.engine.SetVUs(v)
		}
	}
	v, e := s.viewLocked(r, false)
	s.mu.Unlock()
	fill(&v, e)
	return v, nil
}
