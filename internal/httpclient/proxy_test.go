package httpclient

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testProxy is an HTTP proxy in the test process: absolute-form requests
// are forwarded, CONNECT is tunnelled. Every host name it is asked for
// resolves to 127.0.0.1 (so made-up names reach the loopback servers).
type testProxy struct {
	*httptest.Server
	forwarded, connects atomic.Int64
	auth                atomic.Value // the last Proxy-Authorization seen
}

func startProxy(t *testing.T) *testProxy {
	t.Helper()
	p := &testProxy{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	tr := &http.Transport{DialContext: dial}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.auth.Store(r.Header.Get("Proxy-Authorization"))
		if r.Method == http.MethodConnect {
			p.connects.Add(1)
			up, err := dial(r.Context(), "tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			cn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				up.Close()
				return
			}
			io.WriteString(cn, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() {
				io.Copy(up, brw)
				up.Close()
			}()
			io.Copy(cn, up)
			cn.Close()
			return
		}
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.forwarded.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		res, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	p.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.Start()
	t.Cleanup(func() {
		p.CloseClientConnections()
		p.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// TestProxy: http targets go through the proxy in absolute form, https and
// h2c ones through a CONNECT tunnel (TLS end to end, HTTP/2 inside when the
// target offers it); credentials in the proxy URL are sent; the environment
// is honoured when the plan sets no proxy, NO_PROXY included.
func TestProxy(t *testing.T) {
	p := newPKI(t)
	plain := startServer(t, "http", p)
	h2 := startServer(t, "h2", p)
	h2c := startServer(t, "h2c", p)
	tlsOpts := TLSOptions{CAFile: p.caFile}
	for _, tc := range []struct {
		name                string
		version             Version
		url                 string
		forwarded, connects int64
		proto               string
	}{
		{"http through a forward proxy", VersionAuto, plain.URL, 3, 0, "HTTP/1.1"},
		{"https through CONNECT, HTTP/1.1", Version1, h2.URL, 0, 1, "HTTP/1.1"},
		{"https through CONNECT, auto picks h2", VersionAuto, h2.URL, 0, 1, "HTTP/2.0"},
		{"h2c through CONNECT", VersionH2C, h2c.URL, 0, 1, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px := startProxy(t)
			proxyURL := strings.Replace(px.URL, "http://", "http://user:pa%20ss@", 1)
			c := New(Config{Version: tc.version, Proxy: proxyURL, TLS: tlsOpts})
			defer c.CloseIdleConnections()
			for range 3 {
				resp, _, err := fetch(t, c, tc.url+"/proto")
				if err != nil {
					t.Fatal(err)
				}
				if got := string(resp.Body()); got != tc.proto {
					t.Errorf("server saw %q; want %q", got, tc.proto)
				}
			}
			if f, cn := px.forwarded.Load(), px.connects.Load(); f != tc.forwarded || cn != tc.connects {
				t.Errorf("proxy forwarded %d and tunnelled %d; want %d and %d", f, cn, tc.forwarded, tc.connects)
			}
			if got, want := px.auth.Load(), "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pa ss")); got != want {
				t.Errorf("Proxy-Authorization %q; want %q", got, want)
			}
		})
	}

	t.Run("forward proxy credentials stay with it", func(t *testing.T) {
		px := startProxy(t)
		c := New(Config{Proxy: strings.Replace(px.URL, "http://", "http://user:secret@", 1), Redirects: 2, TLS: tlsOpts})
		defer c.CloseIdleConnections()
		resp, tm, err := fetch(t, c, plain.URL+"/redirect-to?url="+h2.URL+"/headers")
		if err != nil || len(tm.Hops) != 1 {
			t.Fatalf("redirect from http to https through the proxy: %v, %d hops", err, len(tm.Hops))
		}
		if strings.Contains(string(resp.Body()), "Proxy-Authorization") || px.forwarded.Load() != 1 || px.connects.Load() != 1 {
			t.Errorf("https target saw %s (forwarded %d, tunnelled %d); want no Proxy-Authorization, 1 and 1", resp.Body(), px.forwarded.Load(), px.connects.Load())
		}
	})

	t.Run("environment", func(t *testing.T) {
		px := startProxy(t)
		t.Setenv("HTTP_PROXY", px.URL)
		t.Setenv("HTTPS_PROXY", px.URL)
		t.Setenv("NO_PROXY", "direct.test")
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(plain.URL, "http://"))
		// Loopback targets are never proxied: made-up names, pinned by hosts, are.
		c := New(Config{Hosts: map[string]string{"via.test": "127.0.0.1", "direct.test": "127.0.0.1"}})
		defer c.CloseIdleConnections()
		for _, u := range []string{plain.URL, "http://via.test:" + port, "http://direct.test:" + port} {
			if _, _, err := fetch(t, c, u+"/get"); err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
		}
		if got := px.forwarded.Load(); got != 1 {
			t.Errorf("proxy forwarded %d requests; want 1 (via.test only)", got)
		}
		cd := New(Config{Proxy: "direct", Hosts: map[string]string{"via.test": "127.0.0.1"}})
		if _, _, err := fetch(t, cd, "http://via.test:"+port+"/get"); err != nil || px.forwarded.Load() != 1 {
			t.Errorf("proxy direct: %v, forwarded %d; want no proxy", err, px.forwarded.Load())
		}
		cd.CloseIdleConnections()
	})

	t.Run("refused CONNECT", func(t *testing.T) {
		px := startProxy(t)
		c := New(Config{Proxy: px.URL, TLS: tlsOpts, Hosts: map[string]string{"nowhere.test": "127.0.0.1:1"}})
		_, _, err := fetch(t, c, "https://nowhere.test/")
		if Classify(err) != ReasonConnect || !strings.Contains(err.Error(), "502") {
			t.Errorf("CONNECT refused by the proxy: %v (reason %v); want connect naming the status", err, Classify(err))
		}
	})
}

// TestHosts: a made-up name reaches the loopback server, over TLS too (the
// certificate checked against the name, not the address); a name:port key
// and an address with a port.
func TestHosts(t *testing.T) {
	p := newPKI(t)
	plain := startServer(t, "http", p)
	h2 := startServer(t, "h2", p)
	_, plainPort, _ := net.SplitHostPort(strings.TrimPrefix(plain.URL, "http://"))
	_, tlsPort, _ := net.SplitHostPort(strings.TrimPrefix(h2.URL, "https://"))
	for _, tc := range []struct {
		name  string
		hosts map[string]string
		url   string
		want  Reason
	}{
		{"name to IP", map[string]string{"api.test": "127.0.0.1"}, "http://api.test:" + plainPort, ReasonNone},
		{"name:port to IP:port", map[string]string{"api.test:80": "127.0.0.1:" + plainPort}, "http://api.test", ReasonNone},
		{"TLS: name verified", map[string]string{"api.test": "127.0.0.1"}, "https://api.test:" + tlsPort, ReasonNone},
		{"TLS: a name the certificate lacks", map[string]string{"wrong.test": "127.0.0.1"}, "https://wrong.test:" + tlsPort, ReasonTLS},
		{"no override: the name does not resolve", nil, "http://api.test.invalid:" + plainPort, ReasonDNS},
	} {
		for _, v := range []Version{VersionAuto, Version1} {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				c := New(Config{Version: v, Hosts: tc.hosts, TLS: TLSOptions{CAFile: p.caFile}})
				defer c.CloseIdleConnections()
				resp, tm, err := fetch(t, c, tc.url+"/headers")
				if got := Classify(err); got != tc.want {
					t.Fatalf("GET %s: %v (reason %v); want %v", tc.url, err, got, tc.want)
				}
				if err != nil {
					return
				}
				host := strings.TrimPrefix(strings.TrimPrefix(tc.url, "http://"), "https://")
				if !strings.Contains(string(resp.Body()), `"`+host+`"`) || tm.DNS != 0 {
					t.Errorf("GET %s: %s, dns %v; want the server to see Host %s, no DNS lookup", tc.url, resp.Body(), tm.DNS, host)
				}
			})
		}
	}
}

