package httpclient

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

func startHostile(t *testing.T) *hostile.Server {
	t.Helper()
	s, err := hostile.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do sends GET path to h, keeping at most keep body bytes.
func do(h *Host, path string, timeout time.Duration, keep int) (*fasthttp.Response, Timing, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://" + h.HostHeader() + path)
	var tm Timing
	err := h.Do(req, resp, timeout, keep, &tm)
	return resp, tm, err
}

// TestHostileResponses sends a request to every misbehaviour of the hostile
// server and checks the reason, that the message says what was wrong, that
// what is kept of a body never exceeds the keep limit, and that endless
// responses end at the timeout.
func TestHostileResponses(t *testing.T) {
	srv := startHostile(t)
	const keep = 64 << 10
	for _, tc := range []struct {
		path    string
		timeout time.Duration
		want    Reason
		msg     string // in the error text
		status  int    // when want is ReasonNone
		body    int64  // body bytes received, when want is ReasonNone (-1: don't check)
	}{
		{"/ok", time.Second, ReasonNone, "", 200, 2},
		{"/cl-absurd", time.Second, ReasonReset, "", 0, 0},
		{"/cl-absurd-trickle", 300 * time.Millisecond, ReasonTimeout, "", 0, 0},
		{"/cl-overflow", time.Second, ReasonProtocol, "Content-Length", 0, 0},
		{"/cl-negative", time.Second, ReasonProtocol, "Content-Length", 0, 0},
		{"/chunked-endless", 300 * time.Millisecond, ReasonTimeout, "", 0, 0},
		{"/chunked-huge-size", time.Second, ReasonReset, "", 0, 0},
		{"/chunked-bad", time.Second, ReasonProtocol, "chunk size", 0, 0},
		{"/chunked-no-crlf", time.Second, ReasonProtocol, "CRLF", 0, 0},
		{"/big/8388608", 5 * time.Second, ReasonNone, "", 200, 8 << 20},
		{"/big-chunked/8388608", 5 * time.Second, ReasonNone, "", 200, 8 << 20},
		{"/until-close/1000000", 5 * time.Second, ReasonNone, "", 200, 1000000},
		{"/header-huge", time.Second, ReasonProtocol, "over 4096 bytes", 0, 0},
		{"/header-endless", time.Second, ReasonProtocol, "over 4096 bytes", 0, 0},
		{"/header-trickle", 5 * time.Second, ReasonNone, "", 200, 2},
		{"/header-trickle-endless", 300 * time.Millisecond, ReasonTimeout, "", 0, 0},
		{"/garbage", time.Second, ReasonProtocol, "SPLAT", 0, 0},
		{"/close", time.Second, ReasonReset, "", 0, 0},
		{"/silent", 200 * time.Millisecond, ReasonTimeout, "", 0, 0},
		{"/lone/100", time.Second, ReasonReset, "", 0, 0},
		{"/interim/100", time.Second, ReasonNone, "", 200, 2},
		{"/interim/103", time.Second, ReasonNone, "", 200, 2},
		{"/status/101", time.Second, ReasonNone, "", 101, 0},
		{"/status/100", 300 * time.Millisecond, ReasonTimeout, "", 0, 0}, // an interim response, then nothing
		{"/status/600", time.Second, ReasonProtocol, "outside 100-599", 0, 0},
		{"/status/099", time.Second, ReasonProtocol, "outside 100-599", 0, 0},
		{"/status/204", time.Second, ReasonNone, "", 204, 0},
		{"/status/304", time.Second, ReasonNone, "", 304, 0},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			c := New(Config{})
			defer c.CloseIdleConnections()
			h, err := c.Host(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, tm, err := do(h, tc.path, tc.timeout, keep)
			el := time.Since(start)
			if got := Classify(err); got != tc.want {
				t.Fatalf("GET %s: reason %v (err %v); want %v", tc.path, got, err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("GET %s: error %q; want it to mention %q", tc.path, err, tc.msg)
			}
			if el > tc.timeout+time.Second {
				t.Errorf("GET %s took %v; want it bounded by the timeout %v", tc.path, el, tc.timeout)
			}
			if n := len(resp.Body()); n > keep {
				t.Errorf("GET %s: kept %d body bytes; want at most %d", tc.path, n, keep)
			}
			if tc.want != ReasonNone {
				return
			}
			if got := resp.StatusCode(); got != tc.status {
				t.Errorf("GET %s: status %d; want %d", tc.path, got, tc.status)
			}
			if tc.body >= 0 && tm.BodyBytes != tc.body {
				t.Errorf("GET %s: BodyBytes = %d; want %d", tc.path, tm.BodyBytes, tc.body)
			}
			if want := min(tc.body, keep); int64(len(resp.Body())) != want {
				t.Errorf("GET %s: kept %d body bytes; want %d", tc.path, len(resp.Body()), want)
			}
			if tm.BytesIn < tm.BodyBytes {
				t.Errorf("GET %s: BytesIn %d < BodyBytes %d; want every byte read counted", tc.path, tm.BytesIn, tm.BodyBytes)
			}
		})
	}
}

// TestEveryStatusCode: each code from 100 to 599 comes back as itself (1xx
// interim responses are skipped for the final one; 101 ends the connection),
// over kept-alive connections.
func TestEveryStatusCode(t *testing.T) {
	srv := startHostile(t)
	c := New(Config{})
	defer c.CloseIdleConnections()
	h, err := c.Host(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	newConns := 0
	for code := 100; code <= 599; code++ {
		path, want := "/status/"+strconv.Itoa(code), code
		if code < 200 && code != 101 {
			path, want = "/interim/"+strconv.Itoa(code), 200
		}
		resp, tm, err := do(h, path, time.Second, 1024)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if got := resp.StatusCode(); got != want {
			t.Errorf("GET %s: status %d; want %d", path, got, want)
		}
		if tm.NewConn {
			newConns++
		}
	}
	// Only the first request and the one after 101 (which leaves HTTP) open a connection.
	if newConns != 2 {
		t.Errorf("%d new connections for 500 requests; want 2 (keep-alive, except after 101)", newConns)
	}
}

// TestDroppedBodyKeepsConnection: a body far over the keep limit is read to
// its end and dropped, without allocating for it, and the connection is
// reused by the next request.
func TestDroppedBodyKeepsConnection(t *testing.T) {
	srv := startHostile(t)
	c := New(Config{})
	defer c.CloseIdleConnections()
	h, err := c.Host(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/big/67108864", "/big-chunked/67108864"} {
		if _, _, err := do(h, "/ok", time.Second, 1024); err != nil { // warm: the connection and buffers exist
			t.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		resp, tm, err := do(h, path, 10*time.Second, 4096)
		runtime.ReadMemStats(&m1)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if tm.NewConn || tm.BodyBytes != 64<<20 || len(resp.Body()) != 4096 {
			t.Errorf("GET %s: NewConn %v, BodyBytes %d, kept %d; want false, %d, 4096", path, tm.NewConn, tm.BodyBytes, len(resp.Body()), 64<<20)
		}
		// The hostile server in this process allocates too (its buffers); 64 MiB went through.
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 4<<20 {
			t.Errorf("GET %s: allocated %d bytes for a 64 MiB body kept to 4 KiB; want under 4 MiB", path, alloc)
		}
		_, tm, err = do(h, "/ok", time.Second, 1024)
		if err != nil || tm.NewConn {
			t.Errorf("GET /ok after %s: err %v, NewConn %v; want the connection reused", path, err, tm.NewConn)
		}
	}
	if got := c.Conns(); got != 1 {
		t.Errorf("Conns() = %d; want 1", got)
	}
}

// TestKeepZero: keep 0 reads the body and keeps none of it.
func TestKeepZero(t *testing.T) {
	srv := startHostile(t)
	c := New(Config{})
	defer c.CloseIdleConnections()
	h, _ := c.Host(srv.URL())
	resp, tm, err := do(h, "/big/100000", time.Second, 0)
	if err != nil || len(resp.Body()) != 0 || tm.BodyBytes != 100000 {
		t.Errorf("keep 0: err %v, kept %d, BodyBytes %d; want nil, 0, 100000", err, len(resp.Body()), tm.BodyBytes)
	}
}
