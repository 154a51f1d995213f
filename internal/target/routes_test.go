package target

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fastConfig is the default model with latency off.
func fastConfig() Config {
	c := DefaultConfig()
	c.LatencyScale = 0
	return c
}

func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, ts *httptest.Server, method, path, token string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func login(t *testing.T, ts *httptest.Server, email string) string {
	t.Helper()
	r := do(t, ts, "POST", "/api/auth/login", "", strings.NewReader(`{"email":"`+email+`","password":"`+SeedPassword+`"}`))
	if r.status != 200 {
		t.Fatalf("login %s = %d %s; want 200", email, r.status, r.body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(r.body, &out); err != nil || out.Token == "" {
		t.Fatalf("login body %s: token missing (%v)", r.body, err)
	}
	return out.Token
}

func TestRoutes(t *testing.T) {
	_, ts := newTestServer(t, fastConfig())
	big := bytes.Repeat([]byte("x"), MaxBodyBytes+1)
	bigJSON := append(append([]byte(`{"name":"`), big...), '"', '}')

	// token: "" none, "valid" a fresh login, anything else sent as is.
	tests := []struct {
		name, method, path, token, body string
		rawBody                         []byte
		chunked                         bool
		want                            int
		wantBody                        string // substring of the body
	}{
		{name: "health", method: "GET", path: "/api/health", want: 200, wantBody: `"status":"ok","timestamp":`},
		{name: "login ok", method: "POST", path: "/api/auth/login", body: `{"email":"user500@example.com","password":"secret"}`, want: 200, wantBody: `"token":"`},
		{name: "login email case-insensitive", method: "POST", path: "/api/auth/login", body: `{"email":"User1@Example.com","password":"secret"}`, want: 200, wantBody: `"user_id":1`},
		{name: "login wrong password", method: "POST", path: "/api/auth/login", body: `{"email":"user1@example.com","password":"nope"}`, want: 401, wantBody: `"error":"invalid email or password"`},
		{name: "login unknown user", method: "POST", path: "/api/auth/login", body: `{"email":"user501@example.com","password":"secret"}`, want: 401, wantBody: `"error":`},
		{name: "login bad json", method: "POST", path: "/api/auth/login", body: `{"email":`, want: 400, wantBody: `"error":"invalid JSON body`},
		{name: "login empty body", method: "POST", path: "/api/auth/login", want: 400, wantBody: `"error":"request body must be a JSON object"`},
		{name: "login trailing data", method: "POST", path: "/api/auth/login", body: `{"email":"a","password":"b"} {}`, want: 400, wantBody: `unexpected data`},
		{name: "login missing password", method: "POST", path: "/api/auth/login", body: `{"email":"user1@example.com"}`, want: 400, wantBody: `required`},
		{name: "login too large", method: "POST", path: "/api/auth/login", rawBody: big, want: 413, wantBody: `1 MiB`},
		{name: "login too large chunked", method: "POST", path: "/api/auth/login", rawBody: bigJSON, chunked: true, want: 413, wantBody: `1 MiB`},
		{name: "login wrong method", method: "GET", path: "/api/auth/login", want: 405, wantBody: `"error":"method not allowed"`},
		{name: "logout ok", method: "POST", path: "/api/auth/logout", token: "valid", want: 200, wantBody: `logged out`},
		{name: "logout no token", method: "POST", path: "/api/auth/logout", want: 401, wantBody: `missing bearer token`},
		{name: "logout bad token", method: "POST", path: "/api/auth/logout", token: "bogus", want: 401, wantBody: `invalid or expired token`},
		{name: "users default page", method: "GET", path: "/api/users", want: 200, wantBody: `"total":500,"page":1,"limit":20`},
		{name: "users page 3 limit 100", method: "GET", path: "/api/users?page=3&limit=100", want: 200, wantBody: `"id":201,`},
		{name: "users past the end", method: "GET", path: "/api/users?page=99&limit=100", want: 200, wantBody: `"items":[],"total":500`},
		{name: "users limit 101", method: "GET", path: "/api/users?limit=101", want: 400, wantBody: `limit=101: must be an integer from 1 to 100`},
		{name: "users limit 0", method: "GET", path: "/api/users?limit=0", want: 400, wantBody: `limit`},
		{name: "users page word", method: "GET", path: "/api/users?page=two", want: 400, wantBody: `page=two: must be`},
		{name: "users page negative", method: "GET", path: "/api/users?page=-1", want: 400, wantBody: `page`},
		{name: "user by id", method: "GET", path: "/api/users/42", want: 200, wantBody: `{"id":42,"email":"user42@example.com","name":"User 42","team_id":42}`},
		{name: "user unknown", method: "GET", path: "/api/users/501", want: 404, wantBody: `"error":"user 501 not found"`},
		{name: "user non-numeric", method: "GET", path: "/api/users/abc", want: 400, wantBody: `must be a positive integer`},
		{name: "user zero", method: "GET", path: "/api/users/0", want: 400, wantBody: `must be a positive integer`},
		{name: "user delete not allowed", method: "DELETE", path: "/api/users/1", want: 405, wantBody: `method not allowed`},
		{name: "me update", method: "PUT", path: "/api/users/me", token: "valid", body: `{"name":"  Ada  "}`, want: 200, wantBody: `"name":"Ada"`},
		{name: "me no token", method: "PUT", path: "/api/users/me", body: `{"name":"Ada"}`, want: 401, wantBody: `missing bearer token`},
		{name: "me bad token", method: "PUT", path: "/api/users/me", token: "bogus", body: `{"name":"Ada"}`, want: 401, wantBody: `invalid or expired token`},
		{name: "me empty name", method: "PUT", path: "/api/users/me", token: "valid", body: `{"name":"  "}`, want: 400, wantBody: `name is required`},
		{name: "me no name", method: "PUT", path: "/api/users/me", token: "valid", body: `{}`, want: 400, wantBody: `name is required`},
		{name: "me bad json", method: "PUT", path: "/api/users/me", token: "valid", body: `{"name":1}`, want: 400, wantBody: `invalid JSON body`},
		{name: "me name too long", method: "PUT", path: "/api/users/me", token: "valid", body: `{"name":"` + strings.Repeat("é", MaxNameLength+1) + `"}`, want: 400, wantBody: `longer than`},
		{name: "me too large", method: "PUT", path: "/api/users/me", token: "valid", rawBody: bigJSON, want: 413, wantBody: `1048576-byte (1 MiB) limit`},
		{name: "teams", method: "GET", path: "/api/teams", want: 200, wantBody: `"total":50`},
		{name: "team", method: "GET", path: "/api/teams/7", want: 200, wantBody: `{"id":7,"name":"Team 7","member_count":10}`},
		{name: "team unknown", method: "GET", path: "/api/teams/51", want: 404, wantBody: `team 51 not found`},
		{name: "team non-numeric", method: "GET", path: "/api/teams/x", want: 400, wantBody: `team id x: must be`},
		{name: "team members", method: "GET", path: "/api/teams/50/members", want: 200, wantBody: `"total":10`},
		{name: "team members unknown", method: "GET", path: "/api/teams/0/members", want: 400, wantBody: `positive integer`},
		{name: "team members 404", method: "GET", path: "/api/teams/99/members", want: 404, wantBody: `team 99 not found`},
		{name: "teams post not allowed", method: "POST", path: "/api/teams", want: 405, wantBody: `method not allowed`},
		{name: "unknown path", method: "GET", path: "/api/nope", want: 404, wantBody: `{"error":"not found"}`},
		{name: "trailing slash", method: "GET", path: "/api/users/", want: 404, wantBody: `not found`},
		{name: "admin faults", method: "GET", path: "/admin/faults", want: 200, wantBody: `"error_rate":0`},
		{name: "admin config", method: "GET", path: "/admin/config", want: 200, wantBody: `"workers":32`},
		{name: "metrics", method: "GET", path: "/metrics", want: 200, wantBody: `target_pool_workers 32`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token
			if tok == "valid" {
				tok = login(t, ts, "user3@example.com")
			}
			var body io.Reader
			switch {
			case tc.rawBody != nil && tc.chunked:
				body = io.MultiReader(bytes.NewReader(tc.rawBody)) // unknown length: sent chunked
			case tc.rawBody != nil:
				body = bytes.NewReader(tc.rawBody)
			case tc.body != "":
				body = strings.NewReader(tc.body)
			}
			r := do(t, ts, tc.method, tc.path, tok, body)
			if r.status != tc.want {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
			if !bytes.Contains(r.body, []byte(tc.wantBody)) {
				t.Errorf("%s %s body = %s; want it to contain %s", tc.method, tc.path, r.body, tc.wantBody)
			}
			if ct := r.header.Get("Content-Type"); tc.path != "/metrics" && ct != "application/json" {
				t.Errorf("%s %s Content-Type = %q; want application/json", tc.method, tc.path, ct)
			}
			if tc.path != "/metrics" && !json.Valid(r.body) {
				t.Errorf("%s %s body is not JSON: %s", tc.method, tc.path, r.body)
			}
		})
	}
}

func TestHealthTimestamp(t *testing.T) {
	_, ts := newTestServer(t, fastConfig())
	before := float64(time.Now().UnixNano()) / 1e9
	r := do(t, ts, "GET", "/api/health", "", nil)
	after := float64(time.Now().UnixNano()) / 1e9
	var got struct {
		Status    string
		Timestamp float64
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("health body %s: %v", r.body, err)
	}
	if got.Status != "ok" || got.Timestamp < before || got.Timestamp > after {
		t.Errorf("health = %+v; want status ok and timestamp in [%f, %f]", got, before, after)
	}
}

func TestSessionJourney(t *testing.T) {
	_, ts := newTestServer(t, fastConfig())
	tok := login(t, ts, "user9@example.com")
	if r := do(t, ts, "PUT", "/api/users/me", tok, strings.NewReader(`{"name":"Nine"}`)); r.status != 200 {
		t.Fatalf("PUT /api/users/me = %d %s; want 200", r.status, r.body)
	}
	if r := do(t, ts, "GET", "/api/users/9", "", nil); !bytes.Contains(r.body, []byte(`"name":"Nine"`)) {
		t.Errorf("GET /api/users/9 = %s; want the new name Nine", r.body)
	}
	if r := do(t, ts, "POST", "/api/auth/logout", tok, nil); r.status != 200 {
		t.Fatalf("logout = %d %s; want 200", r.status, r.body)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/auth/logout", ""},
		{"PUT", "/api/users/me", `{"name":"x"}`},
	} {
		if r := do(t, ts, tc.method, tc.path, tok, strings.NewReader(tc.body)); r.status != 401 {
			t.Errorf("%s %s after logout = %d %s; want 401", tc.method, tc.path, r.status, r.body)
		}
	}
}

func TestAdminDisabled(t *testing.T) {
	cfg := fastConfig()
	cfg.Admin = false
	_, ts := newTestServer(t, cfg)
	if r := do(t, ts, "GET", "/admin/faults", "", nil); r.status != 404 {
		t.Errorf("GET /admin/faults with admin off = %d; want 404", r.status)
	}
}

func TestAdminFaults(t *testing.T) {
	srv, ts := newTestServer(t, fastConfig())
	tests := []struct {
		name, body string
		want       int
		wantBody   string
		wantFaults Faults
	}{
		{"set all", `{"error_rate":0.25,"stall_every":"5s","stall_for":"1s","added_latency":"10ms"}`, 200,
			`"stall_every":"5s"`, Faults{ErrorRate: 0.25, StallEvery: 5 * time.Second, StallFor: time.Second, AddedLatency: 10 * time.Millisecond}},
		{"partial replaces", `{"added_latency":"2ms"}`, 200, `"error_rate":0,`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"rate above 1", `{"error_rate":1.5}`, 400, `error rate 1.5`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"stall without every", `{"stall_for":"1s"}`, 400, `set together`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"stall longer than period", `{"stall_every":"1s","stall_for":"1s"}`, 400, `shorter`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"bad duration", `{"stall_every":"5"}`, 400, `stall_every`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"unknown field", `{"error_rat":0.1}`, 400, `unknown field`, Faults{AddedLatency: 2 * time.Millisecond}},
		{"clear", `{}`, 200, `"added_latency":"0s"`, Faults{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts, "PUT", "/admin/faults", "", strings.NewReader(tc.body))
			if r.status != tc.want || !bytes.Contains(r.body, []byte(tc.wantBody)) {
				t.Errorf("PUT /admin/faults %s = %d %s; want %d containing %s", tc.body, r.status, r.body, tc.want, tc.wantBody)
			}
			if got := srv.Faults(); got != tc.wantFaults {
				t.Errorf("Faults() = %+v; want %+v", got, tc.wantFaults)
			}
			g := do(t, ts, "GET", "/admin/faults", "", nil)
			var got Faults
			if err := json.Unmarshal(g.body, &got); err != nil || got != tc.wantFaults {
				t.Errorf("GET /admin/faults = %s (%v); want %+v", g.body, err, tc.wantFaults)
			}
		})
	}
}
