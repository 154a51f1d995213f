package executor

// Real-world HTTP through the path users reach: a plan file written to a
// directory (so its TLS and body files resolve relative to it), loaded with
// plan.LoadFile, run by the executor against loopback servers the tests
// start: go-httpbin plus a few handlers it lacks, over HTTP/1.1, h2c, TLS
// (with a CA made by the test) and TLS requiring a client certificate.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	brotli "github.com/molecule-man/go-brrr"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/testenv/testpki"
)

// httpFixture is the servers and files of one test: a directory holding
// the CA and client certificate, and what the servers saw.
type httpFixture struct {
	dir                    string
	pki                    *testpki.PKI
	caPEM, certPEM, keyPEM []byte
	h2, h1                 atomic.Int64 // requests the servers saw by protocol
	mismatched             atomic.Int64 // /private?user=X with another user's cookie
}

func newHTTPFixture(t *testing.T) *httpFixture {
	t.Helper()
	f := &httpFixture{dir: t.TempDir()}
	x := testpki.New(t, "loadlab executor test CA")
	f.pki, f.caPEM, f.certPEM, f.keyPEM = x, x.CAPEM, x.ClientCertPEM, x.ClientKeyPEM
	f.write(t, "tls/ca.pem", f.caPEM)
	f.write(t, "tls/client.pem", f.certPEM)
	f.write(t, "tls/client.key", f.keyPEM)
	return f
}

func (f *httpFixture) write(t *testing.T, name string, b []byte) {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// handler is go-httpbin plus /proto (the protocol the server saw), /brotli,
// /login?user=U (sets session=s-U) and /private?user=U (200 with the
// session of U, 401 without a session, 409 with another user's).
func (f *httpFixture) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", httpbin.New())
	mux.HandleFunc("/proto", func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			f.h2.Add(1)
		} else {
			f.h1.Add(1)
		}
		io.WriteString(w, r.Proto)
	})
	mux.HandleFunc("/brotli", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		w.Header().Set("Content-Type", "application/json")
		zw, _ := brotli.NewWriter(w, 5)
		io.WriteString(zw, `{"brotli": true, "accept": "`+r.Header.Get("Accept-Encoding")+`"}`)
		zw.Close()
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-" + r.URL.Query().Get("user"), Path: "/"})
		io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("session")
		switch {
		case err != nil:
			http.Error(w, "no session", http.StatusUnauthorized)
		case ck.Value != "s-"+r.URL.Query().Get("user"):
			f.mismatched.Add(1)
			http.Error(w, "another user's session: "+ck.Value, http.StatusConflict)
		default:
			io.WriteString(w, "hello "+ck.Value)
		}
	})
	return mux
}

// server starts a loopback server: "http" (HTTP/1.1), "h2c" (HTTP/1.1 and
// h2c), "h2" (TLS with h2 and HTTP/1.1), "mtls" (h2, a client certificate
// required). conns counts the connections it accepted.
func (f *httpFixture) server(t *testing.T, kind string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	return f.pki.Server(t, f.handler(), kind)
}

// load runs a plan for a few iterations: vus virtual users (closed model)
// or, with vus 0, 20 iterations/s (open model), for d.
func load(vus int, d time.Duration) string {
	if vus == 0 {
		return fmt.Sprintf("load: {model: open, phases: [{name: p, duration: %v, rate: 20}]}\n", d)
	}
	return fmt.Sprintf("load: {model: closed, phases: [{name: p, duration: %v, vus: %d}]}\n", d, vus)
}

