package sysmon

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "loadgen"

var (
	descCPUSeconds = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "cpu_seconds_total"),
		"Host CPU time by mode.", []string{"mode"}, nil)
	descCPUs = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "cpus"),
		"Logical CPUs of the host.", nil, nil)
	descMemTotal = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "memory_total_bytes"),
		"Host memory.", nil, nil)
	descMemUsed = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "memory_used_bytes"),
		"Host memory in use.", nil, nil)
	descMemAvailable = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "memory_available_bytes"),
		"Host memory available.", nil, nil)
	descLoad = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "load"),
		"Host load average.", []string{"period"}, nil)
	descOpenFDs = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "open_fds"),
		"File descriptors open on the host.", nil, nil)
	descTCP = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "tcp_connections"),
		"Host TCP connections by state.", []string{"state"}, nil)
	descNet = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "network_bytes_total"),
		"Bytes received and sent over all host interfaces, loopback included.", []string{"direction"}, nil)
	descProcCPU = prometheus.NewDesc(prometheus.BuildFQName(namespace, "watched_process", "cpu_seconds_total"),
		"CPU time of a watched process.", []string{"process"}, nil)
	descProcRSS = prometheus.NewDesc(prometheus.BuildFQName(namespace, "watched_process", "resident_memory_bytes"),
		"Resident memory of a watched process.", []string{"process"}, nil)
	descProcFDs = prometheus.NewDesc(prometheus.BuildFQName(namespace, "watched_process", "open_fds"),
		"Open file descriptors of a watched process.", []string{"process"}, nil)
	descProcThreads = prometheus.NewDesc(prometheus.BuildFQName(namespace, "watched_process", "threads"),
		"Threads of a watched process.", []string{"process"}, nil)
	descSuccess = prometheus.NewDesc(prometheus.BuildFQName(namespace, "sysmon", "scrape_success"),
		"1 when every resource read of the scrape succeeded within its budget.", nil, nil)
	descCollectorSuccess = prometheus.NewDesc(prometheus.BuildFQName(namespace, "sysmon", "collector_success"),
		"1 when the collector's read succeeded within the scrape's read budget.", []string{"collector"}, nil)

	allDescs = []*prometheus.Desc{descCPUSeconds, descCPUs, descMemTotal, descMemUsed, descMemAvailable,
		descLoad, descOpenFDs, descTCP, descNet, descProcCPU, descProcRSS, descProcFDs, descProcThreads, descSuccess,
		descCollectorSuccess}
)

var _ prometheus.Collector = (*Monitor)(nil)

// Describe sends every descriptor the Monitor may emit.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the host and the watched processes now and emits const metrics. Every collector reads in its own
// goroutine, and Collect waits for them until the read deadline (see BoundScrapes): a collector that failed or is
// still reading then has its metrics dropped and loadgen_sysmon_collector_success{collector} at 0, and
// loadgen_sysmon_scrape_success is 0; the others are still emitted. A collector still stuck in a read from an earlier
// scrape is not started again (it reports 0 at once), so a hung /proc never piles up goroutines.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithDeadline(context.Background(), m.readDeadline())
	defer cancel()
	type result struct {
		i     int
		h     hostReading
		procs []procReading
		err   error
	}
	results := make(chan result, numCollectors) // buffered: a read finishing after the deadline never blocks
	pending := 0
	for i := range numCollectors {
		if !m.busy[i].CompareAndSwap(false, true) {
			continue
		}
		pending++
		go func() {
			defer m.busy[i].Store(false)
			r := result{i: i}
			if i < len(collectors) {
				r.err = collectors[i].read(m, ctx, &r.h)
			} else {
				r.procs, r.err = m.readWatched(ctx)
			}
			results <- r
		}()
	}
	var h hostReading
	var procs []procReading
	ok := make([]bool, numCollectors)
wait:
	for ; pending > 0; pending-- {
		select {
		case r := <-results:
			ok[r.i] = r.err == nil
			h.merge(r.h)
			procs = append(procs, r.procs...)
		case <-ctx.Done():
			break wait
		}
	}

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if h.cpus > 0 {
		gauge(descCPUs, float64(h.cpus))
	}
	if t := h.cpuTimes; t != nil {
		for _, mv := range []struct {
			mode string
			v    float64
		}{
			{"user", t.User}, {"nice", t.Nice}, {"system", t.System}, {"idle", t.Idle}, {"iowait", t.Iowait},
			{"irq", t.Irq}, {"softirq", t.Softirq}, {"steal", t.Steal},
		} {
			counter(descCPUSeconds, mv.v, mv.mode)
		}
	}
	if v := h.mem; v != nil {
		gauge(descMemTotal, float64(v.Total))
		gauge(descMemUsed, float64(v.Used))
		gauge(descMemAvailable, float64(v.Available))
	}
	if l := h.load; l != nil {
		gauge(descLoad, l.Load1, "1m")
		gauge(descLoad, l.Load5, "5m")
		gauge(descLoad, l.Load15, "15m")
	}
	if f := h.fileNr; f != nil {
		gauge(descOpenFDs, float64(f.Open()))
	}
	if h.tcp != nil {
		for _, s := range TCPStates {
			gauge(descTCP, float64(h.tcp[s]), s)
		}
	}
	if n := h.net; n != nil {
		counter(descNet, float64(n.BytesRecv), "rx")
		counter(descNet, float64(n.BytesSent), "tx")
	}
	for _, p := range procs {
		counter(descProcCPU, p.cpuSeconds, p.name)
		gauge(descProcRSS, float64(p.rss), p.name)
		gauge(descProcFDs, float64(p.fds), p.name)
		gauge(descProcThreads, float64(p.threads), p.name)
	}
	all := 1.0
	for i, name := range CollectorNames() {
		v := 0.0
		if ok[i] {
			v = 1
		}
		all = min(all, v)
		gauge(descCollectorSuccess, v, name)
	}
	gauge(descSuccess, all)
}

// merge copies the fields other read (each collector fills its own).
func (h *hostReading) merge(o hostReading) {
	if o.cpus > 0 {
		h.cpus = o.cpus
	}
	if o.cpuTimes != nil {
		h.cpuTimes = o.cpuTimes
	}
	if o.mem != nil {
		h.mem = o.mem
	}
	if o.load != nil {
		h.load = o.load
	}
	if o.fileNr != nil {
		h.fileNr = o.fileNr
	}
	if o.tcp != nil {
		h.tcp = o.tcp
	}
	if o.net != nil {
		h.net = o.net
	}
}
