package httpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/testenv"
)

func get(t *testing.T, c *Client, url string, timeout time.Duration) (*fasthttp.Response, Timing, error) {
	t.Helper()
	h, err := c.Host(url)
	if err != nil {
		t.Fatalf("Host(%q): %v", url, err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	t.Cleanup(func() { fasthttp.ReleaseRequest(req) })
	req.SetRequestURI(url)
	var tm Timing
	err = h.Do(req, resp, timeout, 1<<20, &tm)
	return resp, tm, err
}

// TestClassify provokes every failure that can be provoked locally and checks
// the reason Classify gives it.
func TestClassify(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	resetMid := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		cn, bw, _ := hj.Hijack()
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
		bw.Flush()
		if tc, ok := cn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST instead of FIN
		}
		cn.Close()
	}))
	defer resetMid.Close()
	closeEarly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		cn, _, _ := hj.Hijack()
		cn.Close()
	}))
	defer closeEarly.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()

	badDNS := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no dns server here")
	}}

	for _, tc := range []struct {
		name    string
		cfg     Config
		url     string
		timeout time.Duration
		abort   time.Duration // call Abort after this long (0 = never)
		want    Reason
	}{
		{"ok", Config{}, plain.URL, time.Second, 0, ReasonNone},
		{"connect refused", Config{}, "http://" + testenv.FreeAddr(t) + "/", time.Second, 0, ReasonConnect},
		{"dns", Config{Resolver: badDNS}, "http://no-such-host.invalid:80/", time.Second, 0, ReasonDNS},
		{"tls to a plain server", Config{}, strings.Replace(plain.URL, "http:", "https:", 1), time.Second, 0, ReasonTLS},
		{"timeout", Config{}, slow.URL, 100 * time.Millisecond, 0, ReasonTimeout},
		{"reset mid-response", Config{}, resetMid.URL, time.Second, 0, ReasonReset},
		{"closed before response", Config{}, closeEarly.URL, time.Second, 0, ReasonReset},
		{"canceled in flight", Config{}, slow.URL, 5 * time.Second, 100 * time.Millisecond, ReasonCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.cfg)
			if tc.abort > 0 {
				tm := time.AfterFunc(tc.abort, c.Abort)
				defer tm.Stop()
			}
			start := time.Now()
			_, _, err := get(t, c, tc.url, tc.timeout)
			if got := Classify(err); got != tc.want {
				t.Errorf("Classify(%v) = %v; want %v", err, got, tc.want)
			}
			if el := time.Since(start); el > tc.timeout+time.Second {
				t.Errorf("request took %v; want it bounded by its timeout %v", el, tc.timeout)
			}
			c.CloseIdleConnections()
		})
	}
}

func TestTiming(t *testing.T) {
	body := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		tls  bool
	}{
		{"http", httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			w.Write([]byte(body))
		})), false},
		{"https", httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			w.Write([]byte(body))
		})), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.srv.Close()
			var cfg Config
			if tc.tls {
				cfg.TLSConfig = tc.srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			c := New(cfg)
			for i := range 3 {
				resp, tm, err := get(t, c, tc.srv.URL+"/x", time.Second)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if got := len(resp.Body()); got != len(body) {
					t.Errorf("request %d: body %d bytes; want %d", i, got, len(body))
				}
				if got, want := tm.NewConn, i == 0; got != want {
					t.Errorf("request %d: NewConn = %v; want %v", i, got, want)
				}
				if i == 0 {
					if tm.Connect <= 0 {
						t.Errorf("request 0: Connect = %v; want > 0", tm.Connect)
					}
					if tc.tls && tm.TLS <= 0 {
						t.Errorf("request 0: TLS = %v; want > 0", tm.TLS)
					}
					if tm.DNS != 0 {
						t.Errorf("request 0: DNS = %v; want 0 for an IP target", tm.DNS)
					}
				}
				if tm.TTFB < 5*time.Millisecond || tm.TTFB > tm.End.Sub(tm.Start) {
					t.Errorf("request %d: TTFB = %v; want >= 5ms and <= total %v", i, tm.TTFB, tm.End.Sub(tm.Start))
				}
				if tm.BytesIn < int64(len(body)) || tm.BytesOut < 20 {
					t.Errorf("request %d: BytesIn, BytesOut = %d, %d; want >= %d, >= 20", i, tm.BytesIn, tm.BytesOut, len(body))
				}
			}
			if got := c.Conns(); got != 1 {
				t.Errorf("Conns() = %d after 3 sequential requests; want 1 (keep-alive)", got)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	for _, r := range ErrorReasons {
		got, ok := ParseReason(r.String())
		if !ok || got != r {
			t.Errorf("ParseReason(%q) = %v, %v; want %v, true", r.String(), got, ok, r)
		}
	}
	if got := len(ErrorReasons); got != int(NumReasons)-1 {
		t.Errorf("len(ErrorReasons) = %d; want %d", got, NumReasons-1)
	}
}

var _ = tls.VersionTLS12

func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	c := New(Config{})
	h, _ := c.Host(srv.URL)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(srv.URL + "/")
	var tm Timing
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Do(req, resp, time.Second, 1<<20, &tm); err != nil {
			b.Fatal(err)
		}
	}
}
