package plan

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Limits on the numbers of a plan. Validate rejects any number outside them,
// and NaN and infinities everywhere, naming the limit ("must be <= 100000
// (got 1e+06)"); the executor clamps to them as well, so that a plan built in
// Go without validation cannot make it allocate from an absurd number. They
// are documented in docs/plan.md (Limits). MaxPlanSize and MaxDataRows are in
// load.go.
const (
	// MaxRate bounds every rate in iterations (or requests) per second:
	// phase rate and to, stress.start_rate and max_rate, open-model knee
	// steps, and rps thresholds.
	MaxRate = 1_000_000.0
	// MaxVUs bounds every count of virtual users: phase vus and to,
	// closed-model knee steps, benchmark.concurrency.
	MaxVUs = 100_000
	// MaxInFlight bounds load.max_in_flight.
	MaxInFlight = 100_000
	// MaxDuration bounds one phase, the whole load (the sum of its phases),
	// a stress search (max_probes x (probe_duration + cooldown)), a knee
	// search (steps x step_duration), and every other duration of a plan
	// that has no tighter limit (check.max_latency, thresholds' window,
	// stress.p99_slo, benchmark.warmup, knee.warmup).
	MaxDuration = 7 * 24 * time.Hour
	// MaxTimeout bounds defaults.timeout and the steps' request timeouts.
	MaxTimeout = 10 * time.Minute
	// MaxThink bounds think times (min and max).
	MaxThink = time.Hour
	// MaxWeight bounds scenarios[].weight.
	MaxWeight = 1_000_000
	// MaxBenchRequests bounds benchmark.requests and a warm-up given as a
	// number of requests.
	MaxBenchRequests = 10_000_000
	// MaxConcurrencyLevels bounds the entries of benchmark.concurrency.
	MaxConcurrencyLevels = 32
	// MaxStressProbes bounds stress.max_probes.
	MaxStressProbes = 100
	// MaxKneeSteps bounds knee.max_steps and the entries of knee.steps.
	MaxKneeSteps = 30
	// MaxDataBytes bounds one CSV data file (which must be a regular file).
	MaxDataBytes = 64 << 20
)

// fmtNum renders a number for an error message: 200, 1.5, 100000000000000,
// 1e+19, +Inf, NaN.
func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// upTo reports a number above hi (or NaN, or an infinity) at path as
// "must be <= HI (got X)". It returns whether x passed.
func (v *validator) upTo(path string, x, hi float64) bool {
	switch {
	case math.IsNaN(x):
		v.add(path, "must be a number (got NaN)")
	case x > hi:
		v.add(path, "must be <= %s (got %s)", fmtNum(hi), fmtNum(x))
	default:
		return true
	}
	return false
}

// Lower bounds of a duration (validator.dur).
const (
	positive    = true  // > 0
	nonNegative = false // >= 0
)

// dur reports a duration at path that is not > 0 (strict: positive) or >= 0
// (nonNegative), or is above hi. It returns whether d passed.
func (v *validator) dur(path string, d time.Duration, strict bool, hi time.Duration) bool {
	switch {
	case strict && d <= 0:
		v.add(path, "must be > 0")
	case d < 0:
		v.add(path, "must be >= 0")
	default:
		return v.durUpTo(path, d, hi)
	}
	return false
}

// durUpTo reports a duration above hi at path.
func (v *validator) durUpTo(path string, d, hi time.Duration) bool {
	if d > hi {
		v.add(path, "must be <= %v (got %v)", hi, d)
		return false
	}
	return true
}

// unreportedBigInts returns an error for each integer written too large for
// an int that validation did not report (in a field the plan's type or model
// does not use): none is ever accepted silently.
func (p *Plan) unreportedBigInts(errs Errors) Errors {
	var out Errors
	for path, x := range p.bigInts {
		if !slices.ContainsFunc(errs, func(e FieldError) bool { return e.Path == path }) {
			out = append(out, p.errAt(path, "out of range (got "+fmtNum(x)+")"))
		}
	}
	return out
}

// whole returns the value of an integer field at path as written: the
// decoded n, or the number written when it did not fit in an int (see
// decoder.integer), so that range checks report what the plan said.
func (v *validator) whole(path string, n int) float64 {
	if x, ok := v.p.bigInts[path]; ok {
		return x
	}
	return float64(n)
}
