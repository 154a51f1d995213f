package control

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// breakingRunner is the real EngineRunner, except that the last step of
// every scenario of a plan named boom* gets a compiled header without a
// template (a plan built in Go by mistake): the engine's workers, virtual
// users or think-time callbacks panic on it (a nil pointer dereference).
type breakingRunner struct{ *EngineRunner }

func (b breakingRunner) Run(ctx context.Context, job Job) Outcome {
	if strings.HasPrefix(job.Plan.Name, "boom") {
		for i := range job.Plan.Scenarios {
			steps := job.Plan.Scenarios[i].Steps
			cr := *steps[len(steps)-1].Request.Compiled
			cr.Headers = append(append([]plan.HeaderTemplate(nil), cr.Headers...), plan.HeaderTemplate{Name: "X-Broken"})
			steps[len(steps)-1].Request.Compiled = &cr
		}
	}
	return b.EngineRunner.Run(ctx, job)
}

func panicPlan(name, targetURL, load string) string {
	return `name: ` + name + `
target: ` + targetURL + `
scenarios:
  - name: api
    think: 10ms
    steps:
      - {name: health, request: {path: /api/health}}
      - {name: teams, request: {path: /api/teams}}
` + load
}

// TestPanicFailsOnlyThatRun: in a serve-like setup (the real engine, a real
// store), runs whose engine panics (an open-model worker, a closed-model
// think-time callback, a stress probe) end as failed with the panic's
// message in the API and in the store, while a run started alongside
// completes and /api/health keeps answering.
func TestPanicFailsOnlyThatRun(t *testing.T) {
	tgt := startTarget(t)
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/runs.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	mon := sysmon.New()
	er := &EngineRunner{Store: st, StoreURL: "sqlite://test", Metrics: metrics.New(reg), Monitor: mon}
	srv, err := New(Config{MaxConcurrentRuns: 4}, breakingRunner{er}, st, WithGatherer(reg), WithSampler(mon.NewSampler()))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{harness: &harness{t: t, srv: srv, url: serve(t, srv, 10*time.Second)}, st: st, reg: reg}

	good := e.startRun(panicPlan("good", tgt.URL, "load: {model: open, phases: [{name: steady, duration: 3s, rate: 20}]}\n"))
	bad := map[string]string{ // run ID -> where it panics
		e.startRun(panicPlan("boom-open", tgt.URL, "load: {model: open, phases: [{name: steady, duration: 1m, rate: 20}]}\n")):     "executor worker",
		e.startRun(panicPlan("boom-closed", tgt.URL, "load: {model: closed, phases: [{name: steady, duration: 1m, vus: 5}]}\n")):   "virtual user",
		e.startRun(panicPlan("boom-stress", tgt.URL, "type: stress\nstress: {probe_duration: 1s, cooldown: 0s, max_probes: 2}\n")): "executor worker",
	}
	for id, where := range bad {
		a := e.waitTerminal(id)
		t.Logf("run %s: %v: %v", id, a.body["status"], a.body["error"])
		want := "panic in " + where + ": runtime error: invalid memory address or nil pointer dereference"
		if a.body["status"] != "failed" || !strings.Contains(a.body["error"].(string), want) {
			t.Errorf("run %s: status %v, error %q; want failed with %q", id, a.body["status"], a.body["error"], want)
		}
		if h := e.do("GET", "/api/health", ""); h.status != http.StatusOK {
			t.Fatalf("GET /api/health = %d after a run panicked", h.status)
		}
		sr, err := st.GetRun(ctx, id)
		if err != nil {
			t.Fatalf("store: %v", err)
		}
		if sr.Status != store.StatusFailed || !strings.Contains(sr.Error, want) {
			t.Errorf("stored run %s: status %s, error %q; want failed with %q", id, sr.Status, sr.Error, want)
		}
	}
	a := e.waitTerminal(good)
	if a.body["status"] != "completed" || liveRequests(a) < 40 {
		t.Errorf("the run started alongside: status %v, %v requests; want completed, about 60", a.body["status"], liveRequests(a))
	}
	if h := e.do("GET", "/api/health", ""); h.status != http.StatusOK || h.body["active_runs"] != 0.0 {
		t.Errorf("GET /api/health = %d %v; want 200 with no active run", h.status, h.body)
	}
}

// waitTerminal polls run id until it has ended (30 s at most).
func (e *e2e) waitTerminal(id string) answer {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := e.get(id)
		if s, _ := a.body["status"].(string); store.Status(s).Terminal() {
			return a
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s still %v after 30 s", id, a.body["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
