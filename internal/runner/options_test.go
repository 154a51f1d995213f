package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/report"
)

func okServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	return srv
}

// TestSharedMetrics: with Options.Metrics the run counts its requests in the
// caller's metrics and builds nothing of its own: no /metrics listener (even
// with an address asked for), no Go or sysmon collectors in any registry,
// and run_info left to the caller.
func TestSharedMetrics(t *testing.T) {
	srv := okServer(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	p := openPlan(t, srv.URL, 50, time.Second, 100)

	// An address that is taken would make a private /metrics server fail.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	listened := false
	s, err := Run(context.Background(), p, Options{Metrics: m, MetricsAddr: taken.Addr().String(),
		OnListen: func(string) { listened = true }, Watch: map[string]int32{"target": 1}})
	if err != nil {
		t.Fatalf("Run with shared metrics: %v", err)
	}
	if listened {
		t.Error("OnListen was called: the runner served /metrics although Options.Metrics was set")
	}
	got := testutil.ToFloat64(m.Requests.WithLabelValues("s", "get", "GET", "200"))
	if got != float64(s.Requests) || got == 0 {
		t.Errorf("shared loadgen_requests_total = %v; want the run's %d requests", got, s.Requests)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		n := mf.GetName()
		if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") || strings.HasPrefix(n, "loadgen_host_") ||
			strings.HasPrefix(n, "loadgen_watched_") {
			t.Errorf("caller's registry got %s: the runner registered collectors of its own", n)
		}
	}
	if n := testutil.CollectAndCount(m.RunInfo); n != 0 {
		t.Errorf("loadgen_run_info has %d series; want 0 (left to the caller)", n)
	}
}

// TestOnExecutor: the hook sees the executor before it runs, and an override
// set there governs the run (as a control API PATCH that came early would).
func TestOnExecutor(t *testing.T) {
	srv := okServer(t)
	p := openPlan(t, srv.URL, 200, 2*time.Second, 100)
	calls := 0
	var seen *executor.Executor
	s, err := Run(context.Background(), p, Options{MetricsAddr: MetricsOff, OnExecutor: func(e *executor.Executor) {
		calls++
		seen = e
		if e.Snapshot().Running {
			t.Error("OnExecutor: the executor runs already; want the hook before Run")
		}
		e.SetRate(20)
	}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls != 1 || seen == nil {
		t.Fatalf("OnExecutor called %d times (executor %v); want once", calls, seen)
	}
	// 2 s at 20/s = 40 requests (200/s would give 400).
	if s.Requests < 25 || s.Requests > 60 {
		t.Errorf("requests %d; want about 40 (the rate set in OnExecutor, not the plan's 200/s)", s.Requests)
	}
}

// TestCancelCause: the cause of the cancellation decides the status.
func TestCancelCause(t *testing.T) {
	srv := okServer(t)
	apiCancel := fmt.Errorf("cancelled over the test API: %w", ErrAborted)
	for _, tc := range []struct {
		name       string
		cause      error
		wantStatus report.Status
		wantPrefix string
	}{
		{"plain cancel (SIGINT)", nil, report.StatusInterrupted, "interrupted after"},
		{"shutdown", errors.New("server shutting down"), report.StatusInterrupted, "interrupted after"},
		{"ErrAborted itself", ErrAborted, report.StatusAborted, "run aborted after"},
		{"wrapping ErrAborted", apiCancel, report.StatusAborted, "cancelled over the test API: run aborted after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPlan(t, srv.URL, 50, 30*time.Second, 100)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			time.AfterFunc(700*time.Millisecond, func() { cancel(tc.cause) })
			s, err := Run(ctx, p, Options{MetricsAddr: MetricsOff})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Status != tc.wantStatus || !strings.HasPrefix(s.Error, tc.wantPrefix) || !strings.HasSuffix(s.Error, "partial results") {
				t.Errorf("status %q error %q; want %s, error starting %q", s.Status, s.Error, tc.wantStatus, tc.wantPrefix)
			}
		})
	}
}