// runFile writes the plan to the fixture's directory, loads it as loadgen
// run does and runs it.
func (f *httpFixture) runFile(t *testing.T, target, yaml string, opts ...Option) *Results {
	t.Helper()
	path := filepath.Join(f.dir, "plan.yaml")
	f.write(t, "plan.yaml", []byte("name: http\ntarget: "+target+"\n"+yaml))
	p, err := plan.LoadFile(path)
	if err != nil {
		t.Fatalf("plan.LoadFile: %v\n%s", err, yaml)
	}
	e, err := New(p, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return e.Results()
}

// stepOf returns the results of the named step.
func stepOf(t *testing.T, res *Results, name string) *Cell {
	t.Helper()
	for _, c := range res.Steps {
		if c.Step == name {
			return c
		}
	}
	t.Fatalf("no step %s in the results", name)
	return nil
}

// wantOK fails unless every request of every step succeeded (and some did).
func wantOK(t *testing.T, res *Results) {
	t.Helper()
	if res.Total.Requests == 0 {
		t.Fatal("no request was sent")
	}
	if res.Total.Errors != 0 {
		t.Fatalf("%d of %d requests failed: %v; samples %+v", res.Total.Errors, res.Total.Requests, res.Total.ErrorCounts(), res.ErrorSamples)
	}
}

// wantReason fails unless every request failed with reason.
func wantReason(t *testing.T, res *Results, reason Reason) {
	t.Helper()
	if res.Total.Requests == 0 || res.Total.ErrorsByReason[reason] != res.Total.Requests {
		t.Fatalf("errors %v of %d requests; want all %s (samples %+v)", res.Total.ErrorCounts(), res.Total.Requests, reason, res.ErrorSamples)
	}
}

func TestHTTPTLS(t *testing.T) {
	f := newHTTPFixture(t)
	srv, _ := f.server(t, "h2")
	mtls, _ := f.server(t, "mtls")
	step := "scenarios: [{name: s, steps: [{name: get, request: {path: /get}, check: {status: [200]}}]}]\n" + load(1, 200*time.Millisecond)
	apiTest := "https://api.test:" + portOf(t, srv.URL)
	for _, tc := range []struct {
		name, target, http string
		want               Reason // ReasonNone: every request succeeds
	}{
		{"ca_file trusted", srv.URL, "{tls: {ca_file: tls/ca.pem}}", ReasonNone},
		{"system roots: unknown authority", srv.URL, "{}", ReasonTLS},
		{"insecure_skip_verify", srv.URL, "{tls: {insecure_skip_verify: true}}", ReasonNone},
		{"server_name covered by the certificate", srv.URL, "{tls: {ca_file: tls/ca.pem, server_name: api.test}}", ReasonNone},
		{"wrong server_name", srv.URL, "{tls: {ca_file: tls/ca.pem, server_name: wrong.example}}", ReasonTLS},
		{"client certificate", mtls.URL, "{tls: {ca_file: tls/ca.pem, cert_file: tls/client.pem, key_file: tls/client.key}}", ReasonNone},
		{"client certificate missing", mtls.URL, "{tls: {ca_file: tls/ca.pem}}", ReasonTLS},
		{"min_version 1.3", srv.URL, `{tls: {ca_file: tls/ca.pem, min_version: "1.3"}}`, ReasonNone},
		{"hosts: a made-up name, verified as that name", apiTest, "{tls: {ca_file: tls/ca.pem}, hosts: {api.test: 127.0.0.1}}", ReasonNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.runFile(t, tc.target, "defaults: {http: "+tc.http+"}\n"+step)
			if tc.want == ReasonNone {
				wantOK(t, res)
				if c := res.Total; c.TLS.Count() == 0 || c.Connect.Count() == 0 {
					t.Errorf("tls measured %d times, connect %d; want both on the first request", c.TLS.Count(), c.Connect.Count())
				}
				return
			}
			wantReason(t, res, tc.want)
		})
	}
}

