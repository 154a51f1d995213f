package sysmon

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/loadlab/loadlab/internal/testenv"
)

// writeFixture builds a fake proc root: a two-CPU host and process pid (whose directory a real, running pid must
// name, because gopsutil checks a pid exists by signalling it when the root is not a mounted procfs).
func writeFixture(t *testing.T, pid int) string {
	t.Helper()
	root := t.TempDir()
	p := strconv.Itoa(pid)
	files := map[string]string{
		"cpuinfo": "processor\t: 0\nmodel name\t: test\n\nprocessor\t: 1\nmodel name\t: test\n",
		// user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ (100/s)
		"stat": "cpu  1000 100 500 8000 200 10 40 150 0 0\ncpu0 500 50 250 4000 100 5 20 75 0 0\n" +
			"cpu1 500 50 250 4000 100 5 20 75 0 0\nbtime 1700000000\n",
		"meminfo": "MemTotal:        8000000 kB\nMemFree:         2000000 kB\nMemAvailable:    5000000 kB\n" +
			"Buffers:          100000 kB\nCached:          1900000 kB\nSReclaimable:          0 kB\nShmem:                 0 kB\n",
		"loadavg":        "0.50 1.25 2.00 3/150 4242\n",
		"sys/fs/file-nr": "2048\t0\t9223372036854775807\n",
		"net/tcp":        tcpTable,
		"net/tcp6": "  sl  local_address                         remote_address                        st\n" +
			"   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0\n",
		"net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo:   1000     10    0    0    0     0          0         0    1000     10    0    0    0     0       0          0\n" +
			"  eth0:   5000     50    0    0    0     0          0         0    3000     30    0    0    0     0       0          0\n",
		// utime 250 and stime 50 ticks (3 s), starttime 1000 ticks after boot, 7 threads, 256 resident pages.
		p + "/stat": p + " (target) S 1 " + p + " 1 0 -1 4194304 99 0 0 0 250 50 0 0 20 0 7 0 1000 3133440 256 " +
			"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		p + "/statm":  "765 256 100 5 0 123 0\n",
		p + "/status": "Name:\ttarget\nState:\tS (sleeping)\nTgid:\t" + p + "\nPid:\t" + p + "\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t7\n",
		p + "/fd/0":   "",
		p + "/fd/1":   "",
		p + "/fd/2":   "",
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestCollectFixture checks every metric's value against a fake proc root (node_exporter style).
func TestCollectFixture(t *testing.T) {
	pid := os.Getpid()
	m := New(WithProcRoot(writeFixture(t, pid)))
	m.Watch("target", int32(pid))
	page := os.Getpagesize()
	want := fmt.Sprintf(`
# HELP loadgen_host_cpu_seconds_total Host CPU time by mode.
# TYPE loadgen_host_cpu_seconds_total counter
loadgen_host_cpu_seconds_total{mode="idle"} 80
loadgen_host_cpu_seconds_total{mode="iowait"} 2
loadgen_host_cpu_seconds_total{mode="irq"} 0.1
loadgen_host_cpu_seconds_total{mode="nice"} 1
loadgen_host_cpu_seconds_total{mode="softirq"} 0.4
loadgen_host_cpu_seconds_total{mode="steal"} 1.5
loadgen_host_cpu_seconds_total{mode="system"} 5
loadgen_host_cpu_seconds_total{mode="user"} 10
# HELP loadgen_host_cpus Logical CPUs of the host.
# TYPE loadgen_host_cpus gauge
loadgen_host_cpus 2
# HELP loadgen_host_load Host load average.
# TYPE loadgen_host_load gauge
loadgen_host_load{period="15m"} 2
loadgen_host_load{period="1m"} 0.5
loadgen_host_load{period="5m"} 1.25
# HELP loadgen_host_memory_available_bytes Host memory available.
# TYPE loadgen_host_memory_available_bytes gauge
loadgen_host_memory_available_bytes 5.12e+09
# HELP loadgen_host_memory_total_bytes Host memory.
# TYPE loadgen_host_memory_total_bytes gauge
loadgen_host_memory_total_bytes 8.192e+09
# HELP loadgen_host_memory_used_bytes Host memory in use.
# TYPE loadgen_host_memory_used_bytes gauge
loadgen_host_memory_used_bytes 3.072e+09
# HELP loadgen_host_network_bytes_total Bytes received and sent over all host interfaces, loopback included.
# TYPE loadgen_host_network_bytes_total counter
loadgen_host_network_bytes_total{direction="rx"} 6000
loadgen_host_network_bytes_total{direction="tx"} 4000
# HELP loadgen_host_open_fds File descriptors open on the host.
# TYPE loadgen_host_open_fds gauge
loadgen_host_open_fds 2048
# HELP loadgen_host_tcp_connections Host TCP connections by state.
# TYPE loadgen_host_tcp_connections gauge
loadgen_host_tcp_connections{state="close"} 0
loadgen_host_tcp_connections{state="close_wait"} 1
loadgen_host_tcp_connections{state="closing"} 0
loadgen_host_tcp_connections{state="established"} 2
loadgen_host_tcp_connections{state="fin_wait1"} 0
loadgen_host_tcp_connections{state="fin_wait2"} 0
loadgen_host_tcp_connections{state="last_ack"} 0
loadgen_host_tcp_connections{state="listen"} 3
loadgen_host_tcp_connections{state="new_syn_recv"} 0
loadgen_host_tcp_connections{state="syn_recv"} 0
loadgen_host_tcp_connections{state="syn_sent"} 0
loadgen_host_tcp_connections{state="time_wait"} 1
# HELP loadgen_sysmon_collector_success 1 when the collector's read succeeded within the scrape's read budget.
# TYPE loadgen_sysmon_collector_success gauge
loadgen_sysmon_collector_success{collector="cpu"} 1
loadgen_sysmon_collector_success{collector="filefd"} 1
loadgen_sysmon_collector_success{collector="load"} 1
loadgen_sysmon_collector_success{collector="memory"} 1
loadgen_sysmon_collector_success{collector="network"} 1
loadgen_sysmon_collector_success{collector="process"} 1
loadgen_sysmon_collector_success{collector="tcp"} 1
# HELP loadgen_sysmon_scrape_success 1 when every resource read of the scrape succeeded within its budget.
# TYPE loadgen_sysmon_scrape_success gauge
loadgen_sysmon_scrape_success 1
# HELP loadgen_watched_process_cpu_seconds_total CPU time of a watched process.
# TYPE loadgen_watched_process_cpu_seconds_total counter
loadgen_watched_process_cpu_seconds_total{process="target"} 3
# HELP loadgen_watched_process_open_fds Open file descriptors of a watched process.
# TYPE loadgen_watched_process_open_fds gauge
loadgen_watched_process_open_fds{process="target"} 3
# HELP loadgen_watched_process_resident_memory_bytes Resident memory of a watched process.
# TYPE loadgen_watched_process_resident_memory_bytes gauge
loadgen_watched_process_resident_memory_bytes{process="target"} %d
# HELP loadgen_watched_process_threads Threads of a watched process.
# TYPE loadgen_watched_process_threads gauge
loadgen_watched_process_threads{process="target"} 7
`, 256*page)
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Errorf("CollectAndCompare on fixture:\n%v", err)
	}
}

// TestCollectPartialFailure removes one file: that read's metrics go, the others stay, and success is 0.
func TestCollectPartialFailure(t *testing.T) {
	root := writeFixture(t, os.Getpid())
	if err := os.Remove(filepath.Join(root, "sys/fs/file-nr")); err != nil {
		t.Fatal(err)
	}
	m := New(WithProcRoot(root))
	m.Watch("gone", 1<<30) // no such process
	got := gatherByName(t, m)
	if v := gaugeValue(t, got, "loadgen_sysmon_scrape_success"); v != 0 {
		t.Errorf("loadgen_sysmon_scrape_success = %v; want 0", v)
	}
	for _, name := range []string{"loadgen_host_open_fds", "loadgen_watched_process_threads"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s present after its read failed; want it dropped", name)
		}
	}
	if v := gaugeValue(t, got, "loadgen_host_cpus"); v != 2 {
		t.Errorf("loadgen_host_cpus = %v; want 2 (other reads must survive)", v)
	}
	want := map[string]float64{"cpu": 1, "memory": 1, "load": 1, "filefd": 0, "tcp": 1, "network": 1, "process": 0}
	if got := collectorSuccess(got); !maps.Equal(got, want) {
		t.Errorf("loadgen_sysmon_collector_success = %v; want %v", got, want)
	}
}

