package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
)

// The truth tests (issue 3): each runs a real plan through Run against an
// in-process server of known behaviour and compares what loadgen reports
// with what the server saw. They are timing tests: named TestAccuracy...,
// skipped under -race (make test runs them in a second pass without it).

// recorder collects what a test server saw, under a mutex (the test server
// is not the thing measured, so a lock is fine).
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	service  []time.Duration // per-request handler durations
	arrivals []time.Duration // per-request arrival time since start
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) add(arrived time.Time, service time.Duration) {
	r.mu.Lock()
	r.service = append(r.service, service)
	r.arrivals = append(r.arrivals, arrived.Sub(r.start))
	r.mu.Unlock()
}

func (r *recorder) snapshot() (service, arrivals []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.service), slices.Clone(r.arrivals)
}

// exactQuantile is the nearest-rank q-quantile of sorted xs (the same rank
// rule as hist.Quantile: the sample of rank ceil(q*n)).
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / want }

// openPlan builds a single-step open-model plan against url.
func openPlan(t *testing.T, url string, rate float64, dur time.Duration, maxInFlight int) *plan.Plan {
	t.Helper()
	return oneStepPlan(t, "accuracy", url, fmt.Sprintf(`  model: open
  max_in_flight: %d
  phases:
    - {name: steady, duration: %s, rate: %g}
`, maxInFlight, dur, rate))
}

func closedPlan(t *testing.T, url string, vus int, dur time.Duration) *plan.Plan {
	t.Helper()
	return oneStepPlan(t, "accuracy-closed", url, fmt.Sprintf(`  model: closed
  phases:
    - {name: steady, duration: %s, vus: %d}
`, dur, vus))
}

// oneStepPlan parses the plan name (file name.yaml): one scenario of one step, GET / on url, under the given
// load section body.
func oneStepPlan(t *testing.T, name, url, load string) *plan.Plan {
	t.Helper()
	y := fmt.Sprintf(`name: %s
target: %s
defaults: {timeout: 10s}
scenarios:
  - name: s
    steps:
      - name: get
        request: {method: GET, path: /}
load:
%s`, name, url, load)
	p, err := plan.Parse(name+".yaml", []byte(y))
	if err != nil {
		t.Fatalf("plan.Parse: %v\n%s", err, y)
	}
	return p
}

// runWithin executes p as r (nil: a bare Run), cancelled after limit, and fails the test unless it ends with a load
// run's summary.
func runWithin(t *testing.T, p *plan.Plan, limit time.Duration, r *Run) *report.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if r == nil {
		r = &Run{}
	}
	r.Plan = p
	rep, err := Execute(ctx, r)
	s, ok := rep.(*report.Summary)
	if !ok || panics.As(err) != nil {
		t.Fatalf("Execute = %v, %v; want a load summary", rep, err)
	}
	return s
}

// testRun runs p quietly with a bound on wall time.
func testRun(t *testing.T, p *plan.Plan, limit time.Duration) *report.Summary {
	t.Helper()
	var progress strings.Builder
	s := runWithin(t, p, limit, &Run{Progress: live.NewPlain(&progress)})
	t.Logf("progress:\n%s", progress.String())
	if s.Status != store.StatusCompleted {
		t.Fatalf("status %q (%s); want completed", s.Status, s.Error)
	}
	return s
}

