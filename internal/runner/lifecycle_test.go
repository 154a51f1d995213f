package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

func okServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	return srv
}

// TestRunMetrics: the run counts its requests in the given metrics, names itself in loadgen_run_info while it
// runs (and after: the last run), and builds nothing of its own: no Go, process or sysmon collectors in the
// caller's registry.
func TestRunMetrics(t *testing.T) {
	srv := okServer(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	p := openPlan(t, srv.URL, 50, time.Second, 100)
	var active float64
	rep, err := Execute(context.Background(), &Run{Plan: p, ID: "metrics-run", Metrics: m,
		OnEngine: func(*executor.Executor) { active = testutil.ToFloat64(m.RunActive) }})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	s := rep.(*report.Summary)
	got := testutil.ToFloat64(m.Requests.WithLabelValues("s", "get", "GET", "200"))
	if got != float64(s.Requests) || got == 0 {
		t.Errorf("loadgen_requests_total = %v; want the run's %d requests", got, s.Requests)
	}
	if active != 1 || testutil.ToFloat64(m.RunActive) != 0 {
		t.Errorf("loadgen_run_active = %v during the run, %v after; want 1 then 0", active, testutil.ToFloat64(m.RunActive))
	}
	if v := testutil.ToFloat64(m.RunInfo.WithLabelValues("metrics-run", "accuracy", "load")); v != 1 || testutil.CollectAndCount(m.RunInfo) != 1 {
		t.Errorf("loadgen_run_info{metrics-run} = %v (%d series); want the run named, alone", v, testutil.CollectAndCount(m.RunInfo))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if n := mf.GetName(); !strings.HasPrefix(n, "loadgen_") || strings.HasPrefix(n, "loadgen_host_") {
			t.Errorf("caller's registry got %s: the run registered collectors of its own", n)
		}
	}
}

// TestOnEngine: the hook sees the executor before it runs, and an override set there governs the run (as a
// control API PATCH that came early would).
func TestOnEngine(t *testing.T) {
	srv := okServer(t)
	p := openPlan(t, srv.URL, 200, 2*time.Second, 100)
	calls := 0
	s := runWithin(t, p, 30*time.Second, &Run{OnEngine: func(e *executor.Executor) {
		calls++
		if e.Snapshot().Running {
			t.Error("OnEngine: the executor runs already; want the hook before Run")
		}
		e.SetRate(20)
	}})
	if calls != 1 {
		t.Fatalf("OnEngine called %d times; want once", calls)
	}
	// 2 s at 20/s = 40 requests (200/s would give 400).
	if s.Requests < 25 || s.Requests > 60 {
		t.Errorf("requests %d; want about 40 (the rate set in OnEngine, not the plan's 200/s)", s.Requests)
	}
}

// TestCancelCause: the cause of the cancellation decides the status.
func TestCancelCause(t *testing.T) {
	srv := okServer(t)
	apiCancel := fmt.Errorf("cancelled over the test API: %w", ErrAborted)
	for _, tc := range []struct {
		name       string
		cause      error
		wantStatus store.Status
		wantPrefix string
	}{
		{"plain cancel (SIGINT)", nil, store.StatusInterrupted, "interrupted after"},
		{"shutdown", errors.New("server shutting down"), store.StatusInterrupted, "interrupted after"},
		{"ErrAborted itself", ErrAborted, store.StatusAborted, "run aborted after"},
		{"wrapping ErrAborted", apiCancel, store.StatusAborted, "cancelled over the test API: run aborted after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPlan(t, srv.URL, 50, 30*time.Second, 100)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			time.AfterFunc(700*time.Millisecond, func() { cancel(tc.cause) })
			r := &Run{Plan: p}
			rep, _ := Execute(ctx, r)
			s := rep.(*report.Summary)
			if s.Status != tc.wantStatus || !strings.HasPrefix(s.Error, tc.wantPrefix) || !strings.HasSuffix(s.Error, "partial results") {
				t.Errorf("status %q error %q; want %s, error starting %q", s.Status, s.Error, tc.wantStatus, tc.wantPrefix)
			}
			if r.Status != s.Status || r.Error != s.Error || r.EndedAt.IsZero() {
				t.Errorf("Run status %q error %q ended %v; want the report's", r.Status, r.Error, r.EndedAt)
			}
		})
	}
}

