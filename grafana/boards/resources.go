package boards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// hostSel selects the generators whose resource monitor is shown.
const hostSel = `job=~"$job",instance=~"$instance"`

func h(expr string) string { return strings.ReplaceAll(expr, "HOST", hostSel) }

func resourcesBoard() *board {
	b := newBoard("resources.json", ResourcesUID, "loadlab / Resources",
		"Host and process resources seen by each load generator's resource monitor (gopsutil, read at scrape time): "+
			"which one saturates first. Every figure is per generator instance, never summed across them: two generators "+
			"on one host would otherwise count it twice. In a container, CPU, memory and load are the whole host's "+
			"(docs/metrics.md). Gauges: green under 60%, yellow under 80%, red above.",
		"resources")
	b.datasourceVar()
	b.labelVar("job", "Generator job", "Prometheus job of the load generators.", "loadgen_host_cpus")
	b.labelVar("instance", "Generator", "Load generators; the first row repeats for each one selected.", `loadgen_host_cpus{job=~"$job"}`)

	b.row("Saturation now: $instance", "instance")
	b.add(6, 7, gaugePanel("CPU", "Host CPU busy share over the last minute, from the CPU time counters (recording rule "+
		"instance:loadgen_host_cpu_busy:ratio_rate1m, which LoadgenHostCPUSaturated also reads); idle and iowait count as not busy.",
		promQ("A", h(`100 * max by (instance) (instance:loadgen_host_cpu_busy:ratio_rate1m{HOST})`), "{{instance}}")))
	b.add(6, 7, gaugePanel("Memory", "Host memory not available to new work: 1 - available / total (MemAvailable counts "+
		"reclaimable cache as available). In a container this is the host's memory, not the container's limit.",
		promQ("A", h(`100 * (1 - sum by (instance) (loadgen_host_memory_available_bytes{HOST}) / sum by (instance) (loadgen_host_memory_total_bytes{HOST}))`), "{{instance}}")))
	b.add(4, 7, statPanel("Load (1m) per CPU", "1-minute load average divided by logical CPUs: above 100% tasks wait for a CPU.",
		"percentunit", 0, thresholds("green", 0.6, "yellow", 0.8, "red"), "no data",
		promQ("A", h(`sum by (instance) (loadgen_host_load{HOST,period="1m"}) / sum by (instance) (loadgen_host_cpus{HOST})`), "{{instance}}")))
	b.add(4, 7, statPanel("Open fds", "File descriptors open on the host.", "short", 0, nil, "no data",
		promQ("A", h(`sum by (instance) (loadgen_host_open_fds{HOST})`), "{{instance}}")))
	b.add(4, 7, statPanel("Monitor", "Whether every resource read of the last scrape finished within its budget "+
		"(loadgen_sysmon_scrape_success); when not, the panel below names the failing reads and LoadgenResourceMonitorFailing fires.",
		"none", 0, thresholds("red", 1, "green"), "no data",
		promQ("A", h(`min by (instance) (loadgen_sysmon_scrape_success{HOST})`), "{{instance}}")).
		Mappings(valueMapText(map[string][2]string{"0": {"failing", "red"}, "1": {"OK", "green"}})))

	b.row("Host over time", "")
	b.add(12, 8, timeseriesPanel("CPU by mode", "Host CPU time per second by mode (cores), idle excluded, per generator.", "short",
		promQ("A", h(`sum by (instance, mode) (rate(loadgen_host_cpu_seconds_total{HOST,mode!="idle"}[$__rate_interval]))`), "{{instance}} {{mode}}")))
	b.add(12, 8, timeseriesPanel("Memory", "Host memory used and available against total, per generator.", "bytes",
		promQ("A", h(`sum by (instance) (loadgen_host_memory_used_bytes{HOST})`), "used {{instance}}"),
		promQ("B", h(`sum by (instance) (loadgen_host_memory_available_bytes{HOST})`), "available {{instance}}"),
		promQ("C", h(`sum by (instance) (loadgen_host_memory_total_bytes{HOST})`), "total {{instance}}")))
	b.add(6, 8, timeseriesPanel("TCP connections by state", "Host TCP connections; many TIME_WAIT means connections are not reused.", "short",
		promQ("A", h(`sum by (instance, state) (loadgen_host_tcp_connections{HOST})`), "{{instance}} {{state}}")))
	b.add(6, 8, timeseriesPanel("Network", "Bytes per second received and sent over all interfaces, loopback included.", "Bps",
		promQ("A", h(`sum by (instance, direction) (rate(loadgen_host_network_bytes_total{HOST}[$__rate_interval]))`), "{{instance}} {{direction}}")))
	b.add(6, 8, timeseriesPanel("Load average", "Host load average over 1, 5 and 15 minutes.", "short",
		promQ("A", h(`sum by (instance, period) (loadgen_host_load{HOST})`), "{{instance}} {{period}}")))
	b.add(6, 8, timeseriesPanel("Monitor reads failing", "Resource-monitor collectors (cpu, memory, load, filefd, tcp, network, "+
		"process) whose read failed or overran its budget at each scrape: 0 when healthy.", "short",
		promQ("A", h(`sum by (instance) (1 - loadgen_sysmon_collector_success{HOST})`), "{{instance}}")))

	b.row("Watched process (--watch-pid, or the target loadgen started)", "")
	b.add(6, 7, timeseriesPanel("CPU", "Watched process CPU in cores.", "short",
		promQ("A", h(`sum by (instance, process) (rate(loadgen_watched_process_cpu_seconds_total{HOST}[$__rate_interval]))`), "{{instance}} {{process}}")))
	b.add(6, 7, timeseriesPanel("Resident memory", "Watched process resident set size.", "bytes",
		promQ("A", h(`sum by (instance, process) (loadgen_watched_process_resident_memory_bytes{HOST})`), "{{instance}} {{process}}")))
	b.add(6, 7, timeseriesPanel("Open fds", "File descriptors the watched process holds open.", "short",
		promQ("A", h(`sum by (instance, process) (loadgen_watched_process_open_fds{HOST})`), "{{instance}} {{process}}")))
	b.add(6, 7, timeseriesPanel("Threads", "OS threads of the watched process.", "short",
		promQ("A", h(`sum by (instance, process) (loadgen_watched_process_threads{HOST})`), "{{instance}} {{process}}")))
	return b
}

// valueMapText maps values to a text and a colour.
func valueMapText(m map[string][2]string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	i := int32(0)
	for _, v := range sortedKeys(m) {
		opts[v] = dashboard.ValueMappingResult{Text: cog.ToPtr(m[v][0]), Color: cog.ToPtr(m[v][1]), Index: cog.ToPtr(i)}
		i++
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}