func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func TestHTTPVersion(t *testing.T) {
	f := newHTTPFixture(t)
	h2, _ := f.server(t, "h2")
	h2c, _ := f.server(t, "h2c")
	for _, tc := range []struct {
		name, target, version, body string
		h2                          bool
	}{
		{"auto over TLS: h2 agreed", h2.URL, "auto", "HTTP/2.0", true},
		{"2 over TLS", h2.URL, `"2"`, "HTTP/2.0", true},
		{"1.1 over TLS", h2.URL, `"1.1"`, "HTTP/1.1", false},
		{"h2c", h2c.URL, "h2c", "HTTP/2.0", true},
		{"auto over plain http: HTTP/1.1", h2c.URL, "auto", "HTTP/1.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.h1.Store(0)
			f.h2.Store(0)
			res := f.runFile(t, tc.target, "defaults: {http: {version: "+tc.version+", tls: {ca_file: tls/ca.pem}}}\n"+
				"scenarios: [{name: s, steps: [{name: proto, request: {path: /proto}, check: {body_contains: "+tc.body+"}}]}]\n"+
				load(2, 200*time.Millisecond))
			wantOK(t, res)
			// The protocol the server saw, not the one asked for.
			h1, h2 := f.h1.Load(), f.h2.Load()
			if tc.h2 && (h2 != int64(res.Total.Requests) || h1 != 0) || !tc.h2 && (h1 != int64(res.Total.Requests) || h2 != 0) {
				t.Errorf("server saw %d HTTP/1.x and %d HTTP/2 requests of %d; want all HTTP/2: %v", h1, h2, res.Total.Requests, tc.h2)
			}
			if c := res.Total; c.TTFB.Count() != c.Requests || c.Receive.Count() != c.Requests {
				t.Errorf("wait measured %d times, receive %d, of %d requests; want every one", c.TTFB.Count(), c.Receive.Count(), c.Requests)
			}
		})
	}
}

func TestHTTPCookies(t *testing.T) {
	f := newHTTPFixture(t)
	srv, _ := f.server(t, "http")
	journey := func(before string) string {
		return "scenarios: [{name: s, steps: [\n" +
			"  {name: before, request: {path: \"/private?user=${vu}\"}, check: {status: " + before + "}},\n" +
			"  {name: login, request: {method: POST, path: \"/login?user=${vu}\"}},\n" +
			"  {name: private, request: {path: \"/private?user=${vu}\"}, check: {status: [200], body_contains: \"hello s-\"}}]}]\n"
	}
	t.Run("closed: one jar per VU, never shared", func(t *testing.T) {
		f.mismatched.Store(0)
		res := f.runFile(t, srv.URL, journey("[200, 401]")+load(2, 400*time.Millisecond))
		wantOK(t, res)
		if f.mismatched.Load() != 0 {
			t.Errorf("%d requests carried another VU's session; want none", f.mismatched.Load())
		}
		// The jar lives as long as its VU: only each VU's first iteration finds no session.
		if got := stepOf(t, res, "before").Status[401]; got != 2 {
			t.Errorf("before login: %d answers 401; want 2 (the first iteration of each of the 2 VUs)", got)
		}
	})
	t.Run("open: one jar per iteration", func(t *testing.T) {
		f.mismatched.Store(0)
		res := f.runFile(t, srv.URL, journey("[401]")+load(0, 400*time.Millisecond))
		wantOK(t, res)
		if f.mismatched.Load() != 0 {
			t.Errorf("%d requests carried another iteration's session; want none", f.mismatched.Load())
		}
	})
	t.Run("cookies: false", func(t *testing.T) {
		res := f.runFile(t, srv.URL, "defaults: {http: {cookies: false}}\n"+journey("[401]")+load(1, 200*time.Millisecond))
		if c := stepOf(t, res, "private"); c.Requests == 0 || c.Status[401] != c.Requests {
			t.Errorf("private without a jar: statuses %v; want every one 401", c.Status)
		}
	})
}

