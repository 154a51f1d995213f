// Package sysmon reads host and process resources with gopsutil v4 for loadlab.
//
// A Monitor is a prometheus.Collector in the node_exporter style: every scrape reads /proc through gopsutil's
// …WithContext functions, one goroutine per collector (cpu, memory, load, filefd, tcp, network, process), and emits
// const metrics named loadgen_host_*, loadgen_watched_process_*, loadgen_sysmon_collector_success and
// loadgen_sysmon_scrape_success (docs/metrics.md). The reads of one scrape have a budget below the scrape's timeout
// (BoundScrapes honours Prometheus's X-Prometheus-Scrape-Timeout-Seconds): a slow read is reported as a failed
// collector instead of failing the whole scrape. It never repeats client_golang's process_* series.
// A Sampler, made by Monitor.NewSampler, returns the same figures as a JSON-tagged Snapshot, plus the generator's own
// CPU use and RSS, for the store's metric snapshots, run health and GET /api/system/metrics.
//
// The proc root and the clock are injected (WithProcRoot, WithClock); no package state is mutated.
package sysmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

// Defaults.
const (
	DefaultProcRoot = "/proc"
	// DefaultReadBudget bounds the reads of one Collect when no scrape in flight says its timeout: half the 2 s
	// scrape timeout of the shipped Prometheus configs.
	DefaultReadBudget = time.Second
	// MaxReadBudget caps the read budget whatever the scrape timeout.
	MaxReadBudget = 5 * time.Second
	// GeneratorCPULimit is the generator CPU saturation (0-1 of the CPUs it may use) above which its figures are
	// unreliable.
	GeneratorCPULimit = 0.9
)

// Option configures a Monitor.
type Option func(*Monitor)

// WithProcRoot reads procfs from root instead of /proc (for fixtures and containers). gopsutil is pointed at it
// through its context environment map, not through HOST_PROC.
func WithProcRoot(root string) Option { return func(m *Monitor) { m.procRoot = root } }

// WithClock replaces time.Now, used for the rates computed between samples.
func WithClock(now func() time.Time) Option { return func(m *Monitor) { m.now = now } }

// WithReadBudget bounds the reads of one Collect when no scrape in flight says its timeout (default
// DefaultReadBudget).
func WithReadBudget(d time.Duration) Option { return func(m *Monitor) { m.budget = d } }

// WithSelfPID sets the process the Sampler reports as the generator (default os.Getpid()).
func WithSelfPID(pid int32) Option { return func(m *Monitor) { m.selfPID = pid } }

// WithGeneratorCPUs sets how many CPUs the generator may use, the divisor of its CPU saturation ratio
// (default runtime.GOMAXPROCS(0)).
func WithGeneratorCPUs(n int) Option { return func(m *Monitor) { m.genCPUs = n } }

// Monitor reads host and watched-process resources. It implements prometheus.Collector. Safe for concurrent use.
type Monitor struct {
	procRoot string
	now      func() time.Time
	budget   time.Duration
	selfPID  int32
	genCPUs  int

	busy []atomic.Bool // by collector: a read still running (stuck past an earlier scrape's budget)

	mu        sync.Mutex
	watched   map[string]int32   // process label -> pid
	deadlines map[*int]time.Time // read deadlines of the scrapes in flight (BoundScrapes)
}

