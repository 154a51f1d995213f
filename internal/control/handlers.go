package control

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/htmlreport"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
)

// handlerFunc is an endpoint: it writes its answer, or returns an error
// that writeError maps.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// protected requires the bearer token (when configured): every endpoint
// but health and /metrics.
func (s *Server) protected(h handlerFunc) http.Handler {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.authorize(r); err != nil {
			return err
		}
		return h(w, r)
	})
}

// mutating requires the bearer token (when configured), a JSON or YAML body
// (or none: bodyType) and bounds the body.
func (s *Server) mutating(h handlerFunc) http.Handler {
	return s.protected(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := bodyType(r); err != nil {
			return err
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		return h(w, r)
	})
}

// authorize compares the bearer token in constant time (over SHA-256
// digests, so the token's length does not leak either).
func (s *Server) authorize(r *http.Request) error {
	if s.cfg.Token == "" {
		return nil
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return errorf(EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer TOKEN")
	}
	got, want := sha256.Sum256([]byte(strings.TrimSpace(tok))), sha256.Sum256([]byte(s.cfg.Token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return errorf(EUNAUTHORIZED, "invalid bearer token")
	}
	return nil
}

func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(ENOTFOUND, "no endpoint %s %s", r.Method, r.URL.Path)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " not allowed on " + r.URL.Path, Code: "method_not_allowed"})
	})
	r.Handle("/api/health", s.wrap(s.health)).Methods(http.MethodGet)
	r.Handle("/api/system/metrics", s.protected(s.systemMetrics)).Methods(http.MethodGet)
	r.Handle("/api/tests/start", s.mutating(s.startRun)).Methods(http.MethodPost)
	r.Handle("/api/tests/stop-all", s.mutating(s.stopAllRuns)).Methods(http.MethodPost)
	r.Handle("/api/tests/runs", s.protected(s.listRuns)).Methods(http.MethodGet)
	r.Handle("/api/tests/runs/{id}", s.protected(s.getRun)).Methods(http.MethodGet)
	r.Handle("/api/tests/runs/{id}", s.mutating(s.patchRun)).Methods(http.MethodPatch)
	r.Handle("/api/tests/runs/{id}/cancel", s.mutating(s.cancel)).Methods(http.MethodPost)
	r.Handle("/api/tests/runs/{id}/report.html", s.protected(s.report)).Methods(http.MethodGet)
	r.Handle("/api/tests/runs/{id}/events", s.protected(s.events)).Methods(http.MethodGet)
	r.Handle("/api/tests/ws/{id}", s.protected(s.websocketEvents)).Methods(http.MethodGet)
	if s.gatherer != nil {
		r.Handle("/metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})).Methods(http.MethodGet)
	}
	return r
}

// Health is GET /api/health.
type Health struct {
	Status            string   `json:"status"` // "ok"
	Version           string   `json:"version"`
	GoVersion         string   `json:"go_version"`
	UptimeS           float64  `json:"uptime_s"`
	ActiveRuns        int      `json:"active_runs"`
	MaxConcurrentRuns int      `json:"max_concurrent_runs"`
	MaxRate           float64  `json:"max_rate"`
	MaxVUs            int      `json:"max_vus"`
	MaxInFlight       int      `json:"max_in_flight"`
	AuthRequired      bool     `json:"auth_required"`
	AllowTargets      []string `json:"allow_targets"`
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	s.mu.Lock()
	active := s.active
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, Health{Status: "ok", Version: s.version, GoVersion: runtime.Version(),
		UptimeS: math.Round(s.now().Sub(s.started).Seconds()*1000) / 1000, ActiveRuns: active,
		MaxConcurrentRuns: s.cfg.MaxConcurrentRuns, MaxRate: s.cfg.MaxRate, MaxVUs: s.cfg.MaxVUs,
		MaxInFlight: s.cfg.MaxInFlight, AuthRequired: s.cfg.Token != "", AllowTargets: s.allow.patterns})
	return nil
}

func (s *Server) systemMetrics(w http.ResponseWriter, r *http.Request) error {
	snap, err := s.sampler.Sample(r.Context())
	if err != nil && snap.Time.IsZero() {
		return errorf(EUNAVAILABLE, "resource monitor: %v", err)
	}
	// A partial read names the failed figures in snap.Errors.
	writeJSON(w, http.StatusOK, snap)
	return nil
}

