package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
)

// received is one event as a subscriber got it.
type received struct {
	at   time.Time
	id   uint64
	typ  string
	data json.RawMessage
}

// readSSEStream reads Server-Sent Events until the stream ends, calling f with each; f returns false to stop.
func readSSEStream(r io.Reader, f func(received) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev received
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.typ != "" {
				ev.at = time.Now()
				if !f(ev) {
					return nil
				}
			}
			ev = received{}
		case strings.HasPrefix(line, "id: "):
			ev.id, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = json.RawMessage(line[6:])
		}
	}
	return sc.Err()
}

// sseSubscribe opens the run's event stream (after: Last-Event-ID, 0 for none).
func sseSubscribe(ctx context.Context, base, id string, after uint64) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/tests/runs/"+id+"/events", nil)
	if after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return resp, err
}

// sseAll reads a run's whole stream.
func sseAll(ctx context.Context, base, id string) ([]received, error) {
	resp, err := sseSubscribe(ctx, base, id, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var evs []received
	err = readSSEStream(resp.Body, func(e received) bool { evs = append(evs, e); return true })
	return evs, err
}

// wsAll reads a run's whole stream over WebSocket, until the server closes it after the end event.
func wsAll(ctx context.Context, base, id string) ([]received, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/tests/ws/"+id, nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	var evs []received
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return evs, nil
			}
			return evs, err
		}
		var m struct {
			ID   uint64          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return evs, err
		}
		evs = append(evs, received{at: time.Now(), id: m.ID, typ: m.Type, data: m.Data})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// streamServe is serve over the real engine, with serve's read timeout cut to 2 s: a stream must outlive it.
func streamServe(t *testing.T, cfg Config, log *slog.Logger) (*Server, string) {
	t.Helper()
	srv, err := New(cfg, &EngineRunner{}, nil, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ReadTimeout = 2 * time.Second
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	})
	return srv, ts.URL
}

const streamPlan = `name: streamed
target: %s
scenarios:
  - name: api
    steps:
      - {name: health, request: {path: /api/health}, check: {status: [200]}}
load:
  model: open
  phases:
    - {name: warm-up, duration: 1s, rate: 150}
    - {name: steady, duration: 6s, rate: 300}
`

