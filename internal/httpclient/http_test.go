package httpclient

import (
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// versions are the client versions each TLS case runs with: the fasthttp
// path and the HTTP/2 path.
var versions = []Version{Version1, Version2}

// TestTLSOptions: a server certificate from a CA made here, trusted through
// ca_file or not checked at all; a server that requires a client
// certificate; server_name; each on both paths.
func TestTLSOptions(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, "h2", p)
	mtls := startServer(t, "mtls", p)
	for _, v := range versions {
		for _, tc := range []struct {
			name string
			tls  TLSOptions
			url  string
			want Reason
		}{
			{"ca_file trusted", TLSOptions{CAFile: p.caFile}, srv.URL, ReasonNone},
			{"system roots: unknown authority", TLSOptions{}, srv.URL, ReasonTLS},
			{"insecure_skip_verify", TLSOptions{InsecureSkipVerify: true}, srv.URL, ReasonNone},
			{"server_name in the certificate", TLSOptions{CAFile: p.caFile, ServerName: "api.test"}, srv.URL, ReasonNone},
			{"wrong server_name", TLSOptions{CAFile: p.caFile, ServerName: "other.test"}, srv.URL, ReasonTLS},
			{"client certificate", TLSOptions{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, mtls.URL, ReasonNone},
			{"client certificate missing", TLSOptions{CAFile: p.caFile}, mtls.URL, ReasonTLS},
			{"client certificate missing, TLS 1.2", TLSOptions{CAFile: p.caFile, MinVersion: "1.2"}, mtls.URL, ReasonTLS},
			{"min_version 1.3", TLSOptions{CAFile: p.caFile, MinVersion: "1.3"}, srv.URL, ReasonNone},
		} {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				c := New(Config{Version: v, TLS: tc.tls})
				defer c.CloseIdleConnections()
				resp, tm, err := fetch(t, c, tc.url+"/proto")
				if got := Classify(err); got != tc.want {
					t.Fatalf("GET %s: reason %v (%v); want %v", tc.url, got, err, tc.want)
				}
				if err != nil {
					return
				}
				want := map[Version]string{Version1: "HTTP/1.1", Version2: "HTTP/2.0"}[v]
				if got := string(resp.Body()); got != want {
					t.Errorf("server saw %q; want %q", got, want)
				}
				if !tm.NewConn || tm.TLS <= 0 || tm.Connect <= 0 {
					t.Errorf("timing %+v; want a new connection with connect and tls measured", tm)
				}
			})
		}
	}
}

// TestTLSOptionErrors: bad files are reported by Host, naming the option.
func TestTLSOptionErrors(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		tls  TLSOptions
		want string
	}{
		{TLSOptions{CAFile: "/nonexistent/ca.pem"}, "tls.ca_file"},
		{TLSOptions{CAFile: p.clientKey}, "tls.ca_file"},
		{TLSOptions{CertFile: p.clientCert}, "tls.cert_file is set without tls.key_file"},
		{TLSOptions{KeyFile: p.clientKey}, "tls.key_file is set without tls.cert_file"},
		{TLSOptions{CertFile: p.clientCert, KeyFile: p.caFile}, "tls.cert_file"},
		{TLSOptions{MinVersion: "1.4"}, "tls.min_version"},
	} {
		_, err := New(Config{TLS: tc.tls}).Host("https://127.0.0.1:1")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Host with %+v: %v; want an error naming %q", tc.tls, err, tc.want)
		}
	}
	if _, err := New(Config{Version: Version2}).Host("http://127.0.0.1:1"); err == nil {
		t.Error("version 2 on an http target: no error")
	}
	if _, err := New(Config{Version: VersionH2C}).Host("https://127.0.0.1:1"); err == nil {
		t.Error("version h2c on an https target: no error")
	}
}

