package boards

import "strings"

// tgtSel selects the target instances; routeSel their request series.
const (
	tgtSel   = `job=~"$job",instance=~"$instance"`
	routeSel = tgtSel + `,route=~"$route"`
)

func t(expr string) string  { return strings.ReplaceAll(expr, "TGT", tgtSel) }
func rt(expr string) string { return strings.ReplaceAll(expr, "ROUTE", routeSel) }

func targetBoard() *board {
	b := newBoard("target.json", TargetUID, "loadlab / Target",
		"The system under test from its own /metrics: server-side latency against what loadgen measured, its worker pool "+
			"and queue, 503 rejections, injected faults, Go runtime and process. Scrapes, health checks and admin calls "+
			"are not counted in the request metrics.",
		"target")
	b.datasourceVar()
	b.labelVar("job", "Target job", "Prometheus job of the system under test.", "target_pool_workers")
	b.labelVar("instance", "Instance", "One or more target instances.", `target_pool_workers{job=~"$job"}`)
	b.labelVar("route", "Route", "Route templates of the target's API.", t(`target_http_requests_total{TGT}`))

	b.row("Latency: server against client", "")
	b.add(12, 9, timeseriesPanel("p99 and p50: server vs client",
		"Server: target_http_request_duration_seconds (inside the handler). Client: loadgen_request_duration_seconds "+
			"(from the intended start, all generators). The gap is queueing before the handler, the network and the generator.", "s",
		promQ("A", rt(`histogram_quantile(0.99, sum(rate(target_http_request_duration_seconds{ROUTE}[$__rate_interval])))`), "server p99"),
		promQ("B", `histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds[$__rate_interval])))`, "client p99"),
		promQ("C", rt(`histogram_quantile(0.50, sum(rate(target_http_request_duration_seconds{ROUTE}[$__rate_interval])))`), "server p50"),
		promQ("D", `histogram_quantile(0.50, sum(rate(loadgen_request_duration_seconds[$__rate_interval])))`, "client p50")))
	b.add(12, 9, timeseriesPanel("Server p99 by route", "Server-side p99 by route template (never raw paths).", "s",
		promQ("A", rt(`histogram_quantile(0.99, sum by (route) (rate(target_http_request_duration_seconds{ROUTE}[$__rate_interval])))`), "{{route}}")))
	b.add(12, 8, timeseriesPanel("Requests by route and code", "Requests served per second by route template and HTTP status.", "reqps",
		promQ("A", rt(`sum by (route, code) (rate(target_http_requests_total{ROUTE}[$__rate_interval]))`), "{{route}} {{code}}")))
	b.add(12, 8, timeseriesPanel("In flight", "API requests being served now (stalled, queued or running), per instance.", "short",
		promQ("A", t(`sum by (instance) (target_http_requests_in_flight{TGT})`), "{{instance}}")))

	b.row("Capacity: pool, queue, rejections", "")
	b.add(6, 8, gaugePanel("Pool in use", "Workers held by a request as a share of the pool, one gauge per instance; at 95% for "+
		"30 s TargetPoolSaturated fires.",
		promQ("A", t(`100 * sum by (instance) (target_pool_in_use{TGT}) / sum by (instance) (target_pool_workers{TGT})`), "{{instance}}")))
	b.add(9, 8, timeseriesPanel("Pool and queue", "Workers in use against pool size, queue length against capacity, summed over the selected instances.", "short",
		promQ("A", t(`sum(target_pool_in_use{TGT})`), "workers in use"),
		promQ("B", t(`sum(target_pool_workers{TGT})`), "workers"),
		promQ("C", t(`sum(target_queue_length{TGT})`), "queued"),
		promQ("D", t(`sum(target_queue_capacity{TGT})`), "queue capacity")))
	b.add(9, 8, timeseriesPanel("503 rejections", "Requests turned away because pool and queue were full (target_rejected_requests_total), per instance.", "reqps",
		promQ("A", t(`sum by (instance) (rate(target_rejected_requests_total{TGT}[$__rate_interval]))`), "{{instance}}")))
	b.add(12, 6, timeseriesPanel("Injected faults",
		"Left axis: the error ratio injected now (fault knobs). Right axis: stalls begun per second.", "percentunit",
		promQ("A", t(`max by (instance) (target_fault_error_ratio{TGT})`), "error ratio {{instance}}"),
		promQ("B", t(`sum by (instance) (rate(target_fault_stalls_total{TGT}[$__rate_interval]))`), "stalls {{instance}}")).
		OverrideByQuery("B", axis(unitPerSecond, "stalls/s")))

	b.row("Go runtime and process", "")
	b.add(6, 7, timeseriesPanel("CPU", "Target process CPU in cores, per instance.", "short",
		promQ("A", t(`sum by (instance) (rate(process_cpu_seconds_total{TGT}[$__rate_interval]))`), "{{instance}}")))
	b.add(6, 7, timeseriesPanel("Memory", "Resident memory and Go heap in use, per instance.", "bytes",
		promQ("A", t(`sum by (instance) (process_resident_memory_bytes{TGT})`), "RSS {{instance}}"),
		promQ("B", t(`sum by (instance) (go_memstats_heap_inuse_bytes{TGT})`), "heap in use {{instance}}")))
	b.add(6, 7, timeseriesPanel("Goroutines and threads", "Goroutines and OS threads of the target process, per instance.", "short",
		promQ("A", t(`sum by (instance) (go_goroutines{TGT})`), "goroutines {{instance}}"),
		promQ("B", t(`sum by (instance) (go_threads{TGT})`), "threads {{instance}}")))
	b.add(6, 7, timeseriesPanel("GC and fds", "Left axis: GC cycles per second. Right axis: open file descriptors.", unitPerSecond,
		promQ("A", t(`sum by (instance) (rate(go_gc_duration_seconds_count{TGT}[$__rate_interval]))`), "GC {{instance}}"),
		promQ("B", t(`sum by (instance) (process_open_fds{TGT})`), "open fds {{instance}}")).
		OverrideByQuery("B", axis("short", "open fds")))
	return b
}
