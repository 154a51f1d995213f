package executor

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/testenv"
)

func mustPlan(t testing.TB, target, yaml string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse("test.yaml", []byte(yaml), plan.WithTarget(target))
	if err != nil {
		t.Fatalf("plan.Parse: %v\n%s", err, yaml)
	}
	return p
}

// counterServer starts a counting server that answers after delay and
// returns it with its URL; it is closed at cleanup.
func counterServer(t *testing.T, delay time.Duration) (*counter, string) {
	t.Helper()
	c := &counter{delay: delay}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// hitPlan starts a counting server that answers after delay and returns it
// with a plan of one step (GET /) against it and the given load section.
func hitPlan(t *testing.T, delay time.Duration, load string) (*counter, *plan.Plan) {
	t.Helper()
	c, url := counterServer(t, delay)
	return c, mustPlan(t, url, "\nscenarios: [{name: s, steps: [{name: hit, request: {path: /}}]}]\n"+load)
}

func run(t testing.TB, p *plan.Plan, opts ...Option) (*Executor, *Results, time.Duration) {
	t.Helper()
	e, err := New(p, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	start := time.Now()
	if err := e.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return e, e.Results(), time.Since(start)
}

// counter is a test server that counts requests by path.
type counter struct {
	n      atomic.Int64
	cur    atomic.Int64
	peak   atomic.Int64
	delay  time.Duration
	mu     sync.Mutex
	byPath map[string]int
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	v := c.cur.Add(1)
	defer c.cur.Add(-1)
	for {
		p := c.peak.Load()
		if v <= p || c.peak.CompareAndSwap(p, v) {
			break
		}
	}
	c.mu.Lock()
	if c.byPath == nil {
		c.byPath = map[string]int{}
	}
	c.byPath[r.URL.Path]++
	c.mu.Unlock()
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-r.Context().Done():
		}
	}
	io.WriteString(w, "ok")
}

func TestOpenExactCount(t *testing.T) {
	c, url := counterServer(t, 0)
	p := mustPlan(t, url, `
scenarios:
  - name: s
    steps:
      - name: hit
        request: {path: /hit}
load:
  model: open
  phases:
    - {name: a, duration: 1s, rate: 100}
    - {name: b, duration: 1s, rate: 100, to: 200}
`)
	var phases []string
	var mu sync.Mutex
	_, res, took := run(t, p, WithOnPhase(func(n string) { mu.Lock(); phases = append(phases, n); mu.Unlock() }))
	const want = 100 + 150
	if got := c.n.Load(); got != want {
		t.Errorf("server counted %d requests; want exactly %d", got, want)
	}
	if res.Total.Requests != want || res.Iterations != want {
		t.Errorf("Results: requests %d, iterations %d; want %d", res.Total.Requests, res.Iterations, want)
	}
	if res.Total.Errors != 0 {
		t.Errorf("errors = %d (%v); want 0", res.Total.Errors, res.ErrorSamples)
	}
	if got := []uint64{res.Phases[0].Requests, res.Phases[1].Requests}; got[0] != 100 || got[1] != 150 {
		t.Errorf("requests per phase = %v; want [100 150]", got)
	}
	if got := res.Total.Status[200]; got != want {
		t.Errorf("Status[200] = %d; want %d", got, want)
	}
	if took < 2*time.Second || took > 3500*time.Millisecond {
		t.Errorf("run took %v; want about 2s", took)
	}
	mu.Lock()
	if fmt.Sprint(phases) != "[a b]" {
		t.Errorf("OnPhase saw %v; want [a b]", phases)
	}
	mu.Unlock()
	if res.ScheduleLag.Count() != want {
		t.Errorf("ScheduleLag count = %d; want %d", res.ScheduleLag.Count(), want)
	}
	if res.Phases[1].Start.IsZero() || res.Phases[1].End.Sub(res.Phases[1].Start) != time.Second {
		t.Errorf("phase b start/end = %v/%v; want 1s apart", res.Phases[1].Start, res.Phases[1].End)
	}
	if res.Total.BytesIn == 0 || res.Total.BytesOut == 0 {
		t.Errorf("bytes in/out = %d/%d; want > 0", res.Total.BytesIn, res.Total.BytesOut)
	}
}

