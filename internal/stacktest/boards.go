package stacktest

// The four dashboards' panels. Metric names are the contract in
// docs/metrics.md; SQL reads the tables created by internal/store's
// migrations.

import "strings"

// sel is the label selector every live loadgen request query shares.
const sel = `scenario=~"$scenario",step=~"$step"`

func s(expr string) string { return strings.ReplaceAll(expr, "SEL", sel) }

func liveBoard() *board {
	b := newBoard("loadlab-live", "loadlab / Load test (live)",
		"The running load test as Prometheus scrapes it every 2 s: throughput, errors, latency from the native histograms "+
			"(timed from each request's intended start), load shape and generator health. Phases are annotations.",
		"loadlab", "loadtest")
	b.refresh = "2s"
	b.vars = []obj{
		queryVar("scenario", "Scenario", "loadgen_requests_total"),
		queryVar("step", "Step", `loadgen_requests_total{scenario=~"$scenario"}`),
	}
	b.annotations = []obj{
		{"name": "Phases", "datasource": promDS, "enable": true, "hide": false, "iconColor": "blue",
			"expr": "loadgen_phase_info == 1", "step": "2s", "titleFormat": "{{phase}}", "textFormat": "phase {{phase}}",
			"tagKeys": "phase", "useValueForTime": false},
		{"name": "Alerts", "datasource": promDS, "enable": true, "hide": false, "iconColor": "red",
			"expr": `ALERTS{alertstate="firing"}`, "step": "10s", "titleFormat": "{{alertname}}",
			"textFormat": "{{alertname}} firing", "tagKeys": "alertname,severity", "useValueForTime": false},
	}

	b.row("Now")
	b.add(4, 4, stat("Throughput", "Completed requests per second, all selected steps.", "reqps", nil,
		prom("A", s(`sum(rate(loadgen_requests_total{SEL}[$__rate_interval]))`), "req/s")))
	b.add(4, 4, stat("Error rate", "Failed requests as a share of all requests (0 when none failed).", "percentunit",
		thresholds(step("green", nil), step("yellow", 0.01), step("red", 0.05)),
		prom("A", s(`(sum(rate(loadgen_request_errors_total{SEL}[$__rate_interval])) or vector(0)) / sum(rate(loadgen_requests_total{SEL}[$__rate_interval]))`), "errors")))
	b.add(4, 4, stat("p99 latency", "99th percentile from the native histogram, from intended start to last byte.", "s",
		thresholds(step("green", nil), step("yellow", 0.25), step("red", 0.5)),
		prom("A", s(`histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "p99")))
	b.add(4, 4, labelStat("Run", "Run id of the current (or last) run, from loadgen_run_info.", "run_id",
		promInstant("A", `max by (run_id, plan, type) (loadgen_run_info)`)))
	b.add(4, 4, labelStat("Test type", "load, benchmark, stress or knee, from loadgen_run_info.", "type",
		promInstant("A", `max by (run_id, plan, type) (loadgen_run_info)`)))
	b.add(4, 4, labelStat("Phase", "The phase running now, from loadgen_phase_info.", "phase",
		promInstant("A", `max by (phase) (loadgen_phase_info) == 1`)))

	b.row("Throughput and errors")
	b.add(12, 8, timeseries("Throughput by step", "Completed requests per second by scenario and step.", "reqps",
		prom("A", s(`sum by (scenario, step) (rate(loadgen_requests_total{SEL}[$__rate_interval]))`), "{{scenario}}/{{step}}")))
	b.add(6, 8, timeseries("Responses by status code", "code is the HTTP status, or none when no response came.", "reqps",
		prom("A", s(`sum by (code) (rate(loadgen_requests_total{SEL}[$__rate_interval]))`), "{{code}}")))
	b.add(6, 8, timeseries("Errors by reason", "Failed requests per second by reason (timeout, connect, reset, status, check, ...).", "reqps",
		prom("A", s(`sum by (reason) (rate(loadgen_request_errors_total{SEL}[$__rate_interval]))`), "{{reason}}")))

	b.row("Latency (native histograms)")
	b.add(12, 9, timeseries("Latency p50 / p95 / p99 by step",
		"Quantiles of loadgen_request_duration_seconds (intended start to last byte, coordinated omission corrected).", "s",
		prom("A", s(`histogram_quantile(0.50, sum by (step) (rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "p50 {{step}}"),
		prom("B", s(`histogram_quantile(0.95, sum by (step) (rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "p95 {{step}}"),
		prom("C", s(`histogram_quantile(0.99, sum by (step) (rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "p99 {{step}}")))
	b.add(12, 9, heatmap("Latency heatmap", "All selected requests' latency distribution over time, straight from the native histogram buckets.",
		promHeatmap("A", s(`sum(rate(loadgen_request_duration_seconds{SEL}[$__rate_interval]))`))))
	b.add(12, 8, timeseries("Corrected latency vs service time (p99)",
		"The gap between the two is time spent waiting to be sent: what a closed-loop tool would hide (coordinated omission).", "s",
		prom("A", s(`histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "p99 from intended start"),
		prom("B", s(`histogram_quantile(0.99, sum(rate(loadgen_service_time_seconds{SEL}[$__rate_interval])))`), "p99 service time")))
	b.add(6, 8, stat("Under 250 ms", "Share of requests that finished within 250 ms (histogram_fraction over the native histogram).", "percentunit",
		thresholds(step("red", nil), step("yellow", 0.95), step("green", 0.99)),
		prom("A", s(`histogram_fraction(0, 0.25, sum(rate(loadgen_request_duration_seconds{SEL}[$__rate_interval])))`), "share")))
	b.add(6, 8, timeseries("HTTP phases (p99)", "Per-request timing breakdown: dns, connect, tls, time to first byte.", "s",
		prom("A", `histogram_quantile(0.99, sum by (phase) (rate(loadgen_http_phase_duration_seconds[$__rate_interval])))`, "{{phase}}")))

	b.row("Load shape and generator health")
	b.add(8, 8, timeseries("Virtual users and rate", "Active virtual users (closed model) or busy slots (open model); the schedule's target rate and the achieved iteration rate.", "short",
		prom("A", `sum(loadgen_virtual_users)`, "virtual users"),
		prom("B", `sum(loadgen_target_rate_requests_per_second)`, "target rate (it/s)"),
		prom("C", `sum(rate(loadgen_iterations_total[$__rate_interval]))`, "achieved (it/s)")))
	b.add(8, 8, timeseries("In flight", "Requests in flight now.", "short",
		prom("A", `sum(loadgen_in_flight_requests)`, "in flight")))
	b.add(8, 8, timeseries("Schedule lag", "How late iterations start (open model). Over 10 ms at p99 the results are unreliable (alert LoadgenScheduleLagging); dropped iterations come only from an explicit drop policy.", "s",
		prom("A", `histogram_quantile(0.50, sum(rate(loadgen_schedule_lag_seconds[$__rate_interval])))`, "lag p50"),
		prom("B", `histogram_quantile(0.99, sum(rate(loadgen_schedule_lag_seconds[$__rate_interval])))`, "lag p99"),
		prom("C", `sum(rate(loadgen_dropped_iterations_total[$__rate_interval]))`, "dropped/s")))
	return b
}

func targetBoard() *board {
	b := newBoard("loadlab-target", "loadlab / Target",
		"The system under test from its own /metrics: server-side latency against what loadgen measured, its worker pool "+
			"and queue, 503 rejections, injected faults, Go runtime and process.",
		"loadlab", "target")
	b.vars = []obj{
		queryVar("job", "Target job", "target_pool_workers"),
		queryVar("route", "Route", `target_http_requests_total{job=~"$job"}`),
	}
	const t = `job=~"$job",route=~"$route"`
	tt := func(e string) string { return strings.ReplaceAll(e, "T", t) }

	b.row("Latency: server against client")
	b.add(12, 9, timeseries("p99 and p50: server vs client",
		"Server: target_http_request_duration_seconds (inside the handler). Client: loadgen_request_duration_seconds "+
			"(from the intended start). The gap is queueing before the handler, the network and the generator.", "s",
		prom("A", tt(`histogram_quantile(0.99, sum(rate(target_http_request_duration_seconds{T}[$__rate_interval])))`), "server p99"),
		prom("B", `histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds[$__rate_interval])))`, "client p99"),
		prom("C", tt(`histogram_quantile(0.50, sum(rate(target_http_request_duration_seconds{T}[$__rate_interval])))`), "server p50"),
		prom("D", `histogram_quantile(0.50, sum(rate(loadgen_request_duration_seconds[$__rate_interval])))`, "client p50")))
	b.add(12, 9, timeseries("Server p99 by route", "Route templates, never raw paths.", "s",
		prom("A", tt(`histogram_quantile(0.99, sum by (route) (rate(target_http_request_duration_seconds{T}[$__rate_interval])))`), "{{route}}")))
	b.add(12, 8, timeseries("Requests by route and code", "Requests served per second.", "reqps",
		prom("A", tt(`sum by (route, code) (rate(target_http_requests_total{T}[$__rate_interval]))`), "{{route}} {{code}}")))
	b.add(12, 8, timeseries("In flight", "Requests being served now (queued or running).", "short",
		prom("A", `sum(target_http_requests_in_flight{job=~"$job"})`, "in flight")))

	b.row("Capacity: pool, queue, rejections")
	b.add(6, 8, gauge("Pool in use", "Workers held by a request as a share of the pool; at 95% for 30 s TargetPoolSaturated fires.",
		prom("A", `100 * sum(target_pool_in_use{job=~"$job"}) / sum(target_pool_workers{job=~"$job"})`, "pool use")))
	b.add(9, 8, timeseries("Pool and queue", "Workers in use against pool size, queue length against capacity.", "short",
		prom("A", `sum(target_pool_in_use{job=~"$job"})`, "workers in use"),
		prom("B", `sum(target_pool_workers{job=~"$job"})`, "workers"),
		prom("C", `sum(target_queue_length{job=~"$job"})`, "queued"),
		prom("D", `sum(target_queue_capacity{job=~"$job"})`, "queue capacity")))
	b.add(9, 8, timeseries("503 rejections", "Requests turned away because pool and queue were full (target_rejected_requests_total).", "reqps",
		prom("A", `sum(rate(target_rejected_requests_total{job=~"$job"}[$__rate_interval]))`, "rejected/s")))
	b.add(12, 6, timeseries("Injected faults", "Error ratio injected now and stalls begun per second (fault knobs).", "short",
		prom("A", `max(target_fault_error_ratio{job=~"$job"})`, "error ratio"),
		prom("B", `sum(rate(target_fault_stalls_total{job=~"$job"}[$__rate_interval]))`, "stalls/s")))

	b.row("Go runtime and process")
	b.add(6, 7, timeseries("CPU", "Target process CPU in cores.", "short",
		prom("A", `sum(rate(process_cpu_seconds_total{job=~"$job"}[$__rate_interval]))`, "cores")))
	b.add(6, 7, timeseries("Memory", "Resident memory and Go heap in use.", "bytes",
		prom("A", `sum(process_resident_memory_bytes{job=~"$job"})`, "RSS"),
		prom("B", `sum(go_memstats_heap_inuse_bytes{job=~"$job"})`, "heap in use")))
	b.add(6, 7, timeseries("Goroutines and threads", "", "short",
		prom("A", `sum(go_goroutines{job=~"$job"})`, "goroutines"),
		prom("B", `sum(go_threads{job=~"$job"})`, "threads")))
	b.add(6, 7, timeseries("GC and fds", "GC cycles per second and open file descriptors.", "short",
		prom("A", `sum(rate(go_gc_duration_seconds_count{job=~"$job"}[$__rate_interval]))`, "GC/s"),
		prom("B", `sum(process_open_fds{job=~"$job"})`, "open fds")))
	return b
}

func resourcesBoard() *board {
	b := newBoard("loadlab-resources", "loadlab / Resources",
		"Host and process resources seen by loadgen's resource monitor (gopsutil, read at scrape time): which one "+
			"saturates first. Gauges: green under 60%, yellow under 80%, red above.",
		"loadlab", "resources")

	b.row("Saturation now")
	b.add(6, 7, gauge("CPU", "Host CPU busy share since the previous scrape.",
		prom("A", `100 * max(loadgen_host_cpu_usage_ratio)`, "CPU")))
	b.add(6, 7, gauge("Memory", "Host memory in use as a share of total.",
		prom("A", `100 * sum(loadgen_host_memory_used_bytes) / sum(loadgen_host_memory_total_bytes)`, "memory")))
	b.add(4, 7, stat("Load (1m) per CPU", "1-minute load average divided by logical CPUs.", "percentunit",
		thresholds(step("green", nil), step("yellow", 0.6), step("red", 0.8)),
		prom("A", `sum(loadgen_host_load{period="1m"}) / sum(loadgen_host_cpus)`, "load/CPU")))
	b.add(4, 7, stat("Open fds", "File descriptors open on the host.", "short", nil,
		prom("A", `sum(loadgen_host_open_fds)`, "fds")))
	b.add(4, 7, stat("Monitor OK", "1 when every resource read of the last scrape succeeded.", "short",
		thresholds(step("red", nil), step("green", 1)),
		prom("A", `min(loadgen_sysmon_scrape_success)`, "ok")))

	b.row("Host over time")
	b.add(12, 8, timeseries("CPU by mode", "Host CPU time per second by mode (cores), idle excluded.", "short",
		prom("A", `sum by (mode) (rate(loadgen_host_cpu_seconds_total{mode!="idle"}[$__rate_interval]))`, "{{mode}}")))
	b.add(12, 8, timeseries("Memory", "Host memory used and available against total.", "bytes",
		prom("A", `sum(loadgen_host_memory_used_bytes)`, "used"),
		prom("B", `sum(loadgen_host_memory_available_bytes)`, "available"),
		prom("C", `sum(loadgen_host_memory_total_bytes)`, "total")))
	b.add(8, 8, timeseries("TCP connections by state", "Host TCP connections; many TIME_WAIT means connections are not reused.", "short",
		prom("A", `sum by (state) (loadgen_host_tcp_connections)`, "{{state}}")))
	b.add(8, 8, timeseries("Network", "Bytes per second received and sent.", "Bps",
		prom("A", `sum by (direction) (rate(loadgen_host_network_bytes_total[$__rate_interval]))`, "{{direction}}")))
	b.add(8, 8, timeseries("Load average", "", "short",
		prom("A", `sum by (period) (loadgen_host_load)`, "{{period}}")))

	b.row("Watched process (--watch-pid, or the target loadgen started)")
	b.add(6, 7, timeseries("CPU", "Watched process CPU in cores.", "short",
		prom("A", `sum by (process) (rate(loadgen_watched_process_cpu_seconds_total[$__rate_interval]))`, "{{process}}")))
	b.add(6, 7, timeseries("Resident memory", "", "bytes",
		prom("A", `sum by (process) (loadgen_watched_process_resident_memory_bytes)`, "{{process}}")))
	b.add(6, 7, timeseries("Open fds", "", "short",
		prom("A", `sum by (process) (loadgen_watched_process_open_fds)`, "{{process}}")))
	b.add(6, 7, timeseries("Threads", "", "short",
		prom("A", `sum by (process) (loadgen_watched_process_threads)`, "{{process}}")))
	return b
}

func historyBoard() *board {
	b := newBoard("loadlab-history", "loadlab / History",
		"Every stored run from the MySQL result store: runs, benchmark latency per endpoint across runs, stress "+
			"results, and trends across runs. Reads the tables created by internal/store's migrations.",
		"loadlab", "history")
	b.refresh = "1m"
	b.from = "now-30d"

	b.row("Runs")
	b.add(18, 10, table("Runs", "Newest first; click a column header (status, type, p99) to sort.", "status",
		sql("A", "table", historyRunsSQL)))
	b.add(6, 10, table("Runs by status", "", "",
		sql("A", "table", historyStatusSQL)))

	b.row("Benchmarks: is an endpoint getting slower?")
	b.add(12, 9, timeseries("Benchmark p99 per endpoint across runs", "One point per benchmark run and endpoint.", "ms",
		sql("A", "time_series", historyBenchP99SQL)))
	b.add(12, 9, timeseries("Benchmark p50 / p95 per endpoint across runs", "", "ms",
		sql("A", "time_series", historyBenchP50SQL),
		sql("B", "time_series", historyBenchP95SQL)))
	b.add(24, 8, table("Benchmark results", "Per endpoint and concurrency; latencies in ms.", "",
		sql("A", "table", historyBenchTableSQL)))

	b.row("Stress: maximum sustainable rate")
	b.add(12, 8, table("Stress results", "Max sustainable rate and breakdown rate per stress run.", "",
		sql("A", "table", historyStressTableSQL)))
	b.add(12, 8, timeseries("Max sustainable and breakdown rate across runs", "", "reqps",
		sql("A", "time_series", historyStressTrendSQL)))
	b.add(12, 8, table("Stress probes", "Every trial of each stress search: asked and achieved rate, errors, p99.", "",
		sql("A", "table", historyStressProbesSQL)))
	b.add(12, 8, table("Knee results", "Throughput knee of each knee run.", "",
		sql("A", "table", historyKneeSQL)))

	b.row("Trends across runs")
	b.add(12, 8, timeseries("Load runs: p50 / p95 / p99", "Whole-run latency of each completed load run.", "ms",
		sql("A", "time_series", historyTrendLatencySQL)))
	b.add(12, 8, timeseries("Load runs: throughput and error rate", "", "short",
		sql("A", "time_series", historyTrendRateSQL)))
	b.add(24, 8, timeseries("p99 during each run (snapshots every 2 s)", "p99 of every run in the time range, from test_metrics.", "ms",
		sql("A", "time_series", historySnapshotsSQL)))
	return b
}

// The History dashboard's SQL (MySQL 8 and MariaDB 10.11 both run it), over
// the tables of internal/store/mysqlstore/migrations. Runs are placed in time
// by created_at (always set; started_at is NULL while a run is queued).
const (
	historyRunsSQL = `
SELECT id, name, plan_name AS plan, type, status, created_at, started_at, ended_at,
       TIMESTAMPDIFF(SECOND, started_at, ended_at) AS duration_s,
       requests, errors, ROUND(100 * error_rate, 2) AS error_pct, ROUND(rps, 1) AS rps,
       p50_ms, p95_ms, p99_ms, max_ms, error
FROM test_runs
WHERE $__timeFilter(created_at)
ORDER BY created_at DESC
LIMIT 500`
	historyStatusSQL = `
SELECT status, COUNT(*) AS runs
FROM test_runs
WHERE $__timeFilter(created_at)
GROUP BY status
ORDER BY runs DESC`
	historyBenchP99SQL = `
SELECT r.created_at AS time, CONCAT(b.endpoint, ' c', b.concurrency, ' p99') AS metric, b.p99_ms AS value
FROM benchmark_results b JOIN test_runs r ON r.id = b.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at`
	historyBenchP50SQL = `
SELECT r.created_at AS time, CONCAT(b.endpoint, ' c', b.concurrency, ' p50') AS metric, b.p50_ms AS value
FROM benchmark_results b JOIN test_runs r ON r.id = b.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at`
	historyBenchP95SQL = `
SELECT r.created_at AS time, CONCAT(b.endpoint, ' c', b.concurrency, ' p95') AS metric, b.p95_ms AS value
FROM benchmark_results b JOIN test_runs r ON r.id = b.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at`
	historyBenchTableSQL = `
SELECT r.created_at, b.plan_name AS plan, b.run_id, b.endpoint, b.method, b.concurrency, b.requests, b.errors,
       ROUND(b.rps, 1) AS rps, b.p50_ms, b.p95_ms, b.p99_ms, b.p999_ms, b.max_ms
FROM benchmark_results b JOIN test_runs r ON r.id = b.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at DESC, b.endpoint, b.concurrency
LIMIT 500`
	historyStressTableSQL = `
SELECT r.created_at, r.plan_name AS plan, s.run_id, s.state, s.max_sustainable_rps, s.breakdown_rps,
       ROUND(100 * s.threshold, 1) AS threshold_pct, s.slo_p99_ms, s.probes, s.error
FROM stress_results s JOIN test_runs r ON r.id = s.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at DESC
LIMIT 200`
	historyStressTrendSQL = `
SELECT r.created_at AS time, s.max_sustainable_rps, s.breakdown_rps
FROM stress_results s JOIN test_runs r ON r.id = s.run_id
WHERE s.state = 'COMPLETED' AND $__timeFilter(r.created_at)
ORDER BY r.created_at`
	historyStressProbesSQL = `
SELECT p.run_id, p.seq, p.phase, ROUND(p.target_rps, 1) AS target_rps, ROUND(p.achieved_rps, 1) AS achieved_rps,
       ROUND(100 * p.error_rate, 2) AS error_pct, p.p99_ms, p.ok
FROM stress_probes p JOIN test_runs r ON r.id = p.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at DESC, p.seq
LIMIT 500`
	historyKneeSQL = `
SELECT r.created_at, r.plan_name AS plan, k.run_id, k.knee_rps, k.knee_p99_ms, k.max_throughput_rps
FROM knee_results k JOIN test_runs r ON r.id = k.run_id
WHERE $__timeFilter(r.created_at)
ORDER BY r.created_at DESC
LIMIT 200`
	historyTrendLatencySQL = `
SELECT created_at AS time, p50_ms, p95_ms, p99_ms
FROM test_runs
WHERE type = 'load' AND status = 'completed' AND $__timeFilter(created_at)
ORDER BY created_at`
	historyTrendRateSQL = `
SELECT created_at AS time, rps, 100 * error_rate AS error_pct
FROM test_runs
WHERE type = 'load' AND status = 'completed' AND $__timeFilter(created_at)
ORDER BY created_at`
	historySnapshotsSQL = `
SELECT m.ts AS time, CONCAT(m.run_id, ' p99') AS metric, m.p99_ms AS value
FROM test_metrics m
WHERE $__timeFilter(m.ts)
ORDER BY m.ts`
)
