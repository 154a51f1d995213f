package target

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Latency is the service-time distribution of one route, before scaling.
//
//   - Mean == 0: uniform on [Min, Max]; Min == Max is a fixed service time.
//   - Mean > 0: a long tail: Min plus an exponential with mean Mean-Min, capped at Max.
//
// Service time is slept while the request holds a pool worker, so it also sets
// the capacity: workers / mean service time.
type Latency struct {
	Min  time.Duration `json:"min"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean,omitempty"`
}

// Fixed returns a Latency that is always d.
func Fixed(d time.Duration) Latency { return Latency{Min: d, Max: d} }

// Uniform returns a Latency uniform on [min, max].
func Uniform(min, max time.Duration) Latency { return Latency{Min: min, Max: max} }

// Validate reports an inconsistent distribution.
func (l Latency) Validate() error {
	switch {
	case l.Min < 0 || l.Max < 0 || l.Mean < 0:
		return fmt.Errorf("durations must not be negative")
	case l.Max < l.Min:
		return fmt.Errorf("max %v is below min %v", l.Max, l.Min)
	case l.Mean > 0 && (l.Mean <= l.Min || l.Mean >= l.Max):
		return fmt.Errorf("mean %v must lie strictly between min %v and max %v", l.Mean, l.Min, l.Max)
	}
	return nil
}

// Sample draws one service time (unscaled).
func (l Latency) Sample() time.Duration {
	if l.Mean > 0 {
		d := l.Min + time.Duration(rand.ExpFloat64()*float64(l.Mean-l.Min))
		return min(d, l.Max)
	}
	if l.Max <= l.Min {
		return l.Min
	}
	return l.Min + rand.N(l.Max-l.Min+1)
}

// Expected is the distribution's exact mean (the capped exponential included).
func (l Latency) Expected() time.Duration {
	if l.Mean > 0 {
		m := float64(l.Mean - l.Min)
		c := float64(l.Max - l.Min)
		return l.Min + time.Duration(m*(1-math.Exp(-c/m)))
	}
	return (l.Min + l.Max) / 2
}

// String renders the flag form: "20ms-80ms", "40ms", or "5ms-250ms~15ms" (mean after ~).
func (l Latency) String() string {
	switch {
	case l.Mean > 0:
		return fmt.Sprintf("%v-%v~%v", l.Min, l.Max, l.Mean)
	case l.Min == l.Max:
		return l.Min.String()
	}
	return fmt.Sprintf("%v-%v", l.Min, l.Max)
}

// ParseLatency parses the flag form of a Latency: "40ms" (fixed), "20ms-80ms"
// (uniform) or "5ms-250ms~15ms" (exponential tail with mean 15ms, capped at 250ms).
func ParseLatency(s string) (Latency, error) {
	var l Latency
	body, mean, hasMean := strings.Cut(strings.TrimSpace(s), "~")
	lo, hi, isRange := strings.Cut(body, "-")
	var err error
	if l.Min, err = time.ParseDuration(strings.TrimSpace(lo)); err != nil {
		return Latency{}, fmt.Errorf("latency %q: %w", s, err)
	}
	l.Max = l.Min
	if isRange {
		if l.Max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return Latency{}, fmt.Errorf("latency %q: %w", s, err)
		}
	}
	if hasMean {
		if l.Mean, err = time.ParseDuration(strings.TrimSpace(mean)); err != nil {
			return Latency{}, fmt.Errorf("latency %q: %w", s, err)
		}
	}
	if err := l.Validate(); err != nil {
		return Latency{}, fmt.Errorf("latency %q: %w", s, err)
	}
	return l, nil
}