func collectorSuccess(got map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range got["loadgen_sysmon_collector_success"].GetMetric() {
		out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	return out
}

// TestCollectLint lints the real exposition on a pedantic registry (counters _total, base units, HELP).
func TestCollectLint(t *testing.T) {
	m := New()
	m.Watch("self", int32(os.Getpid()))
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatalf("Register on pedantic registry: %v", err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("pedantic Gather: %v", err)
	}
}

// TestCollectRealHost reads the real /proc and checks every contracted name is there with sane values.
func TestCollectRealHost(t *testing.T) {
	m := New()
	m.Watch("self", int32(os.Getpid()))
	got := gatherByName(t, m)
	for _, name := range []string{
		"loadgen_host_cpu_seconds_total", "loadgen_host_cpus", "loadgen_sysmon_collector_success",
		"loadgen_host_memory_total_bytes", "loadgen_host_memory_used_bytes", "loadgen_host_memory_available_bytes",
		"loadgen_host_load", "loadgen_host_open_fds", "loadgen_host_tcp_connections", "loadgen_host_network_bytes_total",
		"loadgen_watched_process_cpu_seconds_total", "loadgen_watched_process_resident_memory_bytes",
		"loadgen_watched_process_open_fds", "loadgen_watched_process_threads", "loadgen_sysmon_scrape_success",
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s missing from the scrape", name)
		}
	}
	if len(got) != 15 {
		t.Errorf("scrape has %d metric families; want 15", len(got))
	}
	for name := range got {
		if strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_") {
			t.Errorf("metric %s duplicates client_golang's collectors", name)
		}
	}
	if v := gaugeValue(t, got, "loadgen_sysmon_scrape_success"); v != 1 {
		t.Errorf("loadgen_sysmon_scrape_success = %v; want 1", v)
	}
	if v := gaugeValue(t, got, "loadgen_host_cpus"); v < 1 {
		t.Errorf("loadgen_host_cpus = %v; want >= 1", v)
	}
	total := gaugeValue(t, got, "loadgen_host_memory_total_bytes")
	used := gaugeValue(t, got, "loadgen_host_memory_used_bytes")
	avail := gaugeValue(t, got, "loadgen_host_memory_available_bytes")
	if !(total > used && used > 0) || !(avail > 0 && avail <= total) {
		t.Errorf("memory total=%v used=%v available=%v; want total > used > 0 and 0 < available <= total", total, used, avail)
	}
	for _, c := range got["loadgen_sysmon_collector_success"].GetMetric() {
		if c.GetGauge().GetValue() != 1 {
			t.Errorf("loadgen_sysmon_collector_success%v = %v; want 1", c.GetLabel(), c.GetGauge().GetValue())
		}
	}
	if v := gaugeValue(t, got, "loadgen_host_open_fds"); v < 3 {
		t.Errorf("loadgen_host_open_fds = %v; want >= 3", v)
	}
	if v := gaugeValue(t, got, "loadgen_watched_process_resident_memory_bytes"); v <= 0 {
		t.Errorf("watched rss = %v; want > 0", v)
	}
	if v := gaugeValue(t, got, "loadgen_watched_process_threads"); v < 1 {
		t.Errorf("watched threads = %v; want >= 1", v)
	}
	if v := gaugeValue(t, got, "loadgen_watched_process_open_fds"); v < 1 {
		t.Errorf("watched fds = %v; want >= 1", v)
	}
	if n := len(got["loadgen_host_cpu_seconds_total"].GetMetric()); n != 8 {
		t.Errorf("loadgen_host_cpu_seconds_total has %d modes; want 8", n)
	}
	if n := len(got["loadgen_host_tcp_connections"].GetMetric()); n != len(TCPStates) {
		t.Errorf("loadgen_host_tcp_connections has %d states; want %d", n, len(TCPStates))
	}
}

