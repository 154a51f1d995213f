// Package live is a run's live view: the figures of one instant (Snapshot) and the events a run emits as it goes
// (snapshot, phase, threshold, end); the Hub that fans one run's events out to its subscribers (loadgen serve's
// Server-Sent Events and WebSocket streams), keeping the last minute for a client that resumes; and the Displays
// that show the progress on a terminal (Plain: one line per update, as in a log; Terminal: redrawn in place).
//
// The runner (internal/runner) builds the snapshots and feeds a Display (loadgen run) and a Hub (loadgen serve);
// control (internal/control) serves a Hub's events; loadgen runs watch reads them back and feeds the same Display.
package live

import (
	"time"

	"github.com/loadlab/loadlab/internal/executor"
)

// Event types, the `event:` of a Server-Sent Event and the "type" of a WebSocket message.
const (
	TypeSnapshot  = "snapshot"
	TypePhase     = "phase"
	TypeThreshold = "threshold"
	TypeEnd       = "end"
)

// Snapshot is a run's live figures at one instant: those of the engine running now (a benchmark, stress or knee
// run uses one engine after another, so its figures restart with each endpoint, probe or step: Engine says which).
// It is the data of a snapshot event and the `live` of GET /api/tests/runs/{id}.
type Snapshot struct {
	// Engine counts the run's engines from 1 (a load run has one); Running is false once it ended (between a
	// stress search's probes, the last probe's final figures).
	Engine  int  `json:"engine,omitempty"`
	Running bool `json:"running"`
	// ElapsedS is the engine's time so far; TotalS its planned duration (0: unknown).
	ElapsedS float64 `json:"elapsed_s"`
	TotalS   float64 `json:"total_s,omitempty"`
	// Model is open or closed; Phase the phase running now ("" before the first and after the last), PhaseIndex its
	// index in Phases (-1 when none).
	Model      string  `json:"model,omitempty"`
	Phase      string  `json:"phase"`
	PhaseIndex int     `json:"phase_index"`
	Phases     []Phase `json:"phases,omitempty"`
	// IntendedRate is the rate asked now (open model, iterations/s, after any override); TargetVUs the virtual users
	// asked (closed model). AchievedRPS counts the requests completed in the last full second.
	IntendedRate float64 `json:"intended_rate"`
	TargetVUs    int     `json:"target_vus"`
	// RequestsPerIteration is the mean number of requests of an iteration: IntendedRate times it is the request
	// rate asked (shown beside the iterations/s when it is not 1).
	RequestsPerIteration float64 `json:"requests_per_iteration,omitempty"`
	AchievedRPS          float64 `json:"achieved_rps"`
	// Requests and Errors count from the engine's start; ErrorsByReason splits Errors by reason (non-zero only).
	Requests       uint64            `json:"requests"`
	Errors         uint64            `json:"errors"`
	ErrorsByReason map[string]uint64 `json:"errors_by_reason,omitempty"`
	Iterations     uint64            `json:"iterations"`
	Dropped        uint64            `json:"dropped"`
	InFlight       int64             `json:"in_flight"`
	VUs            int64             `json:"vus"`
	// P50Ms, P95Ms and P99Ms are the latency quantiles (from the intended start) of the last 10 s; LagP99Ms the
	// schedule lag's p99 since the engine started.
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	LagP99Ms float64 `json:"lag_p99_ms"`
	// CPUPct is the generator's own CPU over the last second, % of the cores it may use (omitted when not measured).
	CPUPct float64 `json:"cpu_pct,omitempty"`
	// Unreachable is set while every request completed in the last 2 s got no response because the target was not
	// there.
	Unreachable bool `json:"target_unreachable,omitempty"`
}

// Phase is one phase of an engine's schedule.
type Phase struct {
	Name      string  `json:"name"`
	DurationS float64 `json:"duration_s"`
}

// FromEngine returns the figures of an engine's snapshot (what the engine alone knows: not Engine, TotalS, Model,
// Phases, CPUPct or Unreachable).
func FromEngine(s executor.Snapshot) Snapshot {
	out := Snapshot{Running: s.Running, ElapsedS: s.Elapsed.Seconds(), Phase: s.Phase, PhaseIndex: s.PhaseIndex,
		IntendedRate: s.IntendedRate, TargetVUs: s.TargetVUs, RequestsPerIteration: s.RequestsPerIteration,
		AchievedRPS: s.AchievedRPS, Requests: s.Requests,
		Errors: s.Errors, Iterations: s.Iterations, Dropped: s.Dropped, InFlight: s.InFlight, VUs: s.VUs,
		P50Ms: ms(s.P50), P95Ms: ms(s.P95), P99Ms: ms(s.P99), LagP99Ms: ms(s.LagP99)}
	for r, n := range s.ErrorsByReason {
		if n > 0 {
			if out.ErrorsByReason == nil {
				out.ErrorsByReason = map[string]uint64{}
			}
			out.ErrorsByReason[executor.Reason(r).String()] = n
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// PhaseChange is the data of a phase event: a phase of the engine began (announced within the snapshot interval,
// in order, none skipped).
type PhaseChange struct {
	Engine int    `json:"engine,omitempty"`
	Phase  string `json:"phase"`
	Index  int    `json:"index"`
	// Of is the number of phases of the engine; StartS the phase's planned start and DurationS its planned
	// duration, from the engine's start.
	Of        int     `json:"of"`
	StartS    float64 `json:"start_s"`
	DurationS float64 `json:"duration_s"`
}

// ThresholdFailure is the data of a threshold event: a rolling threshold (one with a window) failed for the first
// time; Aborted when it ended the run (abort_on_fail).
type ThresholdFailure struct {
	Expr     string  `json:"expr"`
	Window   string  `json:"window"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	ElapsedS float64 `json:"elapsed_s"`
	Aborted  bool    `json:"aborted"`
	// Message is the failure said in one line.
	Message string `json:"message"`
}
