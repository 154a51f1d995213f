package control

import (
	"context"
	"encoding/json"
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
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/sysmon"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
)

// countingTarget is the in-process demo target behind a counter of the
// requests it answered (the test server's own count).
type countingTarget struct {
	URL   string
	count atomic.Int64
	mu    sync.Mutex
	marks []int64 // count sampled every 100 ms
}

func startTarget(t *testing.T) *countingTarget {
	t.Helper()
	srv, err := target.New(target.FixedServiceConfig(64, 512, time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTarget{}
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			ct.count.Add(1)
		}
	}))
	t.Cleanup(ts.Close)
	ct.URL = ts.URL
	return ct
}

// e2e is a control server over the real engine, a real SQLite store and
// serve's own registry.
type e2e struct {
	*harness
	st  store.Store
	reg *prometheus.Registry
}

func newE2E(t *testing.T, cfg Config) *e2e {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/runs.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	mon := sysmon.New()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), mon)
	er := &EngineRunner{Store: st, StoreURL: "sqlite://test", Metrics: m, Monitor: mon}
	srv, err := New(cfg, er, st, WithGatherer(reg), WithSampler(mon.NewSampler()))
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, srv, 10*time.Second)
	return &e2e{harness: &harness{t: t, srv: srv, url: url}, st: st, reg: reg}
}

func openPlan(targetURL string, rate float64, dur time.Duration) string {
	return fmt.Sprintf(`name: e2e
target: %s
scenarios:
  - name: api
    steps:
      - name: health
        request: {path: /api/health}
        check: {status: [200]}
load:
  model: open
  phases:
    - {name: steady, duration: %s, rate: %g}
`, targetURL, dur, rate)
}

// startRun posts a plan and returns the run ID.
func (e *e2e) startRun(body string) string {
	e.t.Helper()
	a := e.do("POST", "/api/tests/start", body, "Content-Type", "application/yaml")
	e.want(a, http.StatusAccepted, "")
	return a.body["run_id"].(string)
}

func (e *e2e) get(id string) answer { return e.do("GET", "/api/tests/runs/"+id, "") }

func liveRequests(a answer) float64 {
	live, _ := a.body["live"].(map[string]any)
	n, _ := live["requests"].(float64)
	return n
}

