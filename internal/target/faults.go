package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

var inf = math.Inf(1)

// Faults are the injected faults. They apply to PooledRoutes only.
type Faults struct {
	// ErrorRate is the share (0-1) of requests answered 500 after their service time.
	ErrorRate float64
	// StallEvery and StallFor: StallEvery after the faults were set, and every
	// StallEvery from then on, a stall of StallFor begins. A request arriving
	// during a stall is held (before it queues for a worker) until the stall ends.
	StallEvery time.Duration
	StallFor   time.Duration
	// AddedLatency is added to every service time (not scaled by LatencyScale),
	// while the request holds its worker.
	AddedLatency time.Duration
}

// Validate checks the faults.
func (f Faults) Validate() error {
	switch {
	case math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("error rate %v: must be within 0-1", f.ErrorRate)
	case f.StallEvery < 0 || f.StallFor < 0 || f.AddedLatency < 0:
		return errors.New("durations must not be negative")
	case (f.StallEvery == 0) != (f.StallFor == 0):
		return errors.New("stall every and stall for must be set together")
	case f.StallFor >= f.StallEvery && f.StallEvery > 0:
		return fmt.Errorf("stall for %v must be shorter than stall every %v", f.StallFor, f.StallEvery)
	}
	return nil
}

// faultsJSON is the wire form of Faults on /admin/faults (durations as Go
// duration strings such as "1.5s").
type faultsJSON struct {
	ErrorRate    float64 `json:"error_rate"`
	StallEvery   string  `json:"stall_every"`
	StallFor     string  `json:"stall_for"`
	AddedLatency string  `json:"added_latency"`
}

// MarshalJSON renders durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{f.ErrorRate, f.StallEvery.String(), f.StallFor.String(), f.AddedLatency.String()})
}

// UnmarshalJSON parses the wire form; a missing field is zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out, err := w.faults()
	if err != nil {
		return err
	}
	*f = out
	return nil
}

// faults converts the wire form; an empty duration is zero.
func (w faultsJSON) faults() (Faults, error) {
	out := Faults{ErrorRate: w.ErrorRate}
	for _, d := range []struct {
		name string
		s    string
		p    *time.Duration
	}{{"stall_every", w.StallEvery, &out.StallEvery}, {"stall_for", w.StallFor, &out.StallFor}, {"added_latency", w.AddedLatency, &out.AddedLatency}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return Faults{}, fmt.Errorf("%s: %w", d.name, err)
		}
		*d.p = v
	}
	return out, nil
}

// faultPhase is the faults in force and when they were set (the stall clock's origin).
type faultPhase struct {
	Faults
	since time.Time
}

// stallEnd reports whether now falls in a stall and, if so, when it ends.
func (p *faultPhase) stallEnd(now time.Time) (time.Time, bool) {
	if p.StallEvery <= 0 {
		return time.Time{}, false
	}
	e := now.Sub(p.since)
	if e < p.StallEvery {
		return time.Time{}, false
	}
	start := e - e%p.StallEvery
	if e-start >= p.StallFor {
		return time.Time{}, false
	}
	return p.since.Add(start + p.StallFor), true
}

// stallsBegun counts the stalls begun in this phase up to now.
func (p *faultPhase) stallsBegun(now time.Time) uint64 {
	if p.StallEvery <= 0 {
		return 0
	}
	return uint64(now.Sub(p.since) / p.StallEvery)
}

// faultState holds the faults; reads are lock-free.
type faultState struct {
	cur atomic.Pointer[faultPhase]

	holding atomic.Int64 // requests held by a stall now

	mu        sync.Mutex // serialises set and stallsTotal
	stallBase uint64     // stalls of earlier phases
	now       func() time.Time
}

func newFaultState(f Faults, now func() time.Time) *faultState {
	s := &faultState{now: now}
	s.cur.Store(&faultPhase{Faults: f, since: now()})
	return s
}

func (s *faultState) get() *faultPhase { return s.cur.Load() }

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.stallBase += s.cur.Load().stallsBegun(now)
	s.cur.Store(&faultPhase{Faults: f, since: now})
}

func (s *faultState) stallsTotal() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.stallBase + s.cur.Load().stallsBegun(s.now()))
}

// waitStall holds the caller until the stall in force at arrival ends and
// reports whether it was held.
func (s *faultState) waitStall(ctx context.Context) (bool, error) {
	end, ok := s.get().stallEnd(s.now())
	if !ok {
		return false, nil
	}
	s.holding.Add(1)
	defer s.holding.Add(-1)
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}
