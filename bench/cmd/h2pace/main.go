// Command h2pace drives internal/httpclient at a fixed request rate with a
// simple paced loop (one pacer goroutine releasing every due request once
// per millisecond to a pool of workers, latency measured from the intended
// send time), and prints what it achieved and its own CPU per request. It
// measures the HTTP/2 path (or any version) of the client before the
// executor is wired to it: bench/h2.sh runs it beside h2load. A benchmark
// tool, not part of loadgen.
//
//	h2pace -url https://127.0.0.1:8443/ -rate 5000 -duration 10s -version 2 -insecure
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/httpclient"
)

func main() { os.Exit(run()) }

func run() int {
	url := flag.String("url", "", "target URL (every request GETs it)")
	rate := flag.Float64("rate", 1000, "requests per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to send")
	workers := flag.Int("workers", 200, "workers (the cap on requests in flight)")
	version := flag.String("version", "2", "http version: auto, 1.1, 2, h2c")
	reuse := flag.String("reuse", "shared", "connection_reuse: shared, per_vu, none")
	insecure := flag.Bool("insecure", false, "skip TLS verification")
	ca := flag.String("ca", "", "CA file")
	conns := flag.Int("conns", 0, "max connections (0: the default)")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "h2pace:", err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *url == "" || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "h2pace: -url and a positive -rate are required")
		return 2
	}
	v, err := httpclient.ParseVersion(*version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2pace:", err)
		return 2
	}
	cr, err := httpclient.ParseConnReuse(*reuse)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2pace:", err)
		return 2
	}
	c := httpclient.New(httpclient.Config{Version: v, ConnReuse: cr, MaxConns: *conns,
		TLS: httpclient.TLSOptions{InsecureSkipVerify: *insecure, CAFile: *ca}})
	h, err := c.Host(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2pace:", err)
		return 2
	}

	lat := hist.New()
	var ok, failed atomic.Uint64
	var reasons [httpclient.NumReasons]atomic.Uint64
	due := make(chan time.Duration, 1<<16)
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.NewSession()
			defer s.Close()
			req, resp := &fasthttp.Request{}, &fasthttp.Response{KeepBodyBuffer: true}
			var tm httpclient.Timing
			for at := range due {
				req.Reset()
				req.SetRequestURI(*url)
				err := s.Do(h, req, resp, 5*time.Second, 0, &tm)
				lat.Record(tm.End.Sub(start) - at)
				if err != nil || resp.StatusCode() != 200 {
					failed.Add(1)
					reasons[httpclient.Classify(err)].Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// The pacer: wake about once per millisecond, release every due request.
	interval := float64(time.Second) / *rate
	total := int64(dur.Seconds() * *rate)
	var sent, dropped int64
	for sent < total {
		el := time.Since(start)
		for sent < total && time.Duration(float64(sent)*interval) <= el {
			select {
			case due <- time.Duration(float64(sent) * interval):
			default:
				dropped++
			}
			sent++
		}
		time.Sleep(time.Millisecond)
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	n := ok.Load()
	fmt.Printf("version %s (host speaks HTTP/%d), rate %.0f/s for %v, %d workers\n", v, h.Proto(), *rate, *dur, *workers)
	fmt.Printf("requests %d ok %d failed %d dropped %d achieved %.1f req/s (ok over the send duration)\n",
		sent, n, failed.Load(), dropped, float64(n)/dur.Seconds())
	for r := httpclient.Reason(1); r < httpclient.NumReasons; r++ {
		if k := reasons[r].Load(); k > 0 {
			fmt.Printf("  reason %s: %d\n", r, k)
		}
	}
	fmt.Printf("latency from intended send: p50 %v p99 %v max %v\n", lat.Quantile(0.5), lat.Quantile(0.99), lat.Quantile(1))
	fmt.Printf("cpu %.3f s (user %.3f sys %.3f) over %v: %.2f us/request\n", cpu.Seconds(),
		float64(ru.Utime.Nano())/1e9, float64(ru.Stime.Nano())/1e9, elapsed.Round(time.Millisecond), float64(cpu.Microseconds())/float64(max(n, 1)))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("allocations: %.1f per request (%.0f bytes)\n", float64(ms.Mallocs)/float64(max(n, 1)), float64(ms.TotalAlloc)/float64(max(n, 1)))
	fmt.Printf("RESULT ok=%d cpu_us_per_req=%.2f achieved=%.1f p99_ms=%.3f\n", n, float64(cpu.Microseconds())/float64(max(n, 1)),
		float64(n)/dur.Seconds(), float64(lat.Quantile(0.99).Microseconds())/1000)
	if failed.Load() > 0 {
		return 1
	}
	return 0
}
