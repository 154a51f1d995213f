package pacer

import (
	"testing"
	"time"
)

// TestSegmentDealsEveryIterationOnce checks that n segments of a schedule start
// every iteration of it exactly once, at its own time, for rates n does not
// divide, ramps and pauses included.
func TestSegmentDealsEveryIterationOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		base  *Phases
		nSegs int
	}{
		{"constant 7/s by 3", one("c", 10*time.Second, 7, 7), 3},
		{"constant 100/s by 1", one("c", time.Second, 100, 100), 1},
		{"fractional 2.5/s by 2", one("c", 3*time.Second, 2.5, 2.5), 2},
		{"ramp 0-37 by 4", one("r", 3*time.Second, 0, 37), 4},
		{"fewer iterations than segments", one("c", time.Second, 2, 2), 5},
		{"phases by 3", NewPhases(
			Phase{Name: "warm", Span: time.Second, From: 10, To: 10},
			Phase{Name: "ramp", Span: 2 * time.Second, From: 10, To: 31},
			Phase{Name: "pause", Span: time.Second},
			Phase{Name: "end", Span: time.Second, From: 5, To: 5},
		), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []time.Duration
			for k := uint64(0); ; k++ {
				at, _, ok := tc.base.At(k)
				if !ok {
					break
				}
				want = append(want, at)
			}
			seen := make(map[uint64]int)
			total := 0
			for i := range tc.nSegs {
				s, err := Segment(tc.base, i, tc.nSegs)
				if err != nil {
					t.Fatal(err)
				}
				last := time.Duration(-1)
				for m := uint64(0); ; m++ {
					at, ph, ok := s.At(m)
					if !ok {
						break
					}
					k := m*uint64(tc.nSegs) + uint64(i)
					if k >= uint64(len(want)) || at != want[k] {
						t.Fatalf("segment %d/%d: iteration %d at %v, want base iteration %d", i, tc.nSegs, m, at, k)
					}
					if at < last || ph != tc.base.Phase(at) {
						t.Errorf("segment %d/%d: iteration %d at %v (phase %d) out of order or phase", i, tc.nSegs, m, at, ph)
					}
					last = at
					seen[k]++
					total++
				}
				// Due agrees with At: iteration m is due once Due reaches m.
				if d := s.Due(tc.base.Duration()); d > float64(len(want)) {
					t.Errorf("segment %d/%d: Due at the end %v > %d", i, tc.nSegs, d, len(want))
				}
			}
			if total != len(want) {
				t.Errorf("segments started %d iterations, base has %d", total, len(want))
			}
			for k, c := range seen {
				if c != 1 {
					t.Errorf("base iteration %d started %d times", k, c)
				}
			}
		})
	}
}

func TestSegmentVUs(t *testing.T) {
	// A ramp 0 -> 10 VUs over 10 s split three ways: at every instant the
	// shares add up to the base and differ by at most one.
	base := one("r", 10*time.Second, 0, 10)
	for el := time.Duration(0); el < base.Duration(); el += 250 * time.Millisecond {
		sum, lo, hi := 0, 1<<30, -1
		for i := range 3 {
			s, _ := Segment(base, i, 3)
			v := s.VUs(el)
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		if sum != base.VUs(el) || hi-lo > 1 {
			t.Errorf("at %v: shares add to %d (want %d), spread %d..%d", el, sum, base.VUs(el), lo, hi)
		}
	}
	for _, tc := range []struct{ total, i, n, want int }{
		{10, 0, 3, 4}, {10, 1, 3, 3}, {10, 2, 3, 3}, {2, 2, 3, 0}, {0, 0, 3, 0}, {5, 0, 1, 5},
	} {
		if got := SplitVUs(tc.total, tc.i, tc.n); got != tc.want {
			t.Errorf("SplitVUs(%d, %d, %d) = %d, want %d", tc.total, tc.i, tc.n, got, tc.want)
		}
	}
}

func TestSegmentRateAndErrors(t *testing.T) {
	base := one("c", time.Second, 90, 90)
	s, err := Segment(base, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Rate(500 * time.Millisecond); r != 30 {
		t.Errorf("Rate = %v, want 30", r)
	}
	for _, tc := range []struct{ i, n int }{{3, 3}, {-1, 2}, {0, 0}} {
		if _, err := Segment(base, tc.i, tc.n); err == nil {
			t.Errorf("Segment(%d, %d): no error", tc.i, tc.n)
		}
	}
}
