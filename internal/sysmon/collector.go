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
	descCPUUsage = prometheus.NewDesc(prometheus.BuildFQName(namespace, "host", "cpu_usage_ratio"),
		"Host CPU busy share (0-1) since the previous scrape.", nil, nil)
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
		"1 when every resource read of the scrape succeeded.", nil, nil)

	allDescs = []*prometheus.Desc{descCPUSeconds, descCPUs, descCPUUsage, descMemTotal, descMemUsed, descMemAvailable,
		descLoad, descOpenFDs, descTCP, descNet, descProcCPU, descProcRSS, descProcFDs, descProcThreads, descSuccess}
)

var _ prometheus.Collector = (*Monitor)(nil)

// Describe sends every descriptor the Monitor may emit.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the host and the watched processes now and emits const metrics. A failed read drops its metrics
// and sets loadgen_sysmon_scrape_success to 0; the others are still emitted.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	ok := 1.0
	h, err := m.readHost(ctx)
	if err != nil {
		ok = 0
	}
	procs, err := m.readWatched(ctx)
	if err != nil {
		ok = 0
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
		m.mu.Lock()
		r := m.cpuPrev.next(*t)
		m.mu.Unlock()
		gauge(descCPUUsage, r)
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
	gauge(descSuccess, ok)
}
