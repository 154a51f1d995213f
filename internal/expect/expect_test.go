package expect

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// resp is a whole (uncut) response.
func resp(status int, body string) *Response {
	r := &Response{}
	r.Reset(status, []byte(body), int64(len(body)), 0)
	return r
}

func mustPath(t testing.TB, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatalf("ParsePath(%q): %v", s, err)
	}
	return p
}

// TestPathForms: every JSON path form docs/plan.md documents, names that
// gjson would read as syntax (escaped when compiled), and missing paths.
func TestPathForms(t *testing.T) {
	body := `{"token":"abc","n":12.50,"big":12345678901234567890,"ok":true,"no":false,"nil":null,
		"items":[{"id":7,"tags":["x","y"]},{"id":8}],"odd key":{"v":"w"},"a.b":{"c":1},"we*rd?":2,
		"#":"hash","@this":"at","x|y":"pipe","!t":"bang","":"empty","0":"zero","q\"uote":"q","\\":"bs",
		"esc\u00e9":"é","nested":{"a":{"b":{"c":[[1,2],[3,{"d":"deep"}]]}}},"s":"a\"b\\c","obj":{"z":1,"a":[true,null]}}`
	tests := []struct {
		path  string
		want  string
		found bool
	}{
		{"$.token", "abc", true},
		{"$.n", "12.50", true}, // numbers as written
		{"$.big", "12345678901234567890", true},
		{"$.ok", "true", true},
		{"$.no", "false", true},
		{"$.nil", "", true}, // null: found, empty
		{"$.items[0].id", "7", true},
		{"$.items[1].id", "8", true},
		{"$.items[0].tags", `["x","y"]`, true},
		{"$.items[0].tags[1]", "y", true},
		{"$.obj", `{"a":[true,null],"z":1}`, true}, // objects as compact JSON, keys sorted
		{`$["odd key"].v`, "w", true},
		{"$['odd key']['v']", "w", true},
		{`$["a.b"].c`, "1", true}, // a dot inside a name
		{`$["we*rd?"]`, "2", true},
		{`$["#"]`, "hash", true},
		{`$["@this"]`, "at", true},
		{`$["x|y"]`, "pipe", true},
		{`$["!t"]`, "bang", true},
		{`$[""]`, "empty", true},
		{`$["0"]`, "zero", true},
		{`$.0`, "zero", true},
		{`$['q"uote']`, "q", true},
		{`$["\"]`, "bs", true},
		{`$["esc\u00e9"]`, "", false}, // paths are not JSON-unescaped
		{"$.escé", "é", true},
		{"$.s", `a"b\c`, true},
		{"$.nested.a.b.c[1][1].d", "deep", true},
		{"$", "", true}, // the whole document: compact JSON (checked below)
		{"$.items[2].id", "", false},
		{"$.items[0].id.x", "", false},
		{"$.token.x", "", false},
		{"$.missing", "", false},
		{"$.missing[0]", "", false},
		{"$[0]", "", false},      // an index into an object
		{"$.items.0", "", false}, // a name into an array
		{"$.items[0][0]", "", false},
		{`$["a"]`, "", false},
		{"$.a.b.c", "", false}, // "a.b" is one key
	}
	for _, tt := range tests {
		c, err := ParseCapture("v", tt.path)
		if err != nil {
			t.Errorf("ParseCapture(%q): %v", tt.path, err)
			continue
		}
		got, found := c.Extract(resp(200, body))
		if tt.path == "$" {
			if !found || !strings.HasPrefix(got, `{"":"empty","!t":"bang"`) || strings.ContainsAny(got, "\n\t") {
				t.Errorf("Extract($) = %.60q, %v; want the whole document, compact", got, found)
			}
			continue
		}
		if got != tt.want || found != tt.found {
			t.Errorf("Extract(%q) = %q, %v; want %q, %v", tt.path, got, found, tt.want, tt.found)
		}
	}
	// Arrays at the top.
	c, _ := ParseCapture("v", "$[1].id")
	if got, found := c.Extract(resp(200, `[{"id":1},{"id":2}]`)); got != "2" || !found {
		t.Errorf("$[1].id of a top-level array = %q, %v", got, found)
	}
}