func TestHTTPCompression(t *testing.T) {
	f := newHTTPFixture(t)
	srv, _ := f.server(t, "http")
	res := f.runFile(t, srv.URL, "defaults: {http: {compression: [gzip, br, deflate]}}\n"+
		"scenarios: [{name: s, steps: [\n"+
		"  {name: gzip, request: {path: /gzip}, check: {json: {$.gzipped: true}}, capture: {g: $.method}},\n"+
		"  {name: brotli, request: {path: /brotli}, check: {json: {$.brotli: true, $.accept: \"gzip, br, deflate\"}}, capture: {b: $.brotli}},\n"+
		"  {name: deflate, request: {path: /deflate}, check: {json: {$.deflated: true}}, capture: {d: $.deflated}},\n"+
		"  {name: used, request: {path: \"/anything/${g}/${b}/${d}\"}, check: {json: {$.url: \"http://"+hostOf(srv.URL)+"/anything/GET/true/true\"}}}]}]\n"+
		load(1, 200*time.Millisecond))
	wantOK(t, res)
	for _, name := range []string{"gzip", "brotli", "deflate"} {
		if c := stepOf(t, res, name); c.BytesIn == 0 {
			t.Errorf("%s: no bytes in counted", name)
		}
	}
}

func hostOf(raw string) string { return strings.TrimPrefix(raw, "http://") }

func TestHTTPRedirects(t *testing.T) {
	f := newHTTPFixture(t)
	srv, _ := f.server(t, "http")
	t.Run("followed, every hop timed", func(t *testing.T) {
		res := f.runFile(t, srv.URL, "scenarios: [{name: s, steps: [{name: r, request: {path: /redirect/3}, check: {status: [200]}}]}]\n"+
			load(1, 200*time.Millisecond))
		wantOK(t, res)
		c := stepOf(t, res, "r")
		if c.Redirects != 3*c.Requests {
			t.Errorf("%d hops followed for %d requests; want 3 each", c.Redirects, c.Requests)
		}
		if c.TTFB.Count() != 4*c.Requests || c.Receive.Count() != 4*c.Requests {
			t.Errorf("wait timed %d times, receive %d, for %d requests; want 4 each (3 hops and the final response)",
				c.TTFB.Count(), c.Receive.Count(), c.Requests)
		}
	})
	t.Run("redirects: 0 stops at the 302", func(t *testing.T) {
		res := f.runFile(t, srv.URL, "scenarios: [{name: s, steps: [{name: r, request: {path: /redirect/3, redirects: 0}, check: {status: [302]}}]}]\n"+
			load(1, 200*time.Millisecond))
		wantOK(t, res)
		if c := stepOf(t, res, "r"); c.Redirects != 0 {
			t.Errorf("%d hops followed; want none", c.Redirects)
		}
	})
	t.Run("over the plan's limit", func(t *testing.T) {
		res := f.runFile(t, srv.URL, "defaults: {http: {redirects: 2}}\n"+
			"scenarios: [{name: s, steps: [{name: r, request: {path: /redirect/3}}]}]\n"+load(1, 200*time.Millisecond))
		wantReason(t, res, ReasonStatus)
	})
	t.Run("a hop refused by the allow-list", func(t *testing.T) {
		to := url.QueryEscape("http://localhost:" + portOf(t, srv.URL) + "/get")
		allow := func(host string) error {
			if host == "127.0.0.1" {
				return nil
			}
			return errors.New("not allowed")
		}
		res := f.runFile(t, srv.URL, "scenarios: [{name: s, steps: [{name: r, request: {path: \"/redirect-to?url="+to+"\"}}]}]\n"+
			load(1, 200*time.Millisecond), WithAllowHost(allow))
		wantReason(t, res, ReasonOther)
	})
}

