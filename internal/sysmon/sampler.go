package sysmon

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Snapshot is one sample of the host, the generator (this process) and the watched processes. It is what the store
// keeps every 2 s and what GET /api/system/metrics serves. Figures whose read failed are zero and named in Errors.
type Snapshot struct {
	Time      time.Time `json:"time"`
	Host      Host      `json:"host"`
	Generator Process   `json:"generator"`
	Watched   []Process `json:"watched"`
	Errors    []string  `json:"errors,omitempty"`
}

// Host holds the host figures of a Snapshot.
type Host struct {
	CPUs             int                `json:"cpus"`
	CPUSecondsByMode map[string]float64 `json:"cpu_seconds_by_mode"`
	// CPUUsageRatio is the busy share of all CPUs (0-1) since the previous sample (since boot for the first).
	CPUUsageRatio        float64 `json:"cpu_usage_ratio"`
	MemoryTotalBytes     uint64  `json:"memory_total_bytes"`
	MemoryUsedBytes      uint64  `json:"memory_used_bytes"`
	MemoryAvailableBytes uint64  `json:"memory_available_bytes"`
	Load1                float64 `json:"load1"`
	Load5                float64 `json:"load5"`
	Load15               float64 `json:"load15"`
	OpenFDs              uint64  `json:"open_fds"`
	MaxFDs               uint64  `json:"max_fds"`
	// TCPConnections counts connections by state; every state of TCPStates is present.
	TCPConnections map[string]uint64 `json:"tcp_connections"`
	NetworkRxBytes uint64            `json:"network_rx_bytes"`
	NetworkTxBytes uint64            `json:"network_tx_bytes"`
	// Network rates since the previous sample; 0 on the first sample.
	NetworkRxBytesPerSecond float64 `json:"network_rx_bytes_per_second"`
	NetworkTxBytesPerSecond float64 `json:"network_tx_bytes_per_second"`
}