// TestAccuracyUniformLatency: a server sleeping U(20 ms, 80 ms) at 200 req/s
// (open model). The truth is the exact quantiles of the service times the
// server itself measured for every request. Two checks, each within 2%:
//   - the reported service time (from the actual send) against the truth;
//   - the reported latency (from the intended start) against the truth plus
//     the generator's own measured send lateness (schedule lag p50, about
//     half of the 1 ms pacer tick): latency from the intended start is by
//     definition service time plus that lag, and on a busy 2-core box the lag
//     alone is ~1-2% of a 50 ms p50.
//
// At p99 the model "truth plus lag p50" breaks when other tenants steal the
// CPU for a moment: a few hundred requests then leave late, and the lag's own
// tail lifts the latency p99 (seen in CI: lag p99 15.5 ms, latency p99 +7%).
// There the check is the bound that holds whatever the lag does: latency is
// service time plus lag, so its p99 lies between the truth's p99 and the
// truth's p99.5 plus the lag's p99.5 (each ±2%). A latency measured from the
// wrong start still fails it (the stall test is the decisive one for that).
//
// Both raw errors are logged for the README.
func TestAccuracyUniformLatency(t *testing.T) {
	testenv.SkipIfRace(t)
	rec := newRecorder()
	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rngMu.Lock()
		d := 20*time.Millisecond + time.Duration(rng.Int64N(int64(60*time.Millisecond)))
		rngMu.Unlock()
		time.Sleep(d)
		w.Write([]byte("ok"))
		rec.add(t0, time.Since(t0))
	}))
	defer srv.Close()

	var progress strings.Builder
	var e *executor.Executor
	s := runWithin(t, openPlan(t, srv.URL, 200, 12*time.Second, 1000), 60*time.Second,
		&Run{Progress: live.NewPlain(&progress), OnEngine: func(x *executor.Executor) { e = x }})
	t.Logf("progress:\n%s", progress.String())
	if s.Status != store.StatusCompleted {
		t.Fatalf("status %q (%s); want completed", s.Status, s.Error)
	}
	lagHist := e.Results().ScheduleLag
	service, _ := rec.snapshot()
	slices.Sort(service)
	if uint64(len(service)) != s.Requests || s.Errors != 0 {
		t.Fatalf("server saw %d requests; loadgen reports %d with %d errors", len(service), s.Requests, s.Errors)
	}
	lag := s.Health.LagP50MS
	for _, c := range []struct {
		name         string
		q            float64
		lat, service float64
	}{
		{"p50", 0.50, s.LatencyMS.P50, s.ServiceMS.P50},
		{"p90", 0.90, s.LatencyMS.P90, s.ServiceMS.P90},
		{"p99", 0.99, s.LatencyMS.P99, s.ServiceMS.P99},
	} {
		truth := float64(exactQuantile(service, c.q)) / 1e6
		t.Logf("TRUTH uniform %s: server-measured %.3f ms (analytic %.1f); reported latency %.3f ms (%+.2f%%; %+.2f%% vs truth+lag p50 %.3f ms); reported service time %.3f ms (%+.2f%%)",
			c.name, truth, 20+60*c.q, c.lat, 100*(c.lat-truth)/truth, 100*(c.lat-truth-lag)/truth, lag, c.service, 100*(c.service-truth)/truth)
		if e := relErr(c.service, truth); e > 0.02 {
			t.Errorf("service time %s = %.3f ms; want %.3f ms ±2%% (off by %.2f%%)", c.name, c.service, truth, 100*e)
		}
		if c.q < 0.99 {
			if e := math.Abs(c.lat-truth-lag) / truth; e > 0.02 {
				t.Errorf("latency %s = %.3f ms; want server truth %.3f + lag p50 %.3f ms ±2%% (off by %.2f%%)", c.name, c.lat, truth, lag, 100*e)
			}
			continue
		}
		hi := float64(exactQuantile(service, 0.995))/1e6 + float64(lagHist.Quantile(0.995))/1e6
		t.Logf("p99 bound: truth p99 %.3f ms <= latency p99 %.3f ms <= truth p99.5 + lag p99.5 = %.3f ms (each ±2%%)", truth, c.lat, hi)
		if c.lat < truth*0.98 || c.lat > hi*1.02 {
			t.Errorf("latency p99 = %.3f ms; want between server truth p99 %.3f ms and truth p99.5 + lag p99.5 = %.3f ms, ±2%%", c.lat, truth, hi)
		}
	}
	t.Logf("health: lag p50 %.3f ms p99 %.3f ms, cpu max %.1f%%", s.Health.LagP50MS, s.Health.LagP99MS, s.Health.CPUMaxPct)
}

// stallServer answers at once, except that a request arriving while a stall
// is on waits until it ends. Stalls last 1 s and begin 2 s, 7 s, 12 s, ...
// after start, so a 20 s run starting at once holds exactly 4 whole stalls.
func stallServer(rec *recorder) http.Handler {
	const every, stall, offset = 5 * time.Second, time.Second, 2 * time.Second
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		since := t0.Sub(rec.start)
		if since >= offset {
			if in := (since - offset) % every; in < stall {
				select {
				case <-time.After(stall - in):
				case <-r.Context().Done():
				}
			}
		}
		w.Write([]byte("ok"))
		rec.add(t0, time.Since(t0))
	})
}

