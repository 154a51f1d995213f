package pacer

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func one(name string, span time.Duration, from, to float64) *Phases {
	return NewPhases(Phase{Name: name, Span: span, From: from, To: to})
}

func TestAt(t *testing.T) {
	phases := NewPhases(
		Phase{Name: "warm", Span: time.Second, From: 10, To: 10},
		Phase{Name: "ramp", Span: 2 * time.Second, From: 10, To: 30},
		Phase{Name: "pause", Span: time.Second},
		Phase{Name: "end", Span: time.Second, From: 4, To: 4},
	)
	for _, tc := range []struct {
		name   string
		s      Schedule
		k      uint64
		want   time.Duration
		phase  int
		wantOK bool
	}{
		{"constant first at once", one("c", time.Second, 10, 10), 0, 0, 0, true},
		{"constant second", one("c", time.Second, 10, 10), 1, 100 * ms, 0, true},
		{"constant last", one("c", time.Second, 10, 10), 9, 900 * ms, 0, true},
		{"constant none after the span", one("c", time.Second, 10, 10), 10, 0, -1, false},
		{"constant zero rate", one("c", time.Second, 0, 0), 0, 0, -1, false},
		{"constant 500/s", one("c", 10*time.Second, 500, 500), 4999, 9998 * ms, 0, true},
		{"constant 500/s exactly 5000", one("c", 10*time.Second, 500, 500), 5000, 0, -1, false},
		// ramp 0->20 over 1 s: Due(t) = 10 t², iteration n at sqrt(n/10)
		{"ramp from zero 0", one("r", time.Second, 0, 20), 0, 0, 0, true},
		{"ramp from zero 1", one("r", time.Second, 0, 20), 1, dur(math.Sqrt(0.1)), 0, true},
		{"ramp from zero 9", one("r", time.Second, 0, 20), 9, dur(math.Sqrt(0.9)), 0, true},
		{"ramp from zero done", one("r", time.Second, 0, 20), 10, 0, -1, false},
		// ramp down 20->0 over 1 s: Due(t) = 20t - 10t², total 10
		{"ramp down 5", one("r", time.Second, 20, 0), 5, dur(1 - math.Sqrt(0.5)), 0, true},
		{"ramp down done", one("r", time.Second, 20, 0), 10, 0, -1, false},
		{"zero span", one("r", 0, 10, 10), 0, 0, -1, false},
		// phases: 10 in warm, 40 in ramp (10*2 + 10*2), none in pause, 4 in end
		{"phases warm", phases, 5, 500 * ms, 0, true},
		{"phases into ramp", phases, 10, time.Second, 1, true},
		{"phases ramp 30", phases, 30, time.Second + dur(2*20/(10+math.Sqrt(100+2*10*20))), 1, true},
		{"phases skip pause", phases, 50, 4 * time.Second, 3, true},
		{"phases last", phases, 53, 4750 * ms, 3, true},
		{"phases done", phases, 54, 0, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, phase, ok := tc.s.At(tc.k)
			if ok != tc.wantOK || (ok && (absDur(at-tc.want) > time.Microsecond || phase != tc.phase)) {
				t.Errorf("At(%d) = %v, %d, %v; want %v, %d, %v", tc.k, at, phase, ok, tc.want, tc.phase, tc.wantOK)
			}
		})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestRateAndVUs(t *testing.T) {
	phases := NewPhases(Phase{Name: "a", Span: time.Second, From: 10, To: 10}, Phase{Name: "b", Span: 2 * time.Second, From: 10, To: 30})
	vus := one("v", 20*time.Second, 1, 20)
	for _, tc := range []struct {
		name string
		s    Schedule
		t    time.Duration
		rate float64
		vus  int
	}{
		{"constant", one("c", time.Second, 7, 7), 500 * ms, 7, 7},
		{"constant after end", one("c", time.Second, 7, 7), time.Second, 0, 0},
		{"ramp start", one("r", 2*time.Second, 10, 30), 0, 10, 10},
		{"ramp middle", one("r", 2*time.Second, 10, 30), time.Second, 20, 20},
		{"ramp down", one("r", 2*time.Second, 30, 10), 1500 * ms, 15, 15},
		{"ramp down to zero", one("r", 10*time.Second, 10, 0), 5 * time.Second, 5, 5},
		{"phases first", phases, 999 * ms, 10, 10},
		{"phases ramp", phases, 2 * time.Second, 20, 20},
		{"phases end", phases, 3 * time.Second, 0, 0},
		{"phases before", phases, -time.Second, 0, 0},
		{"VUs ramp start", vus, 0, 1, 1},
		{"VUs ramp rounded", vus, 10 * time.Second, 10.5, 11},
		{"VUs ramp end", vus, 19999 * ms, 19.99905, 20},
		{"VUs after", vus, time.Hour, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Rate(tc.t); math.Abs(got-tc.rate) > 1e-9 {
				t.Errorf("Rate(%v) = %v; want %v", tc.t, got, tc.rate)
			}
			if got := tc.s.VUs(tc.t); got != tc.vus {
				t.Errorf("VUs(%v) = %v; want %v", tc.t, got, tc.vus)
			}
		})
	}
}

