package target

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric label names.
const (
	labelRoute  = "route"
	labelMethod = "method"
	labelCode   = "code"
)

// metrics are the target_* series of docs/metrics.md.
type metrics struct {
	duration *prometheus.HistogramVec
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	rejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, p *pool, queueCap int, f *faultState) (*metrics, error) {
	labels := []string{labelRoute, labelMethod, labelCode}
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "target", Subsystem: "http", Name: "request_duration_seconds",
			Help:                            "Time to serve a request, from arrival to response, by route template.",
			Buckets:                         []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, labels),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "target", Subsystem: "http", Name: "requests_total",
			Help: "Requests served, by route template.",
		}, labels),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "target", Subsystem: "http", Name: "requests_in_flight",
			Help: "Requests being served now (stalled, queued or running).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "target", Name: "rejected_requests_total",
			Help: "Requests rejected with 503 because the pool and the queue were full.",
		}),
	}
	cs := []prometheus.Collector{
		m.duration, m.requests, m.inFlight, m.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "target", Name: "pool_workers",
			Help: "Size of the worker pool (the capacity model's database connections).",
		}, func() float64 { return float64(p.workers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "target", Name: "pool_in_use",
			Help: "Workers held by a request now.",
		}, func() float64 { return float64(p.inUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "target", Name: "queue_length",
			Help: "Requests waiting for a worker now.",
		}, func() float64 { return float64(p.waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "target", Name: "queue_capacity",
			Help: "Most requests that may wait for a worker; beyond it, 503 at once.",
		}, func() float64 { return float64(queueCap) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "target", Subsystem: "fault", Name: "error_ratio",
			Help: "Injected error rate now (0-1).",
		}, func() float64 { return f.get().ErrorRate }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "target", Subsystem: "fault", Name: "stalls_total",
			Help: "Injected stalls begun.",
		}, f.stallsTotal),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
