package control

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	dto "github.com/prometheus/client_model/go"
)

// send is harness.do with a chosen Host header ("" keeps the URL's).
func (h *harness) send(method, path, host, body string, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// hostPort is the harness server's host:port (127.0.0.1:N).
func (h *harness) hostPort() string { return strings.TrimPrefix(h.url, "http://") }

// noRunStarted fails the test when any run was created.
func (h *harness) noRunStarted() {
	h.t.Helper()
	if n := h.ids.Load(); n != 0 {
		h.t.Fatalf("%d run(s) were started; want none", n)
	}
}

// TestBrowserAttackRefused is the attack of issue 10: a web page the user
// opens POSTs a plan as text/plain (a "simple" request, sent without a
// preflight) to the default no-token server, through a name it rebinds to
// 127.0.0.1. Each defence refuses it on its own, and no run starts.
func TestBrowserAttackRefused(t *testing.T) {
	h := newHarness(t, Config{})
	tests := []struct {
		name, host string
		hdr        []string
		status     int
		errText    string
	}{
		{"the attack as reported", "evil.example:8089", []string{"Content-Type", "text/plain", "Origin", "http://evil.example"},
			403, `Host "evil.example:8089" is not this server's address or a loopback name`},
		{"cross-site form, loopback host", "", []string{"Content-Type", "text/plain", "Origin", "http://evil.example"},
			403, `cross-origin request from "http://evil.example" refused`},
		{"another local app's page", "", []string{"Content-Type", "application/json", "Origin", "http://127.0.0.1:3000"},
			403, `cross-origin request from "http://127.0.0.1:3000" refused`},
		{"sandboxed page (Origin null)", "", []string{"Content-Type", "application/yaml", "Origin", "null"},
			403, `cross-origin request from "null" refused`},
		{"rebinding, same-origin to the attacker's name", "evil.example:8089", []string{"Content-Type", "application/yaml", "Origin", "http://evil.example:8089"},
			403, "DNS-rebinding defence"},
		{"form without Origin (old browser)", "", []string{"Content-Type", "text/plain"},
			415, `content type "text/plain" is not accepted: want application/json or application/yaml`},
		{"urlencoded form without Origin", "", []string{"Content-Type", "application/x-www-form-urlencoded"},
			415, `content type "application/x-www-form-urlencoded" is not accepted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("POST", "/api/tests/start", tc.host, planYAML("20"), tc.hdr...)
			h.want(a, tc.status, tc.errText)
			h.noRunStarted()
		})
	}
	// The kill switch through a cross-site form (empty body): refused too.
	h2 := newHarness(t, Config{})
	h2.want(h2.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	h2.want(h2.send("POST", "/api/tests/stop-all", "", "", "Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.example"), 403, "cross-origin")
	h2.want(h2.send("POST", "/api/tests/stop-all", "", "", "Content-Type", "application/x-www-form-urlencoded"), 415, "not accepted")
	h2.want(h2.send("POST", "/api/tests/runs/run-001/cancel", "", "", "Content-Type", "text/plain"), 415, "not accepted")
	if a := h2.do("GET", "/api/tests/runs/run-001", ""); a.body["status"] != "running" && a.body["status"] != "queued" {
		t.Fatalf("after refused stop-all and cancel, run status = %v; want it still active", a.body["status"])
	}
}

func TestHostCheck(t *testing.T) {
	h := newHarness(t, Config{AllowedHosts: []string{"loadgen", "*.lab.example", "10.9.0.0/16"}})
	port := strings.Split(h.hostPort(), ":")[1]
	tests := []struct {
		host string
		ok   bool
	}{
		{h.hostPort(), true},
		{"127.0.0.1", true},
		{"127.8.9.10:" + port, true},
		{"localhost", true},
		{"localhost:" + port, true},
		{"LocalHost.:" + port, true},
		{"[::1]:" + port, true},
		{"[::1]", true},
		{"[::ffff:127.0.0.1]:" + port, true},
		{"loadgen:8089", true},      // --allowed-host
		{"loadgen", true},           // ports are not compared
		{"ci.lab.example:80", true}, // *.lab.example
		{"10.9.1.2:8089", true},     // CIDR
		{"evil.example:8089", false},
		{"evil.example", false},
		{"localhost.evil.example:" + port, false},
		{"127.0.0.1.nip.io:" + port, false},
		{"lab.example", false},
		{"10.0.0.1:" + port, false}, // not the address the request came in on
		{"[::2]:" + port, false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			for _, path := range []string{"/api/health", "/api/tests/runs", "/metrics"} {
				a := h.send("GET", path, tc.host, "")
				if tc.ok && a.status == http.StatusForbidden {
					t.Errorf("GET %s with Host %s = 403 %s; want it accepted", path, tc.host, a.raw)
				}
				if !tc.ok {
					h.want(a, http.StatusForbidden, "--allowed-host")
				}
			}
		})
	}
	// Without --allowed-host, the names above are refused.
	h2 := newHarness(t, Config{})
	h2.want(h2.send("GET", "/api/health", "loadgen:8089", ""), 403, "start serve with --allowed-host loadgen")
}

// TestHostCheckLocalAddress: with serve on 0.0.0.0, a request that names
// the address it came in on (an IP literal cannot be rebound) is accepted;
// another non-loopback address is not. The handler is called directly so
// that no non-loopback socket is needed.
func TestHostCheckLocalAddress(t *testing.T) {
	srv, err := New(Config{}, newFakeRunner(), &memStore{}, WithSampler(fakeSampler{}))
	if err != nil {
		t.Fatal(err)
	}
	local := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8089}
	for host, want := range map[string]int{"192.0.2.7:8089": 200, "192.0.2.7": 200, "192.0.2.8:8089": 403, "box.lan:8089": 403} {
		req := httptest.NewRequest("GET", "/api/health", nil)
		req.Host = host
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, net.Addr(local)))
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s on a connection to %s: status %d; want %d (%s)", host, local, rec.Code, want, rec.Body)
		}
	}
}

func TestOriginCheckAndCORS(t *testing.T) {
	h := newHarness(t, Config{CORSOrigins: []string{"http://app.example:3000", "HTTPS://Dash.Example/"}})
	self := "http://" + h.hostPort()
	tests := []struct {
		name, origin, host string
		status             int
		acao               string // Access-Control-Allow-Origin wanted ("" = none)
	}{
		{"no Origin (curl)", "", "", 200, ""},
		{"same origin", self, "", 200, ""},
		{"same origin by name", "http://localhost:" + strings.Split(h.hostPort(), ":")[1], "localhost:" + strings.Split(h.hostPort(), ":")[1], 200, ""},
		{"same host over https (TLS proxy)", "https://" + h.hostPort(), "", 200, ""},
		{"allowed by --cors-origin", "http://app.example:3000", "", 200, "http://app.example:3000"},
		{"allowed, default port dropped, case folded", "https://dash.example", "", 200, "https://dash.example"},
		{"allowed name, other port", "http://app.example:3001", "", 403, ""},
		{"allowed name, other scheme", "https://app.example:3000", "", 403, ""},
		{"foreign", "http://evil.example", "", 403, ""},
		{"other loopback port", "http://127.0.0.1:1", "", 403, ""},
		{"null", "null", "", 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.origin != "" {
				hdr = []string{"Origin", tc.origin}
			}
			a := h.send("GET", "/api/tests/runs", tc.host, "", hdr...)
			if tc.status == 403 {
				h.want(a, 403, "cross-origin request from")
			} else {
				h.want(a, tc.status, "")
			}
			if got := a.header.Get("Access-Control-Allow-Origin"); got != tc.acao {
				t.Errorf("Access-Control-Allow-Origin = %q; want %q", got, tc.acao)
			}
			if !strings.Contains(a.header.Get("Vary"), "Origin") {
				t.Errorf("Vary = %q; want Origin (answers differ by Origin)", a.header.Get("Vary"))
			}
		})
	}

	// Preflight from an allowed origin, then the real request.
	a := h.send("OPTIONS", "/api/tests/start", "", "", "Origin", "http://app.example:3000",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if a.status != http.StatusNoContent {
		t.Fatalf("preflight = %d %s; want 204", a.status, a.raw)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "http://app.example:3000",
		"Access-Control-Allow-Methods": "GET, POST, PATCH",
		"Access-Control-Allow-Headers": "Authorization, Content-Type",
		"Access-Control-Max-Age":       "600",
	} {
		if got := a.header.Get(k); got != want {
			t.Errorf("preflight %s = %q; want %q", k, got, want)
		}
	}
	a = h.send("POST", "/api/tests/start", "", planYAML("20"), "Origin", "http://app.example:3000", "Content-Type", "application/yaml")
	h.want(a, http.StatusAccepted, "")
	if a.header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" || !strings.Contains(a.header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("CORS start answer headers = %v; want Allow-Origin and Expose-Headers with Location", a.header)
	}
	// Preflight from a foreign origin: 403, no CORS headers.
	a = h.send("OPTIONS", "/api/tests/start", "", "", "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	h.want(a, http.StatusForbidden, "cross-origin request from")
	if a.header.Get("Access-Control-Allow-Origin") != "" || a.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("foreign preflight carries CORS headers: %v", a.header)
	}

	// Config errors.
	for _, bad := range [][]string{{"app.example"}, {"ftp://app.example"}, {"http://app.example/path"}, {"http://"}} {
		if _, err := New(Config{CORSOrigins: bad}, newFakeRunner(), nil, WithSampler(fakeSampler{})); err == nil || !strings.Contains(err.Error(), "cors-origin") {
			t.Errorf("New(CORSOrigins %q) error = %v; want a cors-origin error", bad, err)
		}
	}
	if _, err := New(Config{CORSOrigins: []string{"*"}}, newFakeRunner(), nil, WithSampler(fakeSampler{})); err == nil || !strings.Contains(err.Error(), "set a token") {
		t.Errorf("New(CORSOrigins *) without a token: error = %v; want one asking for a token", err)
	}
	if _, err := New(Config{AllowedHosts: []string{"loadgen:8089"}}, newFakeRunner(), nil, WithSampler(fakeSampler{})); err == nil || !strings.Contains(err.Error(), "allowed-host") {
		t.Errorf("New(AllowedHosts loadgen:8089) error = %v; want an allowed-host error", err)
	}
	h2 := newHarness(t, Config{Token: "t", CORSOrigins: []string{"*"}})
	a = h2.send("GET", "/api/tests/runs", "", "", "Origin", "http://anything.example", "Authorization", "Bearer t")
	h2.want(a, 200, "")
	if a.header.Get("Access-Control-Allow-Origin") != "http://anything.example" {
		t.Errorf("--cors-origin * answer Access-Control-Allow-Origin = %q; want the request's origin", a.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestBodyTypes(t *testing.T) {
	tests := []struct {
		name, path, body, ctype string
		status                  int
		errText                 string
	}{
		{"json plan", "/api/tests/start", closedPlanJSON, "application/json", 202, ""},
		{"json with charset", "/api/tests/start", closedPlanJSON, "application/json; charset=utf-8", 202, ""},
		{"yaml plan", "/api/tests/start", planYAML("20"), "application/yaml", 202, ""},
		{"x-yaml", "/api/tests/start", planYAML("20"), "application/x-yaml", 202, ""},
		{"text/yaml", "/api/tests/start", planYAML("20"), "text/yaml", 202, ""},
		{"text/plain", "/api/tests/start", planYAML("20"), "text/plain", 415, `content type "text/plain" is not accepted: want application/json or application/yaml (also application/x-yaml, text/yaml, text/x-yaml)`},
		{"urlencoded form", "/api/tests/start", "a=b", "application/x-www-form-urlencoded", 415, "not accepted"},
		{"multipart form", "/api/tests/start", "--x--", "multipart/form-data; boundary=x", 415, `"multipart/form-data" is not accepted`},
		{"no content type", "/api/tests/start", planYAML("20"), "", 415, "a request body needs Content-Type application/json or application/yaml"},
		{"malformed content type", "/api/tests/start", planYAML("20"), "application/json; =", 415, "want application/json or application/yaml"},
		{"bodyless stop-all", "/api/tests/stop-all", "", "", 200, ""},
		{"bodyless stop-all, json", "/api/tests/stop-all", "", "application/json", 200, ""},
		{"bodyless stop-all, text/plain", "/api/tests/stop-all", "", "text/plain", 415, "not accepted"},
		{"bodyless stop-all, multipart", "/api/tests/stop-all", "", "multipart/form-data; boundary=x", 415, "not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			h.want(h.send("POST", tc.path, "", tc.body, hdr...), tc.status, tc.errText)
			if tc.status == 415 {
				h.noRunStarted()
			}
		})
	}

	// PATCH takes JSON or YAML; cancel takes no body.
	h := newHarness(t, Config{})
	h.want(h.do("POST", "/api/tests/start", planYAML("20"), yamlHdr()...), 202, "")
	waitFor(t, func() bool { return h.runner.engine("run-001") != nil })
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", `{"rate": 7}`, "Content-Type", "application/json"), 200, "")
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", "rate: 8\n", "Content-Type", "application/yaml"), 200, "")
	if r := h.runner.engine("run-001").rate.Load(); r != 8.0 {
		t.Errorf("rate after the YAML PATCH = %v; want 8", r)
	}
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", "rate: 8\nburst: 1\n", "Content-Type", "application/yaml"), 400, "field burst not found")
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", "rate: .inf\n", "Content-Type", "application/yaml"), 400, "must be >= 0 and finite")
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", `{"rate": 9}`, "Content-Type", "text/plain"), 415, "not accepted")
	h.want(h.send("PATCH", "/api/tests/runs/run-001", "", `{"rate": 9}`), 415, "a request body needs Content-Type")
	h.want(h.send("POST", "/api/tests/runs/run-001/cancel", "", ""), 200, "")
}

// TestTokenOnEveryEndpoint walks the router: with a token set, every
// endpoint but GET /api/health and GET /metrics answers 401 without it,
// including any endpoint added later.
func TestTokenOnEveryEndpoint(t *testing.T) {
	h := newHarness(t, Config{Token: "s3cret"}, WithGatherer(emptyGatherer{}))
	r, ok := h.srv.routes().(*mux.Router)
	if !ok {
		t.Fatal("routes() is not a *mux.Router")
	}
	n := 0
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		path = strings.ReplaceAll(path, "{id}", "run-x")
		for _, m := range methods {
			n++
			a := h.send(m, path, "", "")
			open := m == http.MethodGet && (path == "/api/health" || path == "/metrics")
			switch {
			case open && a.status != http.StatusOK:
				t.Errorf("%s %s without a token = %d; want 200 (open)", m, path, a.status)
			case !open && a.status != http.StatusUnauthorized:
				t.Errorf("%s %s without a token = %d %s; want 401", m, path, a.status, a.raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("walked %d endpoints; want every one (at least 10)", n)
	}
}

type emptyGatherer struct{}

func (emptyGatherer) Gather() ([]*dto.MetricFamily, error) { return nil, nil }

// TestKneeMetricsURLAllowList: knee.metrics_url, fetched by serve on the
// plan's behalf, passes the target allow-list.
func TestKneeMetricsURLAllowList(t *testing.T) {
	const kneeYAML = `name: knee
type: knee
target: http://127.0.0.1:1
scenarios:
  - name: read
    steps:
      - {name: teams, request: {path: /api/teams}}
knee:
  model: closed
  steps: [1, 2]
  step_duration: 1s
  warmup: 100ms
  metrics_url: %s
`
	h := newHarness(t, Config{})
	h.want(h.do("POST", "/api/tests/start", strings.Replace(kneeYAML, "%s", "http://169.254.169.254/latest/meta-data", 1), yamlHdr()...),
		403, `knee.metrics_url host "169.254.169.254" is not in the allow-list [127.0.0.0/8, ::1, localhost] (start serve with --allow-target)`)
	h.noRunStarted()
	h.want(h.do("POST", "/api/tests/start", strings.Replace(kneeYAML, "%s", "http://127.0.0.1:1/metrics", 1), yamlHdr()...), 202, "")
}

// TestHTTPOptionsAllowList: a plan's proxy and the addresses of its hosts:
// overrides are hosts serve connects to on the plan's behalf, so they pass
// the target allow-list too (redirects are checked as they are followed:
// executor's TestHTTPRedirects).
func TestHTTPOptionsAllowList(t *testing.T) {
	const planYAML = `name: http
target: http://127.0.0.1:1
defaults: {http: %s}
scenarios: [{name: s, steps: [{name: get, request: {path: /}}]}]
load: {phases: [{name: p, duration: 1s, rate: 1}]}
`
	h := newHarness(t, Config{})
	for _, tc := range []struct{ http, msg string }{
		{"{proxy: http://10.1.2.3:3128}", `defaults.http.proxy host "10.1.2.3" is not in the allow-list`},
		{"{hosts: {api.test: 169.254.169.254}}", `defaults.http.hosts[api.test] host "169.254.169.254" is not in the allow-list`},
		{`{hosts: {api.test: "[fe80::1]:80"}}`, `defaults.http.hosts[api.test] host "fe80::1" is not in the allow-list`},
	} {
		h.want(h.do("POST", "/api/tests/start", strings.Replace(planYAML, "%s", tc.http, 1), yamlHdr()...), 403, tc.msg)
	}
	h.noRunStarted()
	h.want(h.do("POST", "/api/tests/start", strings.Replace(planYAML, "%s", "{hosts: {api.test: 127.0.0.1}, proxy: direct}", 1), yamlHdr()...), 202, "")
}