// TestBadPlanType: a plan whose type has no section cannot start: ErrPlan, no report, nothing recorded.
func TestBadPlanType(t *testing.T) {
	p := openPlan(t, "http://127.0.0.1:1", 1, time.Second, 1)
	st, _ := openStore(t)
	for _, typ := range []string{plan.TypeStress, "nonsense"} {
		p.Type = typ
		rep, err := Execute(context.Background(), &Run{Plan: p, ID: "bad-" + typ, Sink: st})
		if rep != nil || !errors.Is(err, ErrPlan) {
			t.Errorf("type %s: Execute = %v, %v; want no report and ErrPlan", typ, rep, err)
		}
		if _, err := st.GetRun(context.Background(), "bad-"+typ); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("type %s: a run that could not start was recorded (%v)", typ, err)
		}
	}
}

// TestUnreachableCountsReset: one definition of "the target is unreachable" for every kind of run: no name, no
// connection, no TLS, or a connection reset or closed before the response. A target that accepts and closes
// every connection is unreachable for a benchmark's warm-up as for a load run.
func TestUnreachableCountsReset(t *testing.T) {
	for r, want := range map[executor.Reason]bool{executor.ReasonConnect: true, executor.ReasonDNS: true,
		executor.ReasonTLS: true, executor.ReasonReset: true, executor.ReasonTimeout: false, executor.ReasonStatus: false,
		executor.ReasonProtocol: false, executor.ReasonCanceled: false} {
		if unreachable(r) != want {
			t.Errorf("unreachable(%s) = %v; want %v", r, !want, want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0) // an RST, not a FIN
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String()
	rep, err := execute[*BenchReport](timeCtx(t, 30*time.Second), &Run{Plan: parsePlan(t, benchPlan, url)})
	if err == nil || !strings.Contains(err.Error(), "target unreachable") || rep.Status != store.StatusFailed {
		t.Errorf("benchmark against a resetting target: %v; want failed, target unreachable", err)
	}
	s := runWithin(t, openPlan(t, url, 50, time.Second, 100), 30*time.Second, nil)
	if s.Status != store.StatusFailed || s.ErrorsByReason["reset"] == 0 {
		t.Errorf("load run against a resetting target: %s %q %v; want failed on resets", s.Status, s.Error, s.ErrorsByReason)
	}
}

// TestModeRunRecordsSnapshots: every kind of run records snapshots, about one a second, with requests counted
// from the run's start across its engines (here a stress search's probes, each shorter than a second).
func TestModeRunRecordsSnapshots(t *testing.T) {
	var served atomic.Int64 // every request sent, a probe measured again on a busy box included (not in rep.Probes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1); w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	p := parsePlan(t, "name: snaps\ntype: stress\nscenarios: [{steps: [{request: {path: /}}]}]\n"+
		"stress: {start_rate: 50, max_rate: 100, probe_duration: 700ms, cooldown: 0s, max_probes: 3}\n", srv.URL)
	st, _ := openStore(t)
	rep, err := execute[*StressReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Sink: st, ID: "snaps"})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	snaps, err := st.Snapshots(context.Background(), "snaps")
	if err != nil || len(snaps) < 1 {
		t.Fatalf("snapshots: %d, %v; want about one a second", len(snaps), err)
	}
	var kept uint64
	for _, pr := range rep.Probes {
		kept += pr.Requests
	}
	total := uint64(served.Load())
	if kept == 0 || kept > total {
		t.Errorf("the search's probes count %d requests, the target served %d", kept, total)
	}
	for i := 1; i < len(snaps); i++ {
		if snaps[i].Requests < snaps[i-1].Requests || snaps[i].TS.Sub(snaps[i-1].TS) < 500*time.Millisecond {
			t.Errorf("snapshot %d: %d requests at %v after %d at %v; want counts from the start, a second apart", i,
				snaps[i].Requests, snaps[i].TS, snaps[i-1].Requests, snaps[i-1].TS)
		}
	}
	if last := snaps[len(snaps)-1].Requests; last == 0 || uint64(last) > total {
		t.Errorf("last snapshot counts %d requests; want some of the %d the target served", last, total)
	}
}

