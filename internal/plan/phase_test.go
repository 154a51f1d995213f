package plan

import (
	"math"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestPhaseRateAt(t *testing.T) {
	ramp := Phase{Duration: D(60 * time.Second), Rate: ptr(10.0), To: ptr(100.0)}
	flat := Phase{Duration: D(10 * time.Second), Rate: ptr(50.0)}
	down := Phase{Duration: D(10 * time.Second), Rate: ptr(100.0), To: ptr(0.0)}
	tests := []struct {
		p    Phase
		at   time.Duration
		want float64
	}{
		{ramp, 0, 10}, {ramp, 30 * time.Second, 55}, {ramp, 60 * time.Second, 100}, {ramp, 90 * time.Second, 100}, {ramp, -time.Second, 10},
		{flat, 0, 50}, {flat, 5 * time.Second, 50},
		{down, 5 * time.Second, 50}, {down, 10 * time.Second, 0},
		{Phase{Duration: D(time.Second), VUs: ptr(3)}, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.p.RateAt(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("RateAt(%v) = %g; want %g", tt.at, got, tt.want)
		}
	}
	if got := ramp.Iterations(); got != 3300 {
		t.Errorf("ramp Iterations = %g; want 3300", got)
	}
	if got := ramp.IterationsBefore(30 * time.Second); got != 975 {
		t.Errorf("ramp IterationsBefore(30s) = %g; want 975", got)
	}
	if ramp.PeakRate() != 100 || down.PeakRate() != 100 || flat.PeakRate() != 50 {
		t.Errorf("PeakRate: %g %g %g", ramp.PeakRate(), down.PeakRate(), flat.PeakRate())
	}
}

func TestPhaseVUsAt(t *testing.T) {
	ramp := Phase{Duration: D(20 * time.Second), VUs: ptr(1), To: ptr(20.0)}
	tests := []struct {
		p    Phase
		at   time.Duration
		want int
	}{
		{ramp, 0, 1}, {ramp, 10 * time.Second, 11}, {ramp, 20 * time.Second, 20}, {ramp, time.Hour, 20},
		{Phase{Duration: D(time.Second), VUs: ptr(7)}, 500 * time.Millisecond, 7},
		{Phase{Duration: D(10 * time.Second), VUs: ptr(10), To: ptr(0.0)}, 5 * time.Second, 5},
		{Phase{Duration: D(time.Second), Rate: ptr(5.0)}, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.p.VUsAt(tt.at); got != tt.want {
			t.Errorf("VUsAt(%v) = %d; want %d", tt.at, got, tt.want)
		}
	}
	if ramp.PeakVUs() != 20 {
		t.Errorf("PeakVUs = %d", ramp.PeakVUs())
	}
}

func TestLoadPhaseAt(t *testing.T) {
	l := Load{Phases: []Phase{{Name: "a", Duration: D(10 * time.Second)}, {Name: "b", Duration: D(5 * time.Second)}}}
	tests := []struct {
		at     time.Duration
		i      int
		within time.Duration
		ok     bool
	}{{0, 0, 0, true}, {9 * time.Second, 0, 9 * time.Second, true}, {10 * time.Second, 1, 0, true}, {14 * time.Second, 1, 4 * time.Second, true}, {15 * time.Second, 2, 0, false}}
	for _, tt := range tests {
		i, within, ok := l.PhaseAt(tt.at)
		if i != tt.i || within != tt.within || ok != tt.ok {
			t.Errorf("PhaseAt(%v) = %d, %v, %v; want %d, %v, %v", tt.at, i, within, ok, tt.i, tt.within, tt.ok)
		}
	}
	if l.TotalDuration() != 15*time.Second {
		t.Errorf("TotalDuration = %v", l.TotalDuration())
	}
}
