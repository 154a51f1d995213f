package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// metricsServer serves the run's own registry on /metrics.
type metricsServer struct {
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	runInfo *prometheus.GaugeVec
	runTS   prometheus.Gauge
	srv     *http.Server
	done    chan struct{}
	labels  []string // current loadgen_run_info labels, nil when no run
}

// startMetrics builds the registry (executor metrics, Go and process
// collectors, sysmon, build and run info) and serves it unless disabled.
func startMetrics(opts Options, p *plan.Plan, typ string) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	m := &metricsServer{reg: reg}
	m.metrics = metrics.New(reg)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		sysmon.New(),
	)
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "loadgen", Name: "build_info",
		Help:        "A metric with a constant '1' value labeled by version and goversion.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.runInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "loadgen", Name: "run_info",
		Help: "1 while a run is active, labeled by its id, plan and type.",
	}, []string{"run_id", "plan", "type"})
	m.runTS = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "loadgen", Name: "run_start_timestamp_seconds",
		Help: "Unix time the current run started.",
	})
	for _, c := range []prometheus.Collector{build, m.runInfo, m.runTS} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("%w: register metrics: %w", ErrRun, err)
			}
		}
	}

	if opts.MetricsAddr == MetricsOff && opts.MetricsListener == nil {
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
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
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
		_ = m.srv.Serve(ln) // returns http.ErrServerClosed on close
	}()
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr().String())
	}
	opts.Log.Info("serving metrics", "addr", ln.Addr().String())
	return m, nil
}

func (m *metricsServer) runStarted(runID, planName, typ string, at time.Time) {
	m.labels = []string{runID, planName, typ}
	m.runInfo.WithLabelValues(m.labels...).Set(1)
	m.runTS.Set(float64(at.UnixNano()) / 1e9)
}

// runEnded sets loadgen_run_info to 0 (kept, so a scrape during linger
// still names the run).
func (m *metricsServer) runEnded() {
	if m.labels != nil {
		m.runInfo.WithLabelValues(m.labels...).Set(0)
	}
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

func (m *metricsServer) close() {
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
