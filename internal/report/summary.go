// Package report owns what a person or a CI job reads at the end of a run:
// the Header every kind of run's report starts with (who, what, how it ended,
// where it is stored), and a load run's Summary, built from the executor's
// results, rendered as a text table (WriteText) or JSON (WriteJSON, the
// `--out-json` file). It also evaluates plan thresholds, over the whole run
// (Evaluate) and over rolling windows while the run goes on (Rolling).
//
// Every latency figure is in milliseconds and measured from the request's
// intended start (coordinated omission corrected); service_ms is the raw time
// from the actual send. Percentiles come from internal/hist (≤0.55% relative
// error).
package report

import (
	"fmt"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// The statuses a run ends with are store.Status (the run's record owns them):
// completed (the schedule or search ran to its end; thresholds are judged
// separately, see Summary.Passed), failed (the run could not be carried out:
// target down, every request failed, a panic), aborted (a rolling threshold
// with abort_on_fail, or a cancel over the control API), interrupted (stopped
// from outside: SIGINT, a server shutting down).

// Header is the start of every kind of run's report (a load run's Summary,
// the benchmark, stress and knee reports): set by the run's lifecycle.
type Header struct {
	RunID     string       `json:"run_id"`
	Plan      string       `json:"plan"`
	Type      string       `json:"type"`            // load, benchmark, stress or knee
	Model     string       `json:"model,omitempty"` // "open" or "closed" (load and knee runs)
	Target    string       `json:"target"`
	Status    store.Status `json:"status"`
	Error     string       `json:"error,omitempty"` // one line, set when Status is failed, aborted or interrupted
	StartedAt time.Time    `json:"started_at"`
	EndedAt   time.Time    `json:"ended_at"`
	// Store says where the run was recorded (nil: not recorded).
	Store *StoreInfo `json:"store,omitempty"`
}

// Head returns h (every report embeds a Header).
func (h *Header) Head() *Header { return h }

// StoreLine is the STORE line of a printed report: where the run was recorded
// ("" when it was not).
func (h *Header) StoreLine() string {
	if h.Store == nil {
		return ""
	}
	line := h.Store.URL
	if h.Store.Spooled {
		line += " (spooled locally)"
	}
	if h.Store.Message != "" {
		line += ": " + h.Store.Message
	}
	return fmt.Sprintf("STORE   %s\n", line)
}

// Summary is the end-of-run report of a load run; its JSON form is the
// `--out-json` schema documented in docs/cli.md.
type Summary struct {
	Header
	DurationS float64 `json:"duration_s"`

	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	ErrorRate  float64 `json:"error_rate"` // 0-1
	RPS        float64 `json:"rps"`        // completed requests per second of run time
	Iterations uint64  `json:"iterations"` // scenario iterations completed
	Dropped    uint64  `json:"dropped"`    // iterations dropped by an explicit drop policy

	LatencyMS      Latency           `json:"latency_ms"`
	ServiceMS      Latency           `json:"service_ms"`
	ErrorsByReason map[string]uint64 `json:"errors_by_reason"`
	// Why requests failed (failures.go): LatencyOf says which requests latency_ms, service_ms and the latency
	// thresholds cover ("successful", the default, or "all": the plan's latency_of); FailedLatencyMS is the latency
	// of failed requests (nil when none failed); Canceled counts requests cut short by the run's own end (neither
	// requests nor errors); Checks is the pass rate of every explicit check of every step.
	LatencyOf       string        `json:"latency_of"`
	FailedLatencyMS *Latency      `json:"failed_latency_ms,omitempty"`
	Canceled        uint64        `json:"canceled"`
	Checks          []CheckResult `json:"checks,omitempty"`
	// ErrorSamples are examples of failed requests: the first of each distinct (step, reason, failing check and
	// status, or message), at most executor.MaxErrorSamples, each with how many failures it stands for.
	ErrorSamples []ErrorSample `json:"error_samples,omitempty"`

	Steps      []Step      `json:"steps"`
	Phases     []Phase     `json:"phases"`
	Thresholds []Threshold `json:"thresholds"`
	Health     Health      `json:"health"`
	// Workers is the per-worker breakdown of a distributed run (loadgen run --segment, merged by the last worker
	// or loadgen gather): one per segment, by index; empty for a run of one process.
	Workers []Worker `json:"workers,omitempty"`
}

// Worker is one segment of a distributed run as its worker ran it.
type Worker struct {
	Segment int          `json:"segment"`
	RunID   string       `json:"run_id"` // the worker's own run record ("" when it never reported)
	Status  store.Status `json:"status"` // "" when it never reported
	Error   string       `json:"error,omitempty"`
	// StartSkewMS is how long after the first worker it started.
	StartSkewMS float64 `json:"start_skew_ms"`
	Requests    uint64  `json:"requests"`
	Errors      uint64  `json:"errors"`
	RPS         float64 `json:"rps"`
	LagP99MS    float64 `json:"lag_p99_ms"`
	CPUMaxPct   float64 `json:"cpu_max_pct"`
	Reliable    bool    `json:"reliable"`
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Timing is the per-request HTTP timing breakdown of a step, in milliseconds
// (only requests that went through the phase count: a reused connection has
// no dns/connect/tls phase). TTFB is the wait, from the request written to
// the first response byte; Receive from the first byte to the last. Each
// redirect hop followed counts as a response of its own.
type Timing struct {
	DNS     Quantiles `json:"dns"`
	Connect Quantiles `json:"connect"`
	TLS     Quantiles `json:"tls"`
	TTFB    Quantiles `json:"ttfb"`
	Receive Quantiles `json:"receive"`
}

// Quantiles is a short distribution summary in milliseconds.
type Quantiles struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
}

// ErrorSample is one failed request kept as an example.
type ErrorSample struct {
	AtS      float64 `json:"at_s"` // seconds since the run started
	Phase    string  `json:"phase,omitempty"`
	Scenario string  `json:"scenario"`
	Step     string  `json:"step"`
	Reason   string  `json:"reason"`
	Check    string  `json:"check,omitempty"`  // the check that failed first, as CheckResult.Name
	Status   int     `json:"status,omitempty"` // HTTP status, omitted when there was no response
	Message  string  `json:"message"`          // the error, at most 200 bytes
	Count    uint64  `json:"count"`            // failures it stands for (same step, reason and failing check and status, or message), among the run's first 1000
}

// Step is one plan step's figures.
type Step struct {
	Scenario       string            `json:"scenario"`
	Step           string            `json:"step"`
	Method         string            `json:"method"`
	Requests       uint64            `json:"requests"`
	Errors         uint64            `json:"errors"`
	ErrorRate      float64           `json:"error_rate"`
	RPS            float64           `json:"rps"`
	LatencyMS      Latency           `json:"latency_ms"`
	ServiceMS      Latency           `json:"service_ms"`
	TimingMS       Timing            `json:"timing_ms"`
	Redirects      uint64            `json:"redirects,omitempty"` // redirect hops followed
	ErrorsByReason map[string]uint64 `json:"errors_by_reason,omitempty"`
	// Why this step's requests failed (failures.go): its most frequent reasons with samples, the latency of its
	// failed requests, and its requests cancelled by the run's end.
	Failures        []ReasonCount `json:"failures,omitempty"`
	FailedLatencyMS *Latency      `json:"failed_latency_ms,omitempty"`
	Canceled        uint64        `json:"canceled,omitempty"`
	// Skipped counts the iterations that ended before this step after an earlier step failed (on_failure).
	Skipped uint64 `json:"skipped,omitempty"`
}

// Phase is one load phase's figures.
type Phase struct {
	Name      string    `json:"name"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	Requests  uint64    `json:"requests"`
	Errors    uint64    `json:"errors"`
	ErrorRate float64   `json:"error_rate"`
	RPS       float64   `json:"rps"`
	LatencyMS Latency   `json:"latency_ms"`
}

// Threshold is one evaluated plan threshold.
type Threshold struct {
	Expr    string  `json:"expr"`             // as written in the plan, e.g. "p99 < 300ms"
	OK      bool    `json:"ok"`               // the condition held
	Value   float64 `json:"value"`            // the measured value, in Unit
	Unit    string  `json:"unit"`             // "ms", "ratio" (0-1), "req/s" or "count"
	Window  string  `json:"window,omitempty"` // rolling window ("10s"); empty for the whole run
	Aborted bool    `json:"aborted"`          // this threshold failed and ended the run early
	Note    string  `json:"note,omitempty"`   // e.g. "no requests" when there was nothing to measure
}

// Health says whether the generator kept its schedule, so the figures can be
// trusted. Reliable is false when the schedule lag p99 exceeded
// LagLimitMS or the generator's own CPU exceeded CPULimitPct.
type Health struct {
	LagP50MS    float64  `json:"lag_p50_ms"`   // schedule lag (actual − intended send), open model
	LagP99MS    float64  `json:"lag_p99_ms"`   //
	LagMaxMS    float64  `json:"lag_max_ms"`   //
	CPUMaxPct   float64  `json:"cpu_max_pct"`  // generator process CPU, peak 1 s average, % of the cores it may use (GOMAXPROCS)
	CPUMeasured bool     `json:"cpu_measured"` // false when CPU could not be sampled (CPUMaxPct is then 0)
	RSSMaxMB    float64  `json:"rss_max_mb,omitempty"`
	Reliable    bool     `json:"reliable"`
	Reasons     []string `json:"reasons,omitempty"`
}

// Health limits: beyond these the results are flagged unreliable.
const (
	LagLimitMS  = 10.0
	CPULimitPct = 90.0
)

// StoreInfo says where the run was recorded.
type StoreInfo struct {
	URL     string `json:"url"`
	Spooled bool   `json:"spooled"` // the store was unreachable or slow; records went to a local spool
	Message string `json:"message,omitempty"`
	// Unwritten counts the records still in the local spool file Spool when the run ended (the store did not take
	// them in time): they reach the store only at a later start of loadgen on this machine.
	Unwritten int64  `json:"unwritten,omitempty"`
	Spool     string `json:"spool,omitempty"`
}

// Passed reports whether the run is a pass for CI: it completed and every
// threshold held.
func (s *Summary) Passed() bool {
	if s.Status != store.StatusCompleted {
		return false
	}
	return s.ThresholdsOK()
}

// ThresholdsOK reports whether every threshold held.
func (s *Summary) ThresholdsOK() bool {
	for _, t := range s.Thresholds {
		if !t.OK {
			return false
		}
	}
	return true
}

// JudgeHealth fills h.Reliable and h.Reasons from the measured lag and CPU.
func (h *Health) JudgeHealth() {
	h.Reasons = h.Reasons[:0]
	if h.LagP99MS > LagLimitMS {
		h.Reasons = append(h.Reasons, "schedule lag p99 "+fmtMS(h.LagP99MS)+" ms exceeds "+fmtMS(LagLimitMS)+" ms: iterations started late (the generator could not keep up, or max_in_flight was reached)")
	}
	if h.CPUMeasured && h.CPUMaxPct > CPULimitPct {
		h.Reasons = append(h.Reasons, "generator CPU peaked at "+fmtPct(h.CPUMaxPct)+" (limit "+fmtPct(CPULimitPct)+"): it may have delayed sends and timings")
	}
	if len(h.Reasons) == 0 {
		h.Reasons = nil
	}
	h.Reliable = len(h.Reasons) == 0
}