func TestEndToEndRunStoreMetricsCancel(t *testing.T) {
	tgt := startTarget(t)
	e := newE2E(t, Config{})
	id := e.startRun(openPlan(tgt.URL, 40, 30*time.Second))
	waitFor(t, func() bool { a := e.get(id); return a.body["status"] == "running" && liveRequests(a) >= 20 })

	// serve's /metrics carries the run's loadgen_* series and sysmon's
	m := e.do("GET", "/metrics", "")
	for _, want := range []string{
		`loadgen_run_info{plan="e2e",run_id="` + id + `",type="load"} 1`,
		`loadgen_requests_total{code="200",method="GET",scenario="api",step="health"}`,
		`loadgen_target_rate_iterations_per_second 40`,
		"loadgen_run_active 1",
		"loadgen_host_cpus",
		"go_goroutines",
	} {
		if !strings.Contains(m.raw, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// the store has it as running
	if r, err := e.st.GetRun(context.Background(), id); err != nil || r.Status != store.StatusRunning {
		t.Fatalf("store GetRun = %+v, %v; want status running", r, err)
	}

	t0 := time.Now()
	a := e.do("POST", "/api/tests/runs/"+id+"/cancel", "")
	latency := time.Since(t0)
	e.want(a, http.StatusOK, "")
	if a.body["status"] != "aborted" {
		t.Fatalf("cancel answered status %v; want aborted", a.body["status"])
	}
	t.Logf("cancel latency (POST to recorded aborted): %v", latency)
	if latency > time.Second {
		t.Errorf("cancel took %v; want within 1s", latency)
	}
	// the target sees no more requests
	n0 := tgt.count.Load()
	time.Sleep(300 * time.Millisecond)
	if n := tgt.count.Load(); n != n0 {
		t.Errorf("target got %d requests after the cancel answer", n-n0)
	}
	r, err := e.st.GetRun(context.Background(), id)
	if err != nil || r.Status != store.StatusAborted || !strings.Contains(r.Error, "cancelled over the control API") {
		t.Fatalf("store GetRun = %+v, %v; want status aborted, error naming the API", r, err)
	}
	var sum struct {
		Status   string `json:"status"`
		Requests int64  `json:"requests"`
	}
	if err := json.Unmarshal(r.SummaryJSON, &sum); err != nil || sum.Status != "aborted" || sum.Requests == 0 {
		t.Fatalf("stored summary = %s (%v); want status aborted and requests", r.SummaryJSON, err)
	}
	// listed, and from a fresh server (store only) too
	l := e.do("GET", "/api/tests/runs?status=aborted", "")
	if runs, _ := l.body["runs"].([]any); len(runs) != 1 || runs[0].(map[string]any)["run_id"] != id {
		t.Fatalf("list aborted = %s", l.raw)
	}
	m = e.do("GET", "/metrics", "")
	// the finished run is still named (an _info metric is always 1); run_active says it ended
	for _, want := range []string{`loadgen_run_info{plan="e2e",run_id="` + id + `",type="load"} 1`, "loadgen_run_active 0"} {
		if !strings.Contains(m.raw, want) {
			t.Errorf("/metrics after the end lacks %q", want)
		}
	}

	// its HTML report, alone and compared with a baseline; the same read rules as the other GETs
	report := "/api/tests/runs/" + id + "/report.html"
	for _, q := range []string{"", "?baseline=" + id} {
		a := e.do("GET", report+q, "")
		if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(a.raw, id) || !strings.Contains(a.raw, "<html") {
			t.Errorf("GET %s%s = %d %s (%d bytes); want the HTML report naming the run", report, q, a.status,
				a.header.Get("Content-Type"), len(a.raw))
		}
	}
	e.want(e.do("GET", "/api/tests/runs/nope/report.html", ""), http.StatusNotFound, "not found")
	e.want(e.do("GET", report+"?baseline=nope", ""), http.StatusNotFound, "not found")
	e.want(e.do("GET", report+"?baseline=last-passed", ""), http.StatusNotFound, "no passed load run")
	e.want(e.do("GET", report, "", "Origin", "http://evil.example"), http.StatusForbidden, "")
}

// TestEndToEndPollers: 50 API clients poll a run; each sees the status only
// move forward and the request count never go down, and the run's figures
// match the target's own count.
func TestEndToEndPollers(t *testing.T) {
	tgt := startTarget(t)
	e := newE2E(t, Config{})
	id := e.startRun(openPlan(tgt.URL, 50, 3*time.Second))
	order := map[string]int{"queued": 0, "running": 1, "completed": 2, "failed": 2, "aborted": 2, "interrupted": 2}
	var wg sync.WaitGroup
	var polls atomic.Int64
	errs := make(chan string, 50)
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastRank, lastReq := -1, -1.0
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				resp, err := client.Get(e.url + "/api/tests/runs/" + id)
				if err != nil {
					errs <- fmt.Sprintf("client %d: %v", c, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				polls.Add(1)
				var v struct {
					Status string `json:"status"`
					Live   *Live  `json:"live"`
				}
				if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil {
					errs <- fmt.Sprintf("client %d: %d %s", c, resp.StatusCode, b)
					return
				}
				rank, ok := order[v.Status]
				if !ok || rank < lastRank {
					errs <- fmt.Sprintf("client %d: status went to %q after rank %d", c, v.Status, lastRank)
					return
				}
				lastRank = rank
				if v.Live != nil {
					if float64(v.Live.Requests) < lastReq {
						errs <- fmt.Sprintf("client %d: requests went down %v -> %d", c, lastReq, v.Live.Requests)
						return
					}
					lastReq = float64(v.Live.Requests)
				}
				if rank == 2 {
					if v.Status != "completed" {
						errs <- fmt.Sprintf("client %d: final status %s", c, v.Status)
					}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			errs <- fmt.Sprintf("client %d: run not finished in 20s", c)
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	a := e.get(id)
	var sum struct {
		Requests int64 `json:"requests"`
		Errors   int64 `json:"errors"`
	}
	b, _ := json.Marshal(a.body["summary"])
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	served := tgt.count.Load()
	t.Logf("%d polls; run requests %d, errors %d; target served %d", polls.Load(), sum.Requests, sum.Errors, served)
	if sum.Requests != served || sum.Errors != 0 || liveRequests(a) != float64(served) {
		t.Errorf("run counted %d requests (%d errors, live %v); the target served %d", sum.Requests, sum.Errors, liveRequests(a), served)
	}
	if sum.Requests < 120 || sum.Requests > 160 { // 50/s for 3 s
		t.Errorf("run made %d requests; want about 150 (50/s for 3s)", sum.Requests)
	}
	r, err := e.st.GetRun(context.Background(), id)
	if err != nil || r.Status != store.StatusCompleted || r.Totals.Requests != served {
		t.Fatalf("store GetRun = %+v, %v; want completed with %d requests", r, err, served)
	}
}

// rateOver measures the target's own request rate over d.
func rateOver(tgt *countingTarget, d time.Duration) float64 {
	n0, t0 := tgt.count.Load(), time.Now()
	time.Sleep(d)
	return float64(tgt.count.Load()-n0) / time.Since(t0).Seconds()
}

func TestAccuracyPatchRate(t *testing.T) {
	testenv.SkipIfRace(t)
	tgt := startTarget(t)
	e := newE2E(t, Config{MaxRate: 500})
	id := e.startRun(openPlan(tgt.URL, 50, 60*time.Second))
	waitFor(t, func() bool { return e.get(id).body["status"] == "running" })
	time.Sleep(time.Second)
	before := rateOver(tgt, 3*time.Second)

	a := e.do("PATCH", "/api/tests/runs/"+id, `{"rate": 200}`, "Content-Type", "application/json")
	e.want(a, http.StatusOK, "")
	time.Sleep(time.Second)
	after := rateOver(tgt, 3*time.Second)
	live := e.get(id).body["live"].(map[string]any)
	e.want(e.do("POST", "/api/tests/runs/"+id+"/cancel", ""), http.StatusOK, "")

	t.Logf("target's own count: %.1f req/s at rate 50, %.1f req/s after PATCH rate 200 (live intended_rate %v)",
		before, after, live["intended_rate"])
	if before < 45 || before > 55 {
		t.Errorf("rate before PATCH = %.1f req/s; want 50 ±10%%", before)
	}
	if after < 180 || after > 220 {
		t.Errorf("rate after PATCH = %.1f req/s; want 200 ±10%%", after)
	}
	if live["intended_rate"] != 200.0 {
		t.Errorf("live intended_rate = %v; want 200", live["intended_rate"])
	}
	e.want(e.do("PATCH", "/api/tests/runs/"+id, `{"rate": 501}`, "Content-Type", "application/json"), 422, "")
}

// TestEndToEndClosedPatchVUs: a short-form load run (closed model) takes a
// VU change.
func TestEndToEndClosedPatchVUs(t *testing.T) {
	tgt := startTarget(t)
	e := newE2E(t, Config{})
	a := e.do("POST", "/api/tests/start", fmt.Sprintf(`{"name":"short","test_type":"load","target_url":%q,"users":2,"duration_seconds":30}`, tgt.URL),
		"Content-Type", "application/json")
	e.want(a, http.StatusAccepted, "")
	id := a.body["run_id"].(string)
	waitFor(t, func() bool {
		live, _ := e.get(id).body["live"].(map[string]any)
		return live != nil && live["vus"] == 2.0
	})
	e.want(e.do("PATCH", "/api/tests/runs/"+id, `{"vus": 5}`, "Content-Type", "application/json"), http.StatusOK, "")
	waitFor(t, func() bool {
		live, _ := e.get(id).body["live"].(map[string]any)
		return live["target_vus"] == 5.0 && live["vus"] == 5.0
	})
	e.want(e.do("POST", "/api/tests/stop-all", ""), http.StatusOK, "")
	waitFor(t, func() bool { return e.get(id).body["status"] == "aborted" })
	if tgt.count.Load() == 0 {
		t.Fatal("the target saw no request")
	}
}