// TestVersions: the protocol the server saw, for each version setting and
// server (proven by the server, not by the config).
func TestVersions(t *testing.T) {
	p := newPKI(t)
	h2 := startServer(t, "h2", p)
	h1tls := startServer(t, "https", p)
	h2c := startServer(t, "h2c", p)
	plain := startServer(t, "http", p)
	for _, tc := range []struct {
		name    string
		version Version
		url     string
		want    string // the protocol the server saw, or a reason
		proto   int    // Host.Proto() after the request
	}{
		{"auto, TLS server offering h2", VersionAuto, h2.URL, "HTTP/2.0", 2},
		{"auto, TLS server without h2", VersionAuto, h1tls.URL, "HTTP/1.1", 1},
		{"auto, plain http", VersionAuto, plain.URL, "HTTP/1.1", 1},
		{"1.1 to an h2 server", Version1, h2.URL, "HTTP/1.1", 1},
		{"2", Version2, h2.URL, "HTTP/2.0", 2},
		{"2 to a server without h2", Version2, h1tls.URL, "tls", 2},
		{"h2c", VersionH2C, h2c.URL, "HTTP/2.0", 2},
		{"h2c to an HTTP/1.1-only server", VersionH2C, plain.URL, "protocol", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{Version: tc.version, TLS: TLSOptions{CAFile: p.caFile}})
			defer c.CloseIdleConnections()
			for i := range 3 {
				resp, tm, err := fetch(t, c, tc.url+"/proto")
				if err != nil {
					if got := Classify(err).String(); got != tc.want {
						t.Fatalf("request %d: %v (reason %s); want %s", i, err, got, tc.want)
					}
					continue
				}
				if got := string(resp.Body()); got != tc.want {
					t.Fatalf("request %d: server saw %q; want %q", i, got, tc.want)
				}
				if tm.NewConn != (i == 0) {
					t.Errorf("request %d: NewConn %v; want a new connection only for the first", i, tm.NewConn)
				}
				if tm.TTFB <= 0 || tm.BytesIn <= 0 || tm.BytesOut <= 0 || tm.End.Before(tm.Start) || int(tm.Proto) != tc.proto {
					t.Errorf("request %d: timing %+v; want wait, bytes and proto %d", i, tm, tc.proto)
				}
			}
			h, _ := c.Host(tc.url)
			if got := h.Proto(); got != tc.proto {
				t.Errorf("Host.Proto() = %d; want %d", got, tc.proto)
			}
		})
	}
}

// TestConnReuse: shared, per_vu and none, on both paths, counted by the
// server; none measures connect and tls on every request.
func TestConnReuse(t *testing.T) {
	p := newPKI(t)
	for _, v := range versions {
		for _, tc := range []struct {
			reuse ConnReuse
			conns int64 // connections the server sees for 2 sessions x 3 requests
		}{{ReuseShared, 1}, {ReusePerVU, 2}, {ReuseNone, 6}} {
			t.Run(v.String()+"/"+tc.reuse.String(), func(t *testing.T) {
				srv := startServer(t, "h2", p)
				c := New(Config{Version: v, ConnReuse: tc.reuse, TLS: TLSOptions{CAFile: p.caFile}})
				defer c.CloseIdleConnections()
				sessions := []*Session{c.NewSession(), c.NewSession()}
				for i := range 3 {
					for j, s := range sessions {
						_, tm, err := send(t, c, s, "GET", srv.URL+"/get", nil, nil, 1<<20)
						if err != nil {
							t.Fatal(err)
						}
						wantNew := tc.reuse == ReuseNone || i == 0 && (tc.reuse == ReusePerVU || j == 0)
						if tm.NewConn != wantNew {
							t.Errorf("request %d of session %d: NewConn %v; want %v", i, j, tm.NewConn, wantNew)
						}
						if tm.NewConn && (tm.Connect <= 0 || tm.TLS <= 0) {
							t.Errorf("request %d of session %d: connect %v, tls %v; want both measured", i, j, tm.Connect, tm.TLS)
						}
					}
				}
				if got := srv.conns.Load(); got != tc.conns {
					t.Errorf("server accepted %d connections; want %d", got, tc.conns)
				}
				for _, s := range sessions {
					s.Close()
				}
				if tc.reuse == ReuseNone {
					if n := c.Conns(); n != 0 {
						t.Errorf("%d connections open after connection_reuse none; want 0", n)
					}
				}
			})
		}
	}
}