func TestCaptureExtract(t *testing.T) {
	body := `{"token":"abc","n":12.50}`
	hdr := http.Header{"X-Request-Id": {"r-1"}}
	tests := []struct {
		src, want string
		found     bool
	}{
		{"$.token", "abc", true},
		{"header:X-Request-Id", "r-1", true},
		{"header:x-request-id", "r-1", true},
		{"header:X-Nope", "", false},
		{`regex:"token":"(\w+)"`, "abc", true},
		{`regex:"n":[\d.]+`, `"n":12.50`, true},
		{`regex:zzz(\d)`, "", false},
	}
	for _, tt := range tests {
		c, err := ParseCapture("v", tt.src)
		if err != nil {
			t.Errorf("ParseCapture(%q) error %v", tt.src, err)
			continue
		}
		r := resp(200, body)
		r.Header = hdr.Get
		got, found := c.Extract(r)
		if got != tt.want || found != tt.found {
			t.Errorf("Capture(%q).Extract = %q, %v; want %q, %v", tt.src, got, found, tt.want, tt.found)
		}
	}
	c, _ := ParseCapture("v", "$.a")
	for _, body := range []string{"not json", `{"a":1} trailing`, `{"a":1`, ""} {
		if v, found := c.Extract(resp(200, body)); found {
			t.Errorf("JSON capture found %q in the non-JSON body %q", v, body)
		}
	}
	if _, found := (&Capture{header: "X"}).Extract(resp(200, "")); found {
		t.Error("header capture found a value without headers")
	}
}

func TestParseCaptureErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"token", "want a JSON path"},
		{"$token", "unexpected"},
		{"$.a..b", "empty name"},
		{"$.", "empty name"},
		{"$.a[x]", "not an index"},
		{"$.a[-1]", "not an index"},
		{"$.a[1", "missing ']'"},
		{"header:", "invalid header name"},
		{"header:A B", "invalid header name"},
		{"regex:(", "invalid regex"},
	}
	for _, tt := range tests {
		_, err := ParseCapture("v", tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCapture(%q) error = %v; want %q", tt.src, err, tt.want)
		}
	}
}

func jsonChecks(t testing.TB, m map[string]any) []JSONCheck {
	var out []JSONCheck
	for k, v := range m {
		out = append(out, JSONCheck{Path: mustPath(t, k), Want: v})
	}
	return out
}

func TestCheck(t *testing.T) {
	body := `{"status":"ok","count":3,"ratio":0.5,"ok":true,"user":{"id":"7"},"list":[1,2],"nil":null,"obj":{"b":1,"a":2},"n":"5"}`
	tests := []struct {
		name    string
		check   Check
		json    map[string]any
		status  int
		latency time.Duration
		verdict Verdict
		why     string
	}{
		{"default status ok", Check{}, nil, 204, 0, Pass, ""},
		{"default status 404", Check{}, nil, 404, 0, FailStatus, "unexpected status 404"},
		{"default status 99", Check{}, nil, 99, 0, FailStatus, "unexpected status 99"},
		{"default status with body rule", Check{BodyContains: "ok"}, nil, 503, 0, FailStatus, "unexpected status 503"},
		{"explicit status", Check{Status: []int{200, 201}}, nil, 201, 0, Pass, ""},
		{"explicit status miss", Check{Status: []int{200}}, nil, 302, 0, FailStatus, "status 302 not in [200]"},
		{"explicit 500 accepted", Check{Status: []int{500}}, nil, 500, 0, Pass, ""},
		{"body contains", Check{BodyContains: `"count":3`}, nil, 200, 0, Pass, ""},
		{"body contains miss", Check{BodyContains: "nope"}, nil, 200, 0, FailCheck, `body does not contain "nope"`},
		{"latency ok", Check{MaxLatency: time.Second}, nil, 200, time.Second, Pass, ""},
		{"latency over", Check{MaxLatency: time.Second}, nil, 200, 1500 * time.Millisecond, FailCheck, "latency 1.5s over 1s"},
		{"json eq", Check{}, map[string]any{"$.status": "ok", "$.count": 3, "$.ratio": 0.5, "$.ok": true, "$.user.id": 7,
			"$.list": []any{1, 2}, "$.nil": nil, "$.absent": nil, "$.obj": map[string]any{"a": 2, "b": 1}, "$.n": 5, "$.count ": nil}, 200, 0, Pass, ""},
		{"json int64 and uint64", Check{}, map[string]any{"$.count": int64(3), "$.ratio": 0.5000000000001, "$.list[1]": uint64(2)}, 200, 0, Pass, ""},
		{"json string mismatch", Check{}, map[string]any{"$.status": "down"}, 200, 0, FailCheck, "$.status = ok, want down"},
		{"json number mismatch", Check{}, map[string]any{"$.count": 4}, 200, 0, FailCheck, "$.count = 3, want 4"},
		{"json bool mismatch", Check{}, map[string]any{"$.ok": false}, 200, 0, FailCheck, "$.ok = true, want false"},
		{"json bool vs string", Check{}, map[string]any{"$.status": true}, 200, 0, FailCheck, "$.status = ok, want true"},
		{"json list mismatch", Check{}, map[string]any{"$.list": []any{2, 1}}, 200, 0, FailCheck, "$.list = [1,2], want [2 1]"},
		{"json list vs text", Check{}, map[string]any{"$.status": []any{"ok"}}, 200, 0, FailCheck, "$.status = ok, want [ok]"},
		{"json null vs value", Check{}, map[string]any{"$.ok": nil}, 200, 0, FailCheck, "$.ok = true, want <nil>"},
		{"json missing", Check{}, map[string]any{"$.x": 1}, 200, 0, FailCheck, "$.x: missing"},
		{"json first failure by path", Check{}, map[string]any{"$.z": 1, "$.a": 1}, 200, 0, FailCheck, "$.a: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.JSON = jsonChecks(t, tt.json)
			r := resp(tt.status, body)
			r.Latency = tt.latency
			v, why, _ := NewRules(c, nil, 1<<20).Check(r)
			if v != tt.verdict || why != tt.why {
				t.Errorf("Check = %v, %q; want %v, %q", v, why, tt.verdict, tt.why)
			}
		})
	}
	long := `{"v":"` + strings.Repeat("x", 100) + `"}`
	if _, why, _ := NewRules(Check{JSON: jsonChecks(t, map[string]any{"$.v": "y"})}, nil, 0).Check(resp(200, long)); why != "$.v = "+strings.Repeat("x", 40)+"..., want y" {
		t.Errorf("long value: %q", why)
	}
	if v, why, _ := NewRules(Check{JSON: jsonChecks(t, map[string]any{"$.a": nil})}, nil, 0).Check(resp(200, "<html>")); v != FailCheck || why != "body is not JSON" {
		t.Errorf("non-JSON body: %v, %q", v, why)
	}
}

