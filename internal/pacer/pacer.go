// Package pacer computes when the requests (iterations) of an open-model load
// are due. A Pacer is a pure function of elapsed time: it says how many hits
// are due by a time (Hits), when a given hit is due (At), how long to wait
// for the next one (Next, vegeta's shape) and the rate now (Rate).
//
// Hit n (counting from 0) is due at the time t where Hits(t) = n, so a
// constant 500/s pacer over 10 s emits exactly 5000 hits, at 0, 2 ms, 4 ms,
// ... 9.998 s. Latency is measured from these intended times, never from when
// a request actually went out.
package pacer

import (
	"math"
	"time"
)

// Pacer schedules hits over a bounded or unbounded span of time.
type Pacer interface {
	// Next returns how long to wait from elapsed until hit number sent
	// (0-based) is due (0 when it is already due), and done = true when
	// that hit falls after the pacer's end.
	Next(elapsed time.Duration, sent uint64) (wait time.Duration, done bool)
	// Rate returns the intended hits per second at elapsed.
	Rate(elapsed time.Duration) float64
	// Hits returns the (fractional) number of hits due in [0, elapsed].
	Hits(elapsed time.Duration) float64
	// At returns when the cumulative hit count reaches hits (the intended
	// time of hit number hits), and ok = false when that is never within
	// the pacer's span.
	At(hits float64) (at time.Duration, ok bool)
	// Duration returns the pacer's span (0 = unbounded).
	Duration() time.Duration
}

// next implements Pacer.Next from At.
func next(p Pacer, elapsed time.Duration, sent uint64) (time.Duration, bool) {
	at, ok := p.At(float64(sent))
	if !ok {
		return 0, true
	}
	if at <= elapsed {
		return 0, false
	}
	return at - elapsed, false
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func dur(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/1e9 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * 1e9))
}

// Constant is a fixed rate of Freq hits per second for Span (0 = forever).
// A Freq <= 0 emits nothing (a pause when used as a phase).
type Constant struct {
	Freq float64
	Span time.Duration
}

var _ Pacer = Constant{}

// Next implements Pacer.
func (c Constant) Next(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	return next(c, elapsed, sent)
}

// Rate implements Pacer.
func (c Constant) Rate(elapsed time.Duration) float64 {
	if c.Freq <= 0 || (c.Span > 0 && elapsed >= c.Span) {
		return 0
	}
	return c.Freq
}

// Hits implements Pacer.
func (c Constant) Hits(elapsed time.Duration) float64 {
	if c.Freq <= 0 || elapsed <= 0 {
		return 0
	}
	if c.Span > 0 && elapsed > c.Span {
		elapsed = c.Span
	}
	return c.Freq * seconds(elapsed)
}

// At implements Pacer.
func (c Constant) At(hits float64) (time.Duration, bool) {
	if c.Freq <= 0 || hits < 0 {
		return 0, false
	}
	at := dur(hits / c.Freq)
	if c.Span > 0 && at >= c.Span {
		return 0, false
	}
	return at, true
}

// Duration implements Pacer.
func (c Constant) Duration() time.Duration { return c.Span }

// String describes the pacer.
func (c Constant) String() string { return "constant " + fmtRate(c.Freq) + " for " + c.Span.String() }

// Ramp changes the rate linearly from From to To hits per second over Span
// (which must be > 0; a Ramp with Span <= 0 emits nothing). Either end may be
// 0 (a ramp from or to silence).
type Ramp struct {
	From, To float64
	Span     time.Duration
}

var _ Pacer = Ramp{}

// Next implements Pacer.
func (r Ramp) Next(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	return next(r, elapsed, sent)
}

func (r Ramp) slope() float64 { return (r.To - r.From) / seconds(r.Span) }

// Rate implements Pacer.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	if r.Span <= 0 || elapsed < 0 || elapsed >= r.Span {
		return 0
	}
	return math.Max(0, r.From+r.slope()*seconds(elapsed))
}

// Hits implements Pacer: From*t + slope*t²/2.
func (r Ramp) Hits(elapsed time.Duration) float64 {
	if r.Span <= 0 || elapsed <= 0 {
		return 0
	}
	if elapsed > r.Span {
		elapsed = r.Span
	}
	t := seconds(elapsed)
	return math.Max(0, r.From*t+r.slope()*t*t/2)
}

// At implements Pacer by solving slope*t²/2 + From*t = hits for t, in the
// form 2h/(From+sqrt(From²+2*slope*h)), which is stable for either sign of
// the slope and reduces to h/From when the slope is 0.
func (r Ramp) At(hits float64) (time.Duration, bool) {
	if r.Span <= 0 || hits < 0 || r.From < 0 || r.To < 0 {
		return 0, false
	}
	if hits == 0 {
		if r.From > 0 {
			return 0, true
		}
		if r.To <= 0 {
			return 0, false
		}
		// From 0: hit 0 is due at once too (the count is 0 at t=0).
		return 0, true
	}
	a := r.slope()
	disc := r.From*r.From + 2*a*hits
	if disc < 0 {
		return 0, false
	}
	den := r.From + math.Sqrt(disc)
	if den <= 0 {
		return 0, false
	}
	at := dur(2 * hits / den)
	if at >= r.Span {
		return 0, false
	}
	return at, true
}

// Duration implements Pacer.
func (r Ramp) Duration() time.Duration { return r.Span }

// String describes the pacer.
func (r Ramp) String() string {
	return "ramp " + fmtRate(r.From) + " to " + fmtRate(r.To) + " over " + r.Span.String()
}

func fmtRate(f float64) string { return formatFloat(f) + "/s" }