// Started is the 202 answer of POST /api/tests/start.
type Started struct {
	RunID  string       `json:"run_id"`
	Status store.Status `json:"status"`
	Name   string       `json:"name"`
	Type   string       `json:"type"`
	URL    string       `json:"url"` // where to poll it
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readPlan(r)
	if err != nil {
		return err
	}
	if err := s.admit(p); err != nil {
		return err
	}
	run, err := s.start(p)
	if err != nil {
		return err
	}
	url := "/api/tests/runs/" + run.id
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, Started{RunID: run.id, Status: store.StatusQueued, Name: run.name, Type: run.typ, URL: url})
	return nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	s.mu.Lock()
	run, ok := s.runs[id]
	s.mu.Unlock()
	if ok {
		writeJSON(w, http.StatusOK, s.render(run, true))
		return nil
	}
	if s.store == nil {
		return errorf(ENOTFOUND, "run %s not found", id)
	}
	sr, err := s.store.GetRun(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return errorf(ENOTFOUND, "run %s not found", id)
		}
		return err
	}
	writeJSON(w, http.StatusOK, storedView(sr, true))
	return nil
}

// report is GET /api/tests/runs/{id}/report.html: the run's self-contained HTML report from the store
// (internal/htmlreport), or with ?baseline=ID|last-passed the run compared with that baseline. 404 for a run (or
// baseline) the store does not have.
func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	st, ok := s.store.(store.Store) // serve's store; a RunStore that cannot render has no reports
	if !ok {
		return errorf(ENOTFOUND, "no store: reports are rendered from the stored runs")
	}
	ctx, id := r.Context(), mux.Vars(r)["id"]
	var b bytes.Buffer
	base, err := "", error(nil)
	if q := r.URL.Query().Get("baseline"); q != "" {
		base, err = gate.Baseline(ctx, st, q, id)
	}
	switch {
	case errors.Is(err, gate.ErrNoBaseline):
		return errorf(ENOTFOUND, "%v", err)
	case err != nil:
		return err
	case base != "":
		err = htmlreport.WriteCompare(ctx, &b, st, base, id, bench.Criteria{Tolerance: gate.DefaultTolerance})
	default:
		err = htmlreport.Write(ctx, &b, st, id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err = w.Write(b.Bytes())
	return err
}

// RunList is GET /api/tests/runs.
type RunList struct {
	Runs   []RunView `json:"runs"`
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
}

// MaxListLimit bounds ?limit=.
const MaxListLimit = 500

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.Filter{Status: store.Status(q.Get("status")), Type: store.Type(q.Get("type")), Plan: q.Get("plan"),
		Verdict: store.Verdict(q.Get("verdict")), Limit: store.DefaultListLimit}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &f.Limit, MaxListLimit}, {"offset", &f.Offset, math.MaxInt32}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max || (p.name == "limit" && n == 0) {
				return errorf(EINVALID, "%s=%s: want an integer from %d to %d", p.name, v, map[bool]int{true: 1, false: 0}[p.name == "limit"], p.max)
			}
			*p.dst = n
		}
	}
	switch f.Status {
	case "", store.StatusQueued, store.StatusRunning, store.StatusCompleted, store.StatusFailed, store.StatusAborted, store.StatusInterrupted, store.StatusPartial:
	default:
		return errorf(EINVALID, "status=%s: want queued, running, completed, failed, aborted, interrupted or partial", f.Status)
	}
	switch f.Type {
	case "", store.TypeLoad, store.TypeBenchmark, store.TypeStress, store.TypeKnee:
	default:
		return errorf(EINVALID, "type=%s: want load, benchmark, stress or knee", f.Type)
	}
	if f.Verdict != "" && !f.Verdict.Valid() {
		return errorf(EINVALID, "verdict=%s: want passed, thresholds_failed or regressed", f.Verdict)
	}
	match := func(v RunView) bool {
		return (f.Status == "" || v.Status == f.Status) && (f.Type == "" || v.Type == string(f.Type)) && (f.Plan == "" || v.Name == f.Plan) &&
			(f.Verdict == "" || v.Verdict == f.Verdict)
	}

	// The store pages the list. The run views this server holds are fresher
	// than the store's (whose writes may lag): they replace the stored rows.
	// Active runs the store does not have yet come on top of the first page
	// (so it may hold up to MaxConcurrentRuns more than limit, and no stored
	// run is skipped between pages).
	s.mu.Lock()
	mine := make(map[string]*run, len(s.runs))
	var active []*run
	for id, run := range s.runs {
		mine[id] = run
		if !run.status.Terminal() {
			active = append(active, run)
		}
	}
	s.mu.Unlock()

	var stored []store.Run
	if s.store != nil {
		var err error
		if stored, err = s.store.ListRuns(r.Context(), f); err != nil {
			return errorf(EUNAVAILABLE, "store: %v", err)
		}
	}
	out := RunList{Runs: []RunView{}, Limit: f.Limit, Offset: f.Offset}
	seen := map[string]bool{}
	for i := range stored {
		seen[stored[i].ID] = true
	}
	if f.Offset == 0 {
		sort.Slice(active, func(i, j int) bool { return active[i].created.After(active[j].created) })
		for _, run := range active {
			if seen[run.id] {
				continue
			}
			if v := s.render(run, false); match(v) {
				out.Runs = append(out.Runs, v)
			}
		}
	}
	if s.store == nil && f.Offset == 0 {
		// Without a store, the finished runs held in memory are the history.
		var done []*run
		s.mu.Lock()
		for _, id := range s.finished {
			done = append(done, s.runs[id])
		}
		s.mu.Unlock()
		for i := len(done) - 1; i >= 0; i-- {
			if v := s.render(done[i], false); match(v) {
				out.Runs = append(out.Runs, v)
			}
		}
	}
	for i := range stored {
		v := storedView(&stored[i], false)
		if run, ok := mine[v.RunID]; ok {
			totals := v.Totals
			v = s.render(run, false)
			if stored[i].Status.Terminal() {
				v.Totals = totals // the store's totals are final; while running, live says more
			}
			if !match(v) {
				continue
			}
		}
		out.Runs = append(out.Runs, v)
	}
	if s.store == nil && len(out.Runs) > f.Limit {
		out.Runs = out.Runs[:f.Limit]
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Canceled is the answer of cancel and stop-all.
type Canceled struct {
	RunIDs []string `json:"run_ids"`
	Status string   `json:"status"` // "cancelling"
}

// CancelWait is how long cancel waits for the run to end before answering
// (the answer then says the final status).
const CancelWait = 2 * time.Second

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	run, err := s.cancelRun(r.Context(), id)
	if err != nil {
		return err
	}
	t := time.NewTimer(CancelWait)
	defer t.Stop()
	select {
	case <-run.done:
	case <-t.C:
	case <-r.Context().Done():
	}
	writeJSON(w, http.StatusOK, s.render(run, false))
	return nil
}

