package remotewrite

import "github.com/prometheus/client_golang/prometheus"

// writerMetrics are the writer's own health metrics (loadgen_remote_write_*).
type writerMetrics struct {
	samples            *prometheus.CounterVec // type
	floats, histograms prometheus.Counter
	failures           *prometheus.CounterVec // reason
	retries            prometheus.Counter
	lastSuccess        prometheus.Gauge
}

func newWriterMetrics() *writerMetrics {
	samples := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "loadgen", Subsystem: "remote_write", Name: "samples_total",
		Help: "Samples in remote-write requests the endpoint accepted, by type (float or histogram).",
	}, []string{"type"})
	m := &writerMetrics{
		floats:     samples.WithLabelValues("float"),
		histograms: samples.WithLabelValues("histogram"),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "loadgen", Subsystem: "remote_write", Name: "failures_total",
			Help: "Remote-write pushes dropped, by reason (rejected: a 4xx, not retried; unavailable: 5xx, 429 or network errors until the push's deadline).",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "loadgen", Subsystem: "remote_write", Name: "retries_total",
			Help: "Remote-write requests sent again after a 5xx, a 429 or a network error.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "loadgen", Subsystem: "remote_write", Name: "last_success_timestamp_seconds",
			Help: "When the endpoint last accepted a push (Unix time; 0 before the first).",
		}),
	}
	m.samples = samples
	for _, r := range []string{ReasonRejected, ReasonUnavailable} {
		m.failures.WithLabelValues(r)
	}
	return m
}

func (m *writerMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.samples, m.failures, m.retries, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
