package boards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// statusColors colours a run's status wherever it is shown.
var statusColors = map[string]string{
	"completed": "green", "running": "blue", "queued": "text", "failed": "red", "aborted": "orange", "interrupted": "purple",
}

var statusOrder = []string{"completed", "running", "queued", "failed", "aborted", "interrupted"}

func statusColumn() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "mappings", Value: valueColors(statusColors, statusOrder...)},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}},
	}
}

func hidden() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "custom.hidden", Value: true}}
}

func historyBoard() *board {
	b := newBoard("history.json", HistoryUID, "loadlab / History",
		"Every stored run from the MySQL result store: the latest stress result, runs, benchmark latency per endpoint "+
			"across runs, stress results, and trends across runs. Reads the tables created by internal/store's migrations. "+
			"Click a run to open the live board over its time window.",
		"history")
	b.b.Refresh("1m")
	b.b.Time("now-30d", "now")

	b.row("Runs", "")
	b.add(24, 4, labelStat("Latest stress result",
		"Maximum sustainable rate and breakdown rate of the latest completed stress run (whatever the time range), as "+
			"`loadgen stress` prints it.", "result", "no completed stress run",
		sql("A", formatTable, historyStressCardSQL)).
		Unit("string"))
	b.add(18, 10, tablePanel("Runs",
		"Every run, newest first (click a header to sort, e.g. by status or p99). Click a run id to open the live board "+
			"over that run's time window (30 s either side).", "created_at",
		sql("A", formatTable, historyRunsSQL)).
		OverrideByName("status", statusColumn()).
		OverrideByName("from_ms", hidden()).
		OverrideByName("to_ms", hidden()).
		OverrideByName("id", []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
			"title":       "Open run ${__data.fields.id} on the live board",
			"url":         "/d/" + LiveUID + "?from=${__data.fields.from_ms}&to=${__data.fields.to_ms}",
			"targetBlank": false,
		}}}}))
	b.add(6, 10, tablePanel("Runs by status", "How many runs in the time range ended in each status.", "runs",
		sql("A", formatTable, historyStatusSQL)).
		OverrideByName("status", statusColumn()))

	b.row("Benchmarks: is an endpoint getting slower?", "")
	b.add(12, 9, timeseriesPanel("Benchmark p99 per endpoint across runs", "One point per benchmark run, endpoint and concurrency.", "ms",
		sql("A", formatTimeSeries, historyBenchP99SQL)))
	b.add(12, 9, timeseriesPanel("Benchmark p50 / p95 per endpoint across runs", "Median and p95 of each benchmark run, per endpoint and concurrency.", "ms",
		sql("A", formatTimeSeries, historyBenchP50SQL),
		sql("B", formatTimeSeries, historyBenchP95SQL)))
	b.add(24, 8, tablePanel("Benchmark results", "Per endpoint and concurrency, newest first; latencies in ms.", "created_at",
		sql("A", formatTable, historyBenchTableSQL)))

	b.row("Stress: maximum sustainable rate", "")
	b.add(12, 8, tablePanel("Stress results", "Max sustainable rate and breakdown rate per stress run, newest first.", "created_at",
		sql("A", formatTable, historyStressTableSQL)))
	b.add(12, 8, timeseriesPanel("Max sustainable and breakdown rate across runs", "One point per completed stress run.", "reqps",
		sql("A", formatTimeSeries, historyStressTrendSQL)))
	b.add(12, 8, tablePanel("Stress probes", "Every trial of each stress search: asked and achieved rate, errors, p99.", "",
		sql("A", formatTable, historyStressProbesSQL)))
	b.add(12, 8, tablePanel("Knee results", "Throughput knee of each knee run, newest first.", "created_at",
		sql("A", formatTable, historyKneeSQL)))

	b.row("Trends across runs", "")
	b.add(12, 8, timeseriesPanel("Load runs: p50 / p95 / p99", "Whole-run latency of each completed load run.", "ms",
		sql("A", formatTimeSeries, historyTrendLatencySQL)))
	b.add(12, 8, timeseriesPanel("Load runs: throughput and error rate",
		"Left axis: requests per second of each completed load run. Right axis: its error rate in percent.", "reqps",
		sql("A", formatTimeSeries, historyTrendRateSQL)).
		OverrideByName("error_pct", axis("percent", "errors")))
	b.add(24, 8, timeseriesPanel("p99 during each run (snapshots every 2 s)", "p99 of every run in the time range, from test_metrics.", "ms",
		sql("A", formatTimeSeries, historySnapshotsSQL)))
	return b
}

// The History dashboard's SQL (MySQL 8 and MariaDB 10.11 both run it), over the tables of
// internal/store/mysqlstore/migrations. Runs are placed in time by created_at (always set; started_at is NULL while
// a run is queued). Grafana's MySQL data source runs in UTC (its timezone setting), as the store writes.
const (
	historyStressCardSQL = `
SELECT CONCAT('Max sustainable RPS = ', CAST(s.max_sustainable_rps AS DECIMAL(14,1)), ' | ',
              IF(s.breakdown_rps > 0, CONCAT('Breakdown at ', CAST(s.breakdown_rps AS DECIMAL(14,1)), ' RPS'),
                 'Breakdown not reached')) AS result
FROM stress_results s JOIN test_runs r ON r.id = s.run_id
WHERE r.status = 'completed' AND s.state = 'COMPLETED'
ORDER BY COALESCE(r.ended_at, r.created_at) DESC
LIMIT 1`
	historyRunsSQL = `
SELECT id, name, plan_name AS plan, type, status, created_at, started_at, ended_at,
       TIMESTAMPDIFF(SECOND, started_at, ended_at) AS duration_s,
       requests, errors, ROUND(100 * error_rate, 2) AS error_pct, ROUND(rps, 1) AS rps,
       p50_ms, p95_ms, p99_ms, max_ms, error,
       FLOOR(UNIX_TIMESTAMP(COALESCE(started_at, created_at)) - 30) * 1000 AS from_ms,
       CEIL(UNIX_TIMESTAMP(COALESCE(ended_at, UTC_TIMESTAMP())) + 30) * 1000 AS to_ms
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
