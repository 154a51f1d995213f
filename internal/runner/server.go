package runner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// metricsServer serves the run's own registry on /metrics.
type metricsServer struct {
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	shared  bool // metrics are the caller's (Options.Metrics): no registry, no run info
	srv     *http.Server
	done    chan struct{}
	push    func() // Options.StartPush's stop, until called
}

// startMetrics builds the registry (the loadgen_* metrics of
// internal/metrics, including build and run info; the Go and process
// collectors; sysmon's host metrics) and serves it unless disabled. With
// Options.Metrics it builds nothing and records into the caller's metrics.
func startMetrics(opts Options, p *plan.Plan, typ string) (*metricsServer, error) {
	if opts.Metrics != nil {
		return &metricsServer{metrics: opts.Metrics, shared: true}, nil
	}
	reg := prometheus.NewRegistry()
	m := &metricsServer{reg: reg}
	m.metrics = metrics.New(reg)
	mon := sysmon.New()
	for name, pid := range opts.Watch {
		mon.Watch(name, pid)
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		mon,
	)
	if opts.MetricsAddr == MetricsOff && opts.MetricsListener == nil {
		if err := m.startPush(opts); err != nil {
			return nil, err
		}
		return m, nil
	}
	ln := opts.MetricsListener
	if ln == nil {
		addr := opts.MetricsAddr
		if addr == "" {
			addr = DefaultMetricsAddr
		}
		var err error
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%w: serve /metrics: %w (choose another --metrics-addr, or %q)", ErrRun, err, MetricsOff)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", mon.BoundScrapes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "loadgen: metrics at /metrics")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		defer panics.Recover("metrics server", func(pe *panics.Error) {
			opts.Log.Error("metrics server stopped", "err", pe.Error())
		})
		_ = m.srv.Serve(ln) // returns http.ErrServerClosed on close
	}()
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr().String())
	}
	opts.Log.Info("serving metrics", "addr", ln.Addr().String())
	if err := m.startPush(opts); err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

// startPush starts Options.StartPush on the run's registry, once the run's
// /metrics is set up.
func (m *metricsServer) startPush(opts Options) error {
	if opts.StartPush == nil {
		return nil
	}
	stop, err := opts.StartPush(m.reg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	m.push = stop
	return nil
}

func (m *metricsServer) runStarted(runID, planName, typ string, at time.Time) {
	if m.shared {
		return
	}
	m.metrics.StartRun(runID, planName, typ, at)
}

// runEnded sets loadgen_run_active to 0 (loadgen_run_info stays 1, so a scrape during linger
// still names the run).
func (m *metricsServer) runEnded() {
	if m.shared {
		return
	}
	m.metrics.EndRun()
}

// linger keeps serving for d, or until ctx ends.
func (m *metricsServer) linger(ctx context.Context, d time.Duration) {
	if m.srv == nil || d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// endPush pushes the final values and stops the pusher (once).
func (m *metricsServer) endPush() {
	if m.push != nil {
		m.push()
		m.push = nil
	}
}

func (m *metricsServer) close() {
	m.endPush()
	if m.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		_ = m.srv.Close()
	}
	<-m.done
}
