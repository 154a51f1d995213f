// Package pacer owns a run's load profile over time: the Schedule the
// executor follows, built from the plan's phases (Phases), and the
// decorators that change it while it runs (WithRate, Resume, WithVUs). It
// decides when each open-model iteration is due, which phase runs, and the
// rate and number of virtual users intended at any moment; nothing else in
// the tree computes those.
//
// Iteration k (counting from 0) is due at the time t where Due(t) = k, so a
// constant 500/s phase of 10 s emits exactly 5000 iterations, at 0, 2 ms,
// 4 ms, ... 9.998 s. Latency is measured from these intended times, never
// from when a request actually went out.
//
// A decorator wraps a Schedule and keeps its phases and end. The executor
// wraps the plan's schedule at run time: WithRate when the control API sets
// a rate, Resume when it clears it, WithVUs for a VU count. A share of the
// load for one of N generators (iteration k to generator k mod N, VUs split
// floor/ceil) is one more decorator of the same kind.
package pacer

import (
	"math"
	"time"
)

// Schedule is a load profile. Times are offsets from the run's start.
type Schedule interface {
	// At returns the intended start of iteration k (0-based, in order of
	// due time) and the index of the phase it falls in; ok is false when
	// iteration k is not due before the end.
	At(k uint64) (at time.Duration, phase int, ok bool)
	// Due returns the (fractional) number of iterations due in [0, t].
	Due(t time.Duration) float64
	// Rate returns the iterations per second intended at t (open model).
	Rate(t time.Duration) float64
	// VUs returns the number of virtual users intended at t (closed model).
	VUs(t time.Duration) int
	// Phase returns the index of the phase running at t, or -1 before 0 and
	// from the end on.
	Phase(t time.Duration) int
	// Duration returns the schedule's span.
	Duration() time.Duration
}

// Phase is one named stage of a profile: over Span its level goes linearly
// from From to To, in iterations per second for the open model and virtual
// users for the closed one. From == To is a constant level, 0 a pause.
type Phase struct {
	Name     string
	Span     time.Duration
	From, To float64
}

func (p Phase) slope() float64 { return (p.To - p.From) / p.Span.Seconds() }

// level is the phase's level at t into it (t in [0, Span)).
func (p Phase) level(t time.Duration) float64 { return max(0, p.From+p.slope()*t.Seconds()) }

// hits returns the iterations due in the first t of the phase:
// From*t + slope*t²/2.
func (p Phase) hits(t time.Duration) float64 {
	if p.Span <= 0 || t <= 0 {
		return 0
	}
	s := min(t, p.Span).Seconds()
	return max(0, p.From*s+p.slope()*s*s/2)
}

// at returns when, into the phase, hits reaches h, solving
// slope*t²/2 + From*t = h in the form 2h/(From+sqrt(From²+2*slope*h)), which
// is stable for either sign of the slope and is h/From when it is 0; ok is
// false when that is not within the phase.
func (p Phase) at(h float64) (time.Duration, bool) {
	if p.Span <= 0 || h < 0 || p.From < 0 || p.To < 0 {
		return 0, false
	}
	if h == 0 { // iteration 0 is due at once, even on a ramp from 0
		return 0, p.From > 0 || p.To > 0
	}
	disc := p.From*p.From + 2*p.slope()*h
	if disc < 0 {
		return 0, false
	}
	den := p.From + math.Sqrt(disc)
	if den <= 0 {
		return 0, false
	}
	at := dur(2 * h / den)
	return at, at < p.Span
}

func dur(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/1e9 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * 1e9))
}

// Phases is the Schedule of a plan's phases, walked in order. The count of
// iterations carries across phase boundaries exactly (a fractional one left
// at the end of a phase completes in the next), so the total is the integral
// of the rate.
type Phases struct {
	list   []Phase
	starts []time.Duration // start of each phase
	hits   []float64       // iterations due before each phase
	total  time.Duration
	all    float64
}

var _ Schedule = (*Phases)(nil)

// NewPhases returns the schedule of list (phases with Span <= 0 are kept but
// take no time).
func NewPhases(list ...Phase) *Phases {
	p := &Phases{list: list}
	for _, ph := range list {
		p.starts = append(p.starts, p.total)
		p.hits = append(p.hits, p.all)
		if ph.Span > 0 {
			p.all += ph.hits(ph.Span)
			p.total += ph.Span
		}
	}
	return p
}

