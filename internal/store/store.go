// Package store keeps every load-test run so it can be found, shown and
// compared later: the run itself (plan, status, timing, totals, the printed
// summary; Status is the one status enum of runs, used by the lifecycle, the
// reports and the API), metric snapshots taken during the run, per-step results with their
// exact latency histograms, benchmark results per endpoint, stress-search and
// knee results.
//
// Store is the interface; mysqlstore (production) and sqlitestore (embedded
// default) implement it over the same logical schema, and storetest is the
// conformance suite both pass. Open picks an implementation by URL scheme.
// Writer puts a Store behind an asynchronous, spooling buffer so that the
// engine's hot path never waits on the database.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound reports a run (or a result of a run) that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a CreateRun with an ID that is already stored.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports a record that fails validation before any write.
	ErrInvalid = errors.New("invalid record")
)

// Type is the kind of a run.
type Type string

// Run types.
const (
	TypeLoad      Type = "load"
	TypeBenchmark Type = "benchmark"
	TypeStress    Type = "stress"
	TypeKnee      Type = "knee"
)

// Status is where a run is in its life.
type Status string

// Run statuses. Queued and running are live; the others are terminal.
// Interrupted is set by MarkInterrupted for a run whose process died
// (e.g. SIGKILL) while it was running. Partial is a distributed run (run
// with --segment) of which a segment never reported or did not end
// completed or aborted: its figures are those of the segments that did.
const (
	StatusQueued      Status = "queued"
	StatusRunning     Status = "running"
	StatusCompleted   Status = "completed"
	StatusFailed      Status = "failed"
	StatusAborted     Status = "aborted"
	StatusInterrupted Status = "interrupted"
	StatusPartial     Status = "partial"
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusAborted, StatusInterrupted, StatusPartial:
		return true
	}
	return false
}

func (s Status) valid() bool { return s == StatusQueued || s == StatusRunning || s.Terminal() }

// ValidType reports whether t is one of the run types (for filters).
func ValidType(t Type) bool { return t.valid() }

// Valid reports whether s is one of the statuses (for filters).
func (s Status) Valid() bool { return s.valid() }

// Verdict is what a finished run says about the target, beside its status:
// a run can complete and still fail a threshold or regress.
type Verdict string

// Verdicts. VerdictNone is a run that has none: still going, or one that did
// not complete (its status says why) and failed no threshold.
const (
	VerdictNone             Verdict = ""
	VerdictPassed           Verdict = "passed"
	VerdictThresholdsFailed Verdict = "thresholds_failed" // a threshold failed (also when an abort_on_fail one ended the run)
	VerdictRegressed        Verdict = "regressed"         // a benchmark endpoint got slower than its baseline
)

// Verdicts lists the verdicts a filter may name.
var Verdicts = []Verdict{VerdictPassed, VerdictThresholdsFailed, VerdictRegressed}

// Valid reports whether v is one of Verdicts.
func (v Verdict) Valid() bool { return slices.Contains(Verdicts, v) }

func (t Type) valid() bool {
	return t == TypeLoad || t == TypeBenchmark || t == TypeStress || t == TypeKnee
}

// Totals are the whole-run figures shown in run lists and dashboards.
// Latencies are in milliseconds; ErrorRate is a fraction (0..1).
type Totals struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	RPS       float64 `json:"rps"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// Run is one stored run. Zero times are stored as NULL.
type Run struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Plan   string `json:"plan"` // plan name
	Type   Type   `json:"type"`
	Status Status `json:"status"`
	// Verdict is set when the run finishes (VerdictNone before, and for runs stored before verdicts were kept).
	Verdict Verdict `json:"verdict,omitempty"`
	Error   string  `json:"error,omitempty"`
	// PlanYAML is the plan as run, with secrets masked (see Redact).
	PlanYAML string `json:"plan_yaml,omitempty"`
	// Owner is "host:pid" of the process running it; MarkInterrupted uses it
	// to tell a dead run from a live one.
	Owner       string    `json:"owner,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	HeartbeatAt time.Time `json:"heartbeat_at,omitzero"`
	Totals      Totals    `json:"totals"`
	// SummaryJSON is the machine-readable summary (any valid JSON, or empty).
	SummaryJSON json.RawMessage `json:"summary,omitempty"`
	// SummaryText is the summary exactly as printed at the end of the run.
	SummaryText string `json:"summary_text,omitempty"`
}