// TestCookies: a login sets a cookie that the next request needs, without
// any capture; two sessions' jars never share; a cookie set on a redirect
// hop is kept.
func TestCookies(t *testing.T) {
	p := newPKI(t)
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, "h2", p)
			c := New(Config{Version: v, Redirects: 5, TLS: TLSOptions{CAFile: p.caFile}})
			defer c.CloseIdleConnections()
			alice, bob, anon := c.NewSession(), c.NewSession(), c.NewSession()
			alice.SetJar(NewJar())
			bob.SetJar(NewJar())
			for _, tc := range []struct {
				s      *Session
				path   string
				status int
				body   string
			}{
				{alice, "/private", 401, "no session\n"},
				{alice, "/login?user=alice", 200, "welcome"},
				{bob, "/private", 401, "no session\n"},
				{alice, "/private", 200, "hello s-alice"},
				{bob, "/login?user=bob", 200, "welcome"},
				{bob, "/private", 200, "hello s-bob"},
				{alice, "/private", 200, "hello s-alice"},
				{anon, "/private", 401, "no session\n"},
			} {
				resp, _, err := send(t, c, tc.s, "GET", srv.URL+tc.path, nil, nil, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode() != tc.status || string(resp.Body()) != tc.body {
					t.Errorf("GET %s: %d %q; want %d %q", tc.path, resp.StatusCode(), resp.Body(), tc.status, tc.body)
				}
			}
			// httpbin's /cookies/set answers 302 with Set-Cookie, then /cookies echoes them.
			resp, tm, err := send(t, c, bob, "GET", srv.URL+"/cookies/set?flavour=oat", nil, nil, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Cookies map[string]string }
			if err := json.Unmarshal(resp.Body(), &got); err != nil || got.Cookies["flavour"] != "oat" || got.Cookies["session"] != "s-bob" || len(tm.Hops) != 1 {
				t.Errorf("cookies after a redirect: %s (hops %d, %v); want flavour=oat and session=s-bob after 1 hop", resp.Body(), len(tm.Hops), err)
			}
			// A cookie deleted by a hop is not sent to the next one.
			resp, _, err = send(t, c, bob, "GET", srv.URL+"/cookies/delete?flavour", nil, nil, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			got.Cookies = nil
			if err := json.Unmarshal(resp.Body(), &got); err != nil || got.Cookies["flavour"] != "" || got.Cookies["session"] != "s-bob" {
				t.Errorf("cookies after a deleting redirect: %s (%v); want session only", resp.Body(), err)
			}
			// The open model resets a VU's jar per iteration.
			bob.Jar().Reset()
			if resp, _, err := send(t, c, bob, "GET", srv.URL+"/private", nil, nil, 1<<20); err != nil || resp.StatusCode() != 401 {
				t.Errorf("after Reset: %v, status %d; want 401 (no session)", err, resp.StatusCode())
			}
			if n := testing.AllocsPerRun(10, anon.jarOrNew().Reset); n != 0 {
				t.Errorf("resetting a jar that never got a cookie: %v allocations; want 0", n)
			}
			if cks := alice.Jar().Cookies(srv.URL + "/"); len(cks) != 1 {
				t.Errorf("alice's jar has %v; want only her session", cks)
			}
		})
	}
}