func TestClosedVUsAndThink(t *testing.T) {
	c, url := counterServer(t, 0)
	p := mustPlan(t, url, `
scenarios:
  - name: s
    think: 100ms
    steps:
      - name: hit
        request: {path: /hit}
load:
  model: closed
  phases:
    - {name: a, duration: 1500ms, vus: 3}
`)
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); e.Run(context.Background()) }()
	time.Sleep(700 * time.Millisecond)
	snap := e.Snapshot()
	<-done
	if snap.VUs != 3 || snap.TargetVUs != 3 {
		t.Errorf("mid-run Snapshot VUs, TargetVUs = %d, %d; want 3, 3", snap.VUs, snap.TargetVUs)
	}
	if got := c.peak.Load(); got > 3 {
		t.Errorf("server saw %d concurrent requests; want <= 3 VUs", got)
	}
	res := e.Results()
	// each VU: one request + 100 ms think per iteration, for 1.5 s: at most 15 each
	if n := res.Iterations; n < 15 || n > 48 {
		t.Errorf("iterations = %d; want 15..48 (3 VUs x ~15, think 100ms)", n)
	}
	if res.Model != "closed" {
		t.Errorf("Model = %q; want closed", res.Model)
	}
}

func TestCapturesChecksAndStatus(t *testing.T) {
	var badAuth atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"user":"u1"`) {
			http.Error(w, "bad body "+string(body), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"tok-123"}`)
	})
	mux.HandleFunc("/teams", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			badAuth.Add(1)
			http.Error(w, "no", 401)
			return
		}
		io.WriteString(w, `{"teams":[]}`)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := mustPlan(t, srv.URL, `
variables: {user: u1}
scenarios:
  - name: journey
    steps:
      - name: login
        request: {method: POST, path: /login, json: {user: "${user}"}}
        capture: {token: "$.token"}
        check: {status: [200]}
      - name: teams
        request: {path: /teams, headers: {Authorization: "Bearer ${token}"}}
        check: {body_contains: "nope"}
      - name: missing
        request: {path: /missing}
load:
  phases:
    - {name: a, duration: 500ms, rate: 20}
`)
	_, res, _ := run(t, p)
	if badAuth.Load() != 0 {
		t.Errorf("%d requests reached /teams without the captured token", badAuth.Load())
	}
	for _, tc := range []struct {
		step   string
		reason Reason
		want   uint64
	}{{"login", ReasonNone, 0}, {"teams", ReasonCheck, 10}, {"missing", ReasonStatus, 10}} {
		c := res.Step("journey", tc.step)
		if c == nil {
			t.Fatalf("no cell for step %s", tc.step)
		}
		if c.Requests != 10 || c.Errors != tc.want || (tc.reason != ReasonNone && c.ErrorsByReason[tc.reason] != tc.want) {
			t.Errorf("step %s: requests %d errors %v; want 10 requests, %d errors with reason %v", tc.step, c.Requests, c.ErrorCounts(), tc.want, tc.reason)
		}
	}
	if len(res.ErrorSamples) != 2 {
		t.Errorf("ErrorSamples = %+v; want 2 distinct", res.ErrorSamples)
	}
	if res.Scenarios[0].Failed != 10 {
		t.Errorf("failed iterations = %d; want 10", res.Scenarios[0].Failed)
	}
}

func TestWeights(t *testing.T) {
	_, url := counterServer(t, 0)
	p := mustPlan(t, url, `
scenarios:
  - {name: a, weight: 3, steps: [{name: a, request: {path: /a}}]}
  - {name: b, weight: 1, steps: [{name: b, request: {path: /b}}]}
load:
  phases:
    - {name: x, duration: 1s, rate: 800}
`)
	_, res, _ := run(t, p, WithSeed(7))
	a, b := res.Scenarios[0].Iterations, res.Scenarios[1].Iterations
	if a+b != 800 {
		t.Fatalf("iterations %d + %d; want 800", a, b)
	}
	if share := float64(a) / 800; math.Abs(share-0.75) > 0.05 {
		t.Errorf("scenario a share = %.3f; want 0.75 ± 0.05", share)
	}
}