// Bounds returns when phase i starts and ends.
func (p *Phases) Bounds(i int) (start, end time.Duration) {
	return p.starts[i], p.starts[i] + max(p.list[i].Span, 0)
}

// Phase implements Schedule.
func (p *Phases) Phase(t time.Duration) int {
	if t < 0 || t >= p.total {
		return -1
	}
	for i := len(p.list) - 1; i >= 0; i-- {
		if p.list[i].Span > 0 && t >= p.starts[i] {
			return i
		}
	}
	return -1
}

// level returns the level at t (0 outside the schedule).
func (p *Phases) level(t time.Duration) float64 {
	i := p.Phase(t)
	if i < 0 {
		return 0
	}
	return p.list[i].level(t - p.starts[i])
}

// Rate implements Schedule.
func (p *Phases) Rate(t time.Duration) float64 { return p.level(t) }

// VUs implements Schedule: the level, rounded.
func (p *Phases) VUs(t time.Duration) int { return int(math.Round(p.level(t))) }

// Due implements Schedule.
func (p *Phases) Due(t time.Duration) float64 {
	if t >= p.total {
		return p.all
	}
	i := p.Phase(t)
	if i < 0 {
		return 0
	}
	return p.hits[i] + p.list[i].hits(t-p.starts[i])
}

// At implements Schedule.
func (p *Phases) At(k uint64) (time.Duration, int, bool) {
	h := float64(k)
	for i, ph := range p.list {
		if ph.Span <= 0 || h >= p.hits[i]+ph.hits(ph.Span) {
			continue // the iteration falls in a later phase
		}
		if at, ok := ph.at(h - p.hits[i]); ok {
			return p.starts[i] + at, i, true
		} // else rounding at the very end of a phase: try the next one
	}
	return 0, -1, false
}

// Duration implements Schedule: the sum of the phases' spans.
func (p *Phases) Duration() time.Duration { return p.total }

// WithRate returns base with its rate set to rate from time from on, where
// iteration k (the first not yet started) is due: iteration k+j is due at
// from + j/rate, and a rate of 0 starts none. Phases, VUs and the end stay
// base's. It is a rate change made while the run goes on.
func WithRate(base Schedule, from time.Duration, k uint64, rate float64) Schedule {
	return rated{base, from, k, rate}
}

type rated struct {
	Schedule
	from time.Duration
	k    uint64
	rate float64
}

func (r rated) At(k uint64) (time.Duration, int, bool) {
	if r.rate <= 0 || k < r.k {
		return 0, -1, false
	}
	at := r.from + dur(float64(k-r.k)/r.rate)
	if at >= r.Duration() {
		return 0, -1, false
	}
	return at, r.Phase(at), true
}

func (r rated) Due(t time.Duration) float64 {
	t = min(t, r.Duration())
	if t < r.from {
		return float64(r.k)
	}
	return float64(r.k) + r.rate*(t-r.from).Seconds()
}

func (r rated) Rate(t time.Duration) float64 {
	if t < r.from || r.Phase(t) < 0 {
		return r.Schedule.Rate(t)
	}
	return r.rate
}

// Resume returns base with iteration k due when base's first iteration after
// t is: clearing a rate change at t, the schedule goes on from where base is
// at t, whatever number of iterations the change started.
func Resume(base Schedule, t time.Duration, k uint64) Schedule {
	return shifted{base, int64(math.Ceil(base.Due(t))) - int64(k)}
}

type shifted struct {
	Schedule
	by int64 // base's iteration k+by is this schedule's iteration k
}

func (s shifted) At(k uint64) (time.Duration, int, bool) {
	if int64(k)+s.by < 0 {
		return 0, -1, false
	}
	return s.Schedule.At(uint64(int64(k) + s.by))
}

func (s shifted) Due(t time.Duration) float64 { return s.Schedule.Due(t) - float64(s.by) }

// WithVUs returns base with n virtual users wherever a phase runs: a VU
// count set while the run goes on.
func WithVUs(base Schedule, n int) Schedule { return vus{base, n} }

type vus struct {
	Schedule
	n int
}

func (v vus) VUs(t time.Duration) int {
	if v.Phase(t) < 0 {
		return 0
	}
	return v.n
}