// TestAccuracyStall: a server that freezes 1 s every 5 s, at 200 req/s in
// the open model with max_in_flight 50, for 20 s (4 stalls). A fifth of the
// requests are due during a stall and wait for its end, so the truth is
// p90 = 0.5 s and p99 = 0.95 s; reported must be within 5%. The same server
// under a closed model (50 VUs, no think time) is run too and its figures
// logged: that is coordinated omission.
func TestAccuracyStall(t *testing.T) {
	testenv.SkipIfRace(t)
	t.Run("open", func(t *testing.T) {
		rec := newRecorder()
		srv := httptest.NewServer(stallServer(rec))
		defer srv.Close()
		s := testRun(t, openPlan(t, srv.URL, 200, 20*time.Second, 50), 90*time.Second)
		for _, c := range []struct {
			name       string
			got, truth float64
		}{
			{"p90", s.LatencyMS.P90, 500},
			{"p99", s.LatencyMS.P99, 950},
		} {
			t.Logf("TRUTH stall open %s: reported %.1f ms, truth %.0f ms, error %+.2f%%", c.name, c.got, c.truth, 100*(c.got-c.truth)/c.truth)
			if e := relErr(c.got, c.truth); e > 0.05 {
				t.Errorf("%s = %.1f ms; want %.0f ms ±5%% (off by %.1f%%)", c.name, c.got, c.truth, 100*e)
			}
		}
		t.Logf("TRUTH stall open: requests %d, rps %.1f, p50 %.2f ms, p99.9 %.1f ms, max %.1f ms; service-time p90 %.2f ms p99 %.1f ms; lag p99 %.1f ms",
			s.Requests, s.RPS, s.LatencyMS.P50, s.LatencyMS.P999, s.LatencyMS.Max, s.ServiceMS.P90, s.ServiceMS.P99, s.Health.LagP99MS)
	})
	t.Run("closed", func(t *testing.T) {
		rec := newRecorder()
		srv := httptest.NewServer(stallServer(rec))
		defer srv.Close()
		s := testRun(t, closedPlan(t, srv.URL, 50, 20*time.Second), 90*time.Second)
		// Not asserted against a truth: this is what a closed-loop tool
		// reports for the same server (coordinated omission). It must at
		// least look much better than the truth, or the comparison is moot.
		t.Logf("TRUTH stall closed (50 VUs, no think): requests %d, rps %.0f, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.1f ms, max %.1f ms",
			s.Requests, s.RPS, s.LatencyMS.P50, s.LatencyMS.P90, s.LatencyMS.P99, s.LatencyMS.P999, s.LatencyMS.Max)
		if s.LatencyMS.P90 >= 100 {
			t.Errorf("closed model p90 = %.1f ms; expected coordinated omission to hide the stalls (p90 far below 500 ms)", s.LatencyMS.P90)
		}
	})
}

// TestAccuracyRequestCount: open model, 500 req/s for 10 s. The server must
// count exactly the requests loadgen reports, 5000 within 0.5%, and each
// second's arrivals within 5% of 500.
func TestAccuracyRequestCount(t *testing.T) {
	testenv.SkipIfRace(t)
	rec := newRecorder()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(time.Now(), 0)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	s := testRun(t, openPlan(t, srv.URL, 500, 10*time.Second, 1000), 60*time.Second)
	_, arrivals := rec.snapshot()
	t.Logf("TRUTH count: server %d, loadgen %d, errors %d", len(arrivals), s.Requests, s.Errors)
	if uint64(len(arrivals)) != s.Requests {
		t.Errorf("server counted %d requests; loadgen reports %d", len(arrivals), s.Requests)
	}
	if e := relErr(float64(s.Requests), 5000); e > 0.005 {
		t.Errorf("requests = %d; want 5000 ±0.5%%", s.Requests)
	}
	if len(arrivals) == 0 {
		t.Fatal("no arrivals")
	}
	slices.Sort(arrivals)
	first := arrivals[0]
	perSec := make([]int, 10)
	for _, a := range arrivals {
		i := int((a - first) / time.Second)
		if i >= len(perSec) {
			i = len(perSec) - 1 // the last due request may land a hair past 10 s
		}
		perSec[i]++
	}
	t.Logf("TRUTH count per second (server): %v", perSec)
	for i, n := range perSec {
		if e := relErr(float64(n), 500); e > 0.05 {
			t.Errorf("second %d: server counted %d; want 500 ±5%%", i, n)
		}
	}
}
