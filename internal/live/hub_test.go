package live

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func ids(evs []*Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// drain reads what a subscription has now (backlog, then its queue) until its channel is empty or closed.
func drain(s *Subscription) (evs []*Event, closed bool) {
	evs = append(evs, s.Backlog()...)
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				return evs, true
			}
			evs = append(evs, e)
		default:
			return evs, false
		}
	}
}

func TestHubEventsAndWireForms(t *testing.T) {
	h := NewHub(0)
	s, err := h.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(TypePhase, PhaseChange{Phase: "steady", Index: 1, Of: 2})
	h.Publish(TypeSnapshot, Snapshot{Requests: 7, PhaseIndex: 1, Phase: "steady"})
	h.Close(TypeEnd, map[string]any{"status": "completed"})
	evs, closed := drain(s)
	if got := ids(evs); !closed || len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("events %v closed %v; want 1, 2, 3 then closed", got, closed)
	}
	e := evs[1]
	if want := "id: 2\nevent: snapshot\ndata: " + string(e.Data) + "\n\n"; string(e.SSE()) != want {
		t.Errorf("SSE = %q; want %q", e.SSE(), want)
	}
	var m struct {
		ID   uint64   `json:"id"`
		Type string   `json:"type"`
		Data Snapshot `json:"data"`
	}
	if err := json.Unmarshal(e.Message(), &m); err != nil || m.ID != 2 || m.Type != TypeSnapshot || m.Data.Requests != 7 {
		t.Errorf("Message = %s (%v); want id 2, type snapshot, the snapshot", e.Message(), err)
	}
	if strings.Contains(string(e.Data), "\n") {
		t.Errorf("data spans lines: %q", e.Data)
	}
}

// TestHubResume: a client that comes back with the last ID it saw gets every event after it, none twice, none
// missing; a new client gets the latest snapshot at once; after the end, the end at once.
func TestHubResume(t *testing.T) {
	h := NewHub(0)
	for i := range 10 {
		typ := TypeSnapshot
		if i%4 == 0 {
			typ = TypePhase
		}
		h.Publish(typ, i)
	}
	s, _ := h.Subscribe(6)
	if got := ids(s.Backlog()); len(got) != 4 || got[0] != 7 || got[3] != 10 {
		t.Errorf("resume after 6: backlog %v; want 7..10", got)
	}
	h.Publish(TypeSnapshot, 10)
	if e := <-s.Events(); e.ID != 11 {
		t.Errorf("next live event %d; want 11", e.ID)
	}
	fresh, _ := h.Subscribe(0)
	if got := ids(fresh.Backlog()); len(got) != 1 || got[0] != 11 {
		t.Errorf("new subscriber's backlog %v; want the latest snapshot, 11", got)
	}
	unknown, _ := h.Subscribe(999) // an ID this hub never gave: a new client
	if got := ids(unknown.Backlog()); len(got) != 1 || got[0] != 11 {
		t.Errorf("unknown Last-Event-ID's backlog %v; want the latest snapshot", got)
	}
	h.Close(TypeEnd, "end")
	after, _ := h.Subscribe(0)
	evs, closed := drain(after)
	if got := ids(evs); !closed || len(got) != 1 || got[0] != 12 || evs[0].Type != TypeEnd {
		t.Errorf("subscriber after the end: %v closed %v; want the end (12) alone, closed", got, closed)
	}
	late, _ := h.Subscribe(10)
	if got := ids(late.Backlog()); len(got) != 2 || got[0] != 11 || got[1] != 12 {
		t.Errorf("resume after the end: %v; want 11 and the end", got)
	}
}

// TestHubKeepsTheLastMinute: events older than Keep are forgotten (a resume from before them starts at the oldest
// kept), and never more than MaxKept.
func TestHubKeepsTheLastMinute(t *testing.T) {
	h := NewHub(0)
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	for range 200 { // one every 500 ms: 100 s
		h.Publish(TypeSnapshot, 0)
		now = now.Add(500 * time.Millisecond)
	}
	h.mu.Lock()
	kept, first := len(h.kept), h.kept[0].ID
	h.mu.Unlock()
	if kept != 121 || first != 80 {
		t.Errorf("kept %d events from %d; want the last 60 s: 121 from 80", kept, first)
	}
	for range 2 * MaxKept { // a burst within a second
		h.Publish(TypeSnapshot, 0)
	}
	h.mu.Lock()
	kept = len(h.kept)
	h.mu.Unlock()
	if kept != MaxKept {
		t.Errorf("kept %d events; want at most %d", kept, MaxKept)
	}
}