// TestLiveStreamSubscribers: 50 Server-Sent Events and 10 WebSocket subscribers on one run each see a snapshot
// about every 500 ms (no gap over 1.5 s, no event missing), counts that never decrease, the phases in order, and
// an end event whose figures equal GET /api/tests/runs/{id}; a WebSocket subscriber that stops reading is dropped
// within seconds while the others go on; one that reconnects with Last-Event-ID misses nothing. The run's CPU per
// request with the 60 subscribers is compared with the same run without any (logged; a generous bound asserted).
func TestLiveStreamSubscribers(t *testing.T) {
	if testing.Short() {
		t.Skip("two 7 s runs")
	}
	tgt := startTarget(t)
	var logs testenv.SyncBuffer
	srv, base := streamServe(t, Config{MaxSubscribers: 100, WSPingInterval: time.Second, WSPongTimeout: 2 * time.Second},
		slog.New(slog.NewTextHandler(&logs, nil)))
	h := &harness{t: t, srv: srv, url: base}
	start := func() string {
		a := h.do("POST", "/api/tests/start", fmt.Sprintf(streamPlan, tgt.URL), "Content-Type", "application/yaml")
		h.want(a, http.StatusAccepted, "")
		return a.body["run_id"].(string)
	}
	wait := func(id string) answer {
		var a answer
		waitForWithin(t, 30*time.Second, func() bool {
			a = h.do("GET", "/api/tests/runs/"+id, "")
			return store.Status(a.body["status"].(string)).Terminal()
		})
		return a
	}
	perRequest := func(cpu time.Duration, a answer) time.Duration {
		n := a.body["summary"].(map[string]any)["requests"].(float64)
		return time.Duration(float64(cpu) / n)
	}

	c0 := cpuTime()
	id := start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A subscriber that stops reading: a WebSocket client reads one message, then nothing. It subscribes first,
	// so that the ping that finds it silent comes well within the run however busy the box.
	stuck, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/tests/ws/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.CloseNow()
	if _, _, err := stuck.Read(ctx); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	var droppedAfter time.Duration
	go func() {
		for ctx.Err() == nil {
			if strings.Contains(logs.String(), "no pong") {
				droppedAfter = time.Since(stoppedAt)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	type result struct {
		kind string
		evs  []received
		err  error
	}
	results := make(chan result, 60)
	for i := range 60 {
		go func() {
			if i < 50 {
				evs, err := sseAll(ctx, base, id)
				results <- result{"sse", evs, err}
				return
			}
			evs, err := wsAll(ctx, base, id)
			results <- result{"ws", evs, err}
		}()
	}
	// A subscriber that resumes: it reads three snapshots, goes away for 1.2 s, comes back with Last-Event-ID.
	resumed := make(chan []received, 1)
	go func() {
		var evs []received
		resp, err := sseSubscribe(ctx, base, id, 0)
		if err != nil {
			t.Errorf("resume: %v", err)
			resumed <- nil
			return
		}
		n := 0
		readSSEStream(resp.Body, func(e received) bool {
			evs = append(evs, e)
			n += map[bool]int{true: 1}[e.typ == live.TypeSnapshot]
			return n < 3
		})
		resp.Body.Close()
		time.Sleep(1200 * time.Millisecond)
		resp, err = sseSubscribe(ctx, base, id, evs[len(evs)-1].id)
		if err != nil {
			t.Errorf("resume: %v", err)
			resumed <- nil
			return
		}
		defer resp.Body.Close()
		readSSEStream(resp.Body, func(e received) bool { evs = append(evs, e); return true })
		resumed <- evs
	}()
	var all []result
	for range 60 {
		all = append(all, <-results)
	}
	got := wait(id)
	cpuSubs := perRequest(cpuTime()-c0, got)
	resumedEvs := <-resumed
	// The same run without subscribers: the baseline of CPU per request. It comes second, so that the first run's
	// own costs in this process (heap growth, connections) count against the subscribers, not for them.
	c0 = cpuTime()
	quiet := wait(start())
	cpuNone := perRequest(cpuTime()-c0, quiet)

	live0 := got.body["live"].(map[string]any)
	summary := got.body["summary"].(map[string]any)
	var maxGap time.Duration
	for i, r := range all {
		if r.err != nil {
			t.Fatalf("%s subscriber %d: %v", r.kind, i, r.err)
		}
		name := fmt.Sprintf("%s subscriber %d", r.kind, i)
		gap, _ := checkStream(t, name, r.evs, live0, summary)
		maxGap = max(maxGap, gap)
	}
	if resumedEvs != nil {
		for i := 1; i < len(resumedEvs); i++ {
			if resumedEvs[i].id != resumedEvs[i-1].id+1 {
				t.Errorf("resumed subscriber: event %d after %d: a gap", resumedEvs[i].id, resumedEvs[i-1].id)
			}
		}
		if last := resumedEvs[len(resumedEvs)-1]; last.typ != live.TypeEnd {
			t.Errorf("resumed subscriber ends with %s; want end", last.typ)
		}
	}
	if droppedAfter == 0 || droppedAfter > 12*time.Second {
		t.Errorf("the WebSocket subscriber that stopped reading was dropped after %s; want within seconds\n%s", droppedAfter, logs.String())
	}
	ratio := float64(cpuSubs) / float64(cpuNone)
	t.Logf("60 subscribers (50 SSE, 10 WebSocket): CPU per request %s without subscribers, %s with (x%.2f; this process: engine, target and the test's own clients); largest gap between snapshots at a subscriber %s; subscriber that stopped reading dropped after %s",
		cpuNone, cpuSubs, ratio, maxGap.Round(time.Millisecond), droppedAfter.Round(time.Millisecond))
	if ratio > 2 {
		t.Errorf("CPU per request x%.2f with 60 subscribers; want the fan-out to cost well under the run itself", ratio)
	}
}

// checkStream checks one subscriber's events; it returns the largest gap between two snapshots' arrivals.
func checkStream(t *testing.T, name string, evs []received, live0, summary map[string]any) (time.Duration, int) {
	t.Helper()
	var (
		snaps            int
		lastAt           time.Time
		maxGap           time.Duration
		lastReq, lastErr float64
		lastPhase        = -1
		phases           []string
		endSeen          bool
		lastID           uint64
	)
	for _, e := range evs {
		if lastID > 0 && e.id != lastID+1 {
			t.Errorf("%s: event %d after %d: an event is missing", name, e.id, lastID)
		}
		lastID = e.id
		switch e.typ {
		case live.TypeSnapshot:
			var s live.Snapshot
			if err := json.Unmarshal(e.data, &s); err != nil {
				t.Fatalf("%s: snapshot %s: %v", name, e.data, err)
			}
			if !lastAt.IsZero() && s.Running {
				maxGap = max(maxGap, e.at.Sub(lastAt))
			}
			lastAt = e.at
			snaps++
			if float64(s.Requests) < lastReq || float64(s.Errors) < lastErr {
				t.Errorf("%s: requests %d errors %d after %g, %g: counts went down", name, s.Requests, s.Errors, lastReq, lastErr)
			}
			lastReq, lastErr = float64(s.Requests), float64(s.Errors)
			if s.PhaseIndex >= 0 && s.PhaseIndex < lastPhase {
				t.Errorf("%s: phase %d after %d", name, s.PhaseIndex, lastPhase)
			}
			lastPhase = max(lastPhase, s.PhaseIndex)
		case live.TypePhase:
			var p live.PhaseChange
			json.Unmarshal(e.data, &p)
			phases = append(phases, p.Phase)
		case live.TypeEnd:
			endSeen = true
			var end struct {
				Status   string         `json:"status"`
				ExitCode int            `json:"exit_code"`
				Live     map[string]any `json:"live"`
				Summary  map[string]any `json:"summary"`
			}
			if err := json.Unmarshal(e.data, &end); err != nil {
				t.Fatalf("%s: end %s: %v", name, e.data, err)
			}
			if end.Status != "completed" || end.ExitCode != 0 {
				t.Errorf("%s: end status %s exit code %d; want completed, 0", name, end.Status, end.ExitCode)
			}
			for _, k := range []string{"requests", "errors", "iterations"} {
				if end.Live[k] != live0[k] {
					t.Errorf("%s: end live.%s = %v; GET says %v", name, k, end.Live[k], live0[k])
				}
			}
			for _, k := range []string{"requests", "errors", "rps"} {
				if end.Summary[k] != summary[k] {
					t.Errorf("%s: end summary.%s = %v; GET says %v", name, k, end.Summary[k], summary[k])
				}
			}
			if end.Summary["requests"] != end.Live["requests"] {
				t.Errorf("%s: end summary.requests %v, live.requests %v", name, end.Summary["requests"], end.Live["requests"])
			}
		}
	}
	if !endSeen || len(evs) == 0 || evs[len(evs)-1].typ != live.TypeEnd {
		t.Errorf("%s: the stream does not end with the end event", name)
	}
	if snaps < 10 { // 7 s at one every 500 ms
		t.Errorf("%s: %d snapshots; want about 14", name, snaps)
	}
	if maxGap > 1500*time.Millisecond {
		t.Errorf("%s: %s between two snapshots; want about 500 ms, never over 1.5 s", name, maxGap)
	}
	if strings.Join(phases, ",") != "warm-up,steady" && strings.Join(phases, ",") != "steady" {
		t.Errorf("%s: phase events %v; want warm-up then steady", name, phases)
	}
	return maxGap, snaps
}

func waitForWithin(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveStreamRules: the streams follow the API's read rules and limits: the token, the Origin check (a
// WebSocket upgrade from a foreign page is refused before it is accepted), --max-subscribers (429), an unknown run
// (404), a bad Last-Event-ID (400); a run only in the store, or one that has ended, gives its end event at once.
func TestLiveStreamRules(t *testing.T) {
	h := newHarness(t, Config{MaxSubscribers: 2})
	h.store.runs = append(h.store.runs, store.Run{ID: "stored-1", Name: "old", Type: store.TypeLoad, Status: store.StatusCompleted,
		SummaryJSON: []byte(`{"status":"completed","thresholds":[{"expr":"p99 < 1ms","ok":false}]}`), SummaryText: "THRESHOLDS FAILED\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	evs, err := sseAll(ctx, h.url, "stored-1")
	if err != nil || len(evs) != 1 || evs[0].typ != live.TypeEnd {
		t.Fatalf("stored run: %v %v; want its end event alone", evs, err)
	}
	var end End
	json.Unmarshal(evs[0].data, &end)
	if end.Status != store.StatusCompleted || end.ExitCode != 3 || end.Text != "THRESHOLDS FAILED\n" || end.Totals == nil {
		t.Errorf("stored run's end: %+v; want completed, exit code 3, its text and totals", end)
	}
	for _, c := range []struct {
		path, hdr, val string
		status         int
	}{
		{"/api/tests/runs/nope/events", "", "", http.StatusNotFound},
		{"/api/tests/ws/nope", "", "", http.StatusNotFound},
		{"/api/tests/runs/stored-1/events", "Last-Event-ID", "x", http.StatusBadRequest},
	} {
		var hdr []string
		if c.hdr != "" {
			hdr = []string{c.hdr, c.val}
		}
		a := h.do("GET", c.path, "", hdr...)
		if a.status != c.status {
			t.Errorf("GET %s %s=%s = %d; want %d", c.path, c.hdr, c.val, a.status, c.status)
		}
	}

	id := h.do("POST", "/api/tests/start", `{"test_type":"load","target_url":"http://127.0.0.1:1"}`, "Content-Type", "application/json").body["run_id"].(string)
	h.runner.plan(id) // running
	ws := "ws" + strings.TrimPrefix(h.url, "http") + "/api/tests/ws/" + id
	if _, resp, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket upgrade from a foreign origin: %v; want 403", err)
	}
	a, err := sseSubscribe(ctx, h.url, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Body.Close()
	b, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.CloseNow()
	h.srv.mu.Lock()
	hub := h.srv.runs[id].hub
	h.srv.mu.Unlock()
	waitFor(t, func() bool { n, _ := hub.Subscribers(); return n == 2 })
	if r := h.do("GET", "/api/tests/runs/"+id+"/events", ""); r.status != http.StatusTooManyRequests || !strings.Contains(r.raw, "--max-subscribers") {
		t.Errorf("third subscriber: %d %s; want 429 naming --max-subscribers", r.status, r.raw)
	}
	close(h.runner.release) // the run completes: both streams get the end, then close
	var sse []received
	readSSEStream(a.Body, func(e received) bool { sse = append(sse, e); return true })
	if len(sse) == 0 || sse[len(sse)-1].typ != live.TypeEnd {
		t.Errorf("SSE stream: %v; want it to end with the end event", sse)
	}
	for {
		_, msg, err := b.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("WebSocket closed with %v; want a normal closure after the end", err)
			}
			break
		}
		if !strings.Contains(string(msg), `"type":"end"`) {
			t.Errorf("WebSocket message %s; want the end event", msg)
		}
	}
	if evs, err := sseAll(ctx, h.url, id); err != nil || len(evs) != 1 || evs[0].typ != live.TypeEnd {
		t.Errorf("ended run: %v %v; want its end at once", evs, err)
	}
}
