// Package metrics owns the load generator's Prometheus metrics (the
// loadgen_* names of docs/metrics.md, except the host ones of internal/sysmon),
// built on a caller-supplied registry, and the run-level series of the runs
// recording into them (runs.go: run_info, run_active, each run's live gauges
// summed over the runs in progress, the step series of finished runs
// forgotten). Latency histograms are native histograms (factor 1.1, at most
// 100 buckets, reset after 1 h at the earliest).
//
// A run's executor records into them through an Observer (executor.Observer),
// one per run from Metrics.Observer. The hot path never looks a label up:
// Step returns a StepMetrics whose children are resolved once (status-code
// counters are resolved on first use and cached in a fixed array of atomic
// pointers).
//
// The code label of loadgen_requests_total takes a bounded set of values:
// plan.CommonStatusCodes and the codes given to Step (those the plan's checks
// name, see plan.StatusCodeLabels), "other" for any other response, and
// "none" when no response came. A target answering every code cannot grow
// the series count.
package metrics

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/plan"
)

const namespace = "loadgen"

// Label values of closed enums.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	CodeNone       = "none"  // code label when no response came
	CodeOther      = "other" // code label of a status code not among a step's labelled codes
)

// HTTPPhases are the values of loadgen_http_phase_duration_seconds{phase}
// (ttfb is the wait: from the request written to the first response byte).
var HTTPPhases = []string{"dns", "connect", "tls", "ttfb", "receive"}

// Version is reported by loadgen_build_info; set it with
// -ldflags "-X github.com/loadlab/loadlab/internal/metrics.Version=v1.2.3".
var Version = "dev"

// Native-histogram settings shared by every latency histogram.
const (
	BucketFactor     = 1.1
	MaxBucketNumber  = 100
	MinResetDuration = time.Hour
)

func latencyOpts(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Namespace: namespace, Name: name, Help: help,
		NativeHistogramBucketFactor:     BucketFactor,
		NativeHistogramMaxBucketNumber:  MaxBucketNumber,
		NativeHistogramMinResetDuration: MinResetDuration,
	}
}

// Metrics holds every loadgen_* metric of a process.
type Metrics struct {
	RequestDuration *prometheus.HistogramVec // scenario, step, outcome
	ServiceTime     *prometheus.HistogramVec // scenario, step
	Requests        *prometheus.CounterVec   // scenario, step, method, code
	Errors          *prometheus.CounterVec   // scenario, step, reason
	HTTPPhase       *prometheus.HistogramVec // phase, step
	ScheduleLag     prometheus.Histogram
	Dropped         prometheus.Counter
	Iterations      *prometheus.CounterVec // scenario
	InFlight        prometheus.Gauge
	VirtualUsers    prometheus.Gauge
	TargetRate      prometheus.Gauge     // loadgen_target_rate_iterations_per_second
	Phase           *prometheus.GaugeVec // phase: a state set, 1 for the running phase
	RunInfo         *prometheus.GaugeVec // run_id, plan, type: always 1
	RunActive       prometheus.Gauge     // runs in progress
	RunStart        prometheus.Gauge
	BuildInfo       *prometheus.GaugeVec // version, goversion

	mu     sync.Mutex
	steps  map[[3]string]*StepMetrics
	phases []string
	runs   runs // the runs recording into these metrics (runs.go)
}