func TestPhasesAndDue(t *testing.T) {
	p := NewPhases(
		Phase{Name: "warm-up", Span: 10 * time.Second, From: 10, To: 10},
		Phase{Name: "ramp-up", Span: 60 * time.Second, From: 10, To: 100},
		Phase{Name: "sustained", Span: 120 * time.Second, From: 100, To: 100},
	)
	const total = 100 + 3300 + 12000
	if got := p.Due(p.Duration()); got != total {
		t.Errorf("Due(end) = %v; want %v", got, total)
	}
	if got := p.Due(40 * time.Second); got != 100+975 { // 30 s into the ramp: (10+55)/2*30
		t.Errorf("Due(40s) = %v; want %v", got, 100+975)
	}
	if got, want := p.Duration(), 190*time.Second; got != want {
		t.Errorf("Duration() = %v; want %v", got, want)
	}
	if s, e := p.Bounds(1); s != 10*time.Second || e != 70*time.Second {
		t.Errorf("Bounds(1) = %v, %v; want 10s, 1m10s", s, e)
	}
	for _, tc := range []struct {
		t    time.Duration
		want int
	}{{0, 0}, {10 * time.Second, 1}, {69 * time.Second, 1}, {70 * time.Second, 2}, {190 * time.Second, -1}, {-1, -1}} {
		if got := p.Phase(tc.t); got != tc.want {
			t.Errorf("Phase(%v) = %d; want %d", tc.t, got, tc.want)
		}
	}
	// Every iteration is due in the phase At says, in non-decreasing order,
	// and there are exactly Due(end) of them.
	var prev time.Duration
	var n uint64
	for ; ; n++ {
		at, i, ok := p.At(n)
		if !ok {
			break
		}
		if at < prev {
			t.Fatalf("iteration %d at %v before iteration %d at %v", n, at, n-1, prev)
		}
		if got := p.Phase(at); got != i {
			t.Fatalf("iteration %d at %v: At says phase %d, Phase says %d", n, at, i, got)
		}
		prev = at
	}
	if n != total {
		t.Errorf("At gave %d iterations; want %d", n, total)
	}
}

// TestRateChange walks a run whose rate is changed and then cleared: the
// iterations follow the new rate from the change on, and the plan's
// schedule from where it is at the clearing.
func TestRateChange(t *testing.T) {
	base := NewPhases(Phase{Name: "a", Span: 10 * time.Second, From: 10, To: 10}, Phase{Name: "b", Span: 10 * time.Second, From: 20, To: 20})
	// 10/s for 1 s (iterations 0-9), then 100/s from 1 s: iteration 10 at 1 s, 11 at 1.01 s, ...
	s := WithRate(base, time.Second, 10, 100)
	for _, tc := range []struct {
		k     uint64
		at    time.Duration
		phase int
	}{{10, time.Second, 0}, {11, 1010 * ms, 0}, {910, 10 * time.Second, 1}, {2909, 29990 * ms, 1}} {
		at, phase, ok := s.At(tc.k)
		if tc.at >= base.Duration() {
			if ok {
				t.Errorf("WithRate At(%d) = %v; want none after the end", tc.k, at)
			}
			continue
		}
		if !ok || at != tc.at || phase != tc.phase {
			t.Errorf("WithRate At(%d) = %v, %d, %v; want %v, %d", tc.k, at, phase, ok, tc.at, tc.phase)
		}
	}
	if _, _, ok := s.At(2910); ok {
		t.Error("WithRate At(2910) is due; want none at or after the end (20 s)")
	}
	if r := s.Rate(5 * time.Second); r != 100 {
		t.Errorf("WithRate Rate(5s) = %v; want 100", r)
	}
	if r := s.Rate(500 * ms); r != 10 {
		t.Errorf("WithRate Rate(0.5s) = %v; want 10 (before the change)", r)
	}
	if r := s.Rate(20 * time.Second); r != 0 {
		t.Errorf("WithRate Rate(20s) = %v; want 0 after the end", r)
	}
	if got := s.Due(2 * time.Second); got != 110 {
		t.Errorf("WithRate Due(2s) = %v; want 110", got)
	}
	if _, _, ok := WithRate(base, time.Second, 10, 0).At(10); ok {
		t.Error("WithRate(0) At is due; want none")
	}

	// Cleared at 12 s after 1110 iterations: base is at Due(12s) = 100+40 = 140,
	// so iteration 1110 is base's 140 (at 12 s) and 1111 base's 141 (12.05 s).
	r := Resume(base, 12*time.Second, 1110)
	for _, tc := range []struct {
		k  uint64
		at time.Duration
	}{{1110, 12 * time.Second}, {1111, 12050 * ms}} {
		if at, phase, ok := r.At(tc.k); !ok || absDur(at-tc.at) > time.Microsecond || phase != 1 {
			t.Errorf("Resume At(%d) = %v, %d, %v; want %v in phase 1", tc.k, at, phase, ok, tc.at)
		}
	}
	if got := r.Due(20 * time.Second); got != 1110+160 {
		t.Errorf("Resume Due(end) = %v; want %v", got, 1110+160)
	}
	if got := r.Rate(15 * time.Second); got != 20 {
		t.Errorf("Resume Rate(15s) = %v; want the plan's 20", got)
	}
	// Cleared mid-interval: base's next iteration is the one after t.
	if at, _, _ := Resume(base, 12010*ms, 5).At(5); at != 12050*ms {
		t.Errorf("Resume at 12.01s: first at %v; want 12.05s", at)
	}
}

func TestWithVUs(t *testing.T) {
	base := one("a", 10*time.Second, 1, 20)
	s := WithVUs(base, 7)
	for _, tc := range []struct {
		t    time.Duration
		want int
	}{{0, 7}, {9 * time.Second, 7}, {10 * time.Second, 0}, {-1, 0}} {
		if got := s.VUs(tc.t); got != tc.want {
			t.Errorf("WithVUs VUs(%v) = %d; want %d", tc.t, got, tc.want)
		}
	}
	if s.Phase(time.Second) != 0 || s.Duration() != 10*time.Second {
		t.Error("WithVUs changed the phases or the end")
	}
}
