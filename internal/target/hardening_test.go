package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// serveOn runs srv.Serve on a loopback port until the test ends and returns
// its address.
func serveOn(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.ShutdownTimeout = 2 * time.Second
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// rawRequest opens a connection and writes s to it.
func rawRequest(t *testing.T, addr, s string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
	return c
}

// readStatus reads one response from c (at most wait) and returns its code.
func readStatus(t *testing.T, c net.Conn, wait time.Duration) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", wait, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitClosed reports whether the server closes c within wait.
func waitClosed(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// TestSlowUploadHoldsNoWorker: a pooled route reads the body before it takes
// a worker, so with one worker and no queue a client trickling its upload
// leaves the worker free for others, and is answered 408 when the read
// timeout passes.
func TestSlowUploadHoldsNoWorker(t *testing.T) {
	cfg := FixedServiceConfig(1, 0, 20*time.Millisecond)
	cfg.ReadTimeout = 400 * time.Millisecond
	srv := newServer(t, cfg)
	addr := serveOn(t, srv)
	slow := rawRequest(t, addr, "POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"email\":")
	waitFor(t, "the upload to reach its handler", func() bool { return testutil.ToFloat64(srv.metrics.inFlight) == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := srv.pool.inUse(); n != 0 {
		t.Errorf("a request still uploading its body holds %d worker(s); want 0", n)
	}
	resp, err := http.Get("http://" + addr + "/api/teams")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/teams while another client uploads slowly = %d; want 200 (the only worker is free)", resp.StatusCode)
	}
	if code := readStatus(t, slow, 5*time.Second); code != http.StatusRequestTimeout {
		t.Errorf("the slow upload got %d; want 408 once the read timeout passed", code)
	}
}

// TestHugeUploadRefusedBeforeThePool: a chunked body over the limit gets 413
// at once, even while the pool and its queue are full (it used to wait for
// a worker first, and get 503).
func TestHugeUploadRefusedBeforeThePool(t *testing.T) {
	srv := newServer(t, FixedServiceConfig(1, 0, time.Second))
	addr := serveOn(t, srv)
	go func() { // holds the only worker for 1 s
		if resp, err := http.Get("http://" + addr + "/api/teams"); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the worker to be taken", func() bool { return srv.pool.inUse() == 1 })
	c := rawRequest(t, addr, "POST /api/auth/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
	go func() { // 2 MiB in 64 KiB chunks, until the server stops reading
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("x", 64<<10))
		for range 32 {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}()
	if code := readStatus(t, c, 5*time.Second); code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over %d bytes while the pool is full = %d; want 413", MaxBodyBytes, code)
	}
}

// TestConnectionTimeouts: slow headers and idle keep-alive connections are
// closed; a request served for longer than the read timeout (service time)
// is not cut.
func TestConnectionTimeouts(t *testing.T) {
	cfg := FixedServiceConfig(2, 2, 700*time.Millisecond)
	cfg.ReadHeaderTimeout = 200 * time.Millisecond
	cfg.ReadTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = 300 * time.Millisecond
	srv := newServer(t, cfg)
	addr := serveOn(t, srv)

	slowHeaders := rawRequest(t, addr, "GET /api/health HTTP/1.1\r\nHost: t\r\n")
	if !waitClosed(slowHeaders, 5*time.Second) {
		t.Error("a client that never finished its headers was not disconnected")
	}

	// longer than the read timeout in service, with a body: answered
	c := rawRequest(t, addr, "POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 49\r\n\r\n"+
		`{"email":"user1@example.com","password":"secret"}`)
	if code := readStatus(t, c, 10*time.Second); code != http.StatusOK {
		t.Errorf("login taking 700ms with a 300ms read timeout = %d; want 200", code)
	}
	// the same connection, now idle, is closed after the idle timeout
	if !waitClosed(c, 5*time.Second) {
		t.Error("an idle keep-alive connection was not closed")
	}
}

// TestAdminAccess: /admin/* answers loopback clients only, unless a token is
// set; then it needs the token from everyone.
func TestAdminAccess(t *testing.T) {
	open := newServer(t, fastConfig())
	withToken := fastConfig()
	withToken.AdminToken = "adm1n-t0ken"
	guarded := newServer(t, withToken)
	tests := []struct {
		name   string
		srv    *Server
		remote string
		auth   string
		want   int
	}{
		{"loopback v4", open, "127.0.0.1:5000", "", 200},
		{"loopback v6", open, "[::1]:5000", "", 200},
		{"loopback mapped", open, "[::ffff:127.0.0.1]:5000", "", 200},
		{"remote", open, "10.1.2.3:5000", "", 403},
		{"remote with a token nobody set", open, "192.168.1.9:5000", "Bearer x", 403},
		{"token from remote", guarded, "10.1.2.3:5000", "Bearer adm1n-t0ken", 200},
		{"token scheme any case", guarded, "10.1.2.3:5000", "bearer adm1n-t0ken", 200},
		{"no token from loopback", guarded, "127.0.0.1:5000", "", 401},
		{"wrong token", guarded, "127.0.0.1:5000", "Bearer adm1n-t0kem", 401},
		{"token prefix", guarded, "127.0.0.1:5000", "Bearer adm1n", 401},
		{"not bearer", guarded, "127.0.0.1:5000", "Basic adm1n-t0ken", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rq := range []struct{ method, path, body string }{
				{"GET", "/admin/faults", ""}, {"PUT", "/admin/faults", `{}`}, {"GET", "/admin/config", ""},
			} {
				req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
				req.RemoteAddr = tt.remote
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				rec := httptest.NewRecorder()
				tt.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != tt.want {
					t.Errorf("%s %s from %s = %d %s; want %d", rq.method, rq.path, tt.remote, rec.Code, rec.Body, tt.want)
				}
				if strings.Contains(rec.Body.String(), "adm1n-t0ken") {
					t.Errorf("%s %s shows the admin token: %s", rq.method, rq.path, rec.Body)
				}
			}
		})
	}
	req := httptest.NewRequest("GET", "/admin/faults", nil)
	req.RemoteAddr = "10.1.2.3:5000"
	rec := httptest.NewRecorder()
	open.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "--admin-token") {
		t.Errorf("403 body %s: want it to say how to allow other clients", rec.Body)
	}
	// the API itself stays open to everyone
	req = httptest.NewRequest("GET", "/api/teams", nil)
	req.RemoteAddr = "10.1.2.3:5000"
	rec = httptest.NewRecorder()
	guarded.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("GET /api/teams from a remote client = %d; want 200", rec.Code)
	}
}
