package pacer

import (
	"fmt"
	"time"
)

// Segment returns generator i's share of base when n generators run it
// together (0 <= i < n): the open model's iteration k of base goes to
// generator k mod n, so generator i's iteration m is base's iteration m*n+i,
// due when base has it due; the closed model's virtual users are split
// floor/ceil at every instant (generator i has VUs/n, plus one when
// i < VUs mod n), ramps included. Whatever the rate, the n shares together
// start every iteration of base exactly once and run its VU count exactly.
// Phases and the end stay base's. With n == 1 it is base.
func Segment(base Schedule, i, n int) (Schedule, error) {
	if n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("segment %d/%d: want 0 <= I < N", i, n)
	}
	if n == 1 {
		return base, nil
	}
	return segment{base, uint64(i), uint64(n)}, nil
}

type segment struct {
	Schedule
	i, n uint64
}

func (s segment) At(k uint64) (time.Duration, int, bool) {
	if k > (^uint64(0)-s.i)/s.n {
		return 0, -1, false
	}
	return s.Schedule.At(k*s.n + s.i)
}

// Due is the number of base's iterations due that fall to this generator,
// as a fraction in the same sense as base's: iteration m is due when Due
// reaches m.
func (s segment) Due(t time.Duration) float64 {
	return (s.Schedule.Due(t) - float64(s.i)) / float64(s.n)
}

func (s segment) Rate(t time.Duration) float64 { return s.Schedule.Rate(t) / float64(s.n) }

func (s segment) VUs(t time.Duration) int { return SplitVUs(s.Schedule.VUs(t), int(s.i), int(s.n)) }

// SplitVUs returns generator i's share of total virtual users among n:
// total/n, plus one for the first total mod n generators.
func SplitVUs(total, i, n int) int {
	if total <= 0 || n <= 0 {
		return 0
	}
	v := total / n
	if i < total%n {
		v++
	}
	return v
}