// TestCut: a body rule or capture failing on a cut body names max_body; a
// status or latency failure, or a rule that holds on the part kept, does not.
func TestCut(t *testing.T) {
	body := []byte(`{"a":1,"b":`)
	for _, tc := range []struct {
		name     string
		check    Check
		json     map[string]any
		status   int
		received int64
		why      string
	}{
		{"found in the part kept", Check{BodyContains: `"a":1`}, nil, 200, 1 << 30, ""},
		{"not in the part kept", Check{BodyContains: "zzz"}, nil, 200, 5000, `body does not contain "zzz" (only the first 11B of the 5000-byte body were kept: max_body)`},
		{"whole body", Check{BodyContains: "zzz"}, nil, 200, int64(len(body)), `body does not contain "zzz"`},
		{"json on a cut body", Check{}, map[string]any{"$.b": 2}, 200, 4096, "body is not JSON (only the first 11B of the 4096-byte body were kept: max_body)"},
		{"status first", Check{Status: []int{200}, BodyContains: "zzz"}, nil, 500, 5000, "status 500 not in [200]"},
	} {
		c := tc.check
		c.JSON = jsonChecks(t, tc.json)
		r := &Response{}
		r.Reset(tc.status, body, tc.received, 0)
		if _, why, _ := NewRules(c, nil, len(body)).Check(r); why != tc.why {
			t.Errorf("%s: Check = %q; want %q", tc.name, why, tc.why)
		}
	}
	caps := []Capture{mustCapture(t, "b", "$.b"), mustCapture(t, "h", "header:X-H"), mustCapture(t, "r", "regex:a.:(\\d)")}
	r := &Response{Header: func(string) string { return "" }}
	r.Reset(200, body, 1<<20, 0)
	vars := setter{}
	if ok, why := NewRules(Check{}, caps, 11).Capture(r, vars); ok || why != "capture b ($.b): not found (only the first 11B of the 1048576-byte body were kept: max_body)" {
		t.Errorf("capture on a cut body: %v, %q", ok, why)
	}
	r.Reset(200, body, int64(len(body)), 0)
	vars = setter{}
	if ok, why := NewRules(Check{}, caps, 11).Capture(r, vars); !ok || why != "" || len(vars) != 1 || vars["r"] != "1" {
		t.Errorf("capture on a whole body: %v, %q, %v; want only r set", ok, why, vars)
	}
}

type setter map[string]string

func (s setter) Set(name, value string) { s[name] = value }