func (s *Server) stopAllRuns(w http.ResponseWriter, _ *http.Request) error {
	ids := s.stopAll()
	sort.Strings(ids)
	writeJSON(w, http.StatusOK, Canceled{RunIDs: ids, Status: "cancelling"})
	return nil
}

// Patch is the body of PATCH /api/tests/runs/{id}: exactly one of Rate
// (open model, iterations/s) and VUs (closed model).
type Patch struct {
	Rate *float64 `json:"rate" yaml:"rate"`
	VUs  *int     `json:"vus" yaml:"vus"`
}

func (s *Server) patchRun(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	var p Patch
	if mt, _ := bodyType(r); slices.Contains(YAMLTypes, mt) {
		dec := yaml.NewDecoder(bytes.NewReader(body))
		dec.KnownFields(true)
		err = dec.Decode(&p)
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&p)
	}
	if err != nil {
		return errorf(EINVALID, `body: %v (want {"rate": N} or {"vus": N})`, err)
	}
	switch {
	case (p.Rate == nil) == (p.VUs == nil):
		return errorf(EINVALID, `want exactly one of {"rate": N} or {"vus": N}`)
	case p.Rate != nil && (math.IsNaN(*p.Rate) || math.IsInf(*p.Rate, 0) || *p.Rate < 0):
		return errorf(EINVALID, "rate %g: must be >= 0 and finite", *p.Rate)
	case p.Rate != nil && *p.Rate > plan.MaxRate:
		return errorf(EINVALID, "rate: must be <= %s (got %g)", num(plan.MaxRate), *p.Rate)
	case p.VUs != nil && *p.VUs < 0:
		return errorf(EINVALID, "vus %d: must be >= 0", *p.VUs)
	case p.VUs != nil && *p.VUs > plan.MaxVUs:
		return errorf(EINVALID, "vus: must be <= %d (got %d)", plan.MaxVUs, *p.VUs)
	case p.Rate != nil && s.cfg.MaxRate > 0 && *p.Rate > s.cfg.MaxRate:
		return errorf(ECAP, "rate asks for %s iterations/s; the rate cap (--max-rate) is %s", num(*p.Rate), num(s.cfg.MaxRate))
	case p.VUs != nil && s.cfg.MaxVUs > 0 && *p.VUs > s.cfg.MaxVUs:
		return errorf(ECAP, "vus asks for %d virtual users; the VU cap (--max-vus) is %d", *p.VUs, s.cfg.MaxVUs)
	}
	v, err := s.patch(r.Context(), mux.Vars(r)["id"], p.Rate, p.VUs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
