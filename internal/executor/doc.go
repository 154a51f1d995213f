// Package executor runs a load plan against a target and measures it: it
// owns the workers and virtual users, sending, timing and recording. When
// iterations are due comes from internal/pacer's Schedule; what it measures
// goes to its own results and, as it happens, to an Observer
// (internal/metrics implements one; the executor does not import it).
//
// # API
//
//	e, err := executor.New(p *plan.Plan,
//		executor.WithClient(c),           // *httpclient.Client; default: one built from the plan
//		executor.WithObserver(o),         // Observer of this run, e.g. metrics.Metrics.Observer() (optional)
//		executor.WithNow(time.Now),       // injectable clock for timestamps
//		executor.WithLogger(log),         // *slog.Logger
//		executor.WithOnPhase(func(name string) {...}), // called as each phase begins
//		executor.WithWindow(60*time.Second), // longest rolling window kept (default 60 s)
//		executor.WithSeed(1),             // scenario choice, random data rows, built-ins
//		executor.WithTick(time.Millisecond), // open-model pacer wake granularity
//	)
//	err = e.Run(ctx)   // blocks until the schedule ends or ctx is cancelled
//	res := e.Results() // *Results: per step, per phase, run-wide
//
// Run blocks until every phase has run (never returning before the planned
// end of the last phase) or ctx is cancelled. In the open model every
// iteration released on schedule runs to its end, so Run returns once the
// last ones finish (bounded by the request timeouts and think times); in the
// closed model think times and further steps are cut at the planned end.
// Cancellation is a graceful stop: no new iterations start, requests in
// flight are cut short at once through httpclient.Client.Abort (reason
// canceled), and every figure up to that point is kept; Run then returns nil
// (Results().Canceled is true). Run returns an error only when
// the run could not start, or when it panicked: a panic in any goroutine of
// the run (a worker, a virtual user, a think-time callback, the pacer,
// housekeeping) stops it at once like a cancellation, and Run returns it as
// a *panics.Error (value and stack), the figures up to that point kept. A
// bug never crashes the process that holds other runs. Every goroutine Run
// starts has ended when it returns. An Executor runs once.
//
// Nothing is sized from a plan number as written: the executor clamps
// max_in_flight, rates, VU counts and durations to the plan limits
// (plan.MaxInFlight, ...), for plans built in Go that skip validation.
//
// While Run runs, from any goroutine:
//
//	e.Snapshot() Snapshot                  // live state, cheap (call every second)
//	e.Window(d) WindowStats                // run-wide rolling window over the last d
//	e.StepWindows(d) []WindowStats         // the same per (scenario, step), in plan order
//	e.SetRate(r float64)                   // override the open-model rate (iterations/s); r < 0 clears
//	e.SetVUs(n int)                        // override the closed-model VU count; n < 0 clears
//
// An override replaces the phase's value until cleared; phases still end on
// schedule. It is meant for the control API. Each is a decorator of the
// run's pacer.Schedule (pacer.WithRate, pacer.Resume, pacer.WithVUs), made
// by the goroutine that follows the schedule: clearing a rate resumes the
// plan's schedule where it stands then, without catching up.
//
// # Models
//
// Open model (plan load.model: open): one pacer goroutine reads the
// intended start of every iteration from the schedule (phases of a constant
// rate, or a linear ramp rate→to) and releases every due slot at most once
// per ~1 ms tick into a buffered channel. Workers (at most max_in_flight) run
// iterations; an iteration that finds every slot busy WAITS for one, and the
// wait shows in its latency (measured from the intended start) and in the
// schedule lag. With load.drop_policy: drop it is dropped and counted instead.
//
// Closed model: N virtual users each loop a scenario (picked by weight per
// iteration) with think time; N follows the phases (linear between vus and
// to), VUs are added and removed as it changes.
//
// In both models the steps of a scenario run in order; templates are rendered
// from variables, data rows, captures of earlier steps and built-ins; captures
// and checks are applied (failed check: reason check; a status outside
// 200-399 without an explicit status check: reason status).
//
// # Recording
//
// Each (scenario, step) and each phase owns a cell of lock-free counters and
// hist.Histograms (no lock shared by all workers). Rolling windows are rings
// of per-second cells per step. The Observer's StepObserver of each step is
// obtained once, at New, and gets one call per request.
package executor
