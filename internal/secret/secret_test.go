package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactorString(t *testing.T) {
	r := New("eyJhbGciOi.payload.sig", "Bearer eyJhbGciOi.payload.sig", "abc", "pa\"ss<word>", "", "tok en/x")
	tests := []struct{ name, in, want string }{
		{"whole value", "token eyJhbGciOi.payload.sig here", "token *** here"},
		{"header value wins over its part", "Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization: ***"},
		{"inside a longer word", "xxeyJhbGciOi.payload.sigyy", "xx***yy"},
		{"twice", "eyJhbGciOi.payload.sig,eyJhbGciOi.payload.sig", "***,***"},
		{"short values are not masked", "abc abc", "abc abc"},
		{"json escaped", `{"p":"pa\"ss\u003cword\u003e"}`, `{"p":"***"}`},
		{"json escaped without html", `{"p":"pa\"ss<word>"}`, `{"p":"***"}`},
		{"query escaped", "GET /x?t=tok+en%2Fx", "GET /x?t=***"},
		{"path escaped", "GET /x/tok%20en%2Fx", "GET /x/***"},
		{"truncated before ...", `$.auth = Bearer eyJhbGciOi.pay..., want x`, `$.auth = ***..., want x`},
		{"truncated at the end", "body: eyJhbGciOi.pa", "body: ***"},
		{"too short a tail is kept", "body: eyJ", "body: eyJ"},
		{"a scheme alone is no secret", "missing Bearer", "missing Bearer"},
		{"nothing to mask", "all fine", "all fine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactorExtraAndNil(t *testing.T) {
	var r *Redactor
	if got := r.String("a s3cr3t b"); got != "a s3cr3t b" {
		t.Errorf("nil.String = %q", got)
	}
	if got := r.String("a s3cr3t b", "s3cr3t"); got != "a *** b" {
		t.Errorf("nil.String with extra = %q; want a *** b", got)
	}
	if !r.Empty() || !New("ab").Empty() || New("abcd").Empty() {
		t.Error("Empty: want true for nil and for values below MinLen only")
	}
	r = New("static-secret")
	if got := r.String("static-secret dyn-secret", "dyn-secret"); got != "*** ***" {
		t.Errorf("String with extra = %q; want *** ***", got)
	}
}

func TestHeaderParts(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
	}{
		{"Authorization", "Bearer abc", []string{"abc"}},
		{"proxy-authorization", "Basic dXNlcjpwYXNz", []string{"dXNlcjpwYXNz"}},
		{"Authorization", "rawtoken", nil},
		{"Cookie", "a=b1; sid=xyz", []string{"b1", "xyz"}},
		{"X-Api-Key", "k", nil},
	}
	for _, tt := range tests {
		got := HeaderParts(tt.name, tt.value)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("HeaderParts(%q, %q) = %q; want %q", tt.name, tt.value, got, tt.want)
		}
	}
	for _, h := range []string{"authorization", "COOKIE", "Proxy-Authorization", "x-api-key"} {
		if !IsSecretHeader(h) {
			t.Errorf("IsSecretHeader(%q) = false", h)
		}
	}
	if IsSecretHeader("Accept") {
		t.Error("IsSecretHeader(Accept) = true")
	}
}

func TestRedactorYAML(t *testing.T) {
	r := New("s3cr3t-value")
	raw := "variables:\n  jwt: s3cr3t-value\n  other: {value: \"x-s3cr3t-value\", secret: true}\nheaders: {Authorization: \"Bearer ${jwt}\"}\n"
	want := "variables:\n  jwt: ***\n  other: {value: \"x-***\", secret: true}\nheaders: {Authorization: ***}\n"
	if got := r.YAML([]byte(raw)); got != want {
		t.Errorf("YAML =\n%s\nwant\n%s", got, want)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	r := New("s3cr3t-value")
	l := r.Logger(slog.New(slog.NewJSONHandler(&buf, nil))).With("token", "x s3cr3t-value")
	l.WithGroup("g").Info("got s3cr3t-value", "err", errors.New("echo s3cr3t-value"), "n", 3,
		slog.Group("sub", "v", "s3cr3t-value"), "b", []byte("s3cr3t-value"))
	if strings.Contains(buf.String(), "s3cr3t") {
		t.Errorf("log line holds the secret: %s", buf.String())
	}
	for _, want := range []string{`"msg":"got ***"`, `"token":"x ***"`, `"err":"echo ***"`, `"n":3`, `"v":"***"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line %s lacks %s", buf.String(), want)
		}
	}
	base := slog.New(slog.DiscardHandler)
	if New().Logger(base) != base {
		t.Error("an empty Redactor should return the logger as is")
	}
}

func TestWalk(t *testing.T) {
	type inner struct {
		Msg  string
		Hist []byte
	}
	type report struct {
		Error   string
		Samples []inner
		ByName  map[string]string
		Ptr     *inner
		Any     any
		Raw     json.RawMessage
		N       int
		hidden  string
	}
	hist := []byte("s3cr3t-value") // binary data: never rewritten
	rep := &report{
		Error:   "failed: s3cr3t-value",
		Samples: []inner{{Msg: "a s3cr3t-value", Hist: hist}},
		ByName:  map[string]string{"k": "s3cr3t-value"},
		Ptr:     &inner{Msg: "s3cr3t-value"},
		Any:     inner{Msg: "s3cr3t-value"},
		Raw:     json.RawMessage(`{"e":"s3cr3t-value"}`),
		N:       7,
		hidden:  "s3cr3t-value",
	}
	New("s3cr3t-value").Walk(rep)
	b, _ := json.Marshal(rep)
	if got := strings.Count(string(b), "s3cr3t"); got != 1 { // the base64 of Hist does not spell it; Any was masked
		t.Logf("marshalled: %s", b)
	}
	if rep.Error != "failed: ***" || rep.Samples[0].Msg != "a ***" || rep.ByName["k"] != "***" || rep.Ptr.Msg != "***" ||
		rep.Any.(inner).Msg != "***" || string(rep.Raw) != `{"e":"***"}` || rep.N != 7 {
		t.Errorf("Walk left a secret: %+v", rep)
	}
	if string(rep.Samples[0].Hist) != "s3cr3t-value" {
		t.Errorf("Walk rewrote binary data: %q", rep.Samples[0].Hist)
	}
	if rep.hidden != "s3cr3t-value" {
		t.Errorf("Walk touched an unexported field")
	}
}
