package report

import (
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/store"
)

// FromResults builds the figures of a Summary from an executor's results:
// totals, latency, per-step and per-phase tables, errors by reason, why
// requests failed (top reasons with samples, check pass rates, failed
// requests' latency, canceled requests) and the schedule-lag part of Health.
// LatencyOf is "successful"; the caller sets "all" when the plan says so. The caller fills in the rest (RunID, Type,
// Target, Status, Error, Thresholds, Health CPU, Store). Status defaults to
// completed, or interrupted when the run was cancelled.
func FromResults(res *executor.Results) *Summary {
	s := &Summary{
		Header: Header{Plan: res.Plan, Type: "load", Model: res.Model, Status: store.StatusCompleted,
			StartedAt: res.Started, EndedAt: res.Ended},
		DurationS:      res.Duration().Seconds(),
		Iterations:     res.Iterations,
		Dropped:        res.Dropped,
		ErrorsByReason: map[string]uint64{},
		Steps:          []Step{},
		Phases:         []Phase{},
		Thresholds:     []Threshold{},
	}
	if res.Canceled {
		s.Status = store.StatusInterrupted
	}
	if t := res.Total; t != nil {
		s.Requests = t.Requests
		s.Errors = t.Errors
		s.ErrorRate = t.ErrorRate()
		s.RPS = rate(t.Requests, res.Duration())
		s.LatencyMS = LatencyOf(t.Latency)
		s.ServiceMS = LatencyOf(t.Service)
		s.ErrorsByReason = t.ErrorCounts()
	}
	for _, es := range res.ErrorSamples {
		s.ErrorSamples = append(s.ErrorSamples, ErrorSample{AtS: float64(es.At.Round(time.Millisecond).Milliseconds()) / 1000, Phase: es.Phase,
			Scenario: es.Scenario, Step: es.Step, Reason: es.Reason.String(), Check: es.Check, Status: es.Status, Message: es.Message,
			Count: es.Count})
	}
	for _, c := range res.Steps {
		s.Steps = append(s.Steps, Step{
			Scenario:  c.Scenario,
			Step:      c.Step,
			Method:    c.Method,
			Requests:  c.Requests,
			Errors:    c.Errors,
			ErrorRate: c.ErrorRate(),
			RPS:       rate(c.Requests, res.Duration()),
			LatencyMS: LatencyOf(c.Latency),
			ServiceMS: LatencyOf(c.Service),
			TimingMS: Timing{DNS: quantilesOf(c.DNS), Connect: quantilesOf(c.Connect), TLS: quantilesOf(c.TLS),
				TTFB: quantilesOf(c.TTFB), Receive: quantilesOf(c.Receive)},
			Redirects:      c.Redirects,
			ErrorsByReason: nonEmpty(c.ErrorCounts()),
		})
	}
	for _, p := range res.Phases {
		if p.Start.IsZero() {
			continue // never reached (the run ended first)
		}
		end := p.End
		if end.IsZero() {
			end = res.Ended
		}
		d := end.Sub(p.Start)
		if d < 0 {
			d = 0
		}
		s.Phases = append(s.Phases, Phase{
			Name:      p.Name,
			StartedAt: p.Start,
			DurationS: d.Seconds(),
			Requests:  p.Requests,
			Errors:    p.Errors,
			ErrorRate: p.ErrorRate(),
			RPS:       rate(p.Requests, d),
			LatencyMS: LatencyOf(p.Latency),
		})
	}
	fillFailures(s, res, "")
	if res.ScheduleLag != nil {
		s.Health.LagP50MS = ms(res.ScheduleLag.Quantile(0.50))
		s.Health.LagP99MS = ms(res.ScheduleLag.Quantile(0.99))
		s.Health.LagMaxMS = ms(res.ScheduleLag.Max())
	}
	s.Health.JudgeHealth()
	return s
}

// LatencyOf summarises h in milliseconds (zero for nil or empty).
func LatencyOf(h *hist.Histogram) Latency {
	if h == nil || h.Count() == 0 {
		return Latency{}
	}
	return Latency{
		P50:  ms(h.Quantile(0.50)),
		P90:  ms(h.Quantile(0.90)),
		P95:  ms(h.Quantile(0.95)),
		P99:  ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)),
		Max:  ms(h.Max()),
		Mean: ms(h.Mean()),
	}
}

func quantilesOf(h *hist.Histogram) Quantiles {
	if h == nil || h.Count() == 0 {
		return Quantiles{}
	}
	return Quantiles{Count: h.Count(), P50: ms(h.Quantile(0.5)), P99: ms(h.Quantile(0.99))}
}

func nonEmpty(m map[string]uint64) map[string]uint64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

// ms converts d to milliseconds, rounded to the microsecond so JSON stays short.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / 1e6
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
