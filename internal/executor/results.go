package executor

import (
	"time"

	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/httpclient"
)

// Reason is the closed set of failure reasons (see httpclient.Reason).
type Reason = httpclient.Reason

// Failure reasons, re-exported so callers of the executor need not import
// httpclient. Reason.String gives the label value ("timeout", "check", ...).
const (
	ReasonNone     = httpclient.ReasonNone
	ReasonTimeout  = httpclient.ReasonTimeout
	ReasonDNS      = httpclient.ReasonDNS
	ReasonConnect  = httpclient.ReasonConnect
	ReasonTLS      = httpclient.ReasonTLS
	ReasonReset    = httpclient.ReasonReset
	ReasonProtocol = httpclient.ReasonProtocol
	ReasonStatus   = httpclient.ReasonStatus
	ReasonCheck    = httpclient.ReasonCheck
	ReasonCanceled = httpclient.ReasonCanceled
	ReasonOther    = httpclient.ReasonOther
	NumReasons     = httpclient.NumReasons
)

// Cell holds every figure of one group of requests: one (scenario, step),
// one phase, or the whole run. Values in a Cell returned by Results are a
// consistent copy; histograms are clones the caller may keep or merge.
type Cell struct {
	// Scenario, Step and Method name a step cell. They are empty in phase
	// cells and in Results.Total.
	Scenario, Step, Method string

	// Requests counts completed requests (successful or not, including
	// those that never got a response), but not those the run itself
	// cancelled (Canceled).
	Requests uint64
	// Canceled counts requests cut short by the run's own end (Ctrl-C, an
	// abort_on_fail threshold, a cancel over the API): neither requests nor
	// errors, so outside the error rate.
	Canceled uint64
	// Skipped counts, in a step cell, the iterations that ended before this
	// step after an earlier step failed (the scenario's on_failure): the step
	// was not sent, so it is no request.
	Skipped uint64
	// Errors counts failed requests; ErrorsByReason splits them
	// (ErrorsByReason[ReasonNone] is always 0).
	Errors         uint64
	ErrorsByReason [NumReasons]uint64
	// Status counts responses by HTTP status code; key 0 counts requests
	// that got no response (exported as code="none").
	Status map[int]uint64
	// BytesIn counts response bytes read (headers and body); BytesOut counts
	// request bytes written.
	BytesIn, BytesOut uint64

	// Latency is, for successful requests (all requests when the plan's
	// latency_of is all), the time from the request's INTENDED start to its last
	// byte: in the open model the first request of an iteration is due at
	// its scheduled time, and a later step is due when the previous step
	// (plus its think time) ended. Any wait (max_in_flight, a slow pacer,
	// a busy worker) is therefore included: coordinated omission corrected.
	Latency *hist.Histogram
	// Service is the raw service time, from the actual send to the last
	// byte, of the same requests as Latency.
	Service *hist.Histogram
	// FailedLatency is the latency (from intended start) of failed requests.
	FailedLatency *hist.Histogram
	// Checks counts each explicit check of a step cell (nil in phase cells
	// and in Results.Total): how many responses it judged and how many failed.
	Checks []CheckCount
	// DNS, Connect and TLS record the dial phases of requests that opened a
	// new connection (most requests reuse one and record nothing there).
	// TTFB (wait) is the time from the request written to the first
	// response byte, Receive from the first response byte to the last.
	// Each redirect hop followed counts as a response of its own here.
	DNS, Connect, TLS, TTFB, Receive *hist.Histogram
	// Redirects counts the redirect hops followed.
	Redirects uint64
}

// CheckCount is one check of a step and how it fared: Checked responses
// (every request that got a response), of which Failed failed it.
type CheckCount struct {
	Name    string // as expect.Rules.Names gives it: "status in [200]", "json $.id = 7"
	Checked uint64
	Failed  uint64
}

// ErrorRate returns Errors/Requests (0 when there are no requests).
func (c *Cell) ErrorRate() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.Errors) / float64(c.Requests)
}

// ErrorCounts returns the non-zero error counts keyed by reason label.
func (c *Cell) ErrorCounts() map[string]uint64 {
	m := make(map[string]uint64)
	for r, n := range c.ErrorsByReason {
		if n != 0 {
			m[Reason(r).String()] = n
		}
	}
	return m
}

