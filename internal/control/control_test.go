package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// fakeEngine counts "requests" on a ticker-free counter the test advances.
type fakeEngine struct {
	requests atomic.Uint64
	rate     atomic.Value // float64
	vus      atomic.Int64
}

func (e *fakeEngine) Snapshot() executor.Snapshot {
	r, _ := e.rate.Load().(float64)
	return executor.Snapshot{Running: true, Requests: e.requests.Load(), IntendedRate: r, TargetVUs: int(e.vus.Load())}
}
func (e *fakeEngine) SetRate(r float64) { e.rate.Store(r) }
func (e *fakeEngine) SetVUs(n int)      { e.vus.Store(int64(n)) }

// fakeRunner runs until cancelled or released; each run gets a fakeEngine.
type fakeRunner struct {
	mu      sync.Mutex
	engines map[string]*fakeEngine
	plans   map[string]*plan.Plan
	release chan struct{} // closed: runs complete
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{engines: map[string]*fakeEngine{}, plans: map[string]*plan.Plan{}, release: make(chan struct{})}
}

func (f *fakeRunner) Run(ctx context.Context, job Job) Outcome {
	e := &fakeEngine{}
	e.requests.Store(1)
	f.mu.Lock()
	f.engines[job.ID] = e
	f.plans[job.ID] = job.Plan
	f.mu.Unlock()
	job.Attach(e)
	select {
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), ErrCanceled) {
			return Outcome{Status: store.StatusAborted, Error: "cancelled", Summary: json.RawMessage(`{"status":"aborted"}`)}
		}
		return Outcome{Status: store.StatusInterrupted, Error: "interrupted"}
	case <-f.release:
		e.requests.Add(10)
		return Outcome{Status: store.StatusCompleted, Summary: json.RawMessage(`{"status":"completed","requests":11}`)}
	}
}

