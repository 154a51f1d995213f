package pacer

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestNext(t *testing.T) {
	phases := NewPhases(
		Phase{Name: "warm", Span: time.Second, Pacer: Constant{Freq: 10, Span: time.Second}},
		Phase{Name: "ramp", Span: 2 * time.Second, Pacer: Ramp{From: 10, To: 30, Span: 2 * time.Second}},
		Phase{Name: "pause", Span: time.Second, Pacer: Constant{Freq: 0, Span: time.Second}},
		Phase{Name: "end", Span: time.Second, Pacer: Constant{Freq: 4, Span: time.Second}},
	)
	for _, tc := range []struct {
		name     string
		p        Pacer
		elapsed  time.Duration
		sent     uint64
		wantWait time.Duration
		wantDone bool
	}{
		{"constant first hit at once", Constant{Freq: 10, Span: time.Second}, 0, 0, 0, false},
		{"constant second hit", Constant{Freq: 10, Span: time.Second}, 0, 1, 100 * ms, false},
		{"constant behind", Constant{Freq: 10, Span: time.Second}, 500 * ms, 2, 0, false},
		{"constant ahead", Constant{Freq: 10, Span: time.Second}, 150 * ms, 2, 50 * ms, false},
		{"constant last hit", Constant{Freq: 10, Span: time.Second}, 0, 9, 900 * ms, false},
		{"constant done after span", Constant{Freq: 10, Span: time.Second}, 0, 10, 0, true},
		{"constant unbounded", Constant{Freq: 1000}, 0, 1_000_000, 1000 * time.Second, false},
		{"constant zero rate", Constant{Freq: 0, Span: time.Second}, 0, 0, 0, true},
		{"constant 500/s", Constant{Freq: 500, Span: 10 * time.Second}, 0, 4999, 9998 * ms, false},
		{"constant 500/s exactly 5000", Constant{Freq: 500, Span: 10 * time.Second}, 0, 5000, 0, true},
		// ramp 0->20 over 1 s: Hits(t) = 10 t², hit n at sqrt(n/10)
		{"ramp from zero hit 0", Ramp{From: 0, To: 20, Span: time.Second}, 0, 0, 0, false},
		{"ramp from zero hit 1", Ramp{From: 0, To: 20, Span: time.Second}, 0, 1, dur(math.Sqrt(0.1)), false},
		{"ramp from zero hit 9", Ramp{From: 0, To: 20, Span: time.Second}, 0, 9, dur(math.Sqrt(0.9)), false},
		{"ramp from zero done", Ramp{From: 0, To: 20, Span: time.Second}, 0, 10, 0, true},
		// ramp down 20->0 over 1 s: Hits(t) = 20t - 10t², total 10
		{"ramp down hit 5", Ramp{From: 20, To: 0, Span: time.Second}, 0, 5, dur(1 - math.Sqrt(0.5)), false},
		{"ramp down done", Ramp{From: 20, To: 0, Span: time.Second}, 0, 10, 0, true},
		{"ramp flat", Ramp{From: 10, To: 10, Span: time.Second}, 0, 3, 300 * ms, false},
		{"ramp zero span", Ramp{From: 10, To: 10}, 0, 0, 0, true},
		// phases: 10 hits in warm, 40 in ramp (10*2 + 10*2), none in pause, 4 in end
		{"phases warm", phases, 0, 5, 500 * ms, false},
		{"phases into ramp", phases, 0, 10, time.Second, false},
		{"phases ramp hit 30", phases, 0, 30, time.Second + dur(2*20/(10+math.Sqrt(100+2*10*20))), false},
		{"phases skip pause", phases, 0, 50, 4 * time.Second, false},
		{"phases last", phases, 0, 53, 4750 * ms, false},
		{"phases done", phases, 0, 54, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, done := tc.p.Next(tc.elapsed, tc.sent)
			if done != tc.wantDone || absDur(wait-tc.wantWait) > time.Microsecond {
				t.Errorf("Next(%v, %d) = %v, %v; want %v, %v", tc.elapsed, tc.sent, wait, done, tc.wantWait, tc.wantDone)
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

func TestRate(t *testing.T) {
	phases := NewPhases(
		Phase{Name: "a", Span: time.Second, Pacer: Constant{Freq: 10, Span: time.Second}},
		Phase{Name: "b", Span: 2 * time.Second, Pacer: Ramp{From: 10, To: 30, Span: 2 * time.Second}},
	)
	for _, tc := range []struct {
		name    string
		p       Pacer
		elapsed time.Duration
		want    float64
	}{
		{"constant", Constant{Freq: 7, Span: time.Second}, 500 * ms, 7},
		{"constant after end", Constant{Freq: 7, Span: time.Second}, time.Second, 0},
		{"ramp start", Ramp{From: 10, To: 30, Span: 2 * time.Second}, 0, 10},
		{"ramp middle", Ramp{From: 10, To: 30, Span: 2 * time.Second}, time.Second, 20},
		{"ramp down", Ramp{From: 30, To: 10, Span: 2 * time.Second}, 1500 * ms, 15},
		{"phases first", phases, 999 * ms, 10},
		{"phases ramp", phases, 2 * time.Second, 20},
		{"phases end", phases, 3 * time.Second, 0},
		{"phases before", phases, -time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Rate(tc.elapsed); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Rate(%v) = %v; want %v", tc.elapsed, got, tc.want)
			}
		})
	}
}

func TestPhasesIndexAndTotal(t *testing.T) {
	p := NewPhases(
		Phase{Name: "warm-up", Span: 10 * time.Second, Pacer: Constant{Freq: 10, Span: 10 * time.Second}},
		Phase{Name: "ramp-up", Span: 60 * time.Second, Pacer: Ramp{From: 10, To: 100, Span: 60 * time.Second}},
		Phase{Name: "sustained", Span: 120 * time.Second, Pacer: Constant{Freq: 100, Span: 120 * time.Second}},
	)
	if got, want := p.Total(), uint64(100+3300+12000); got != want {
		t.Errorf("Total() = %d; want %d", got, want)
	}
	if got, want := p.Duration(), 190*time.Second; got != want {
		t.Errorf("Duration() = %v; want %v", got, want)
	}
	for _, tc := range []struct {
		elapsed time.Duration
		want    int
	}{{0, 0}, {10 * time.Second, 1}, {69 * time.Second, 1}, {70 * time.Second, 2}, {190 * time.Second, -1}, {-1, -1}} {
		if got := p.Index(tc.elapsed); got != tc.want {
			t.Errorf("Index(%v) = %d; want %d", tc.elapsed, got, tc.want)
		}
	}
	// Every hit is due in the phase AtPhase says, in non-decreasing order,
	// and there are exactly Total() of them.
	var prev time.Duration
	var n uint64
	for ; ; n++ {
		at, i, ok := p.AtPhase(float64(n))
		if !ok {
			break
		}
		if at < prev {
			t.Fatalf("hit %d at %v before hit %d at %v", n, at, n-1, prev)
		}
		if got := p.Index(at); got != i {
			t.Fatalf("hit %d at %v: AtPhase says phase %d, Index says %d", n, at, i, got)
		}
		prev = at
	}
	if n != p.Total() {
		t.Errorf("AtPhase emitted %d hits; Total() = %d", n, p.Total())
	}
}