// New builds and registers every metric on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RequestDuration: prometheus.NewHistogramVec(latencyOpts("request_duration_seconds",
			"Time from the request's intended start to its last byte (coordinated omission corrected)."),
			[]string{"scenario", "step", "outcome"}),
		ServiceTime: prometheus.NewHistogramVec(latencyOpts("service_time_seconds",
			"Time from the request's actual send to its last byte (raw service time)."),
			[]string{"scenario", "step"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "requests_total",
			Help: "Requests completed, by HTTP status code (other for a code the plan does not label, none when no response came)."},
			[]string{"scenario", "step", "method", "code"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "request_errors_total",
			Help: "Failed requests by reason."}, []string{"scenario", "step", "reason"}),
		HTTPPhase: prometheus.NewHistogramVec(latencyOpts("http_phase_duration_seconds",
			"Per-request timing breakdown by step: dns, connect and tls of new connections, ttfb (wait for the first byte), receive (first byte to last); redirect hops included."),
			[]string{"phase", "step"}),
		ScheduleLag: prometheus.NewHistogram(latencyOpts("schedule_lag_seconds",
			"Actual start minus intended start of each open-model iteration.")),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "dropped_iterations_total",
			Help: "Iterations dropped by an explicit drop policy."}),
		Iterations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "iterations_total",
			Help: "Scenario iterations completed."}, []string{"scenario"}),
		RunInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "run_info",
			Help: "The run in progress, or the last one when none is; the value is 1."}, []string{"run_id", "plan", "type"}),
		RunActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "run_active",
			Help: "Runs in progress now."}),
		RunStart: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "run_start_timestamp_seconds",
			Help: "Unix time the current run started."}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
			Help: "Build information; the value is 1."}, []string{"version", "goversion"}),
		steps: map[[3]string]*StepMetrics{},
	}
	m.liveGauges()
	reg.MustRegister(m.RequestDuration, m.ServiceTime, m.Requests, m.Errors, m.HTTPPhase, m.ScheduleLag,
		m.Dropped, m.Iterations, live{m}, m.RunInfo, m.RunActive, m.RunStart, m.BuildInfo)
	m.BuildInfo.WithLabelValues(Version, runtime.Version()).Set(1)
	return m
}

// StepMetrics are the pre-resolved children of one (scenario, step, method).
// Safe for concurrent use; no method takes a lock after the first request
// with a given status code.
type StepMetrics struct {
	Success, Failure prometheus.Observer // request_duration_seconds{outcome}
	Service          prometheus.Observer
	Errors           [httpclient.NumReasons]prometheus.Counter // index by Reason; [ReasonNone] is nil
	Iterations       prometheus.Counter                        // iterations_total{scenario}
	// DNS, Connect, TLS, TTFB and Receive are the step's children of
	// http_phase_duration_seconds.
	DNS, Connect, TLS, TTFB, Receive prometheus.Observer

	m                      *Metrics
	scenario, step, method string
	labelled               [600]atomic.Bool // codes with their own code label value
	codes                  [600]atomic.Pointer[prometheus.Counter]
	other                  atomic.Pointer[prometheus.Counter]
	none                   prometheus.Counter
}

// Step returns (creating once) the children of (scenario, step, method),
// pre-creating the outcome and error-reason series. plan.CommonStatusCodes
// and codes (100-599) get their own code label value; the step's other
// responses count as "other". Calling Step again for the same key adds codes.
func (m *Metrics) Step(scenario, step, method string, codes ...int) *StepMetrics {
	key := [3]string{scenario, step, method}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.steps[key]; s != nil {
		s.label(codes)
		return s
	}
	s := &StepMetrics{
		Success:    m.RequestDuration.WithLabelValues(scenario, step, OutcomeSuccess),
		Failure:    m.RequestDuration.WithLabelValues(scenario, step, OutcomeFailure),
		Service:    m.ServiceTime.WithLabelValues(scenario, step),
		Iterations: m.Iterations.WithLabelValues(scenario),
		m:          m, scenario: scenario, step: step, method: method,
		none: m.Requests.WithLabelValues(scenario, step, method, CodeNone),
		DNS:  m.HTTPPhase.WithLabelValues("dns", step), Connect: m.HTTPPhase.WithLabelValues("connect", step),
		TLS: m.HTTPPhase.WithLabelValues("tls", step), TTFB: m.HTTPPhase.WithLabelValues("ttfb", step),
		Receive: m.HTTPPhase.WithLabelValues("receive", step),
	}
	for _, r := range httpclient.ErrorReasons {
		s.Errors[r] = m.Errors.WithLabelValues(scenario, step, r.String())
	}
	s.label(plan.CommonStatusCodes)
	s.label(codes)
	m.steps[key] = s
	return s
}

