package runner

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/target"
)

// TestStreamModeRun: a stress run publishes to Run.Live a snapshot every LiveInterval per probe (engine counts
// them; figures restart with each), snapshots between probes too (the last probe's final figures, not running), a
// phase event per probe, and a final snapshot before Execute returns; the end is the caller's.
func TestStreamModeRun(t *testing.T) {
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, time.Millisecond))
	p := parsePlan(t, stressPlan, url)
	p.Stress.ProbeDuration.Duration = 700 * time.Millisecond
	p.Stress.Cooldown.Duration = 1200 * time.Millisecond
	p.Stress.MaxRate, p.Stress.MaxProbes = 100, 2
	hub := live.NewHub(0)
	sub, err := hub.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*live.Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.Events() {
			evs = append(evs, e)
		}
	}()
	rep, err := execute[*StressReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Live: hub, Log: testLogger(t)})
	if err != nil {
		t.Fatalf("Stress: %v", err)
	}
	hub.Close(live.TypeEnd, nil)
	<-done
	probes := len(rep.Result.Probes)
	engines, between, phases := map[int]bool{}, 0, 0
	var last live.Snapshot
	for _, e := range evs {
		switch e.Type {
		case live.TypePhase:
			phases++
		case live.TypeSnapshot:
			var s live.Snapshot
			if err := json.Unmarshal(e.Data, &s); err != nil {
				t.Fatal(err)
			}
			if s.Engine < last.Engine {
				t.Errorf("engine %d after %d", s.Engine, last.Engine)
			}
			if s.Engine == last.Engine && s.Requests < last.Requests {
				t.Errorf("engine %d: requests %d after %d", s.Engine, s.Requests, last.Requests)
			}
			engines[s.Engine] = true
			if !s.Running && s.Engine < probes {
				between++
			}
			last = s
		}
	}
	if probes < 2 || len(engines) < probes || phases < probes {
		t.Errorf("%d probes: snapshots of %d engines, %d phase events; want each probe's", probes, len(engines), phases)
	}
	if between < 1 { // a 1.2 s cooldown at one snapshot every 500 ms
		t.Errorf("no snapshot between two probes")
	}
	if last.Running || last.Requests == 0 || last.Engine != len(engines) {
		t.Errorf("last snapshot %+v; want the last probe's final figures", last)
	}
}