// Merge adds o's figures into c (histograms are merged exactly).
func (c *Cell) Merge(o *Cell) {
	c.Requests += o.Requests
	c.Errors += o.Errors
	c.Canceled += o.Canceled
	c.Skipped += o.Skipped
	c.mergeChecks(o.Checks)
	for i := range c.ErrorsByReason {
		c.ErrorsByReason[i] += o.ErrorsByReason[i]
	}
	if c.Status == nil {
		c.Status = make(map[int]uint64)
	}
	for k, v := range o.Status {
		c.Status[k] += v
	}
	c.BytesIn += o.BytesIn
	c.BytesOut += o.BytesOut
	c.Redirects += o.Redirects
	for _, p := range [...]struct {
		dst **hist.Histogram
		src *hist.Histogram
	}{
		{&c.Latency, o.Latency}, {&c.Service, o.Service}, {&c.FailedLatency, o.FailedLatency}, {&c.DNS, o.DNS},
		{&c.Connect, o.Connect}, {&c.TLS, o.TLS}, {&c.TTFB, o.TTFB}, {&c.Receive, o.Receive},
	} {
		if *p.dst == nil {
			*p.dst = hist.New()
		}
		(*p.dst).Merge(p.src)
	}
}

// mergeChecks adds the counts of the checks of another cell of the same step (a distributed run's segments).
func (c *Cell) mergeChecks(o []CheckCount) {
	for _, x := range o {
		found := false
		for i := range c.Checks {
			if c.Checks[i].Name == x.Name {
				c.Checks[i].Checked += x.Checked
				c.Checks[i].Failed += x.Failed
				found = true
				break
			}
		}
		if !found {
			c.Checks = append(c.Checks, x)
		}
	}
}

// NewCell returns an empty cell with allocated histograms.
func NewCell(scenario, step, method string) *Cell {
	return &Cell{Scenario: scenario, Step: step, Method: method, Status: map[int]uint64{},
		Latency: hist.New(), Service: hist.New(), FailedLatency: hist.New(), DNS: hist.New(), Connect: hist.New(), TLS: hist.New(),
		TTFB: hist.New(), Receive: hist.New()}
}

// PhaseResult holds one phase of the load profile. Its Cell counts the
// requests of iterations SCHEDULED in this phase (an iteration that starts
// in ramp-up and ends in sustained counts in ramp-up).
type PhaseResult struct {
	Name  string
	Index int
	// Planned is the phase's planned duration; Start and End are when it
	// actually began and ended (End is zero for a phase never reached, and
	// both are zero if the run was cancelled before it).
	Planned    time.Duration
	Start, End time.Time
	// Rate and To are the open-model iterations per second at the start
	// and end of the phase (To == Rate when constant); VUs and ToVUs the
	// same for the closed model.
	Rate, To   float64
	VUs, ToVUs int

	Iterations uint64 // iterations started in this phase
	Dropped    uint64 // iterations dropped in this phase (drop policy only)
	// ScheduleLag: actual start minus intended start of this phase's
	// iterations (open model; empty for closed).
	ScheduleLag *hist.Histogram

	Cell
}

// ScenarioResult counts one scenario's iterations.
type ScenarioResult struct {
	Name       string
	Weight     float64
	Iterations uint64 // iterations started
	Failed     uint64 // iterations in which at least one request failed
}

// ErrorSample is one failed request kept for the summary: the first of each
// (step, reason, failing check, status), or of each (step, reason, message)
// when no check failed. Results keeps at most MaxErrorSamples of them;
// ErrorSamplesDropped counts the rest. Only the run's first 1000 failures are
// looked at (Count counts among them).
type ErrorSample struct {
	At       time.Duration // since the run started
	Phase    string
	Scenario string
	Step     string
	Reason   Reason
	Check    string // the check that failed first (expect.Rules.Names), "" when none did
	Status   int    // HTTP status, 0 when no response
	Message  string // error text, truncated to 200 bytes
	Count    uint64 // failures it stands for, among the run's first 1000
}

// MaxErrorSamples bounds Results.ErrorSamples.
const MaxErrorSamples = 20