// TestHubDropsTheSlow: a subscriber that stops reading is dropped once its queue is full, while one that reads
// gets every event; publishing never blocks.
func TestHubDropsTheSlow(t *testing.T) {
	h := NewHub(0)
	slow, _ := h.Subscribe(0)
	fast, _ := h.Subscribe(0)
	var got []uint64
	ack := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range fast.Events() {
			got = append(got, e.ID)
			ack <- struct{}{}
		}
	}()
	start := time.Now()
	for i := range 10 * QueueLen {
		h.Publish(TypeSnapshot, i)
		<-ack // the reading subscriber keeps up, whatever the box's load
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("publishing took %s: a slow subscriber held it up", d)
	}
	if !slow.Dropped() {
		t.Error("the subscriber that never read was not dropped")
	}
	evs, closed := drain(slow)
	if !closed || len(evs) != QueueLen {
		t.Errorf("dropped subscriber: %d events queued, closed %v; want its %d, closed", len(evs), closed, QueueLen)
	}
	go func() {
		for range ack {
		}
	}()
	h.Close(TypeEnd, nil)
	wg.Wait()
	close(ack)
	if fast.Dropped() || len(got) != 10*QueueLen+1 {
		t.Errorf("reading subscriber: dropped %v, %d events; want every one of %d", fast.Dropped(), len(got), 10*QueueLen+1)
	}
	if now, dropped := h.Subscribers(); now != 0 || dropped != 1 {
		t.Errorf("Subscribers() = %d, %d; want 0 now, 1 dropped", now, dropped)
	}
}

func TestHubMaxSubscribers(t *testing.T) {
	h := NewHub(2)
	a, _ := h.Subscribe(0)
	if _, err := h.Subscribe(0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(0); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third subscriber: %v; want ErrTooMany", err)
	}
	a.Close()
	a.Close() // twice is fine
	if _, err := h.Subscribe(0); err != nil {
		t.Errorf("after one left: %v", err)
	}
	h.Close(TypeEnd, nil)
	if _, err := h.Subscribe(0); err != nil { // the end is for everyone
		t.Errorf("after the end: %v", err)
	}
}

// BenchmarkHubPublish is the cost of one snapshot event (a typical one, encoded once) fanned out to N subscribers,
// each goroutine woken to take it: what a run's process pays every LiveInterval for N subscribers (the writes to
// their connections aside).
func BenchmarkHubPublish(b *testing.B) {
	s := Snapshot{Engine: 1, Running: true, ElapsedS: 12.5, TotalS: 60, Model: "open", Phase: "steady", PhaseIndex: 1,
		Phases: []Phase{{"warm-up", 10}, {"steady", 50}}, IntendedRate: 300, AchievedRPS: 299, Requests: 3600,
		Errors: 12, ErrorsByReason: map[string]uint64{"status": 10, "timeout": 2}, Iterations: 3600, InFlight: 4,
		VUs: 4, P50Ms: 2.1, P95Ms: 4.2, P99Ms: 8.9, LagP99Ms: 0.4, CPUPct: 12.5}
	for _, n := range []int{0, 1, 60} {
		b.Run(strconv.Itoa(n)+" subscribers", func(b *testing.B) {
			h := NewHub(0)
			var got sync.WaitGroup // one Done per subscriber and event
			for range n {
				sub, _ := h.Subscribe(0)
				go func() {
					for range sub.Events() {
						got.Done()
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				got.Add(n)
				h.Publish(TypeSnapshot, s)
				got.Wait() // every subscriber took it (as each does, long before the next one 500 ms later)
			}
			b.StopTimer()
			if _, dropped := h.Subscribers(); dropped > 0 {
				b.Fatalf("%d subscribers fell behind", dropped)
			}
			got.Add(n)
			h.Close(TypeEnd, nil)
			got.Wait()
		})
	}
}
