// The benchmarks and the test of the request path that record into
// internal/metrics live in package executor_test: metrics imports executor
// (it implements executor.Observer).
package executor_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/metrics"
)

// newExecutor returns an executor of the plan against target, recording
// into fresh metrics.
func newExecutor(b *testing.B, target, yaml string) *executor.Executor {
	e, err := executor.New(executor.MustPlan(b, target, yaml), executor.WithObserver(metrics.New(prometheus.NewRegistry()).Observer()))
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// fastServer starts an in-process fasthttp server (0 allocations per request)
// so the benchmarks measure the generator.
func fastServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString(`{"token":"t"}`) }}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String()
}

const benchPlan = `
variables: {user: u1}
scenarios:
  - name: s
    steps:
      - name: login
        request: {method: POST, path: "/login?u=${user}", headers: {X-Test: "${user}"}, json: {user: "${user}"}}
        check: {status: [200]}
load:
  phases: [{name: a, duration: %s, rate: %d}]
`

// BenchmarkRequest is the hot path of one request: render, send, check,
// record (cells, window ring and Prometheus metrics).
func BenchmarkRequest(b *testing.B) { benchRequest(b, benchPlan) }

// BenchmarkRequestBodyCheck is BenchmarkRequest with a check that reads the
// body, so the body is kept (up to max_body) instead of dropped.
func BenchmarkRequestBodyCheck(b *testing.B) {
	benchRequest(b, strings.Replace(benchPlan, "check: {status: [200]}", `check: {status: [200], body_contains: "token"}`, 1))
}

func benchRequest(b *testing.B, planText string) {
	e := newExecutor(b, fastServer(b), fmt.Sprintf(planText, "1s", 10))
	request := executor.RequestFunc(e)
	b.ReportAllocs()
	for b.Loop() {
		if !request() {
			b.Fatal("request failed", e.Results().ErrorSamples)
		}
	}
}

// BenchmarkRecord is the recording alone.
func BenchmarkRecord(b *testing.B) {
	record := executor.RecordFunc(newExecutor(b, "http://127.0.0.1:1", fmt.Sprintf(benchPlan, "1s", 10)))
	b.ReportAllocs()
	for b.Loop() {
		record()
	}
}

// BenchmarkExecutorOpen runs the open model at 2000 iterations/s for b.N
// iterations and reports CPU time per request (user+system of the whole
// process, server included).
func BenchmarkExecutorOpen(b *testing.B) {
	url := fastServer(b)
	const rate = 2000
	n := max(b.N, 200)
	d := time.Duration(n) * time.Second / rate
	e := newExecutor(b, url, fmt.Sprintf(benchPlan, d.String(), rate))
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	b.ReportAllocs()
	if err := e.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	res := e.Results()
	if res.Total.Errors != 0 {
		b.Fatalf("errors: %v", res.Total.ErrorCounts())
	}
	cpu := time.Duration(r1.Utime.Nano()-r0.Utime.Nano()) + time.Duration(r1.Stime.Nano()-r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(res.Total.Requests), "cpu-µs/req")
	b.ReportMetric(res.Total.Latency.Quantile(0.99).Seconds()*1e3, "p99-ms")
	b.ReportMetric(res.ScheduleLag.Quantile(0.99).Seconds()*1e3, "lag-p99-ms")
}

// BenchmarkClosedVUMemory reports heap+stack bytes per virtual user for 2000
// VUs with 1 s think time (the goal is at most 16 KB per VU).
func BenchmarkClosedVUMemory(b *testing.B) {
	url := fastServer(b)
	const vus = 2000
	p := executor.MustPlan(b, url, fmt.Sprintf(`
scenarios: [{name: s, think: 1s, steps: [{name: a, request: {path: /a}}]}]
load:
  model: closed
  phases: [{name: a, duration: 3s, vus: %d}]
`, vus))
	for b.Loop() {
		e, err := executor.New(p)
		if err != nil {
			b.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		done := make(chan struct{})
		go func() { defer close(done); e.Run(context.Background()) }()
		time.Sleep(2 * time.Second)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		<-done
		if got := e.Results().Total.Errors; got != 0 {
			b.Fatalf("errors: %v", e.Results().Total.ErrorCounts())
		}
		per := (int64(m1.HeapInuse+m1.StackInuse) - int64(m0.HeapInuse+m0.StackInuse)) / vus
		b.ReportMetric(float64(per), "B/VU")
	}
}