// Finish is what FinishRun writes when a run ends.
type Finish struct {
	Status      Status          `json:"status"`
	Verdict     Verdict         `json:"verdict,omitempty"`
	Error       string          `json:"error,omitempty"`
	EndedAt     time.Time       `json:"ended_at"`
	Totals      Totals          `json:"totals"`
	SummaryJSON json.RawMessage `json:"summary,omitempty"`
	SummaryText string          `json:"summary_text,omitempty"`
}

// Snapshot is one point of the run's time series (every 2 s by default).
// A snapshot is identified within its run by TS: writing the same (run, TS)
// twice stores it once.
type Snapshot struct {
	TS        time.Time `json:"ts"`
	Phase     string    `json:"phase"`
	RPS       float64   `json:"rps"`
	TargetRPS float64   `json:"target_rps"`
	ErrorRate float64   `json:"error_rate"`
	P50Ms     float64   `json:"p50_ms"` // latency from intended start, over the executor's live window
	P90Ms     float64   `json:"p90_ms"`
	P95Ms     float64   `json:"p95_ms"`
	P99Ms     float64   `json:"p99_ms"`
	InFlight  int64     `json:"in_flight"`
	VUs       int64     `json:"vus"`
	Requests  int64     `json:"requests"` // cumulative since the start of the run
	Errors    int64     `json:"errors"`   // cumulative since the start of the run
	CPUPct    float64   `json:"cpu_pct"`  // generator process CPU, percent of one core
	MemBytes  int64     `json:"mem_bytes"`
	// HostCPUPct and HostMemPct are the resource monitor's host figures: CPU busy share of all CPUs and memory
	// in use, in percent of the host's total.
	HostCPUPct float64 `json:"host_cpu_pct"`
	HostMemPct float64 `json:"host_mem_pct"`
	// ServiceP50Ms, ServiceP90Ms and ServiceP99Ms are service-time percentiles (from the actual send), over the
	// same live window as the latency ones.
	ServiceP50Ms float64 `json:"service_p50_ms"`
	ServiceP90Ms float64 `json:"service_p90_ms"`
	ServiceP99Ms float64 `json:"service_p99_ms"`
}

