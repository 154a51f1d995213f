package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/httpclient"
)

// TestObserver: what the executor reports lands in the loadgen_* series.
func TestObserver(t *testing.T) {
	m := New(prometheus.NewPedanticRegistry())
	o := m.Observer()
	o.Phases([]string{"warm-up", "sustained"})
	o.Phase("sustained")
	sc := o.Scenario("browse")
	step := sc.Step("login", "POST", []int{418})
	step.Record(12*time.Millisecond, 10*time.Millisecond, 418, httpclient.ReasonCheck,
		&httpclient.Timing{NewConn: true, Connect: time.Millisecond, TTFB: 9 * time.Millisecond, Receive: time.Millisecond,
			Hops: []httpclient.Hop{{Status: 302, Timing: httpclient.Timing{TTFB: time.Millisecond}}}})
	step.Record(5*time.Millisecond, 5*time.Millisecond, 200, httpclient.ReasonNone, &httpclient.Timing{})
	sc.Iteration()
	o.ScheduleLag(3 * time.Millisecond)
	o.Dropped()
	o.Gauges(executor.Gauges{InFlight: 7, VUs: 5, TargetRate: 250})

	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"phase sustained", m.Phase.WithLabelValues("sustained"), 1},
		{"phase warm-up", m.Phase.WithLabelValues("warm-up"), 0},
		{"code 418", m.Requests.WithLabelValues("browse", "login", "POST", "418"), 1},
		{"code 200", m.Requests.WithLabelValues("browse", "login", "POST", "200"), 1},
		{"check errors", m.Errors.WithLabelValues("browse", "login", "check"), 1},
		{"iterations", m.Iterations.WithLabelValues("browse"), 1},
		{"dropped", m.Dropped, 1},
		{"in flight", m.InFlight, 7},
		{"VUs", m.VirtualUsers, 5},
		{"target rate", m.TargetRate, 250},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v; want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		h    prometheus.Collector
		want uint64
	}{
		{"failures", m.RequestDuration.WithLabelValues("browse", "login", OutcomeFailure).(prometheus.Histogram), 1},
		{"successes", m.RequestDuration.WithLabelValues("browse", "login", OutcomeSuccess).(prometheus.Histogram), 1},
		{"service", m.ServiceTime.WithLabelValues("browse", "login").(prometheus.Histogram), 2},
		{"connect", m.HTTPPhase.WithLabelValues("connect", "login").(prometheus.Histogram), 1},
		{"ttfb (the redirect hop too)", m.HTTPPhase.WithLabelValues("ttfb", "login").(prometheus.Histogram), 2},
		{"receive", m.HTTPPhase.WithLabelValues("receive", "login").(prometheus.Histogram), 2},
		{"dns (none: an IP)", m.HTTPPhase.WithLabelValues("dns", "login").(prometheus.Histogram), 0},
		{"schedule lag", m.ScheduleLag, 1},
	} {
		if got := sampleCount(t, tc.h); got != tc.want {
			t.Errorf("%s: %d observations; want %d", tc.name, got, tc.want)
		}
	}
	o.Phase("")
	o.Gauges(executor.Gauges{})
	if testutil.ToFloat64(m.Phase.WithLabelValues("sustained")) != 0 || testutil.ToFloat64(m.InFlight) != 0 {
		t.Error("after the run's end: a phase or in-flight still set; want 0")
	}
}

func sampleCount(t *testing.T, c prometheus.Collector) uint64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}