// Process holds one process's figures in a Snapshot.
type Process struct {
	Name       string  `json:"name"`
	PID        int32   `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPercent is the CPU used since the previous sample (since the process started, for the first), as top shows
	// it: 100 is one CPU fully busy.
	CPUPercent float64 `json:"cpu_percent"`
	// CPUSaturationRatio is CPUPercent/100 divided by the CPUs the process can use: GOMAXPROCS for the generator,
	// the host's CPUs for a watched process. Above GeneratorCPULimit the generator's figures are unreliable.
	CPUSaturationRatio float64 `json:"cpu_saturation_ratio"`
	RSSBytes           uint64  `json:"rss_bytes"`
	OpenFDs            int32   `json:"open_fds"`
	Threads            int32   `json:"threads"`
}

// GeneratorSaturated reports whether the generator used more than GeneratorCPULimit of its CPUs since the previous
// sample, which makes the run's figures unreliable.
func (s Snapshot) GeneratorSaturated() bool {
	return s.Generator.CPUSaturationRatio > GeneratorCPULimit
}

// Sampler takes Snapshots, keeping the previous one to compute rates. It shares the Monitor's watch list but not
// its scrape state, so Prometheus scrapes and samples do not disturb each other's "since previous" figures.
// Safe for concurrent use.
type Sampler struct {
	m *Monitor

	mu       sync.Mutex
	cpu      cpuDelta
	prevAt   time.Time
	prevNet  [2]uint64 // rx, tx
	haveNet  bool
	prevProc map[procKey]procMark
}

// procKey identifies a sampled process; the name is part of it so that watching the generator itself does not
// share its "previous" mark.
type procKey struct {
	name string
	pid  int32
}

type procMark struct {
	cpuSeconds float64
	at         time.Time
}

// NewSampler returns a Sampler reading through m.
func (m *Monitor) NewSampler() *Sampler {
	return &Sampler{m: m, prevProc: map[procKey]procMark{}}
}

// Sample reads everything now. On a partial failure it returns the Snapshot with what was read, the failed reads
// listed in Snapshot.Errors, and their joined error.
func (s *Sampler) Sample(ctx context.Context) (Snapshot, error) {
	var errs []error
	h, err := s.m.readHost(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	gen, genErr := s.m.readProcess(ctx, "loadgen", s.m.selfPID)
	if genErr != nil {
		errs = append(errs, genErr)
	}
	watched, err := s.m.readWatched(ctx)
	if err != nil {
		errs = append(errs, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.now()
	snap := Snapshot{Time: now, Watched: []Process{}}
	snap.Host = s.host(h, now)
	if genErr == nil {
		snap.Generator = s.process(gen, now, s.m.genCPUs)
	}
	seen := map[procKey]bool{{gen.name, gen.pid}: true}
	for _, w := range watched {
		snap.Watched = append(snap.Watched, s.process(w, now, h.cpus))
		seen[procKey{w.name, w.pid}] = true
	}
	for k := range s.prevProc { // forget processes no longer sampled
		if !seen[k] {
			delete(s.prevProc, k)
		}
	}
	s.prevAt = now
	err = errors.Join(errs...)
	if err != nil {
		for _, e := range errs {
			snap.Errors = append(snap.Errors, e.Error())
		}
	}
	return snap, err
}

// host converts a hostReading; s.mu is held.
func (s *Sampler) host(h hostReading, now time.Time) Host {
	out := Host{CPUs: h.cpus, CPUSecondsByMode: map[string]float64{}, TCPConnections: map[string]uint64{}}
	if t := h.cpuTimes; t != nil {
		out.CPUSecondsByMode = map[string]float64{"user": t.User, "nice": t.Nice, "system": t.System, "idle": t.Idle,
			"iowait": t.Iowait, "irq": t.Irq, "softirq": t.Softirq, "steal": t.Steal}
		out.CPUUsageRatio = s.cpu.next(*t)
	}
	if v := h.mem; v != nil {
		out.MemoryTotalBytes, out.MemoryUsedBytes, out.MemoryAvailableBytes = v.Total, v.Used, v.Available
	}
	if l := h.load; l != nil {
		out.Load1, out.Load5, out.Load15 = l.Load1, l.Load5, l.Load15
	}
	if f := h.fileNr; f != nil {
		out.OpenFDs, out.MaxFDs = f.Open(), f.Max
	}
	if h.tcp != nil {
		out.TCPConnections = h.tcp
	}
	if n := h.net; n != nil {
		out.NetworkRxBytes, out.NetworkTxBytes = n.BytesRecv, n.BytesSent
		if s.haveNet {
			if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
				out.NetworkRxBytesPerSecond = rate(s.prevNet[0], n.BytesRecv, dt)
				out.NetworkTxBytesPerSecond = rate(s.prevNet[1], n.BytesSent, dt)
			}
		}
		s.prevNet, s.haveNet = [2]uint64{n.BytesRecv, n.BytesSent}, true
	}
	return out
}

// process converts a procReading, computing CPU use since the previous sample of that pid; s.mu is held.
func (s *Sampler) process(r procReading, now time.Time, cpus int) Process {
	out := Process{Name: r.name, PID: r.pid, CPUSeconds: r.cpuSeconds, RSSBytes: r.rss, OpenFDs: r.fds, Threads: r.threads}
	key := procKey{r.name, r.pid}
	prev, ok := s.prevProc[key]
	if !ok && !r.createTime.IsZero() {
		prev, ok = procMark{at: r.createTime}, true
	}
	if ok {
		if dt := now.Sub(prev.at).Seconds(); dt > 0 && r.cpuSeconds >= prev.cpuSeconds {
			out.CPUPercent = 100 * (r.cpuSeconds - prev.cpuSeconds) / dt
			if cpus > 0 {
				out.CPUSaturationRatio = out.CPUPercent / 100 / float64(cpus)
			}
		}
	}
	s.prevProc[key] = procMark{cpuSeconds: r.cpuSeconds, at: now}
	return out
}

// rate is the per-second increase of a counter, 0 if it went backwards (interface reset).
func rate(prev, cur uint64, dt float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / dt
}