// Latency holds the latency figures of a step or endpoint, in milliseconds.
type Latency struct {
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// LatencyOf computes the Latency figures of h.
func LatencyOf(h *hist.Histogram) Latency {
	if h == nil {
		return Latency{}
	}
	return Latency{
		P50Ms: Ms(h.Quantile(0.50)), P90Ms: Ms(h.Quantile(0.90)), P95Ms: Ms(h.Quantile(0.95)),
		P99Ms: Ms(h.Quantile(0.99)), P999Ms: Ms(h.Quantile(0.999)), MaxMs: Ms(h.Max()), MeanMs: Ms(h.Mean()),
	}
}

// Ms converts a duration to float milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// StepResult is the outcome of one scenario step over the whole run.
// Hist is the step's latency histogram as encoded by hist.MarshalBinary, so
// that runs can be merged and compared exactly; see NewStepResult.
type StepResult struct {
	Scenario  string  `json:"scenario"`
	Step      string  `json:"step"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	RPS       float64 `json:"rps"`
	Latency
	Hist []byte `json:"hist,omitempty"`
	// Timing is the step's HTTP timing breakdown (nil when not recorded,
	// as for runs stored before it was).
	Timing *Timing `json:"timing,omitempty"`
}

// Timing is a step's HTTP timing breakdown: dns, connect and tls of the
// requests that opened a connection, wait (to the first response byte) and
// receive (first byte to last) of every response, redirect hops included.
type Timing struct {
	DNS     Phase `json:"dns"`
	Connect Phase `json:"connect"`
	TLS     Phase `json:"tls"`
	Wait    Phase `json:"wait"`
	Receive Phase `json:"receive"`
}

// Phase is one timing phase: how many requests went through it, and its
// p50 and p99 in milliseconds.
type Phase struct {
	Count uint64  `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// PhaseOf summarises h.
func PhaseOf(h *hist.Histogram) Phase {
	if h == nil || h.Count() == 0 {
		return Phase{}
	}
	return Phase{Count: h.Count(), P50Ms: Ms(h.Quantile(0.50)), P99Ms: Ms(h.Quantile(0.99))}
}

// NewStepResult fills a StepResult from counts and a histogram measured over
// elapsed.
func NewStepResult(scenario, step string, requests, errs int64, h *hist.Histogram, elapsed time.Duration) (StepResult, error) {
	s := StepResult{Scenario: scenario, Step: step, Requests: requests, Errors: errs,
		ErrorRate: ratio(errs, requests), RPS: rate(requests, elapsed), Latency: LatencyOf(h)}
	if h != nil {
		b, err := h.MarshalBinary()
		if err != nil {
			return StepResult{}, fmt.Errorf("step %s/%s histogram: %w", scenario, step, err)
		}
		s.Hist = b
	}
	return s, nil
}

// Histogram decodes the stored histogram (an empty one when none was stored).
func (s StepResult) Histogram() (*hist.Histogram, error) { return decodeHist(s.Hist) }

// BenchmarkResult is one endpoint's isolated measurement in a benchmark run.
type BenchmarkResult struct {
	Plan        string    `json:"plan"`
	Endpoint    string    `json:"endpoint"` // endpoint name from the plan, e.g. "GET /api/teams"
	Method      string    `json:"method"`
	Concurrency int       `json:"concurrency"`
	DurationS   float64   `json:"duration_s"`
	Requests    int64     `json:"requests"`
	Errors      int64     `json:"errors"`
	ErrorRate   float64   `json:"error_rate"`
	RPS         float64   `json:"rps"`
	CreatedAt   time.Time `json:"created_at"`
	Latency
	Hist []byte `json:"hist,omitempty"`
	// RunID is filled on reads.
	RunID string `json:"run_id,omitempty"`
}

// Histogram decodes the stored histogram.
func (b BenchmarkResult) Histogram() (*hist.Histogram, error) { return decodeHist(b.Hist) }

// StressProbe is one trial of a stress search.
type StressProbe struct {
	Seq         int     `json:"seq"`
	Phase       string  `json:"phase"` // e.g. "double" or "binary_search"
	TargetRPS   float64 `json:"target_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	ErrorRate   float64 `json:"error_rate"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	OK          bool    `json:"ok"`
}

// StressResult is the outcome of a stress search.
type StressResult struct {
	State string `json:"state"` // COMPLETED or ERROR
	// MaxSustainableRPS and BreakdownRPS are requests per second, as are the probes' rates; the search ran in
	// iterations per second: divide by RequestsPerIteration (1 for runs stored before it was kept).
	MaxSustainableRPS    float64       `json:"max_sustainable_rps"`
	BreakdownRPS         float64       `json:"breakdown_rps"`
	RequestsPerIteration float64       `json:"requests_per_iteration"`
	Threshold            float64       `json:"threshold"`  // error-rate threshold (fraction)
	SLOP99Ms             float64       `json:"slo_p99_ms"` // 0 when no latency SLO
	Error                string        `json:"error,omitempty"`
	CreatedAt            time.Time     `json:"created_at"`
	Probes               []StressProbe `json:"probes"`
}

// KneePoint is one load level measured by a knee search.
type KneePoint struct {
	TargetRPS     float64 `json:"target_rps"`
	ThroughputRPS float64 `json:"throughput_rps"`
	P99Ms         float64 `json:"p99_ms"`
	ErrorRate     float64 `json:"error_rate"`
}

// KneeResult is the throughput knee: the load past which throughput stops
// rising and latency climbs.
type KneeResult struct {
	KneeRPS          float64     `json:"knee_rps"`
	KneeP99Ms        float64     `json:"knee_p99_ms"`
	MaxThroughputRPS float64     `json:"max_throughput_rps"`
	CreatedAt        time.Time   `json:"created_at"`
	Points           []KneePoint `json:"points"`
}

// Segment is one worker's share of a distributed run: loadgen run --segment
// Index/Of --run-id RunID. The worker records its own run under WorkerRun
// (snapshots, steps, summary, heartbeats) and this row under RunID, the run
// that merges them. Results is the worker's measurements as the runner
// encodes them (opaque to the store); it is empty until the worker ends.
type Segment struct {
	RunID     string    `json:"run_id"`
	Index     int       `json:"index"`
	Of        int       `json:"of"`
	WorkerRun string    `json:"worker_run"`
	Owner     string    `json:"owner,omitempty"`
	Status    Status    `json:"status"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Results   []byte    `json:"-"`
}

// Validate checks a segment before it is written.
func (s *Segment) Validate() error {
	switch {
	case s.RunID == "" || len(s.RunID) > 64:
		return fmt.Errorf("%w: segment of run %q: run id empty or longer than 64 bytes", ErrInvalid, s.RunID)
	case s.Of < 1 || s.Index < 0 || s.Index >= s.Of:
		return fmt.Errorf("%w: segment %d/%d of run %s: want 0 <= index < of", ErrInvalid, s.Index, s.Of, s.RunID)
	case !s.Status.valid():
		return fmt.Errorf("%w: segment %d/%d of run %s: status %q", ErrInvalid, s.Index, s.Of, s.RunID, s.Status)
	}
	return nil
}

// Filter selects runs for ListRuns. Zero fields match everything; Limit 0
// means DefaultListLimit.
type Filter struct {
	Status  Status
	Verdict Verdict
	Type    Type
	Plan    string
	Limit   int
	Offset  int
}

// DefaultListLimit is the page size of ListRuns when Filter.Limit is 0.
const DefaultListLimit = 50

// Sink is the write half of Store: what recording a run needs. Both a Store
// (synchronous) and a *Writer (asynchronous, spooling) are Sinks. Heartbeats
// are not a Sink's business: a *Writer sends them itself for every run it
// created as running (see WithHeartbeat), which is how loadgen records every
// run; a synchronous Store gets none.
type Sink interface {
	CreateRun(ctx context.Context, r *Run) error
	UpdateRun(ctx context.Context, r *Run) error
	FinishRun(ctx context.Context, id string, f Finish) error
	AddSnapshots(ctx context.Context, runID string, s []Snapshot) error
	AddStepResults(ctx context.Context, runID string, s []StepResult) error
	AddBenchmarkResults(ctx context.Context, runID string, b []BenchmarkResult) error
	AddStressResult(ctx context.Context, runID string, s StressResult) error
	AddKneeResult(ctx context.Context, runID string, k KneeResult) error
}

// Store keeps runs and their results. Implementations are safe for
// concurrent use. Every Add* and FinishRun is idempotent (writing the same
// record twice stores it once), so the Writer can retry and replay spools.
type Store interface {
	// CreateRun stores a new run. An empty ID is filled with NewID and a
	// zero CreatedAt with the current time. ErrExists if the ID is taken.
	CreateRun(ctx context.Context, r *Run) error
	// UpdateRun overwrites the run's mutable fields (everything but ID and
	// CreatedAt). ErrNotFound if it does not exist.
	UpdateRun(ctx context.Context, r *Run) error
	// FinishRun sets the terminal status, end time, totals and summary.
	FinishRun(ctx context.Context, id string, f Finish) error
	// Heartbeat records that the run's process is alive.
	Heartbeat(ctx context.Context, id string, at time.Time) error
	GetRun(ctx context.Context, id string) (*Run, error)
	// ListRuns returns runs newest first, without PlanYAML, SummaryJSON and
	// SummaryText (use GetRun for those).
	ListRuns(ctx context.Context, f Filter) ([]Run, error)
	// MarkInterrupted sets status interrupted on runs left running by a
	// process that is gone (see Abandoned) and returns their IDs.
	MarkInterrupted(ctx context.Context) ([]string, error)

	AddSnapshots(ctx context.Context, runID string, s []Snapshot) error
	Snapshots(ctx context.Context, runID string) ([]Snapshot, error)
	// SnapshotsSince returns the run's snapshots from since on (TS >= since), oldest first.
	SnapshotsSince(ctx context.Context, runID string, since time.Time) ([]Snapshot, error)
	AddStepResults(ctx context.Context, runID string, s []StepResult) error
	StepResults(ctx context.Context, runID string) ([]StepResult, error)
	AddBenchmarkResults(ctx context.Context, runID string, b []BenchmarkResult) error
	BenchmarkResults(ctx context.Context, runID string) ([]BenchmarkResult, error)
	// LatestBenchmark returns the newest stored result for plan and endpoint
	// (the baseline to compare against), or ErrNotFound.
	LatestBenchmark(ctx context.Context, plan, endpoint string) (*BenchmarkResult, error)
	AddStressResult(ctx context.Context, runID string, s StressResult) error
	StressResult(ctx context.Context, runID string) (*StressResult, error)
	AddKneeResult(ctx context.Context, runID string, k KneeResult) error
	KneeResult(ctx context.Context, runID string) (*KneeResult, error)
	// PutSegment stores a segment of a distributed run, overwriting the one
	// of the same run and index.
	PutSegment(ctx context.Context, s Segment) error
	// Segments returns the stored segments of runID, by index (none: empty).
	Segments(ctx context.Context, runID string) ([]Segment, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// NewID returns a new run ID: UTC time to the second, then 8 random hex
// digits, e.g. "20261126-053422-3fa9c1d2". IDs sort by creation time.
func NewID() string { return newIDAt(time.Now()) }

func newIDAt(t time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Validate checks a run before it is written.
func (r *Run) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: run id is empty", ErrInvalid)
	case len(r.ID) > 64:
		return fmt.Errorf("%w: run id %q longer than 64 bytes", ErrInvalid, r.ID)
	case !r.Type.valid():
		return fmt.Errorf("%w: run %s: type %q is not load|benchmark|stress|knee", ErrInvalid, r.ID, r.Type)
	case !r.Status.valid():
		return fmt.Errorf("%w: run %s: status %q is not queued|running|completed|failed|aborted|interrupted|partial", ErrInvalid, r.ID, r.Status)
	case len(r.SummaryJSON) > 0 && !json.Valid(r.SummaryJSON):
		return fmt.Errorf("%w: run %s: summary is not valid JSON", ErrInvalid, r.ID)
	}
	return nil
}

// Validate checks a Finish before it is written.
func (f *Finish) Validate() error {
	if !f.Status.Terminal() {
		return fmt.Errorf("%w: finish status %q is not terminal", ErrInvalid, f.Status)
	}
	if f.Verdict != VerdictNone && !f.Verdict.Valid() {
		return fmt.Errorf("%w: finish verdict %q is not one of %v", ErrInvalid, f.Verdict, Verdicts)
	}
	if len(f.SummaryJSON) > 0 && !json.Valid(f.SummaryJSON) {
		return fmt.Errorf("%w: finish summary is not valid JSON", ErrInvalid)
	}
	return nil
}

// TotalsOf computes run totals from counts and the merged histogram.
func TotalsOf(requests, errs int64, h *hist.Histogram, elapsed time.Duration) Totals {
	l := LatencyOf(h)
	return Totals{Requests: requests, Errors: errs, ErrorRate: ratio(errs, requests), RPS: rate(requests, elapsed),
		P50Ms: l.P50Ms, P95Ms: l.P95Ms, P99Ms: l.P99Ms, MaxMs: l.MaxMs}
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func decodeHist(b []byte) (*hist.Histogram, error) {
	h := hist.New()
	if len(b) == 0 {
		return h, nil
	}
	if err := h.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}