func TestTargetDown(t *testing.T) {
	p := mustPlan(t, "http://"+testenv.FreeAddr(t), `
scenarios: [{name: s, steps: [{name: hit, request: {path: /}}]}]
load:
  phases: [{name: a, duration: 1s, rate: 50}]
`)
	_, res, took := run(t, p)
	if res.Total.Requests != 50 || res.Total.ErrorsByReason[ReasonConnect] != 50 {
		t.Errorf("requests %d, errors %v; want 50 connect errors", res.Total.Requests, res.Total.ErrorCounts())
	}
	if res.Total.Status[0] != 50 {
		t.Errorf("Status[0] (none) = %d; want 50", res.Total.Status[0])
	}
	if took > 2*time.Second {
		t.Errorf("run took %v; want it to end on schedule (~1s)", took)
	}
}

func TestTargetGoesAway(t *testing.T) {
	c := &counter{}
	srv := httptest.NewServer(c)
	p := mustPlan(t, srv.URL, `
scenarios: [{name: s, steps: [{name: hit, request: {path: /}}]}]
load:
  phases: [{name: a, duration: 1500ms, rate: 40}]
`)
	time.AfterFunc(500*time.Millisecond, func() { srv.CloseClientConnections(); srv.Close() })
	_, res, took := run(t, p)
	if res.Total.Requests != 60 {
		t.Errorf("requests = %d; want 60", res.Total.Requests)
	}
	bad := res.Total.ErrorsByReason[ReasonConnect] + res.Total.ErrorsByReason[ReasonReset]
	if bad == 0 || bad != res.Total.Errors {
		t.Errorf("errors %v; want only connect/reset errors after the target went away", res.Total.ErrorCounts())
	}
	if took > 2500*time.Millisecond {
		t.Errorf("run took %v; want ~1.5s", took)
	}
}

func TestCancelKeepsPartialResults(t *testing.T) {
	_, p := hitPlan(t, 3*time.Second, `
load:
  phases: [{name: a, duration: 10s, rate: 20}]
`)
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Run returned %v after start; want within ~1s of the cancel at 0.5s", took)
	}
	res := e.Results()
	if !res.Canceled {
		t.Error("Canceled = false; want true")
	}
	// Cancelled requests are counted apart: neither requests nor errors (outside the error rate), no latency.
	if n := res.Total.Canceled; n < 5 || res.Total.Requests != 0 || res.Total.Errors != 0 || res.Total.Latency.Count() != 0 {
		t.Errorf("canceled %d, requests %d, errors %v, latency count %d; want ~10 canceled and no request, error or latency",
			n, res.Total.Requests, res.Total.ErrorCounts(), res.Total.Latency.Count())
	}
	if res.Ended.IsZero() || res.Duration() > 1500*time.Millisecond {
		t.Errorf("Duration() = %v; want < 1.5s", res.Duration())
	}
	// Nor are they failures: no failed iteration, no error sample.
	for _, sc := range res.Scenarios {
		if sc.Failed != 0 {
			t.Errorf("scenario %s: %d failed iterations; want none for requests cut short by the run's end", sc.Name, sc.Failed)
		}
	}
	if len(res.ErrorSamples) != 0 {
		t.Errorf("error samples %+v; want none for requests cut short by the run's end", res.ErrorSamples)
	}
}

func TestDropPolicy(t *testing.T) {
	c, p := hitPlan(t, 400*time.Millisecond, `
load:
  max_in_flight: 2
  drop_policy: drop
  phases: [{name: a, duration: 1s, rate: 50}]
`)
	_, res, _ := run(t, p)
	if res.Dropped == 0 || res.Dropped+res.Iterations != 50 {
		t.Errorf("dropped %d + iterations %d; want dropped > 0 and a sum of 50", res.Dropped, res.Iterations)
	}
	if res.Phases[0].Dropped != res.Dropped {
		t.Errorf("phase dropped = %d; want %d", res.Phases[0].Dropped, res.Dropped)
	}
	if got := c.peak.Load(); got > 2 {
		t.Errorf("server saw %d concurrent; want <= max_in_flight 2", got)
	}
}