// proxy is an in-process HTTP proxy: absolute-form requests forwarded,
// CONNECT tunnelled. It counts both.
type proxy struct {
	forwarded, tunnels atomic.Int64
	wg                 sync.WaitGroup
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnels.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		down, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(up, brw); up.(*net.TCPConn).CloseWrite() }()
		go func() { defer p.wg.Done(); io.Copy(down, up); down.Close() }()
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.forwarded.Add(1)
	out, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
	out.Header = r.Header.Clone()
	out.Header.Del("Proxy-Authorization")
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func TestHTTPProxy(t *testing.T) {
	f := newHTTPFixture(t)
	plain, _ := f.server(t, "http")
	secure, _ := f.server(t, "h2")
	px := &proxy{}
	ps := httptest.NewServer(px)
	t.Cleanup(ps.Close)
	step := "scenarios: [{name: s, steps: [{name: get, request: {path: /get}, check: {status: [200]}}]}]\n" + load(1, 200*time.Millisecond)
	t.Run("forward", func(t *testing.T) {
		res := f.runFile(t, plain.URL, "defaults: {http: {proxy: "+ps.URL+"}}\n"+step)
		wantOK(t, res)
		if n := px.forwarded.Load(); n != int64(res.Total.Requests) {
			t.Errorf("proxy forwarded %d requests; want %d", n, res.Total.Requests)
		}
	})
	t.Run("CONNECT", func(t *testing.T) {
		res := f.runFile(t, secure.URL, "defaults: {http: {proxy: "+ps.URL+", tls: {ca_file: tls/ca.pem}}}\n"+step)
		wantOK(t, res)
		if n := px.tunnels.Load(); n < 1 {
			t.Errorf("proxy tunnelled %d connections; want at least 1", n)
		}
	})
	t.Run("hosts: the target's name pinned", func(t *testing.T) {
		res := f.runFile(t, "http://made-up.test:"+portOf(t, plain.URL), "defaults: {http: {hosts: {made-up.test: 127.0.0.1}}}\n"+step)
		wantOK(t, res)
	})
}

func TestHTTPBodies(t *testing.T) {
	f := newHTTPFixture(t)
	srv, _ := f.server(t, "http")
	f.write(t, "files/hello.txt", []byte("hello from a file"))
	f.write(t, "files/avatar.png", []byte("not really a png"))
	res := f.runFile(t, srv.URL, `variables: {who: Ada Lovelace}
scenarios: [{name: s, steps: [
  {name: form, request: {method: POST, path: /post, form: {name: "${who}", lang: "en & fr"}},
   check: {json: {"$.form.name[0]": Ada Lovelace, "$.form.lang[0]": "en & fr", "$.headers.Content-Type[0]": application/x-www-form-urlencoded}}},
  {name: multipart, request: {method: POST, path: /post, multipart: {fields: {title: "${who}"}, files: [{field: avatar, file: files/avatar.png}]}},
   check: {json: {"$.form.title[0]": Ada Lovelace, "$.files.avatar[0]": not really a png}}},
  {name: file, request: {method: PUT, path: /put, body_file: files/hello.txt},
   check: {json: {"$.data": hello from a file, "$.headers.Content-Type[0]": text/plain; charset=utf-8}}}]}]
`+load(1, 200*time.Millisecond))
	wantOK(t, res)
}

func TestHTTPConnectionReuse(t *testing.T) {
	f := newHTTPFixture(t)
	srv, conns := f.server(t, "h2")
	for _, tc := range []struct {
		reuse string
		check func(t *testing.T, res *Results, conns int64)
	}{
		{"none", func(t *testing.T, res *Results, conns int64) {
			c := res.Total
			if conns != int64(c.Requests) || c.Connect.Count() != c.Requests || c.TLS.Count() != c.Requests {
				t.Errorf("%d requests: %d connections, connect measured %d times, tls %d; want one each per request",
					c.Requests, conns, c.Connect.Count(), c.TLS.Count())
			}
		}},
		{"per_vu", func(t *testing.T, res *Results, conns int64) {
			if conns != 2 || res.Total.Requests < 4 {
				t.Errorf("%d requests by 2 VUs over %d connections; want 2 connections", res.Total.Requests, conns)
			}
		}},
	} {
		t.Run(tc.reuse, func(t *testing.T) {
			conns.Store(0)
			res := f.runFile(t, srv.URL, "defaults: {http: {connection_reuse: "+tc.reuse+", tls: {ca_file: tls/ca.pem}}}\n"+
				"scenarios: [{name: s, steps: [{name: get, request: {path: /get}}]}]\n"+load(2, 300*time.Millisecond))
			wantOK(t, res)
			tc.check(t, res, conns.Load())
		})
	}
}