func mustCapture(t testing.TB, name, src string) Capture {
	t.Helper()
	c, err := ParseCapture(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNeedsBodyAndKeep(t *testing.T) {
	hdr := mustCapture(t, "id", "header:X-Id")
	for _, tc := range []struct {
		name  string
		check Check
		caps  []Capture
		want  bool
	}{
		{"status only", Check{Status: []int{200}, MaxLatency: 1}, nil, false},
		{"header capture", Check{}, []Capture{hdr}, false},
		{"body_contains", Check{BodyContains: "x"}, nil, true},
		{"json check", Check{JSON: jsonChecks(t, map[string]any{"$.a": 1})}, nil, true},
		{"json capture", Check{}, []Capture{mustCapture(t, "id", "$.id"), hdr}, true},
		{"regex capture", Check{}, []Capture{mustCapture(t, "id", "regex:id=(\\d+)")}, true},
	} {
		r := NewRules(tc.check, tc.caps, 4096)
		want := 0
		if tc.want {
			want = 4096
		}
		if r.NeedsBody() != tc.want || r.Keep() != want {
			t.Errorf("%s: NeedsBody() = %v, Keep() = %d; want %v, %d", tc.name, r.NeedsBody(), r.Keep(), tc.want, want)
		}
	}
}

// threeAndTwo is a step with 3 captures and 2 json checks, and a response
// for it.
func threeAndTwo(tb testing.TB) (*Rules, *Response) {
	body := []byte(`{"token":"abcdef0123456789","user":{"id":42,"name":"Ann","roles":["a","b"]},"items":[{"id":7},{"id":8}],` +
		`"status":"ok","meta":{"count":2,"next":null},"padding":"` + strings.Repeat("x", 512) + `"}`)
	rules := NewRules(Check{Status: []int{200}, JSON: []JSONCheck{{mustPath(tb, "$.status"), "ok"}, {mustPath(tb, "$.meta.count"), 2}}},
		[]Capture{mustCapture(tb, "token", "$.token"), mustCapture(tb, "uid", "$.user.id"), mustCapture(tb, "item", "$.items[1].id")}, 1<<20)
	r := &Response{}
	r.Reset(200, body, int64(len(body)), time.Millisecond)
	return rules, r
}

// TestChecksAllocs: the checks of a passing response allocate nothing, and
// captures only their values' copies.
func TestChecksAllocs(t *testing.T) {
	rules, r := threeAndTwo(t)
	vars := setter{}
	if a := testing.AllocsPerRun(100, func() {
		r.json = 0
		if v, why, _ := rules.Check(r); v != Pass {
			t.Fatal(why)
		}
	}); a != 0 {
		t.Errorf("Check allocates %.1f times per response; want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { rules.Capture(r, vars) }); a > 3 {
		t.Errorf("3 captures allocate %.1f times per response; want at most 3 (the values)", a)
	}
	if vars["token"] != "abcdef0123456789" || vars["uid"] != "42" || vars["item"] != "8" {
		t.Errorf("captured %v", vars)
	}
}

// BenchmarkCheckAndCapture: one response, 3 captures and 2 json checks
// (BENCHMARKS.md compares it with the decoding implementation it replaced).
func BenchmarkCheckAndCapture(b *testing.B) {
	rules, r := threeAndTwo(b)
	vars := setter{}
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(r.Status, r.Body, r.Received, r.Latency)
		if v, why, _ := rules.Check(r); v != Pass {
			b.Fatal(why)
		}
		rules.Capture(r, vars)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1500: "1500B", 4096: "4KiB", 1 << 20: "1MiB", 3 << 30: "3GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestCheckCounts: every check is applied, whatever failed before it, and the
// mask names each one that failed in the order of Names; a status outside a
// check's own list is FailStatus (reason status), not FailCheck.
func TestCheckCounts(t *testing.T) {
	c := Check{Status: []int{200}, MaxLatency: time.Second, BodyContains: "ok",
		JSON: jsonChecks(t, map[string]any{"$.a": 1, "$.b": "x"})}
	rules := NewRules(c, nil, 1<<20)
	wantNames := []string{"status in [200]", "max_latency 1s", `body_contains "ok"`, "json $.a = 1", "json $.b = x"}
	if got := rules.Names(); !slices.Equal(got, wantNames) {
		t.Fatalf("Names() = %q; want %q", got, wantNames)
	}
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		latency time.Duration
		verdict Verdict
		why     string
		failed  uint64
	}{
		{"all pass", 200, `{"a":1,"b":"x","ok":1}`, 0, Pass, "", 0},
		{"500 fails status and the body checks", 500, `{"error":"boom"}`, 0, FailStatus, "status 500 not in [200]", 0b11101},
		{"slow and one json", 200, `{"a":2,"b":"x","ok":1}`, 2 * time.Second, FailCheck, "latency 2s over 1s", 0b01010},
		{"json only", 200, `{"a":1,"b":"y","ok":1}`, 0, FailCheck, "$.b = y, want x", 0b10000},
	} {
		r := resp(tc.status, tc.body)
		r.Latency = tc.latency
		v, why, failed := rules.Check(r)
		if v != tc.verdict || why != tc.why || failed != tc.failed {
			t.Errorf("%s: Check = %v, %q, %05b; want %v, %q, %05b", tc.name, v, why, failed, tc.verdict, tc.why, tc.failed)
		}
	}
	if n := NewRules(Check{}, nil, 0).Names(); len(n) != 0 {
		t.Errorf("no checks: Names() = %q; want none (the default status rule is not a check)", n)
	}
}