// TestAccuracyWaitShowsInLatency: with max_in_flight reached, iterations wait
// and the wait shows in latency (from the intended start) and schedule lag,
// never dropped.
func TestAccuracyWaitShowsInLatency(t *testing.T) {
	testenv.SkipIfRace(t)
	_, p := hitPlan(t, 100*time.Millisecond, `
load:
  max_in_flight: 1
  phases: [{name: a, duration: 1s, rate: 20}]
`)
	_, res, took := run(t, p)
	if res.Total.Requests != 20 || res.Dropped != 0 {
		t.Errorf("requests %d dropped %d; want 20, 0", res.Total.Requests, res.Dropped)
	}
	// 20 requests of 100 ms through one slot: the last one is intended at
	// 0.95 s and finishes at ~2.0 s, so its latency is ~1.05 s.
	if mx := res.Total.Latency.Max(); mx < 900*time.Millisecond || mx > 1400*time.Millisecond {
		t.Errorf("max latency = %v; want ~1.05s (queueing included)", mx)
	}
	if svc := res.Total.Service.Quantile(0.99); svc > 300*time.Millisecond {
		t.Errorf("service p99 = %v; want ~100ms (no queueing)", svc)
	}
	if lag := res.ScheduleLag.Max(); lag < 800*time.Millisecond {
		t.Errorf("schedule lag max = %v; want ~0.95s", lag)
	}
	if took < 1900*time.Millisecond {
		t.Errorf("run took %v; want ~2s (every iteration ran)", took)
	}
}

// TestAccuracyRate checks the open model's latency from intended start stays
// near the service time when the target keeps up.
func TestAccuracyRate(t *testing.T) {
	testenv.SkipIfRace(t)
	_, p := hitPlan(t, 20*time.Millisecond, `
load:
  phases: [{name: a, duration: 2s, rate: 200}]
`)
	e, res, _ := run(t, p)
	if res.Total.Requests != 400 {
		t.Errorf("requests = %d; want 400", res.Total.Requests)
	}
	p50 := res.Total.Latency.Quantile(0.5)
	if p50 < 20*time.Millisecond || p50 > 30*time.Millisecond {
		t.Errorf("latency p50 = %v; want 20-30ms", p50)
	}
	w := e.Window(time.Second)
	if w.Requests == 0 || w.Span <= 0 || w.Span > 2*time.Second {
		t.Errorf("Window(1s) = %d requests over %v; want > 0 over <= 2s", w.Requests, w.Span)
	}
	sw := e.StepWindows(60 * time.Second)
	if len(sw) != 1 || sw[0].Requests != 400 || sw[0].Step != "hit" {
		t.Errorf("StepWindows(60s) = %+v; want one step with all 400 requests", sw)
	}
}

func TestSetRateOverride(t *testing.T) {
	_, p := hitPlan(t, 0, `
load:
  phases: [{name: a, duration: 2s, rate: 10}]
`)
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, func() { e.SetRate(100) })
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// ~10 in the first second, ~100 in the second
	if n := e.Results().Total.Requests; n < 80 || n > 125 {
		t.Errorf("requests = %d; want ~110 after SetRate(100) at 1s", n)
	}
}

// TestSetRateCleared: a rate set and then cleared runs at that rate in
// between, and the plan's schedule resumes where it is at the clearing
// (neither catching up on what the change skipped nor repeating what it
// sent); a rate of 0 pauses the run until it is cleared.
func TestSetRateCleared(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		want uint64 // 50/s outside [0.5 s, 1.5 s), rate inside
	}{{"faster", 150, 25 + 150 + 75}, {"paused", 0, 25 + 75}} {
		t.Run(tc.name, func(t *testing.T) {
			c, p := hitPlan(t, 0, "load: {phases: [{name: a, duration: 3s, rate: 50}]}")
			e, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			set := time.AfterFunc(500*time.Millisecond, func() { e.SetRate(tc.rate) })
			clear := time.AfterFunc(1500*time.Millisecond, func() { e.SetRate(-1) })
			defer set.Stop()
			defer clear.Stop()
			if err := e.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := uint64(c.n.Load()); n+10 < tc.want || n > tc.want+10 {
				t.Errorf("requests = %d; want about %d", n, tc.want)
			}
		})
	}
}

// TestSetRateInPause: a rate set while the plan pauses (rate 0) to its end
// takes effect there too.
func TestSetRateInPause(t *testing.T) {
	c, p := hitPlan(t, 0, "load: {phases: [{name: a, duration: 1s, rate: 20}, {name: pause, duration: 1s, rate: 0}]}")
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	defer time.AfterFunc(1200*time.Millisecond, func() { e.SetRate(50) }).Stop()
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := c.n.Load(); n < 20+30 || n > 20+50 { // 20, then 50/s for the last 0.8 s
		t.Errorf("requests = %d; want about 60", n)
	}
}