// TestCompression: Accept-Encoding comes from the list; gzip, br, zstd and
// deflate bodies are decoded before anything reads them; bytes on the wire
// are counted as received; a zip bomb stays bounded.
func TestCompression(t *testing.T) {
	p := newPKI(t)
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, "h2", p)
			c := New(Config{Version: v, Compression: Encodings, TLS: TLSOptions{CAFile: p.caFile}})
			defer c.CloseIdleConnections()
			for _, path := range []string{"/gzip", "/deflate", "/br", "/zstd"} {
				resp, tm, err := fetch(t, c, srv.URL+path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				var body struct {
					Gzipped, Deflated bool
					Encoding, Accept  string
					Headers           map[string][]string
				}
				if err := json.Unmarshal(resp.Body(), &body); err != nil {
					t.Fatalf("GET %s: body not decoded: %v: %q", path, err, resp.Body())
				}
				accept := body.Accept
				if body.Headers != nil {
					accept = strings.Join(body.Headers["Accept-Encoding"], ",")
				}
				if accept != "gzip, br, zstd, deflate" {
					t.Errorf("GET %s: server saw Accept-Encoding %q; want the list", path, accept)
				}
				if !body.Gzipped && !body.Deflated && body.Encoding == "" {
					t.Errorf("GET %s: %s; want the decoded JSON", path, resp.Body())
				}
				if tm.BodyBytes <= 0 || tm.BodyBytes == int64(len(resp.Body())) || tm.BytesIn < tm.BodyBytes || tm.Cut {
					t.Errorf("GET %s: BodyBytes %d (decoded %d), BytesIn %d, Cut %v; want the encoded size counted", path, tm.BodyBytes, len(resp.Body()), tm.BytesIn, tm.Cut)
				}
			}
			if _, _, err := fetch(t, c, srv.URL+"/corrupt-gzip"); Classify(err) != ReasonProtocol {
				t.Errorf("a body that isn't the gzip it says: %v (reason %v); want protocol", err, Classify(err))
			}
			// 256 MiB of zeros in about 256 KiB of gzip, kept to 64 KiB.
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start := time.Now()
			resp, tm, err := send(t, c, nil, "GET", srv.URL+"/bomb/256", nil, nil, 64<<10)
			runtime.ReadMemStats(&m1)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Body()) != 64<<10 || !tm.Cut || tm.BodyBytes != int64(256*len(bombMember())) {
				t.Errorf("bomb: kept %d, Cut %v, BodyBytes %d; want 65536, true, %d", len(resp.Body()), tm.Cut, tm.BodyBytes, 256*len(bombMember()))
			}
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 16<<20 {
				t.Errorf("bomb: allocated %d bytes (server included); want under 16 MiB for a body kept to 64 KiB", alloc)
			}
			t.Logf("bomb: %v, %d bytes allocated", time.Since(start), m1.TotalAlloc-m0.TotalAlloc)
			// The connection is still good.
			if _, tm, err := fetch(t, c, srv.URL+"/get"); err != nil || tm.NewConn {
				t.Errorf("after the bomb: %v, NewConn %v; want the connection reused", err, tm.NewConn)
			}
			// Without compression asked, a body is not re-encoded and /get is plain.
			c2 := New(Config{Version: v, TLS: TLSOptions{CAFile: p.caFile}})
			resp, _, err = fetch(t, c2, srv.URL+"/headers")
			if err != nil || strings.Contains(string(resp.Body()), "Accept-Encoding") {
				t.Errorf("no compression: %v, %s; want no Accept-Encoding sent", err, resp.Body())
			}
			c2.CloseIdleConnections()
		})
	}
}