// New returns a Monitor with the defaults, then opts applied.
func New(opts ...Option) *Monitor {
	m := &Monitor{
		procRoot: DefaultProcRoot,
		now:      time.Now,
		budget:   DefaultReadBudget,
		selfPID:  int32(os.Getpid()),
		genCPUs:  runtime.GOMAXPROCS(0),
		watched:  map[string]int32{},

		deadlines: map[*int]time.Time{},
		busy:      make([]atomic.Bool, numCollectors),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Watch adds (or re-points) a watched process; name becomes the value of the process label, so it must come from
// a bounded set (e.g. "target").
func (m *Monitor) Watch(name string, pid int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watched[name] = pid
}

// Unwatch stops watching the process named name. Unknown names are ignored.
func (m *Monitor) Unwatch(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.watched, name)
}

// Watched returns the watched processes sorted by name.
func (m *Monitor) Watched() []WatchedPID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WatchedPID, 0, len(m.watched))
	for n, p := range m.watched {
		out = append(out, WatchedPID{Name: n, PID: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WatchedPID names a watched process.
type WatchedPID struct {
	Name string
	PID  int32
}

// env points gopsutil at the injected proc root.
func (m *Monitor) env(ctx context.Context) context.Context {
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostProcEnvKey: m.procRoot})
}

// hostReading is one read of the host. A nil pointer or false flag means that read failed (see the errors).
type hostReading struct {
	cpus     int
	cpuTimes *cpu.TimesStat
	mem      *mem.VirtualMemoryStat
	load     *load.AvgStat
	fileNr   *FileNr
	tcp      map[string]uint64
	net      *net.IOCountersStat
}

// procReading is one read of a process.
type procReading struct {
	name       string
	pid        int32
	cpuSeconds float64
	createTime time.Time
	rss        uint64
	fds        int32
	threads    int32
}

// A collector is one independent read of the host, reported by loadgen_sysmon_collector_success{collector}. Its
// read fills only its own fields of the hostReading.
type collector struct {
	name string
	read func(m *Monitor, ctx context.Context, h *hostReading) error
}

// collectors are the host reads, in the order Collect emits them; the watched processes are one more collector,
// "process" (procCollector).
var collectors = []collector{
	{"cpu", (*Monitor).readCPU},
	{"memory", func(m *Monitor, ctx context.Context, h *hostReading) error {
		v, err := mem.VirtualMemoryWithContext(m.env(ctx))
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		h.mem = v
		return nil
	}},
	{"load", func(m *Monitor, ctx context.Context, h *hostReading) error {
		l, err := load.AvgWithContext(m.env(ctx))
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		h.load = l
		return nil
	}},
	{"filefd", func(m *Monitor, _ context.Context, h *hostReading) error {
		f, err := m.readFileNr()
		if err != nil {
			return err
		}
		h.fileNr = &f
		return nil
	}},
	{"tcp", func(m *Monitor, _ context.Context, h *hostReading) error {
		t, err := m.readTCP()
		if err != nil {
			return err
		}
		h.tcp = t
		return nil
	}},
	{"network", func(m *Monitor, ctx context.Context, h *hostReading) error {
		io, err := net.IOCountersWithContext(m.env(ctx), false)
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		if len(io) == 0 {
			return errors.New("network: no data")
		}
		h.net = &io[0]
		return nil
	}},
}

// procCollector names the watched processes' read; numCollectors counts it.
const procCollector = "process"

var numCollectors = len(collectors) + 1

// CollectorNames are the values of loadgen_sysmon_collector_success{collector}.
func CollectorNames() []string {
	out := make([]string, 0, numCollectors)
	for _, c := range collectors {
		out = append(out, c.name)
	}
	return append(out, procCollector)
}

func (m *Monitor) readCPU(ctx context.Context, h *hostReading) error {
	ctx = m.env(ctx)
	var errs []error
	if n, err := cpu.CountsWithContext(ctx, true); err != nil {
		errs = append(errs, fmt.Errorf("cpu count: %w", err))
	} else {
		h.cpus = n
	}
	if ts, err := cpu.TimesWithContext(ctx, false); err != nil {
		errs = append(errs, fmt.Errorf("cpu times: %w", err))
	} else if len(ts) == 0 {
		errs = append(errs, errors.New("cpu times: no data"))
	} else {
		h.cpuTimes = &ts[0]
	}
	return errors.Join(errs...)
}

// readHost reads every host figure one collector after the other (for the Sampler), returning what succeeded and
// the joined errors of what did not.
func (m *Monitor) readHost(ctx context.Context) (hostReading, error) {
	var h hostReading
	var errs []error
	for _, c := range collectors {
		if err := c.read(m, ctx, &h); err != nil {
			errs = append(errs, err)
		}
	}
	return h, errors.Join(errs...)
}

func (m *Monitor) readFileNr() (FileNr, error) {
	b, err := os.ReadFile(filepath.Join(m.procRoot, "sys", "fs", "file-nr"))
	if err != nil {
		return FileNr{}, fmt.Errorf("open fds: %w", err)
	}
	f, err := parseFileNr(string(b))
	if err != nil {
		return FileNr{}, fmt.Errorf("open fds: %w", err)
	}
	return f, nil
}

// readTCP counts TCP connections by state from net/tcp and net/tcp6 of the proc root. It parses the tables itself
// (as node_exporter's tcpstat does) instead of gopsutil's ConnectionsWithContext, which walks every process's fds to
// map sockets to pids: far too costly to do every 2 s under a load test with thousands of sockets.
func (m *Monitor) readTCP() (map[string]uint64, error) {
	counts := make(map[string]uint64, len(TCPStates))
	for _, s := range TCPStates {
		counts[s] = 0
	}
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(m.procRoot, "net", name))
		if err != nil {
			if name == "tcp6" && errors.Is(err, os.ErrNotExist) {
				continue // IPv6 disabled
			}
			return nil, fmt.Errorf("tcp connections: %w", err)
		}
		err = parseTCPStates(f, counts)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("tcp connections %s: %w", name, err)
		}
	}
	return counts, nil
}