// plan returns the plan run id was given, once it runs.
func (f *fakeRunner) plan(id string) *plan.Plan {
	for range 500 {
		f.mu.Lock()
		p := f.plans[id]
		f.mu.Unlock()
		if p != nil {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (f *fakeRunner) engine(id string) *fakeEngine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.engines[id]
}

// memStore is a RunStore over a slice, newest first.
type memStore struct {
	runs        []store.Run
	interrupted []string
	fail        error
}

func (m *memStore) GetRun(_ context.Context, id string) (*store.Run, error) {
	for i := range m.runs {
		if m.runs[i].ID == id {
			r := m.runs[i]
			return &r, nil
		}
	}
	return nil, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
}

func (m *memStore) ListRuns(_ context.Context, f store.Filter) ([]store.Run, error) {
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.Run
	for _, r := range m.runs {
		if (f.Status == "" || r.Status == f.Status) && (f.Type == "" || r.Type == f.Type) && (f.Verdict == "" || r.Verdict == f.Verdict) {
			out = append(out, r)
		}
	}
	if f.Offset >= len(out) {
		return nil, nil
	}
	out = out[f.Offset:]
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (m *memStore) MarkInterrupted(context.Context) ([]string, error) { return m.interrupted, nil }

type fakeSampler struct{ err error }

func (f fakeSampler) Sample(context.Context) (sysmon.Snapshot, error) {
	if f.err != nil {
		return sysmon.Snapshot{}, f.err
	}
	return sysmon.Snapshot{Time: time.Unix(1700000000, 0).UTC(), Host: sysmon.Host{CPUs: 2, MemoryTotalBytes: 1 << 30}}, nil
}

type harness struct {
	t      *testing.T
	srv    *Server
	runner *fakeRunner
	store  *memStore
	url    string
	ids    atomic.Int64
}

func newHarness(t *testing.T, cfg Config, opts ...Option) *harness {
	t.Helper()
	h := &harness{t: t, runner: newFakeRunner(), store: &memStore{}}
	opts = append([]Option{WithSampler(fakeSampler{}), WithNewID(func() string {
		return fmt.Sprintf("run-%03d", h.ids.Add(1))
	})}, opts...)
	srv, err := New(cfg, h.runner, h.store, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.srv = srv
	h.url = serve(t, srv, 5*time.Second)
	return h
}

// serve serves srv's API on 127.0.0.1:0 and returns its URL. At cleanup, srv is shut down within grace (an error
// fails the test), the test server closed, then each of after run with what is left of grace.
func serve(t *testing.T, srv *Server, grace time.Duration, after ...func(context.Context)) string {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
		for _, f := range after {
			f(ctx)
		}
	})
	return ts.URL
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (h *harness) do(method, path, body string, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

func (h *harness) want(a answer, status int, errContains string) {
	h.t.Helper()
	if a.status != status {
		h.t.Fatalf("status = %d; want %d (body %s)", a.status, status, a.raw)
	}
	if errContains != "" {
		msg, _ := a.body["error"].(string)
		if !strings.Contains(msg, errContains) {
			h.t.Fatalf("error = %q; want it to contain %q", msg, errContains)
		}
	}
	if status >= 400 && a.header.Get("Content-Type") != "application/json" {
		h.t.Fatalf("error Content-Type = %q; want application/json", a.header.Get("Content-Type"))
	}
}

const yamlPlan = `name: api-test
target: http://127.0.0.1:1
scenarios:
  - name: s
    steps:
      - name: health
        request: {path: /api/health}
load:
  model: open
  phases:
    - {name: p1, duration: 10s, rate: 10, to: %s}
`

func planYAML(to string) string { return fmt.Sprintf(yamlPlan, to) }

const closedPlanJSON = `{"name": "json-plan", "target": "http://localhost:1",
 "scenarios": [{"name": "s", "steps": [{"name": "health", "request": {"path": "/api/health"}}]}],
 "load": {"model": "closed", "phases": [{"name": "p", "duration": "10s", "vus": 5}]}}`

func yamlHdr() []string { return []string{"Content-Type", "application/yaml"} }

func TestStartAndInspect(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrentRuns: 3, MaxRate: 100, MaxVUs: 10})
	tests := []struct {
		name, body, ct string
		wantType       string
		wantModel      string
	}{
		{"yaml", planYAML("20"), "application/yaml", "load", "open"},
		{"json plan", closedPlanJSON, "application/json", "load", "closed"},
		{"short form", `{"name":"short","test_type":"load","target_url":"http://127.0.0.1:1","users":3,"duration_seconds":5}`, "application/json", "load", "closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do("POST", "/api/tests/start", tc.body, "Content-Type", tc.ct)
			h.want(a, http.StatusAccepted, "")
			id, _ := a.body["run_id"].(string)
			if id == "" || a.body["status"] != "queued" {
				t.Fatalf("start answer = %s; want a run_id and status queued", a.raw)
			}
			if loc := a.header.Get("Location"); loc != "/api/tests/runs/"+id {
				t.Errorf("Location = %q; want /api/tests/runs/%s", loc, id)
			}
			g := h.do("GET", "/api/tests/runs/"+id, "")
			h.want(g, http.StatusOK, "")
			if g.body["type"] != tc.wantType || g.body["model"] != tc.wantModel {
				t.Errorf("type, model = %v, %v; want %s, %s", g.body["type"], g.body["model"], tc.wantType, tc.wantModel)
			}
			st := g.body["status"]
			if st != "queued" && st != "running" {
				t.Errorf("status = %v; want queued or running", st)
			}
		})
	}
	// the live figures appear once the engine is attached
	waitFor(t, func() bool {
		g := h.do("GET", "/api/tests/runs/run-001", "")
		live, _ := g.body["live"].(map[string]any)
		return g.body["status"] == "running" && live != nil && live["requests"] == 1.0
	})
	// finish them all: completed, with the summary
	close(h.runner.release)
	waitFor(t, func() bool { return h.do("GET", "/api/tests/runs/run-001", "").body["status"] == "completed" })
	g := h.do("GET", "/api/tests/runs/run-001", "")
	sum, _ := g.body["summary"].(map[string]any)
	live, _ := g.body["live"].(map[string]any)
	if sum["requests"] != 11.0 || live["requests"] != 11.0 {
		t.Errorf("finished run: summary.requests = %v, live.requests = %v; want 11, 11", sum["requests"], live["requests"])
	}
}

func TestShortFormPlans(t *testing.T) {
	tests := []struct {
		body    string
		status  int
		errText string
		typ     string
	}{
		{`{"test_type":"benchmark","target_url":"http://127.0.0.1:1"}`, 202, "", "benchmark"},
		{`{"test_type":"stress","target_url":"http://127.0.0.1:1","error_threshold_percent":2}`, 202, "", "stress"},
		{`{"test_type":"spike","target_url":"http://127.0.0.1:1"}`, 400, "test_type: unknown test type", ""},
		{`{"test_type":"load"}`, 400, "target_url: required", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","users":0}`, 400, "users: must be >= 1", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","users":11}`, 422, "11 virtual users; the VU cap (--max-vus) is 10", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","users":1e19}`, 400, "cannot unmarshal number 1e19", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","users":200000}`, 400, "users: must be <= 100000 (got 200000)", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","duration_seconds":1e300}`, 400, "duration_seconds: must be <= 604800 (got 1e+300)", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","duration_seconds":1000000}`, 400, "duration_seconds: must be <= 604800 (got 1e+06)", ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","duration_seconds":604800}`, 202, "", "load"},
		{`{"test_type":"load","target_url":"http://10.1.2.3:80"}`, 403, `"10.1.2.3" is not in the allow-list`, ""},
		{`{"test_type":"load","target_url":"http://127.0.0.1:1","colour":"red"}`, 400, `unknown field "colour"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			h := newHarness(t, Config{MaxRate: 100, MaxVUs: 10})
			a := h.do("POST", "/api/tests/start", tc.body, "Content-Type", "application/json")
			h.want(a, tc.status, "")
			if tc.errText != "" {
				got, _ := a.body["error"].(string)
				if txt, _ := a.body["text"].(string); txt != "" {
					got += " | " + txt
				}
				if !strings.Contains(got, tc.errText) {
					t.Fatalf("error = %q; want it to contain %q", got, tc.errText)
				}
			}
			if tc.typ != "" && a.body["type"] != tc.typ {
				t.Fatalf("type = %v; want %s", a.body["type"], tc.typ)
			}
		})
	}
}

func TestShortFormStressCappedAtMaxRate(t *testing.T) {
	f := ShortForm{TestType: "stress", TargetURL: "http://127.0.0.1:1"}
	y, err := f.YAML(300)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "max_rate: 300") || !strings.Contains(string(y), "error_threshold: 5%") {
		t.Fatalf("YAML = %s; want max_rate: 300 and error_threshold: 5%%", y)
	}
}

func TestStartErrors(t *testing.T) {
	big := "name: x\n# " + strings.Repeat("a", MaxBodyBytes) + "\n"
	tests := []struct {
		name, body string
		hdr        []string
		status     int
		errText    string
	}{
		{"empty", "", yamlHdr(), 400, "empty body"},
		{"bad json", `{"name": `, []string{"Content-Type", "application/json"}, 400, "not valid JSON"},
		{"content type", "x", []string{"Content-Type", "image/png"}, 415, `content type "image/png"`},
		{"too large", big, yamlHdr(), 413, "1048576-byte limit"},
		{"forbidden target", strings.Replace(planYAML("20"), "127.0.0.1:1", "example.com", 1), yamlHdr(), 403, `target host "example.com" is not in the allow-list [127.0.0.0/8, ::1, localhost]`},
		{"rate cap", planYAML("20"), yamlHdr(), 422, "load.phases[0] (p1).to asks for 20 iterations/s; the rate cap (--max-rate) is 15"},
		{"rate cap first value", strings.Replace(planYAML("5"), "rate: 10", "rate: 16", 1), yamlHdr(), 422, "load.phases[0] (p1).rate asks for 16"},
		{"vus cap", strings.Replace(closedPlanJSON, `"vus": 5`, `"vus": 8`, 1), []string{"Content-Type", "application/json"}, 422, "asks for 8 virtual users; the VU cap (--max-vus) is 7"},
		{"vus cap on to", strings.Replace(closedPlanJSON, `"vus": 5`, `"vus": 5, "to": 8`, 1), []string{"Content-Type", "application/json"}, 422, "(p).to asks for 8 virtual users; the VU cap (--max-vus) is 7"},
		{"max_in_flight cap", strings.Replace(planYAML("5"), "model: open", "model: open\n  max_in_flight: 12", 1), yamlHdr(), 422, "load.max_in_flight asks for 12 iterations in flight; the in-flight cap (--max-in-flight) is 11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{MaxRate: 15, MaxVUs: 7, MaxInFlight: 11})
			h.want(h.do("POST", "/api/tests/start", tc.body, tc.hdr...), tc.status, tc.errText)
		})
	}
}

// TestStartRefusesAbsurdNumbers: numbers beyond the plan limits are refused
// (400) before the caps, naming the limit. Before, max_in_flight:
// 100000000000000 was accepted (202) and crashed serve in make(chan), and a
// closed-model to: 1e19 passed the VU cap as a negative int.
func TestStartRefusesAbsurdNumbers(t *testing.T) {
	h := newHarness(t, Config{MaxRate: 15, MaxVUs: 7, MaxInFlight: 11})
	jsonHdr := []string{"Content-Type", "application/json"}
	for _, tc := range []struct {
		name, body string
		hdr        []string
		text       string
	}{
		{"to 1e19", strings.Replace(closedPlanJSON, `"vus": 5`, `"vus": 5, "to": 1e19`, 1), jsonHdr, "load.phases[0].to: must be <= 100000 (got 1e+19)"},
		{"vus 1e19", strings.Replace(closedPlanJSON, `"vus": 5`, `"vus": 1e19`, 1), jsonHdr, "load.phases[0].vus: must be <= 100000 (got 1e+19)"},
		{"to fractional", strings.Replace(closedPlanJSON, `"vus": 5`, `"vus": 5, "to": 7.5`, 1), jsonHdr, "load.phases[0].to: must be a whole number"},
		{"max_in_flight", strings.Replace(planYAML("5"), "model: open", "model: open\n  max_in_flight: 100000000000000", 1), yamlHdr(), "load.max_in_flight: must be <= 100000 (got 100000000000000)"},
		{"max_in_flight fractional", strings.Replace(planYAML("5"), "model: open", "model: open\n  max_in_flight: 1.5", 1), yamlHdr(), "load.max_in_flight: must be a whole number (got 1.5)"},
		{"rate", planYAML("1e400"), yamlHdr(), "load.phases[0].to: must be <= 1000000 (got +Inf)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do("POST", "/api/tests/start", tc.body, tc.hdr...)
			h.want(a, http.StatusBadRequest, "invalid plan")
			if text, _ := a.body["text"].(string); !strings.Contains(text, tc.text) {
				t.Errorf("text = %q; want %q", text, tc.text)
			}
		})
	}
	// A plan that leaves max_in_flight out runs at the cap when the cap is below the default.
	a := h.do("POST", "/api/tests/start", planYAML("5"), yamlHdr()...)
	h.want(a, http.StatusAccepted, "")
	if got := h.runner.plan(a.body["run_id"].(string)).Load.MaxInFlight; got != 11 {
		t.Errorf("max_in_flight left out: runs with %d; want the cap, 11", got)
	}
	// PATCH takes no number beyond the plan limits either, with no cap set.
	h2 := newHarness(t, Config{})
	id := h2.do("POST", "/api/tests/start", planYAML("5"), yamlHdr()...).body["run_id"].(string)
	h2.want(h2.do("PATCH", "/api/tests/runs/"+id, `{"rate": 1e300}`, jsonHdr...), 400, "rate: must be <= 1000000 (got 1e+300)")
}

func TestStartInvalidPlan(t *testing.T) {
	h := newHarness(t, Config{})
	body := "name: bad\ntarget: http://127.0.0.1:1\nscenarios:\n  - name: s\n    steps:\n      - request: {path: /x, method: FETCH}\nload:\n  phases:\n    - {name: p, duration: 0s, rate: 10}\n"
	a := h.do("POST", "/api/tests/start", body, yamlHdr()...)
	h.want(a, http.StatusBadRequest, "invalid plan")
	text, _ := a.body["text"].(string)
	errs, _ := a.body["errors"].([]any)
	if len(errs) < 2 {
		t.Fatalf("errors = %v; want at least 2", errs)
	}
	lines := strings.Split(text, "\n")
	if len(lines) != len(errs) {
		t.Fatalf("text has %d lines, errors %d entries; want the same", len(lines), len(errs))
	}
	for i, e := range errs {
		m := e.(map[string]any)
		want := fmt.Sprintf("%v:%v: %v: %v", m["line"], m["col"], m["path"], m["message"])
		if m["text"] != want || lines[i] != want {
			t.Errorf("error %d: text %q, line %q; want %q", i, m["text"], lines[i], want)
		}
	}
	if !strings.Contains(text, "load.phases[0].duration: must be > 0") {
		t.Errorf("text = %q; want the duration problem", text)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	h := newHarness(t, Config{})
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 409, "1 run(s) already active; the limit is 1 (--max-concurrent-runs)")
	h.want(h.do("POST", "/api/tests/runs/run-001/cancel", ""), 200, "")
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
}

func TestAuth(t *testing.T) {
	h := newHarness(t, Config{Token: "s3cret"})
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"start without token", "POST", "/api/tests/start", planYAML("20"), yamlHdr(), 401},
		{"start wrong token", "POST", "/api/tests/start", planYAML("20"), append(yamlHdr(), "Authorization", "Bearer nope"), 401},
		{"start wrong scheme", "POST", "/api/tests/start", planYAML("20"), append(yamlHdr(), "Authorization", "Basic s3cret"), 401},
		{"stop-all without token", "POST", "/api/tests/stop-all", "", nil, 401},
		{"cancel without token", "POST", "/api/tests/runs/x/cancel", "", nil, 401},
		{"patch without token", "PATCH", "/api/tests/runs/x", `{"rate":1}`, nil, 401},
		{"list without token", "GET", "/api/tests/runs", "", nil, 401},
		{"get without token", "GET", "/api/tests/runs/x", "", nil, 401},
		{"system metrics without token", "GET", "/api/system/metrics", "", nil, 401},
		{"list wrong token", "GET", "/api/tests/runs", "", []string{"Authorization", "Bearer nope"}, 401},
		{"list with token", "GET", "/api/tests/runs", "", []string{"Authorization", "Bearer s3cret"}, 200},
		{"system metrics with token", "GET", "/api/system/metrics", "", []string{"Authorization", "Bearer s3cret"}, 200},
		{"health is open", "GET", "/api/health", "", nil, 200},
		{"start with token", "POST", "/api/tests/start", planYAML("20"), append(yamlHdr(), "Authorization", "Bearer s3cret"), 202},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(tc.method, tc.path, tc.body, tc.hdr...)
			h.want(a, tc.status, "")
			if tc.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want Bearer", a.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrentRuns: 2})
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	h.store.runs = []store.Run{{ID: "old", Name: "old", Type: store.TypeLoad, Status: store.StatusCompleted}}
	a := h.do("POST", "/api/tests/runs/run-001/cancel", "")
	h.want(a, 200, "")
	if a.body["status"] != "aborted" {
		t.Fatalf("cancel answer status = %v; want aborted", a.body["status"])
	}
	h.want(h.do("POST", "/api/tests/runs/run-001/cancel", ""), 409, "already ended (aborted)")
	h.want(h.do("POST", "/api/tests/runs/old/cancel", ""), 409, "already ended (completed)")
	h.want(h.do("POST", "/api/tests/runs/nope/cancel", ""), 404, "run nope not found")
}

func TestStopAll(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrentRuns: 3})
	for range 3 {
		h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	}
	a := h.do("POST", "/api/tests/stop-all", "")
	h.want(a, 200, "")
	if got := fmt.Sprint(a.body["run_ids"]); got != "[run-001 run-002 run-003]" {
		t.Fatalf("run_ids = %s; want [run-001 run-002 run-003]", got)
	}
	for _, id := range []string{"run-001", "run-002", "run-003"} {
		waitFor(t, func() bool { return h.do("GET", "/api/tests/runs/"+id, "").body["status"] == "aborted" })
	}
	if a := h.do("POST", "/api/tests/stop-all", ""); fmt.Sprint(a.body["run_ids"]) != "[]" {
		t.Fatalf("second stop-all run_ids = %v; want []", a.body["run_ids"])
	}
}

func TestPatch(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrentRuns: 3, MaxRate: 100, MaxVUs: 10})
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")                                                                      // run-001 open
	h.want(h.do("POST", "/api/tests/start", closedPlanJSON, "Content-Type", "application/json"), 202, "")                                                // run-002 closed
	h.want(h.do("POST", "/api/tests/start", `{"test_type":"benchmark","target_url":"http://127.0.0.1:1"}`, "Content-Type", "application/json"), 202, "") // run-003
	waitFor(t, func() bool { return h.runner.engine("run-001") != nil && h.runner.engine("run-002") != nil })
	tests := []struct {
		name, id, body string
		status         int
		errText        string
	}{
		{"rate", "run-001", `{"rate": 50}`, 200, ""},
		{"vus", "run-002", `{"vus": 7}`, 200, ""},
		{"rate over cap", "run-001", `{"rate": 101}`, 422, "rate asks for 101 iterations/s; the rate cap (--max-rate) is 100"},
		{"vus over cap", "run-002", `{"vus": 11}`, 422, "vus asks for 11 virtual users; the VU cap (--max-vus) is 10"},
		{"vus on open", "run-001", `{"vus": 3}`, 409, "open model"},
		{"rate on closed", "run-002", `{"rate": 3}`, 409, "closed model"},
		{"benchmark", "run-003", `{"rate": 3}`, 409, "only load runs"},
		{"both", "run-001", `{"rate": 3, "vus": 2}`, 400, "exactly one"},
		{"neither", "run-001", `{}`, 400, "exactly one"},
		{"negative", "run-001", `{"rate": -1}`, 400, "must be >= 0"},
		{"unknown field", "run-001", `{"speed": 1}`, 400, "unknown field"},
		{"not json", "run-001", `rate=1`, 400, "body:"},
		{"unknown run", "nope", `{"rate": 1}`, 404, "run nope not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.want(h.do("PATCH", "/api/tests/runs/"+tc.id, tc.body, "Content-Type", "application/json"), tc.status, tc.errText)
		})
	}
	if r, _ := h.runner.engine("run-001").rate.Load().(float64); r != 50 {
		t.Errorf("engine rate = %v; want 50", r)
	}
	if v := h.runner.engine("run-002").vus.Load(); v != 7 {
		t.Errorf("engine vus = %d; want 7", v)
	}
	g := h.do("GET", "/api/tests/runs/run-001", "")
	if ov, _ := g.body["overrides"].(map[string]any); ov["rate"] != 50.0 {
		t.Errorf("overrides = %v; want rate 50", g.body["overrides"])
	}
	h.want(h.do("POST", "/api/tests/runs/run-001/cancel", ""), 200, "")
	h.want(h.do("PATCH", "/api/tests/runs/run-001", `{"rate": 5}`, "Content-Type", "application/json"), 409, "already ended")
}

func TestGetRunFromStore(t *testing.T) {
	h := newHarness(t, Config{})
	h.store.runs = []store.Run{{ID: "r1", Name: "p", Type: store.TypeStress, Status: store.StatusCompleted,
		Totals: store.Totals{Requests: 42}, SummaryJSON: json.RawMessage(`{"max_sustainable_rps":64}`)}}
	a := h.do("GET", "/api/tests/runs/r1", "")
	h.want(a, 200, "")
	sum, _ := a.body["summary"].(map[string]any)
	tot, _ := a.body["totals"].(map[string]any)
	if a.body["status"] != "completed" || sum["max_sustainable_rps"] != 64.0 || tot["requests"] != 42.0 {
		t.Fatalf("GET stored run = %s", a.raw)
	}
	h.want(h.do("GET", "/api/tests/runs/none", ""), 404, "run none not found")
}

func TestListRuns(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrentRuns: 2})
	for i := 9; i >= 1; i-- {
		typ, st := store.TypeLoad, store.StatusCompleted
		if i%3 == 0 {
			typ = store.TypeStress
		}
		if i%2 == 0 {
			st = store.StatusFailed
		}
		verdict := store.VerdictNone
		if st == store.StatusCompleted {
			verdict = store.VerdictPassed
		}
		h.store.runs = append(h.store.runs, store.Run{ID: fmt.Sprintf("s%d", i), Name: "p", Type: typ, Status: st, Verdict: verdict})
	}
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "") // run-001, only in memory
	ids := func(a answer) string {
		var out []string
		for _, r := range a.body["runs"].([]any) {
			out = append(out, r.(map[string]any)["run_id"].(string))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		query, want string
	}{
		{"", "run-001,s9,s8,s7,s6,s5,s4,s3,s2,s1"},
		{"?limit=3", "run-001,s9,s8,s7"}, // the active run not yet stored comes on top of page one
		{"?limit=3&offset=3", "s6,s5,s4"},
		{"?type=stress", "s9,s6,s3"},
		{"?status=failed", "s8,s6,s4,s2"},
		{"?status=running", "run-001"},
		{"?status=failed&type=stress", "s6"},
		{"?type=load&limit=2", "run-001,s8,s7"},
		{"?verdict=passed", "s9,s7,s5,s3,s1"},
		{"?verdict=regressed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := h.do("GET", "/api/tests/runs"+tc.query, "")
			h.want(a, 200, "")
			if got := ids(a); got != tc.want {
				t.Fatalf("runs = %s; want %s", got, tc.want)
			}
		})
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=501", "?offset=-1", "?status=done", "?type=soak", "?verdict=great"} {
		h.want(h.do("GET", "/api/tests/runs"+q, ""), 400, "")
	}
	h.store.fail = errors.New("database is down")
	h.want(h.do("GET", "/api/tests/runs", ""), 503, "store: database is down")
}

func TestSystemMetricsHealthAndMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadgen_test_gauge", Help: "A test gauge."})
	reg.MustRegister(g)
	h := newHarness(t, Config{Token: "t"}, WithGatherer(reg), WithVersion("v9"))
	a := h.do("GET", "/api/system/metrics", "", "Authorization", "Bearer t")
	h.want(a, 200, "")
	host, _ := a.body["host"].(map[string]any)
	if host["cpus"] != 2.0 {
		t.Fatalf("system metrics = %s; want host.cpus 2", a.raw)
	}
	a = h.do("GET", "/api/health", "")
	h.want(a, 200, "")
	if a.body["status"] != "ok" || a.body["version"] != "v9" || a.body["auth_required"] != true || a.body["max_concurrent_runs"] != 1.0 {
		t.Fatalf("health = %s", a.raw)
	}
	a = h.do("GET", "/metrics", "")
	if a.status != 200 || !strings.Contains(a.raw, "loadgen_test_gauge 0") {
		t.Fatalf("/metrics = %d %s", a.status, a.raw)
	}
	h.want(h.do("DELETE", "/api/health", ""), 405, "not allowed")
	h.want(h.do("GET", "/api/nothing", ""), 404, "no endpoint GET /api/nothing")

	h2 := newHarness(t, Config{}, WithSampler(fakeSampler{err: errors.New("proc unreadable")}))
	h2.want(h2.do("GET", "/api/system/metrics", ""), 503, "resource monitor: proc unreadable")
	h2.want(h2.do("GET", "/metrics", ""), 404, "")
}

func TestRecover(t *testing.T) {
	h := newHarness(t, Config{})
	h.store.interrupted = []string{"a", "b"}
	got, err := h.srv.Recover(context.Background())
	if err != nil || fmt.Sprint(got) != "[a b]" {
		t.Fatalf("Recover = %v, %v; want [a b], nil", got, err)
	}
}

func TestShutdownInterruptsRuns(t *testing.T) {
	h := newHarness(t, Config{})
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a := h.do("GET", "/api/tests/runs/run-001", "")
	if a.body["status"] != "interrupted" {
		t.Fatalf("after Shutdown status = %v; want interrupted", a.body["status"])
	}
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 503, "shutting down")
}

func TestAllowList(t *testing.T) {
	a, err := parseAllowList([]string{"127.0.0.0/8", "::1", "localhost", "*.staging.example", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "[::1]": true, "localhost": true, "LOCALHOST.": true,
		"api.staging.example": true, "10.1.2.3": true, "::ffff:127.0.0.1": true,
		"10.1.2.4": false, "staging.example": false, "example.com": false, "localhost.evil": false, "0.0.0.0": false,
	}
	for host, want := range tests {
		if got := a.allowed(host); got != want {
			t.Errorf("allowed(%q) = %v; want %v", host, got, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "a*b", "host:80"} {
		if _, err := parseAllowList([]string{bad}); err == nil {
			t.Errorf("parseAllowList(%q) = nil error; want one", bad)
		}
	}
	any, _ := parseAllowList([]string{"*"})
	if !any.allowed("example.com") {
		t.Error(`"*" does not allow example.com`)
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	tests := map[string]bool{"127.0.0.1:8089": true, "[::1]:1": true, "localhost:8089": true,
		":8089": false, "0.0.0.0:8089": false, "10.0.0.1:80": false, "nonsense": false}
	for addr, want := range tests {
		if got := IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v; want %v", addr, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDefaultTarget(t *testing.T) {
	h := newHarness(t, Config{DefaultTarget: "http://target:8117"})
	noTarget := strings.Replace(planYAML("20"), "target: http://127.0.0.1:1\n", "", 1)
	a := h.do("POST", "/api/tests/start", noTarget, yamlHdr()...)
	h.want(a, 202, "")
	if g := h.do("GET", "/api/tests/runs/"+a.body["run_id"].(string), ""); g.body["target"] != "http://target:8117" {
		t.Fatalf("target = %v; want the default http://target:8117", g.body["target"])
	}
	h.want(h.do("POST", "/api/tests/runs/run-001/cancel", ""), 200, "")
	a = h.do("POST", "/api/tests/start", `{"test_type":"load"}`, "Content-Type", "application/json")
	h.want(a, 202, "")
	if g := h.do("GET", "/api/tests/runs/"+a.body["run_id"].(string), ""); g.body["target"] != "http://target:8117" {
		t.Fatalf("short form target = %v; want the default", g.body["target"])
	}
	h.want(h.do("POST", "/api/tests/stop-all", ""), 200, "")
	// the default target's host is allowed; others still are not
	h.want(h.do("POST", "/api/tests/start", strings.Replace(planYAML("20"), "127.0.0.1:1", "other:1", 1), yamlHdr()...), 403, `"other" is not in the allow-list [127.0.0.0/8, ::1, localhost, target]`)
}
