package remotewrite_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/remotewrite"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

// TestPrometheusReceives pushes a counter and a native histogram with known
// observations to the pinned Prometheus (remote-write receiver on, the
// repository's config without scrape targets) and reads them back with
// PromQL: the counts are exact, the quantiles within one native bucket
// (factor 1.1: schema 3, a bucket spans a factor 2^(1/8)), and the values
// incremented after the first push arrive with the final push of Close.
func TestPrometheusReceives(t *testing.T) {
	prom := promtest.Start(t, promtest.Config(t), "--web.enable-remote-write-receiver")

	reg := prometheus.NewRegistry()
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: "rwtest_events_total", Help: "Events."})
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rwtest_latency_seconds", Help: "Latency.",
		NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 100,
	})
	reg.MustRegister(events, lat)
	// An interval far longer than the test: only the first push and Close's.
	w, err := remotewrite.New(prom.URL+"/api/v1/write", reg, map[string]string{"job": "loadgen", "instance": "worker-0"},
		time.Hour, nil, remotewrite.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := `{job="loadgen",instance="worker-0"}`
	// The first push (all zero) lands before anything is observed, and the
	// writer has seen it accepted.
	for {
		if v, ok := prom.Scalar(t, ctx, `rwtest_events_total`+sel, time.Time{}); ok && v == 0 && sentFloats(t, reg) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the first push never reached Prometheus:\n%s", prom.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}

	// 1000 observations of 1 ms .. 1000 ms: p50 is 0.5 s, p99 0.99 s.
	var sum float64
	for i := 1; i <= 1000; i++ {
		v := float64(i) / 1000
		lat.Observe(v)
		sum += v
	}
	events.Add(42)
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close = %v\n%s", err, prom.Log())
	}

	exact := map[string]float64{
		`rwtest_events_total` + sel:                                                      42,
		`histogram_count(rwtest_latency_seconds` + sel + `)`:                             1000,
		`count_over_time(rwtest_events_total` + sel + `[5m])`:                            2, // first and final push
		`loadgen_remote_write_failures_total` + sel[:len(sel)-1] + `,reason="rejected"}`: 0,
	}
	for q, want := range exact {
		if got, ok := prom.Scalar(t, ctx, q, time.Time{}); !ok || got != want {
			t.Errorf("%s = %v (found %v); want %v", q, got, ok, want)
		}
	}
	if got, ok := prom.Scalar(t, ctx, `histogram_sum(rwtest_latency_seconds`+sel+`)`, time.Time{}); !ok || math.Abs(got-sum) > 1e-9 {
		t.Errorf("histogram_sum = %v (found %v); want %v", got, ok, sum)
	}
	// The first push was accepted: the final one carries its sample count.
	if got, ok := prom.Scalar(t, ctx, `loadgen_remote_write_samples_total`+sel[:len(sel)-1]+`,type="float"}`, time.Time{}); !ok || got == 0 {
		t.Errorf("loadgen_remote_write_samples_total{type=float} = %v (found %v); want > 0", got, ok)
	}
	bucket := math.Pow(2, 1.0/8)
	for _, q := range []struct{ phi, want float64 }{{0.5, 0.5}, {0.9, 0.9}, {0.99, 0.99}} {
		expr := `histogram_quantile(` + strconv.FormatFloat(q.phi, 'g', -1, 64) + `, rwtest_latency_seconds` + sel + `)`
		got, ok := prom.Scalar(t, ctx, expr, time.Time{})
		t.Logf("%s = %v", expr, got)
		if !ok || got < q.want/bucket || got > q.want*bucket {
			t.Errorf("%s = %v (found %v); want %v within a factor %.4f (one bucket)", expr, got, ok, q.want, bucket)
		}
	}
}

// sentFloats reads loadgen_remote_write_samples_total{type="float"} from reg.
func sentFloats(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "loadgen_remote_write_samples_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == "float" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