// TestScaleDurations: --duration-scale multiplies the time every kind of run takes, within its bounds.
func TestScaleDurations(t *testing.T) {
	p := parsePlan(t, `name: scaled
scenarios: [{steps: [{request: {path: /}}]}]
load: {phases: [{name: a, duration: 10s, rate: 5}, {name: b, duration: 1m, rate: 5}]}
stress: {probe_duration: 4s, cooldown: 1s}
knee: {steps: [1, 2], warmup: 2s, step_duration: 10s}
benchmark: {warmup: 20, requests: 1000, endpoints: [{name: e, request: {path: /}}]}
`, "http://127.0.0.1:1")
	if err := ScaleDurations(p, 0.1); err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]time.Duration{"phase a": p.Load.Phases[0].Duration.Duration,
		"phase b": p.Load.Phases[1].Duration.Duration, "probe_duration": p.Stress.ProbeDuration.Duration,
		"cooldown": p.Stress.Cooldown.Duration, "knee warmup": p.Knee.Warmup.Duration,
		"step_duration": p.Knee.StepDuration.Duration} {
		want := map[string]time.Duration{"phase a": time.Second, "phase b": 6 * time.Second, "probe_duration": 400 * time.Millisecond,
			"cooldown": 100 * time.Millisecond, "knee warmup": 200 * time.Millisecond, "step_duration": time.Second}[what]
		if got != want {
			t.Errorf("%s = %v; want %v", what, got, want)
		}
	}
	if b := p.Benchmark; b.Warmup.Requests != 2 || b.Requests != 100 {
		t.Errorf("benchmark warm-up %d, requests %d; want 2 and 100", b.Warmup.Requests, b.Requests)
	}
	for _, f := range []float64{0, -1, MaxDurationScale + 1} {
		if err := ScaleDurations(p, f); err == nil {
			t.Errorf("ScaleDurations(%v) = nil; want an error naming the bounds", f)
		}
	}
}

// TestExpose: a command's /metrics serves the registry; End skips the linger once ctx is done; an explicit address
// that is taken is an error, the default one falls back to a free port.
func TestExpose(t *testing.T) {
	x, err := Expose(ExposeOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + x.Addr + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := Expose(ExposeOptions{Addr: x.Addr}); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("Expose on a taken address = %v; want an error naming --metrics-addr", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	x.End(ctx, time.Minute)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("End with a cancelled ctx took %v; want the linger skipped", el)
	}
	if resp, err := http.Get("http://" + x.Addr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Error("/metrics still served after End")
	}

	// The default address: taken here (if nobody else holds it), the command serves elsewhere.
	if ln, err := net.Listen("tcp", DefaultMetricsAddr); err == nil {
		defer ln.Close()
	}
	d, err := Expose(ExposeOptions{})
	if err != nil {
		t.Fatalf("Expose on the default address, taken: %v; want a free port", err)
	}
	defer d.End(context.Background(), 0)
	if d.Addr == DefaultMetricsAddr || d.Taken != DefaultMetricsAddr {
		t.Errorf("Expose: addr %s (taken %q); want another port than %s", d.Addr, d.Taken, DefaultMetricsAddr)
	}
}