// readProcess reads one process's CPU, RSS, fds and threads.
func (m *Monitor) readProcess(ctx context.Context, name string, pid int32) (procReading, error) {
	ctx = m.env(ctx)
	r := procReading{name: name, pid: pid}
	p, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return r, fmt.Errorf("process %s (pid %d): %w", name, pid, err)
	}
	t, err := p.TimesWithContext(ctx)
	if err != nil {
		return r, fmt.Errorf("process %s (pid %d) cpu: %w", name, pid, err)
	}
	r.cpuSeconds = t.User + t.System
	mi, err := p.MemoryInfoWithContext(ctx)
	if err != nil {
		return r, fmt.Errorf("process %s (pid %d) memory: %w", name, pid, err)
	}
	r.rss = mi.RSS
	if r.fds, err = p.NumFDsWithContext(ctx); err != nil {
		return r, fmt.Errorf("process %s (pid %d) fds: %w", name, pid, err)
	}
	if r.threads, err = p.NumThreadsWithContext(ctx); err != nil {
		return r, fmt.Errorf("process %s (pid %d) threads: %w", name, pid, err)
	}
	r.createTime = m.startTime(pid) // zero when unknown: the first CPU share is then left at 0
	return r, nil
}

// startTime is when process pid started, from btime in stat and starttime in <pid>/stat of the proc root. gopsutil's
// CreateTime is not used: its boot time goes through package-level caches and virtualization guesses that ignore the
// injected root.
func (m *Monitor) startTime(pid int32) time.Time {
	stat, err := os.ReadFile(filepath.Join(m.procRoot, "stat"))
	if err != nil {
		return time.Time{}
	}
	boot, err := parseBootTime(string(stat))
	if err != nil {
		return time.Time{}
	}
	pstat, err := os.ReadFile(filepath.Join(m.procRoot, strconv.Itoa(int(pid)), "stat"))
	if err != nil {
		return time.Time{}
	}
	ticks, err := parseStartTicks(string(pstat))
	if err != nil {
		return time.Time{}
	}
	return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ)
}

// readWatched reads every watched process, in name order.
func (m *Monitor) readWatched(ctx context.Context) ([]procReading, error) {
	var out []procReading
	var errs []error
	for _, w := range m.Watched() {
		r, err := m.readProcess(ctx, w.Name, w.PID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// cpuDelta keeps the previous host CPU times to compute the busy share since then.
type cpuDelta struct {
	prev cpu.TimesStat
	have bool
}

// busyIdle splits CPU times into busy and idle seconds. guest and guest_nice are already inside user and nice.
func busyIdle(t cpu.TimesStat) (busy, idle float64) {
	return t.User + t.Nice + t.System + t.Irq + t.Softirq + t.Steal, t.Idle + t.Iowait
}

// next returns the busy share (0-1) since the previous call (since boot on the first call) and remembers cur.
func (d *cpuDelta) next(cur cpu.TimesStat) float64 {
	var pb, pi float64
	if d.have {
		pb, pi = busyIdle(d.prev)
	}
	cb, ci := busyIdle(cur)
	db, di := cb-pb, ci-pi
	d.prev, d.have = cur, true
	if db < 0 || di < 0 || db+di <= 0 {
		return 0 // counters went backwards or no time passed
	}
	return db / (db + di)
}