// TestRedirects: hops followed and timed, redirects 0 stops at the 302, the
// limit is an error with reason status, methods and sensitive headers as
// browsers do, AllowHost asked for every hop.
func TestRedirects(t *testing.T) {
	p := newPKI(t)
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, "h2", p)
			other := startServer(t, "h2", p) // another host: localhost instead of 127.0.0.1
			otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
			var asked []string
			cfg := Config{Version: v, Redirects: 10, TLS: TLSOptions{CAFile: p.caFile}, AllowHost: func(h string) error {
				asked = append(asked, h)
				if h == "forbidden.test" {
					return errors.New("not in the allow-list")
				}
				return nil
			}}
			c := New(cfg)
			defer c.CloseIdleConnections()
			resp, tm, err := fetch(t, c, srv.URL+"/redirect/3")
			if err != nil || resp.StatusCode() != 200 || len(tm.Hops) != 3 {
				t.Fatalf("/redirect/3: %v, status %d, %d hops; want 200 after 3 hops", err, resp.StatusCode(), len(tm.Hops))
			}
			prev := tm.Start
			for i, hop := range tm.Hops {
				if hop.Status != 302 || hop.Timing.Start.Before(prev) || hop.Timing.End.Before(hop.Timing.Start) || hop.Timing.TTFB <= 0 || hop.Timing.BytesIn <= 0 {
					t.Errorf("hop %d: %+v; want a timed 302", i, hop)
				}
				prev = hop.Timing.End
			}
			if tm.Hops[0].URL != srv.URL+"/redirect/3" || !strings.HasSuffix(tm.Hops[2].URL, "/relative-redirect/1") {
				t.Errorf("hop URLs %q, %q", tm.Hops[0].URL, tm.Hops[2].URL)
			}
			if tm.BytesIn <= tm.Hops[0].Timing.BytesIn*3 {
				t.Errorf("BytesIn %d; want every hop's bytes counted", tm.BytesIn)
			}

			c0 := New(Config{Version: v, TLS: TLSOptions{CAFile: p.caFile}})
			resp, tm, err = fetch(t, c0, srv.URL+"/redirect/3")
			if err != nil || resp.StatusCode() != 302 || len(tm.Hops) != 0 {
				t.Errorf("redirects 0: %v, status %d, %d hops; want the 302 itself", err, resp.StatusCode(), len(tm.Hops))
			}
			c0.CloseIdleConnections()

			// A session's own limit (a step's redirects) overrides the client's.
			s1 := c.NewSession()
			s1.SetRedirects(0)
			if resp, tm, err := send(t, c, s1, "GET", srv.URL+"/redirect/3", nil, nil, 1<<20); err != nil || resp.StatusCode() != 302 || len(tm.Hops) != 0 {
				t.Errorf("session redirects 0: %v, status %d, %d hops; want the 302 itself", err, resp.StatusCode(), len(tm.Hops))
			}
			s1.SetRedirects(-1)
			if resp, tm, err := send(t, c, s1, "GET", srv.URL+"/redirect/3", nil, nil, 1<<20); err != nil || resp.StatusCode() != 200 || len(tm.Hops) != 3 {
				t.Errorf("session back to the client's redirects: %v, status %d, %d hops; want 200 after 3", err, resp.StatusCode(), len(tm.Hops))
			}

			c2 := New(Config{Version: v, Redirects: 2, TLS: TLSOptions{CAFile: p.caFile}})
			resp, tm, err = fetch(t, c2, srv.URL+"/redirect/3")
			var re *RedirectError
			if !errors.As(err, &re) || Classify(err) != ReasonStatus || resp.StatusCode() != 302 || len(tm.Hops) != 2 {
				t.Errorf("redirects 2 for 3: %v (reason %v), status %d, %d hops; want a RedirectError, reason status, the third 302", err, Classify(err), resp.StatusCode(), len(tm.Hops))
			}
			c2.CloseIdleConnections()

			for _, tc := range []struct {
				method string
				status int
				want   string // the method /anything saw
				body   bool   // the body survived
			}{
				{"POST", 301, "GET", false}, {"POST", 302, "GET", false}, {"PUT", 302, "PUT", true}, {"PUT", 303, "GET", false},
				{"POST", 307, "POST", true}, {"POST", 308, "POST", true},
			} {
				u := srv.URL + "/redirect-to?url=/anything&status_code=" + strconv.Itoa(tc.status)
				resp, _, err := send(t, c, nil, tc.method, u, []byte("payload"), map[string]string{"Content-Type": "text/plain"}, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				var echo struct {
					Method string
					Data   string
				}
				json.Unmarshal(resp.Body(), &echo)
				if echo.Method != tc.want || (echo.Data == "payload") != tc.body {
					t.Errorf("%s then %d: server saw %s with body %q; want %s, body kept %v", tc.method, tc.status, echo.Method, echo.Data, tc.want, tc.body)
				}
			}

			auth := map[string]string{"Authorization": "Bearer secret"}
			for _, tc := range []struct {
				to   string
				kept bool
			}{{srv.URL + "/headers", true}, {otherURL + "/headers", false}} {
				resp, _, err := send(t, c, nil, "GET", srv.URL+"/redirect-to?url="+tc.to, nil, auth, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Contains(string(resp.Body()), "Bearer secret"); got != tc.kept {
					t.Errorf("redirect to %s: Authorization kept %v; want %v", tc.to, got, tc.kept)
				}
			}
			asked = nil
			_, _, err = fetch(t, c, srv.URL+"/redirect-to?url=http://forbidden.test/x")
			if !errors.As(err, &re) || Classify(err) != ReasonOther || !strings.Contains(err.Error(), "not in the allow-list") {
				t.Errorf("redirect to a refused host: %v (reason %v); want a RedirectError naming the refusal, reason other", err, Classify(err))
			}
			if len(asked) != 1 || asked[0] != "forbidden.test" {
				t.Errorf("AllowHost asked %q; want [forbidden.test]", asked)
			}
		})
	}
}

// jarOrNew gives s a jar if it has none.
func (s *Session) jarOrNew() *Jar {
	if s.jar == nil {
		s.jar = NewJar()
	}
	return s.jar
}