func TestWatchUnwatch(t *testing.T) {
	m := New()
	m.Watch("b", 2)
	m.Watch("a", 1)
	m.Watch("b", 3) // re-point
	if got, want := fmt.Sprint(m.Watched()), "[{a 1} {b 3}]"; got != want {
		t.Errorf("Watched() = %s; want %s", got, want)
	}
	m.Unwatch("a")
	m.Unwatch("nope")
	if got, want := fmt.Sprint(m.Watched()), "[{b 3}]"; got != want {
		t.Errorf("after Unwatch Watched() = %s; want %s", got, want)
	}
	m.Unwatch("b")
	m.Watch("self", int32(os.Getpid()))
	m.Unwatch("self")
	if n := testutil.CollectAndCount(m, "loadgen_watched_process_threads"); n != 0 {
		t.Errorf("after Unwatch, %d watched series; want 0", n)
	}
}

func gatherByName(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("Register: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// gaugeValue returns the value of the first series of a family (gauge or counter).
func gaugeValue(t *testing.T, got map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf, ok := got[name]
	if !ok || len(mf.GetMetric()) == 0 {
		t.Fatalf("metric %s missing", name)
	}
	m := mf.GetMetric()[0]
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestPromtoolCheckMetrics lints the real exposition with the pinned promtool (bin/promtool, from make tools).
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	m := New()
	m.Watch("self", int32(os.Getpid()))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
