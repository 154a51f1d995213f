package executor

import (
	"time"

	"github.com/loadlab/loadlab/internal/httpclient"
)

// Observer receives a run's measurements as they happen (internal/metrics
// implements it for Prometheus). One Observer serves one run: a caller
// holding several runs at once gives each its own, so every value it gets
// (gauges included) is that run's.
//
// New calls Phases, and Scenario and each ScenarioObserver's Step once per
// scenario and step, in plan order; the rest comes from the run's goroutines,
// many at once. The calls made per request or iteration (Record, Iteration,
// ScheduleLag, Dropped) must not allocate or take a lock shared by all
// workers.
type Observer interface {
	// Scenario returns the observer of the scenario's iterations and steps.
	Scenario(name string) ScenarioObserver
	// Phases names the plan's phases, in order.
	Phases(names []string)
	// Phase reports the phase beginning now; "" when the run has ended.
	Phase(name string)
	// Gauges reports the run's state, every 100 ms while it runs and once,
	// zeroed, when it ends.
	Gauges(g Gauges)
	// ScheduleLag reports an open-model iteration's actual start minus its
	// intended start.
	ScheduleLag(d time.Duration)
	// Dropped reports an open-model iteration dropped by the drop policy.
	Dropped()
}

// ScenarioObserver receives one scenario's measurements.
type ScenarioObserver interface {
	// Step returns the observer of the step's requests, sent with method;
	// codes are the status codes the plan's checks name (besides the
	// common ones) that deserve their own label value.
	Step(step, method string, codes []int) StepObserver
	// Iteration reports an iteration of the scenario that has ended.
	Iteration()
}

// StepObserver receives every request of one step.
type StepObserver interface {
	// Record reports a completed request: its latency from the intended
	// start, its service time from the actual send, the HTTP status (0: no
	// response), why it failed (ReasonNone: it did not) and the client's
	// timing breakdown.
	Record(latency, service time.Duration, status int, reason Reason, tm *httpclient.Timing)
}

// Gauges is a run's state at one moment.
type Gauges struct {
	InFlight   int64   // requests in flight
	VUs        int64   // active virtual users (closed model) or busy iteration slots (open)
	TargetRate float64 // iterations per second intended now (open model; 0 in the closed)
}

// nop is the Observer of a run without one.
type nop struct{}

func (nop) Scenario(string) ScenarioObserver                                     { return nop{} }
func (nop) Phases([]string)                                                      {}
func (nop) Phase(string)                                                         {}
func (nop) Gauges(Gauges)                                                        {}
func (nop) ScheduleLag(time.Duration)                                            {}
func (nop) Dropped()                                                             {}
func (nop) Step(string, string, []int) StepObserver                              { return nop{} }
func (nop) Iteration()                                                           {}
func (nop) Record(time.Duration, time.Duration, int, Reason, *httpclient.Timing) {}
