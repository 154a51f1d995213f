package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Hub limits.
const (
	// Keep is how long a hub keeps a run's events for a client that resumes with Last-Event-ID (and, after the run
	// ended, how long it keeps them before only the end event is left).
	Keep = time.Minute
	// MaxKept bounds the events kept, whatever their rate (a snapshot every 500 ms is 120 a minute).
	MaxKept = 1024
	// QueueLen is how many events may wait for one subscriber: one that falls further behind is dropped (its
	// events channel closed) instead of slowing the run or the other subscribers.
	QueueLen = 64
)

// ErrTooMany is the error of Subscribe when the hub has its maximum of subscribers.
var ErrTooMany = errors.New("too many subscribers")

// Event is one event of a run, encoded once for every subscriber: its ID (from 1, in publication order; 0 for an
// end event made outside a hub), its type (TypeSnapshot, ...) and its data as JSON.
type Event struct {
	ID   uint64
	Type string
	Data json.RawMessage
	at   time.Time
	sse  []byte
	msg  []byte
}

// NewEvent encodes v as the data of an event.
func NewEvent(id uint64, typ string, v any) (*Event, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the %s event: %w", typ, err)
	}
	e := &Event{ID: id, Type: typ, Data: data}
	// Both wire forms are built once here, not once per subscriber.
	var b []byte
	if id > 0 {
		b = append(append(append(b, "id: "...), strconv.FormatUint(id, 10)...), '\n')
	}
	b = append(append(append(b, "event: "...), typ...), '\n')
	e.sse = append(append(append(b, "data: "...), data...), "\n\n"...) // json.Marshal writes no newline
	m := append([]byte(`{"id":`), strconv.FormatUint(id, 10)...)
	m = append(append(append(m, `,"type":"`...), typ...), `","data":`...)
	e.msg = append(append(m, data...), '}')
	return e, nil
}

// SSE is the event as a Server-Sent Event: `id: N`, `event: TYPE`, `data: JSON` and a blank line.
func (e *Event) SSE() []byte { return e.sse }

// Message is the event as a WebSocket text message: {"id":N,"type":"TYPE","data":JSON}.
func (e *Event) Message() []byte { return e.msg }

// Hub fans one run's events out to its subscribers. Publishing never blocks and costs one non-blocking send per
// subscriber (each event is encoded once); every subscriber has its own queue of QueueLen events, and one whose
// queue is full is dropped. The hub keeps the events of the last Keep for clients that resume. Close publishes the
// last event (the run's end): a later subscriber gets it at once. A Hub is safe for concurrent use.
type Hub struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	lastID  uint64
	kept    []*Event // of the last Keep, oldest first
	subs    map[*Subscription]struct{}
	end     *Event
	dropped int
}

// NewHub returns a hub that takes at most maxSubscribers at once (0: no limit).
func NewHub(maxSubscribers int) *Hub {
	return &Hub{max: maxSubscribers, now: time.Now, subs: map[*Subscription]struct{}{}}
}

// Publish sends an event of type typ with data v to every subscriber. After Close it does nothing.
func (h *Hub) Publish(typ string, v any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.publishLocked(typ, v)
	return err
}

// publishLocked sends the next event to every subscriber, dropping those that fell behind. It returns nil
// without sending after Close.
func (h *Hub) publishLocked(typ string, v any) (*Event, error) {
	if h.end != nil {
		return nil, nil
	}
	e, err := NewEvent(h.lastID+1, typ, v)
	if err != nil {
		return nil, err
	}
	h.lastID = e.ID
	e.at = h.now()
	h.kept = append(h.kept, e)
	old := 0
	for old < len(h.kept) && (e.at.Sub(h.kept[old].at) > Keep || len(h.kept)-old > MaxKept) {
		old++
	}
	h.kept = h.kept[old:] // the array's dropped head is freed when append next grows it
	for s := range h.subs {
		select {
		case s.c <- e:
		default: // fell QueueLen events behind
			s.dropped = true
			h.removeLocked(s)
			h.dropped++
		}
	}
	return e, nil
}

// Close publishes the run's last event (type typ, data v) and ends every subscription after it. The events of the
// last Keep stay for clients that resume; after that only the last event is kept.
func (h *Hub) Close(typ string, v any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, err := h.publishLocked(typ, v)
	if e == nil {
		return err
	}
	h.end = e
	for s := range h.subs {
		h.removeLocked(s)
	}
	time.AfterFunc(Keep, func() {
		h.mu.Lock()
		h.kept = nil
		h.mu.Unlock()
	})
	return nil
}

// Subscription is one subscriber of a Hub: the events kept that it asked for (Backlog), then every event as it is
// published (Events), until the run's end or until it is dropped or closed.
type Subscription struct {
	h       *Hub
	backlog []*Event
	c       chan *Event
	dropped bool // guarded by h.mu
}

// Subscribe adds a subscriber. after is the ID of the last event the client has seen (its Last-Event-ID; 0 for
// none): the backlog holds the kept events after it, and the client sees no gap as long as it resumes within Keep.
// A new client (after 0, or an ID this hub never gave) gets the latest snapshot at once. After the run ended the
// backlog ends with the end event and Events is closed. It fails with ErrTooMany beyond the hub's maximum.
func (h *Hub) Subscribe(after uint64) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &Subscription{h: h, c: make(chan *Event, QueueLen)}
	resume := after > 0 && after <= h.lastID
	for _, e := range h.kept {
		if resume && e.ID > after {
			s.backlog = append(s.backlog, e)
		}
	}
	if !resume && h.end == nil {
		for i := len(h.kept) - 1; i >= 0; i-- {
			if h.kept[i].Type == TypeSnapshot {
				s.backlog = append(s.backlog, h.kept[i])
				break
			}
		}
	}
	if h.end != nil {
		if n := len(s.backlog); n == 0 || s.backlog[n-1] != h.end {
			s.backlog = append(s.backlog, h.end)
		}
		close(s.c)
		return s, nil
	}
	if h.max > 0 && len(h.subs) >= h.max {
		return nil, fmt.Errorf("%w: the run has %d, the limit", ErrTooMany, len(h.subs))
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// Subscribers returns the number of subscribers now, and how many were dropped for falling behind so far.
func (h *Hub) Subscribers() (now, dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs), h.dropped
}

func (h *Hub) removeLocked(s *Subscription) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Backlog returns the events the subscriber gets first, in order.
func (s *Subscription) Backlog() []*Event { return s.backlog }

// Events delivers the events published after Subscribe, in order. It is closed after the end event, or when the
// subscriber was dropped (Dropped) or closed.
func (s *Subscription) Events() <-chan *Event { return s.c }

// Dropped reports whether the hub dropped the subscriber for falling QueueLen events behind.
func (s *Subscription) Dropped() bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.dropped
}

// Close ends the subscription (the client went away). It may be called more than once.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.removeLocked(s)
}
