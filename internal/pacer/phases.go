package pacer

import (
	"strconv"
	"strings"
	"time"
)

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Phase is one named stage of a load profile: Pacer runs for Span from the
// phase's start (the pacer's own Duration is ignored; build it with the same
// span).
type Phase struct {
	Name  string
	Span  time.Duration
	Pacer Pacer
}

// Phases walks its phases in order. The hit count carries across phase
// boundaries exactly (a fractional hit left at the end of one phase
// completes in the next), so the total is the integral of the rate.
type Phases struct {
	list   []Phase
	starts []time.Duration // start of each phase
	hits   []float64       // hits due before each phase
	total  time.Duration
	all    float64
}

var _ Pacer = (*Phases)(nil)

// NewPhases returns a Phases pacer over list (phases with Span <= 0 are kept
// but take no time).
func NewPhases(list ...Phase) *Phases {
	p := &Phases{list: list}
	for _, ph := range list {
		p.starts = append(p.starts, p.total)
		p.hits = append(p.hits, p.all)
		if ph.Span > 0 && ph.Pacer != nil {
			p.all += ph.Pacer.Hits(ph.Span)
			p.total += ph.Span
		}
	}
	return p
}

// Len returns the number of phases.
func (p *Phases) Len() int { return len(p.list) }

// Phase returns phase i and its start offset.
func (p *Phases) Phase(i int) (Phase, time.Duration) { return p.list[i], p.starts[i] }

// Index returns the index of the phase running at elapsed, or -1 when elapsed
// is before 0 or at/after the end.
func (p *Phases) Index(elapsed time.Duration) int {
	if elapsed < 0 || elapsed >= p.total {
		return -1
	}
	for i := len(p.list) - 1; i >= 0; i-- {
		if p.list[i].Span > 0 && elapsed >= p.starts[i] {
			return i
		}
	}
	return -1
}

// Next implements Pacer.
func (p *Phases) Next(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	return next(p, elapsed, sent)
}

// Rate implements Pacer.
func (p *Phases) Rate(elapsed time.Duration) float64 {
	i := p.Index(elapsed)
	if i < 0 || p.list[i].Pacer == nil {
		return 0
	}
	return p.list[i].Pacer.Rate(elapsed - p.starts[i])
}

// Hits implements Pacer.
func (p *Phases) Hits(elapsed time.Duration) float64 {
	if elapsed >= p.total {
		return p.all
	}
	i := p.Index(elapsed)
	if i < 0 {
		return 0
	}
	return p.hits[i] + p.list[i].Pacer.Hits(elapsed-p.starts[i])
}

// At implements Pacer.
func (p *Phases) At(hits float64) (time.Duration, bool) {
	at, _, ok := p.AtPhase(hits)
	return at, ok
}

// AtPhase is At that also returns the index of the phase the hit falls in.
func (p *Phases) AtPhase(hits float64) (time.Duration, int, bool) {
	if hits < 0 {
		return 0, -1, false
	}
	for i, ph := range p.list {
		if ph.Span <= 0 || ph.Pacer == nil {
			continue
		}
		if next := p.hits[i] + ph.Pacer.Hits(ph.Span); hits >= next {
			continue // hit falls in a later phase
		}
		at, ok := ph.Pacer.At(hits - p.hits[i])
		if !ok || at >= ph.Span {
			// rounding at the very end of a phase: try the next one
			continue
		}
		return p.starts[i] + at, i, true
	}
	return 0, -1, false
}

// Duration implements Pacer: the sum of the phases' spans.
func (p *Phases) Duration() time.Duration { return p.total }

// Total returns the number of hits the whole profile emits.
func (p *Phases) Total() uint64 {
	// hit n exists when n < all (n is due at Hits = n)
	n := uint64(p.all)
	if float64(n) < p.all {
		n++
	}
	return n
}

// String describes the profile.
func (p *Phases) String() string {
	var b strings.Builder
	for i, ph := range p.list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ph.Name)
		b.WriteString(": ")
		if s, ok := ph.Pacer.(interface{ String() string }); ok {
			b.WriteString(s.String())
		}
	}
	return b.String()
}