// Results is everything a run measured. Results() returns a copy that is
// safe to read while the run goes on; after Run returns it is final.
type Results struct {
	Plan  string
	Model string // "open" or "closed"

	Started, Ended time.Time
	// Canceled is true when ctx ended the run before the schedule did;
	// every figure up to that point is kept.
	Canceled bool

	// Steps has one cell per (scenario, step), in plan order.
	Steps []*Cell
	// Phases has one entry per plan phase, in order.
	Phases []*PhaseResult
	// Total merges every step cell.
	Total *Cell
	// Scenarios has one entry per scenario, in plan order.
	Scenarios []ScenarioResult

	// ScheduleLag: actual start minus intended start of every open-model
	// iteration (the pacer's lateness plus any wait for a max_in_flight slot).
	ScheduleLag *hist.Histogram
	Iterations  uint64 // iterations started
	Dropped     uint64 // iterations dropped by the drop policy
	MaxInFlight int64  // most requests in flight at once

	ErrorSamples        []ErrorSample
	ErrorSamplesDropped uint64
}

// Duration returns Ended-Started (or 0 before the run ended).
func (r *Results) Duration() time.Duration {
	if r.Ended.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Started)
}

// Step returns the cell of (scenario, step), or nil.
func (r *Results) Step(scenario, step string) *Cell {
	for _, c := range r.Steps {
		if c.Scenario == scenario && c.Step == step {
			return c
		}
	}
	return nil
}

// Snapshot is the live state of a run, cheap enough to take every second
// (progress line, control API, metric snapshots).
type Snapshot struct {
	Running bool          // Run has started and not yet returned
	Elapsed time.Duration // since the run started
	Phase   string        // phase running now ("" before the first/after the last)
	// PhaseIndex is the index of Phase in the plan (-1 when none).
	PhaseIndex int
	// IntendedRate is the open-model iterations per second intended now
	// (after any SetRate override); TargetVUs the closed model's target.
	IntendedRate float64
	TargetVUs    int
	// RequestsPerIteration is the mean number of requests of an iteration
	// (the scenarios' steps, by weight): IntendedRate times it is the
	// request rate asked.
	RequestsPerIteration float64
	// AchievedRPS is the requests completed in the last full second.
	AchievedRPS float64
	Requests    uint64 // requests completed so far
	Errors      uint64 // failed requests so far
	Iterations  uint64
	Dropped     uint64
	InFlight    int64 // requests in flight now
	VUs         int64 // active virtual users (closed) or busy iteration slots (open)
	// P50, P90, P95 and P99 are latency (from intended start) percentiles over
	// the last LiveWindow; LagP99 the schedule-lag p99 over the whole run so far.
	P50, P90, P95, P99 time.Duration
	LagP99             time.Duration
	// ServiceP50, ServiceP90 and ServiceP99 are service-time (from the actual
	// send) percentiles over the same window.
	ServiceP50, ServiceP90, ServiceP99 time.Duration

	// ErrorsByReason splits Errors by failure reason (index: Reason).
	ErrorsByReason [NumReasons]uint64
}

// LiveWindow is the span Snapshot.P50, P95 and P99 cover.
const LiveWindow = 10 * time.Second

// WindowStats summarises the requests that COMPLETED in the last Span of the
// run (rolling thresholds). The window is made of whole seconds of elapsed
// run time, the current (partial) second included.
type WindowStats struct {
	Scenario, Step string // empty for the run-wide window
	// Span is the time the window actually covers (shorter than asked at the
	// start of a run, and never longer than the executor's WithWindow limit).
	Span           time.Duration
	Requests       uint64
	Errors         uint64
	ErrorsByReason [NumReasons]uint64
	Latency        *hist.Histogram // from intended start, like Cell.Latency
}

// ErrorRate returns Errors/Requests (0 when empty).
func (w WindowStats) ErrorRate() float64 {
	if w.Requests == 0 {
		return 0
	}
	return float64(w.Errors) / float64(w.Requests)
}

// RPS returns Requests/Span.
func (w WindowStats) RPS() float64 {
	if w.Span <= 0 {
		return 0
	}
	return float64(w.Requests) / w.Span.Seconds()
}
