package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/httpclient"
)

// Observer records one run's measurements into its Metrics: it is what the
// executor reports to (executor.WithObserver). Build one per run with
// Metrics.Observer.
type Observer struct{ m *Metrics }

var (
	_ executor.Observer     = (*Observer)(nil)
	_ executor.StepObserver = (*StepMetrics)(nil)
)

// Observer returns a run's observer of m.
func (m *Metrics) Observer() *Observer { return &Observer{m: m} }

// Scenario implements executor.Observer.
func (o *Observer) Scenario(name string) executor.ScenarioObserver {
	return scenario{m: o.m, name: name, iterations: o.m.Iterations.WithLabelValues(name)}
}

// Phases implements executor.Observer: loadgen_phase is reset to the phases.
func (o *Observer) Phases(names []string) { o.m.SetPhases(names) }

// Phase implements executor.Observer.
func (o *Observer) Phase(name string) { o.m.SetPhase(name) }

// Gauges implements executor.Observer.
func (o *Observer) Gauges(g executor.Gauges) {
	o.m.InFlight.Set(float64(g.InFlight))
	o.m.VirtualUsers.Set(float64(g.VUs))
	o.m.TargetRate.Set(g.TargetRate)
}

// ScheduleLag implements executor.Observer.
func (o *Observer) ScheduleLag(d time.Duration) { o.m.ScheduleLag.Observe(d.Seconds()) }

// Dropped implements executor.Observer.
func (o *Observer) Dropped() { o.m.Dropped.Inc() }

type scenario struct {
	m          *Metrics
	name       string
	iterations prometheus.Counter
}

func (s scenario) Step(step, method string, codes []int) executor.StepObserver {
	return s.m.Step(s.name, step, method, codes...)
}

func (s scenario) Iteration() { s.iterations.Inc() }

// Record implements executor.StepObserver: the request's latency by
// outcome, its failure reason, service time and status code, and the HTTP
// phases of its connection.
func (s *StepMetrics) Record(latency, service time.Duration, status int, reason httpclient.Reason, tm *httpclient.Timing) {
	if reason == httpclient.ReasonNone {
		s.Success.Observe(latency.Seconds())
	} else {
		s.Failure.Observe(latency.Seconds())
		s.Errors[reason].Inc()
	}
	s.Service.Observe(service.Seconds())
	s.Request(status).Inc()
	s.phases(tm)
	for i := range tm.Hops {
		s.phases(&tm.Hops[i].Timing)
	}
}

// phases observes one response's (or redirect hop's) timing breakdown.
func (s *StepMetrics) phases(tm *httpclient.Timing) {
	if tm.NewConn {
		if tm.DNS > 0 {
			s.DNS.Observe(tm.DNS.Seconds())
		}
		s.Connect.Observe(tm.Connect.Seconds())
		if tm.TLS > 0 {
			s.TLS.Observe(tm.TLS.Seconds())
		}
	}
	if tm.TTFB > 0 {
		s.TTFB.Observe(tm.TTFB.Seconds())
		s.Receive.Observe(tm.Receive.Seconds())
	}
}