func (s *StepMetrics) label(codes []int) {
	for _, c := range codes {
		if c >= 100 && c < len(s.labelled) {
			s.labelled[c].Store(true)
		}
	}
}

// Request returns the requests_total counter for status code: its own code
// label when it is one of the step's labelled codes, "other" when it is not,
// "none" for 0 (no response).
func (s *StepMetrics) Request(code int) prometheus.Counter {
	if code <= 0 {
		return s.none
	}
	if code < len(s.codes) && s.labelled[code].Load() {
		if p := s.codes[code].Load(); p != nil {
			return *p
		}
		c := s.m.Requests.WithLabelValues(s.scenario, s.step, s.method, strconv.Itoa(code))
		s.codes[code].Store(&c)
		return c
	}
	if p := s.other.Load(); p != nil {
		return *p
	}
	c := s.m.Requests.WithLabelValues(s.scenario, s.step, s.method, CodeOther)
	s.other.Store(&c)
	return c
}

// StepKey names one step's series: the scenario and step label values of
// requests_total, request_errors_total, request_duration_seconds and
// service_time_seconds.
type StepKey struct{ Scenario, Step string }

// ForgetSteps deletes every series of the given steps (all methods, codes,
// reasons and outcomes) and forgets their cached StepMetrics, so a later
// Step call creates them afresh. iterations_total{scenario} goes too when no
// remaining step has that scenario. It returns how many series it deleted.
//
// A long-lived process (loadgen serve) calls it for the steps of finished
// runs, so the series count stays bounded by the plans in use rather than
// growing with every plan ever run. Call it only for steps no running engine
// records into: an engine holding a forgotten StepMetrics would count into
// series nobody exports.
func (m *Metrics) ForgetSteps(keys []StepKey) int {
	if len(keys) == 0 {
		return 0
	}
	forget := make(map[StepKey]bool, len(keys))
	for _, k := range keys {
		forget[k] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, k := range keys {
		l := prometheus.Labels{"scenario": k.Scenario, "step": k.Step}
		n += m.RequestDuration.DeletePartialMatch(l) + m.ServiceTime.DeletePartialMatch(l) +
			m.Requests.DeletePartialMatch(l) + m.Errors.DeletePartialMatch(l)
	}
	scenarios := map[string]bool{}
	for _, k := range keys {
		scenarios[k.Scenario] = true
	}
	for key := range m.steps {
		if forget[StepKey{key[0], key[1]}] {
			delete(m.steps, key)
		}
	}
	stepNames := map[string]bool{}
	for _, k := range keys {
		stepNames[k.Step] = true
	}
	for key := range m.steps {
		delete(scenarios, key[0]) // still in use by a step that stays
		delete(stepNames, key[1]) // the phase series are by step name alone
	}
	for name := range stepNames {
		n += m.HTTPPhase.DeletePartialMatch(prometheus.Labels{"step": name})
	}
	for sc := range scenarios {
		if m.Iterations.DeleteLabelValues(sc) {
			n++
		}
	}
	return n
}

// SetPhases pre-creates loadgen_phase for every phase name (value 0).
func (m *Metrics) SetPhases(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.phases {
		m.Phase.DeleteLabelValues(n)
	}
	m.phases = append(m.phases[:0], names...)
	for _, n := range names {
		m.Phase.WithLabelValues(n).Set(0)
	}
}

// SetPhase marks phase name as running (1) and the others 0; "" clears all.
func (m *Metrics) SetPhase(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.phases {
		v := 0.0
		if n == name {
			v = 1
		}
		m.Phase.WithLabelValues(n).Set(v)
	}
}
