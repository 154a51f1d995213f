package plan

import (
	"math"
	"time"
)

// frac is how far elapsed is into the phase, in [0, 1].
func (p Phase) frac(elapsed time.Duration) float64 {
	d := p.Duration.Duration
	if d <= 0 || elapsed >= d {
		return 1
	}
	if elapsed <= 0 {
		return 0
	}
	return float64(elapsed) / float64(d)
}

// IsRamp reports whether the phase ramps (To is set).
func (p Phase) IsRamp() bool { return p.To != nil }

// RateAt returns the open-model rate (iterations per second) elapsed into the
// phase: Rate, or linear from Rate to To. It is 0 when Rate is unset.
func (p Phase) RateAt(elapsed time.Duration) float64 {
	if p.Rate == nil {
		return 0
	}
	if p.To == nil {
		return *p.Rate
	}
	return *p.Rate + (*p.To-*p.Rate)*p.frac(elapsed)
}

// VUsAt returns the closed-model number of virtual users elapsed into the
// phase: VUs, or linear from VUs to To, rounded to the nearest integer.
func (p Phase) VUsAt(elapsed time.Duration) int {
	if p.VUs == nil {
		return 0
	}
	if p.To == nil {
		return *p.VUs
	}
	from := float64(*p.VUs)
	return roundVUs(from + (*p.To-from)*p.frac(elapsed))
}

// roundVUs rounds a number of virtual users to an int, saturating at 0 and
// MaxVUs (which a validated plan never passes), so that no conversion of a
// plan built in Go can overflow.
func roundVUs(x float64) int {
	if !(x > 0) {
		return 0
	}
	return int(math.Round(min(x, MaxVUs)))
}

// Iterations returns the expected number of open-model iterations started
// during the phase: the integral of RateAt over its duration.
func (p Phase) Iterations() float64 {
	if p.Rate == nil {
		return 0
	}
	end := *p.Rate
	if p.To != nil {
		end = *p.To
	}
	return (*p.Rate + end) / 2 * p.Duration.Seconds()
}

// IterationsBefore returns the expected number of open-model iterations
// started in the first elapsed of the phase (for pacers: the n-th iteration is
// due when IterationsBefore reaches n).
func (p Phase) IterationsBefore(elapsed time.Duration) float64 {
	if p.Rate == nil {
		return 0
	}
	if elapsed > p.Duration.Duration {
		elapsed = p.Duration.Duration
	}
	if elapsed <= 0 {
		return 0
	}
	return (*p.Rate + p.RateAt(elapsed)) / 2 * elapsed.Seconds()
}

// PeakRate returns the phase's highest rate (0 when Rate is unset).
func (p Phase) PeakRate() float64 {
	if p.Rate == nil {
		return 0
	}
	if p.To != nil && *p.To > *p.Rate {
		return *p.To
	}
	return *p.Rate
}

// PeakVUs returns the phase's highest number of virtual users.
func (p Phase) PeakVUs() int {
	if p.VUs == nil {
		return 0
	}
	if p.To != nil && roundVUs(*p.To) > *p.VUs {
		return roundVUs(*p.To)
	}
	return *p.VUs
}

// PhaseAt returns the index of the phase running elapsed into the load and the
// time elapsed within it; ok is false once every phase has ended.
func (l Load) PhaseAt(elapsed time.Duration) (index int, within time.Duration, ok bool) {
	for i, p := range l.Phases {
		if elapsed < p.Duration.Duration {
			return i, elapsed, true
		}
		elapsed -= p.Duration.Duration
	}
	return len(l.Phases), 0, false
}
