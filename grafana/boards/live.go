package boards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Label selectors of the live board: gen selects the generators, req their request series.
const (
	genSel = `job=~"$job",instance=~"$instance"`
	reqSel = genSel + `,scenario=~"$scenario",step=~"$step"`
)

// g and r substitute GEN and REQ in an expression with the selectors.
func g(expr string) string { return strings.ReplaceAll(expr, "GEN", genSel) }
func r(expr string) string { return strings.ReplaceAll(expr, "REQ", reqSel) }

// nonNaN drops NaN from a quantile or fraction: a comparison with NaN is false, so "x >= 0" keeps every real value
// and leaves "no data" (shown as the stat's noValue) when the window holds no requests, instead of NaN.
func nonNaN(expr string) string { return "(" + expr + ") >= 0" }

func liveBoard() *board {
	b := newBoard("loadtest-live.json", LiveUID, "loadlab / Load test (live)",
		"The running load test as Prometheus scrapes it every 2 s: throughput, errors, latency from the native histograms "+
			"(timed from each request's intended start), load shape and generator health, across every selected generator "+
			"(job and instance). Phases and firing alerts are annotations.",
		"loadtest")
	b.b.Refresh("2s")
	b.datasourceVar()
	b.labelVar("job", "Generator job", "Prometheus job of the load generators.", "loadgen_build_info")
	b.labelVar("instance", "Generator", "One or more load generators (host:port of their /metrics).", `loadgen_build_info{job=~"$job"}`)
	b.labelVar("scenario", "Scenario", "Scenarios of the plan(s) running.", g(`loadgen_requests_total{GEN}`))
	b.labelVar("step", "Step", "Steps of the selected scenarios.", g(`loadgen_requests_total{GEN,scenario=~"$scenario"}`))
	// Phases: one region per phase however many generators run it.
	b.annotation("Phases", "blue", g(`max by (phase) (loadgen_phase{GEN}) == 1`), "2s", "{{phase}}", "phase {{phase}}", "phase")
	b.annotation("Alerts", "red", `ALERTS{alertstate="firing"}`, "10s", "{{alertname}}", "{{alertname}} firing", "alertname,severity")

	b.row("Now", "")
	b.add(4, 4, statPanel("Throughput", "Completed requests per second, all selected generators and steps.", "reqps", 1, nil, "idle",
		promQ("A", r(`sum(rate(loadgen_requests_total{REQ}[$__rate_interval]))`), "req/s")))
	b.add(4, 4, statPanel("Error rate",
		"Failed requests as a share of all requests: 0 when none failed, no value when no request completed in the window.",
		"percentunit", 2, thresholds("green", 0.01, "yellow", 0.05, "red"), "idle",
		promQ("A", r(`(sum(rate(loadgen_request_errors_total{REQ}[$__rate_interval])) or vector(0)) / (sum(rate(loadgen_requests_total{REQ}[$__rate_interval])) > 0)`), "errors")))
	b.add(4, 4, statPanel("p99 latency",
		"99th percentile from the merged native histogram, from intended start to last byte; no value when idle.", "s", 3,
		thresholds("green", 0.25, "yellow", 0.5, "red"), "idle",
		promQ("A", nonNaN(r(`histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`)), "p99")))
	b.add(4, 4, labelStat("Run", "Run id of every run in progress on the selected generators, one per line (one id when "+
		"several generators share a run); when none is in progress, the last run's. From loadgen_run_info.", "run_id", "no run",
		promInstantQ("A", g(`max by (run_id) (loadgen_run_info{GEN})`))))
	b.add(4, 4, labelStat("Test type", "load, benchmark, stress or knee: every type running on the selected generators, "+
		"from loadgen_run_info.", "type", "no run",
		promInstantQ("A", g(`max by (type) (loadgen_run_info{GEN})`))))
	b.add(4, 4, labelStat("Phase", "The phase running now on the selected generators, from the loadgen_phase state set "+
		"(one line per distinct phase).", "phase", "none",
		promInstantQ("A", g(`max by (phase) (loadgen_phase{GEN}) == 1`))))

	b.row("Throughput and errors", "")
	b.add(12, 8, timeseriesPanel("Throughput by step", "Completed requests per second by scenario and step, summed over the selected generators.", "reqps",
		promQ("A", r(`sum by (scenario, step) (rate(loadgen_requests_total{REQ}[$__rate_interval]))`), "{{scenario}}/{{step}}")))
	b.add(6, 8, timeseriesPanel("Responses by status code", "Requests per second by HTTP status: the common codes and those a plan checks have their own series, any other code counts as other; none when no response came.", "reqps",
		promQ("A", r(`sum by (code) (rate(loadgen_requests_total{REQ}[$__rate_interval]))`), "{{code}}")))
	b.add(6, 8, timeseriesPanel("Errors by reason", "Failed requests per second by reason (timeout, connect, reset, status, check, ...).", "reqps",
		promQ("A", r(`sum by (reason) (rate(loadgen_request_errors_total{REQ}[$__rate_interval]))`), "{{reason}}")))

	b.row("Latency (native histograms)", "")
	b.add(12, 9, timeseriesPanel("Latency p50 / p95 / p99 by step",
		"Quantiles of loadgen_request_duration_seconds (intended start to last byte, coordinated omission corrected), "+
			"by scenario and step: steps of the same name in different scenarios stay apart.", "s",
		promQ("A", r(`histogram_quantile(0.50, sum by (scenario, step) (rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`), "p50 {{scenario}}/{{step}}"),
		promQ("B", r(`histogram_quantile(0.95, sum by (scenario, step) (rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`), "p95 {{scenario}}/{{step}}"),
		promQ("C", r(`histogram_quantile(0.99, sum by (scenario, step) (rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`), "p99 {{scenario}}/{{step}}")))
	b.add(12, 9, heatmapPanel("Latency heatmap",
		"Latency distribution of all selected requests over time, straight from the native histogram's buckets, on a log2 axis.",
		promHeatmapQ("A", r(`sum(rate(loadgen_request_duration_seconds{REQ}[$__rate_interval]))`))))
	b.add(12, 8, timeseriesPanel("Corrected latency vs service time (p99)",
		"The gap between the two is time spent waiting to be sent: what a closed-loop tool would hide (coordinated omission).", "s",
		promQ("A", r(`histogram_quantile(0.99, sum(rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`), "p99 from intended start"),
		promQ("B", r(`histogram_quantile(0.99, sum(rate(loadgen_service_time_seconds{REQ}[$__rate_interval])))`), "p99 service time")))
	b.add(6, 8, statPanel("Under 250 ms",
		"Share of requests that finished within 250 ms (histogram_fraction over the native histogram); no value when idle. "+
			"Two decimals, so 99.96% does not show as 100%.", "percentunit", 2,
		thresholds("red", 0.95, "yellow", 0.99, "green"), "idle",
		promQ("A", nonNaN(r(`histogram_fraction(0, 0.25, sum(rate(loadgen_request_duration_seconds{REQ}[$__rate_interval])))`)), "share")))
	b.add(6, 8, timeseriesPanel("HTTP phases (p99)", "Per-request timing breakdown: dns, connect and tls of new connections, time to first byte.", "s",
		promQ("A", g(`histogram_quantile(0.99, sum by (phase) (rate(loadgen_http_phase_duration_seconds{GEN}[$__rate_interval])))`), "{{phase}}")))

	b.row("Load shape and generator health", "")
	b.add(8, 8, timeseriesPanel("Virtual users and rate",
		"Left axis: active virtual users (closed model) or busy iteration slots (open model). Right axis, in iterations "+
			"per second: the schedule's target rate and the achieved iteration rate.", "short",
		promQ("A", g(`sum(loadgen_virtual_users{GEN})`), "virtual users"),
		promQ("B", g(`sum(loadgen_target_rate_iterations_per_second{GEN})`), "target rate"),
		promQ("C", g(`sum(rate(loadgen_iterations_total{GEN}[$__rate_interval]))`), "achieved")).
		OverrideByQuery("B", axis(unitIterationsPerSecond, "iterations/s")).
		OverrideByQuery("C", axis(unitIterationsPerSecond, "iterations/s")))
	b.add(8, 8, timeseriesPanel("In flight", "Requests in flight now, per generator.", "short",
		promQ("A", g(`sum by (instance) (loadgen_in_flight_requests{GEN})`), "{{instance}}")))
	b.add(8, 8, timeseriesPanel("Schedule lag",
		"How late iterations start (open model), per generator: one that lags is not hidden by the others. Over 10 ms at "+
			"p99 its results are unreliable (alert LoadgenScheduleLagging). Right axis: iterations dropped per second, "+
			"only ever by an explicit drop policy (alert LoadgenDroppingIterations).", "s",
		promQ("A", g(`histogram_quantile(0.99, sum by (instance) (rate(loadgen_schedule_lag_seconds{GEN}[$__rate_interval])))`), "lag p99 {{instance}}"),
		promQ("B", g(`histogram_quantile(0.50, sum by (instance) (rate(loadgen_schedule_lag_seconds{GEN}[$__rate_interval])))`), "lag p50 {{instance}}"),
		promQ("C", g(`sum by (instance) (rate(loadgen_dropped_iterations_total{GEN}[$__rate_interval]))`), "dropped {{instance}}")).
		OverrideByQuery("C", append(axis(unitIterationsPerSecond, "dropped iterations/s"),
			dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}})))
	return b
}