// TestHTTP2Failures: what the HTTP/2 path reports, by reason.
func TestHTTP2Failures(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, "h2", p)
	for _, tc := range []struct {
		name    string
		path    string
		timeout time.Duration
		abort   bool
		want    Reason
	}{
		{"stream reset by the server", "/reset", time.Second, false, ReasonReset},
		{"headers over the limit", "/bigheader", time.Second, false, ReasonProtocol},
		{"timeout", "/slow", 100 * time.Millisecond, false, ReasonTimeout},
		{"aborted", "/slow", 5 * time.Second, true, ReasonCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{Version: Version2, TLS: TLSOptions{CAFile: p.caFile}})
			defer c.CloseIdleConnections()
			h, _ := c.Host(srv.URL)
			if _, _, err := fetch(t, c, srv.URL+"/get"); err != nil { // a connection exists
				t.Fatal(err)
			}
			if tc.abort {
				tm := time.AfterFunc(100*time.Millisecond, c.Abort)
				defer tm.Stop()
			}
			start := time.Now()
			_, tm, err := sendTimeout(c, h, srv.URL+tc.path, tc.timeout, 1<<20)
			if got := Classify(err); got != tc.want {
				t.Errorf("GET %s: %v (reason %v); want %v", tc.path, err, got, tc.want)
			}
			if el := time.Since(start); el > tc.timeout+time.Second {
				t.Errorf("took %v; want it bounded", el)
			}
			if tm.End.IsZero() {
				t.Error("Timing.End not set")
			}
		})
	}
}

