// Command lgprof runs a loadgen plan through the same library path as
// `loadgen run` (plan.LoadFile + runner.Execute) with a CPU profile and optional
// heap profile, for bench/run.sh's profiling step. It is a benchmark tool, not
// part of the product. Build it with the product's ldflags so the runtime
// behaves like bin/loadgen:
//
//	go build -ldflags '-X=runtime.godebugDefault=schedtrace=2147483647' -o bin/lgprof ./bench/cmd/lgprof
//	taskset -c 0 bin/lgprof -target http://127.0.0.1:PORT -cpuprofile cpu.pprof bench/plans/open5000.yaml
//	go tool pprof -top -cum bin/lgprof cpu.pprof
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/runner"
)

func main() { os.Exit(run()) }

func run() int {
	target := flag.String("target", "", "base URL (overrides the plan's target)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile (100 Hz) to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile to this file (at the end, or at -memprofile-at)")
	memAt := flag.Duration("memprofile-at", 0, "write the heap profile this long after the start (while VUs are live) instead of at the end")
	outJSON := flag.String("out-json", "", "write the summary as JSON to this file")
	memEvery := flag.Duration("memstats-every", 0, "print the runtime's memory split (heap, stacks, goroutines, RSS) this often")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lgprof [-target URL] [-cpuprofile F] [-memprofile F] [-out-json F] PLAN.yaml")
		return 2
	}
	var opts []plan.Option
	if *target != "" {
		opts = append(opts, plan.WithTarget(*target))
	}
	p, err := plan.LoadFile(flag.Arg(0), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	heapDone := make(chan error, 1)
	if *memprofile != "" && *memAt > 0 {
		t := time.AfterFunc(*memAt, func() { heapDone <- writeHeap(*memprofile) })
		defer t.Stop()
	}
	if *memEvery > 0 {
		t := time.NewTicker(*memEvery)
		defer t.Stop()
		start := time.Now()
		go func() {
			for range t.C {
				printMem(fmt.Sprintf("%.0fs", time.Since(start).Seconds()))
			}
		}()
	}
	// The loadgen_* metrics are recorded as by `loadgen run` (served nowhere): their cost is part of the profile.
	x, err := runner.Expose(runner.ExposeOptions{Addr: runner.MetricsOff})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer x.End(ctx, 0)
	rep, err := runner.Execute(ctx, &runner.Run{Plan: p, Metrics: x.Metrics})
	s, ok := rep.(*report.Summary)
	if !ok {
		fmt.Fprintf(os.Stderr, "lgprof: want a load plan: %v\n", err)
		return 1
	}
	if *memprofile != "" {
		var err error
		if *memAt > 0 {
			select {
			case err = <-heapDone:
			default:
				err = fmt.Errorf("lgprof: the run ended before -memprofile-at %s", *memAt)
			}
		} else {
			err = writeHeap(*memprofile)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *outJSON != "" {
		if err := os.WriteFile(*outJSON, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "lgprof: %d requests, %d errors, %.0f req/s, p99 %.3f ms, status %s\n",
		s.Requests, s.Errors, s.RPS, s.LatencyMS.P99, s.Status)
	return 0
}

// writeHeap writes a heap profile (in-use and allocated) after a GC, and
// prints the runtime's memory split (heap, goroutine stacks, goroutines).
func writeHeap(path string) error {
	runtime.GC()
	printMem("heap profile")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printMem prints the runtime's memory split and the process's VmRSS.
func printMem(label string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := "?"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				rss = strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
			}
		}
	}
	fmt.Fprintf(os.Stderr, "lgprof %s: heap in use %.1f MB, heap released %.1f MB, stacks %.1f MB, heap sys %.1f MB, sys %.1f MB, %d goroutines, %d GCs, VmRSS %s\n",
		label, float64(ms.HeapInuse)/1e6, float64(ms.HeapReleased)/1e6, float64(ms.StackInuse)/1e6, float64(ms.HeapSys)/1e6,
		float64(ms.Sys)/1e6, runtime.NumGoroutine(), ms.NumGC, rss)
}
