package control

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

// TestRunInfoUnderServe: with runs overlapping, loadgen_run_info names the
// runs in progress (or the last one when none is), is never anything but 1,
// and loadgen_run_active counts the runs in progress.
func TestRunInfoUnderServe(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	er := &EngineRunner{Metrics: metrics.New(reg)}
	for _, tc := range []struct {
		step         func()
		name         string
		active, info int
	}{
		{func() { er.runStarted("a", "p", "load") }, "a starts", 1, 1},
		{func() { er.runStarted("b", "p", "stress") }, "b starts", 2, 2},
		{func() { er.runEnded("a", "p", "load") }, "a ends while b runs", 1, 1},
		{func() { er.runEnded("b", "p", "stress") }, "b ends", 0, 1},
		{func() { er.runStarted("c", "p", "load") }, "c starts", 1, 1},
		{func() { er.runEnded("c", "p", "load") }, "c ends", 0, 1},
	} {
		tc.step()
		bad, err := promtest.InfoNotOne(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: %s; want 1", tc.name, b)
		}
		if got := testutil.ToFloat64(er.Metrics.RunActive); got != float64(tc.active) {
			t.Errorf("%s: loadgen_run_active = %v; want %d", tc.name, got, tc.active)
		}
		if got := testutil.CollectAndCount(er.Metrics.RunInfo); got != tc.info {
			t.Errorf("%s: loadgen_run_info has %d series; want %d", tc.name, got, tc.info)
		}
	}
	if got := testutil.ToFloat64(er.Metrics.RunInfo.WithLabelValues("c", "p", "load")); got != 1 {
		t.Errorf("the last run's loadgen_run_info = %v; want 1", got)
	}
}