// TestBodyLimits: the keep limit and Cut on both paths, with and without a
// length, and the receive phase.
func TestBodyLimits(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, "h2", p)
	for _, v := range versions {
		c := New(Config{Version: v, TLS: TLSOptions{CAFile: p.caFile}})
		h, _ := c.Host(srv.URL)
		for _, tc := range []struct {
			path       string
			keep, kept int
			body       int64
			cut        bool
		}{
			{"/bytes/100000", 4096, 4096, 100000, true},
			{"/stream-bytes/100000?chunk_size=1000", 4096, 4096, 100000, true},
			{"/bytes/100", 4096, 100, 100, false},
			{"/bytes/5000", 0, 0, 5000, true},
			{"/drip?numbytes=4&duration=0.2&delay=0", 100, 4, 4, false},
		} {
			resp, tm, err := sendTimeout(c, h, srv.URL+tc.path, 5*time.Second, tc.keep)
			if err != nil {
				t.Fatalf("%v GET %s: %v", v, tc.path, err)
			}
			if len(resp.Body()) != tc.kept || tm.BodyBytes != tc.body || tm.Cut != tc.cut {
				t.Errorf("%v GET %s keep %d: kept %d, BodyBytes %d, Cut %v; want %d, %d, %v", v, tc.path, tc.keep, len(resp.Body()), tm.BodyBytes, tm.Cut, tc.kept, tc.body, tc.cut)
			}
			if strings.HasPrefix(tc.path, "/drip") && tm.Receive < 100*time.Millisecond {
				t.Errorf("%v GET %s: receive %v; want the 200 ms the body took to arrive", v, tc.path, tm.Receive)
			}
		}
		c.CloseIdleConnections()
	}
}

func sendTimeout(c *Client, h *Host, url string, timeout time.Duration, keep int) (*fasthttpResponse, *Timing, error) {
	req, resp := newReq(url), &fasthttpResponse{}
	tm := &Timing{}
	err := h.Do(req, resp, timeout, keep, tm)
	return resp, tm, err
}
