package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/gorilla/mux"

	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/runner"
	"github.com/loadlab/loadlab/internal/store"
)

// Live streams (docs/api.md, "Live stream").
const (
	// DefaultMaxSubscribers is the default of Config.MaxSubscribers.
	DefaultMaxSubscribers = 100
	// StreamWriteTimeout bounds one write to a subscriber: a connection that takes no more data for that long
	// (its buffers are full: the client stopped reading) is closed.
	StreamWriteTimeout = 5 * time.Second
	// WSPingInterval is how often a WebSocket subscriber is pinged by default; it must answer within
	// WSPongTimeout (a client that stops reading its connection stops answering), else it is dropped.
	WSPingInterval = 2 * time.Second
	WSPongTimeout  = 3 * time.Second
	// SSERetry is the reconnection delay the stream asks of EventSource clients.
	SSERetry = time.Second
)

// End is the data of a run's end event: the run as GET /api/tests/runs/{id} shows it once ended (status, error,
// final live figures and summary; totals for a run only in the store), the exit code `loadgen runs watch` exits
// with (runner.ExitCode), and the report as `loadgen run` prints it.
type End struct {
	RunView
	ExitCode int    `json:"exit_code"`
	Text     string `json:"text,omitempty"`
}

// endOf is the end event of a run that ended, shown as v.
func endOf(v RunView, text string) End {
	var sum struct {
		Thresholds []struct {
			Aborted bool `json:"aborted"`
		} `json:"thresholds"`
	}
	if len(v.Summary) > 0 {
		_ = json.Unmarshal(v.Summary, &sum) // a summary without thresholds: none aborted the run
	}
	aborted := false
	for _, t := range sum.Thresholds {
		aborted = aborted || t.Aborted
	}
	passed := gate.Passed(&store.Run{Status: v.Status, SummaryJSON: v.Summary})
	return End{RunView: v, ExitCode: runner.ExitCode(v.Status, passed, aborted), Text: text}
}

// publishEnd publishes r's end event and closes its hub: every subscriber gets it, then its stream closes; later
// ones get it at once.
func (s *Server) publishEnd(r *run) {
	v := s.render(r, true)
	s.mu.Lock()
	text := r.outcome.Text
	s.mu.Unlock()
	if err := r.hub.Close(live.TypeEnd, endOf(v, text)); err != nil {
		s.log.Error("live stream: end event", "run_id", r.id, "err", err)
	}
}

// subscribe subscribes to run id's events: through its hub when this server carries it (or carried it lately),
// else the end event of the stored run.
func (s *Server) subscribe(ctx context.Context, id string, after uint64) (*live.Subscription, error) {
	s.mu.Lock()
	r, ok := s.runs[id]
	s.mu.Unlock()
	if ok {
		sub, err := r.hub.Subscribe(after)
		if errors.Is(err, live.ErrTooMany) {
			return nil, errorf(ETOOMANY, "run %s has %d subscribers, the limit (--max-subscribers): close one, or follow it with GET /api/tests/runs/%s",
				id, s.cfg.MaxSubscribers, id)
		}
		return sub, err
	}
	if s.store == nil {
		return nil, errorf(ENOTFOUND, "run %s not found", id)
	}
	sr, err := s.store.GetRun(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, errorf(ENOTFOUND, "run %s not found", id)
		}
		return nil, err
	}
	if !sr.Status.Terminal() {
		return nil, errorf(ECONFLICT, "run %s is %s but not carried out by this server (another process owns it): its live events are there", id, sr.Status)
	}
	h := live.NewHub(0)
	if err := h.Close(live.TypeEnd, endOf(storedView(sr, true), sr.SummaryText)); err != nil {
		return nil, err
	}
	return h.Subscribe(0)
}

// lastEventID is the ID of the last event the client saw: the Last-Event-ID header (EventSource sends it when it
// reconnects) or the last_event_id query parameter (browsers' WebSocket cannot send headers); 0 for none.
func lastEventID(r *http.Request) (uint64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(EINVALID, "Last-Event-ID %q: want the id of an event of this stream (a positive integer)", v)
	}
	return id, nil
}

// subscribeRequest subscribes to the stream of the run the request names, from its Last-Event-ID on.
func (s *Server) subscribeRequest(r *http.Request) (string, *live.Subscription, error) {
	id := mux.Vars(r)["id"]
	after, err := lastEventID(r)
	if err != nil {
		return id, nil, err
	}
	sub, err := s.subscribe(r.Context(), id, after)
	return id, sub, err
}

// events is GET /api/tests/runs/{id}/events: the run's events as Server-Sent Events, until its end event.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	id, sub, err := s.subscribeRequest(r)
	if err != nil {
		return err
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	// The stream outlives serve's read timeout, and every write has its own deadline (send).
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold the events back
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: " + strconv.FormatInt(SSERetry.Milliseconds(), 10) + "\n\n")) {
		return nil
	}
	for _, e := range sub.Backlog() {
		if !send(e.SSE()) {
			return nil
		}
	}
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				if sub.Dropped() {
					s.log.Info("live stream: subscriber dropped (it fell behind)", "run_id", id, "remote", r.RemoteAddr)
					_ = rc.SetWriteDeadline(time.Now()) // the connection is closed, not kept alive
					return nil
				}
				_ = rc.SetWriteDeadline(time.Time{})
				return nil
			}
			if !send(e.SSE()) {
				return nil // the connection is broken (or its write timed out): the server closes it
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// errNoPong is why a WebSocket subscriber that stopped answering pings is dropped.
var errNoPong = errors.New("no pong")

// websocketEvents is GET /api/tests/ws/{id}: the run's events as WebSocket text messages
// ({"id","type","data"}), until its end event; then the connection closes (1000).
func (s *Server) websocketEvents(w http.ResponseWriter, r *http.Request) error {
	id, sub, err := s.subscribeRequest(r)
	if err != nil {
		return err // before the upgrade: a plain HTTP answer
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the hijacked connection keeps the deadlines it has: none
	_ = rc.SetWriteDeadline(time.Time{})
	// guard has checked the Origin (the server's own or a --cors-origin); the library's own check would refuse
	// the --cors-origin ones.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true,
		CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil // Accept has answered
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancelCause(c.CloseRead(r.Context())) // reads the client's pongs and close
	defer cancel(nil)
	go func() {
		t := time.NewTicker(s.cfg.WSPingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, s.cfg.WSPongTimeout)
				err := c.Ping(pctx)
				pcancel()
				if err != nil {
					cancel(errNoPong)
					return
				}
			}
		}
	}()
	send := func(e *live.Event) bool {
		wctx, wcancel := context.WithTimeout(ctx, StreamWriteTimeout)
		defer wcancel()
		return c.Write(wctx, websocket.MessageText, e.Message()) == nil
	}
	for _, e := range sub.Backlog() {
		if !send(e) {
			return nil
		}
	}
	for {
		select {
		case e, ok := <-sub.Events():
			switch {
			case ok && send(e):
				continue
			case ok:
				return nil
			case sub.Dropped():
				s.log.Info("live stream: subscriber dropped (it fell behind)", "run_id", id, "remote", r.RemoteAddr)
				c.Close(websocket.StatusPolicyViolation, "fell behind: closed")
				return nil
			}
			c.Close(websocket.StatusNormalClosure, "run ended")
			return nil
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errNoPong) {
				s.log.Info("live stream: subscriber dropped (no pong: it stopped reading)", "run_id", id, "remote", r.RemoteAddr)
				c.Close(websocket.StatusPolicyViolation, "no pong: closed")
			}
			return nil
		}
	}
}
