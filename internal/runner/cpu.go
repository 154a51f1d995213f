package runner

import (
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuMeter measures this process's own CPU use from getrusage deltas between
// samples (about once a second), as a percentage of the cores the Go runtime
// may use (GOMAXPROCS), and its peak RSS. It is cheap (one syscall) and exact,
// so health does not depend on /proc parsing. In tests the in-process target
// server shares the process, so its CPU counts too.
type cpuMeter struct {
	cores    int
	prevAt   time.Time
	prevCPU  time.Duration
	measured bool
	lastPct  float64
	maxPct   float64
	maxRSS   int64         // bytes
	lastBits atomic.Uint64 // lastPct, for readers on other goroutines (the live stream)
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{cores: runtime.GOMAXPROCS(0)}
	if cpu, rss, ok := rusage(); ok {
		m.prevAt, m.prevCPU, m.maxRSS = time.Now(), cpu, rss
	}
	return m
}

// sample takes a reading; intervals shorter than half a second are merged
// into the next one so a late tick cannot produce a spike.
func (m *cpuMeter) sample(now time.Time) {
	cpu, rss, ok := rusage()
	if !ok || m.prevAt.IsZero() {
		return
	}
	if rss > m.maxRSS {
		m.maxRSS = rss
	}
	dt := now.Sub(m.prevAt)
	if dt < 500*time.Millisecond {
		return
	}
	pct := 100 * float64(cpu-m.prevCPU) / float64(dt) / float64(m.cores)
	m.prevAt, m.prevCPU = now, cpu
	m.lastPct = pct
	m.lastBits.Store(math.Float64bits(pct))
	m.measured = true
	if pct > m.maxPct {
		m.maxPct = pct
	}
}

func (m *cpuMeter) rssBytes() int64 { return m.maxRSS }

// last is the last reading, for any goroutine (0 before the first).
func (m *cpuMeter) last() float64 { return math.Float64frombits(m.lastBits.Load()) }

// rusage returns user+system CPU time and peak RSS of this process.
func rusage() (cpu time.Duration, maxRSS int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, int64(ru.Maxrss) * 1024, true // Linux reports ru_maxrss in KiB
}
