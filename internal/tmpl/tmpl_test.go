package tmpl

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTemplateRender(t *testing.T) {
	vars := Map{"a": "1", "b": "two", "users.email": "u@x", "q": `a "b"`}
	tests := []struct {
		src      string
		want     string
		refs     string
		static   bool
		builtins bool
	}{
		{"", "", "", true, false},
		{"/api/health", "/api/health", "", true, false},
		{"/u/${a}/${b}", "/u/1/two", "a,b", false, false},
		{"${users.email}", "u@x", "users.email", false, false},
		{"${ a }-${a}", "1-1", "a", false, false},
		{"$${a} and ${a}", "${a} and 1", "a", false, false},
		{"$${literal}", "${literal}", "", true, false},
		{"cost: $5 {x}", "cost: $5 {x}", "", true, false},
		{"${missing}!", "!", "missing", false, false},
		{"${random_int(7,7)}", "7", "", false, true},
		{"${random_int(-3, -3)}", "-3", "", false, true},
	}
	for _, tt := range tests {
		tp, err := Compile(tt.src, Plain)
		if err != nil {
			t.Errorf("Compile(%q) error %v", tt.src, err)
			continue
		}
		if got := tp.Render(vars); got != tt.want {
			t.Errorf("Compile(%q).Render = %q; want %q", tt.src, got, tt.want)
		}
		if got := strings.Join(tp.Refs(), ","); got != tt.refs {
			t.Errorf("Compile(%q).Refs() = %q; want %q", tt.src, got, tt.refs)
		}
		if tp.Static() != tt.static {
			t.Errorf("Compile(%q).Static() = %v; want %v", tt.src, tp.Static(), tt.static)
		}
		if tp.UsesBuiltins() != tt.builtins {
			t.Errorf("Compile(%q).UsesBuiltins() = %v; want %v", tt.src, tp.UsesBuiltins(), tt.builtins)
		}
		if tp.String() != tt.src {
			t.Errorf("String() = %q; want %q", tp.String(), tt.src)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"${a", "unterminated ${ at offset 0"},
		{"x${}", "${}: invalid name"},
		{"${1a}", "invalid name"},
		{"${a.b.c}", "invalid name"},
		{"${random_int(1)}", "random_int takes two integers"},
		{"${random_int(a,b)}", "random_int takes two integers"},
		{"${random_int(5,1)}", "min 5 > max 1"},
		{"${random_int}", "random_int needs bounds"},
		{"${uuid()}", "uuid takes no arguments"},
		{"${nope(1)}", `unknown function "nope"`},
		{"${random_int(1,2}", "missing closing parenthesis"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src, Plain)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%q) error = %v; want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func TestTemplateBuiltins(t *testing.T) {
	s := NewScope(map[string]string{"v": "x"}, 3, 42)
	s.SetIteration(17)
	check := func(src, pattern string) string {
		t.Helper()
		got := MustCompile(src).Render(s)
		if !regexp.MustCompile("^" + pattern + "$").MatchString(got) {
			t.Errorf("%s rendered %q; want /%s/", src, got, pattern)
		}
		return got
	}
	check("${vu}/${iteration}", "3/17")
	u1 := check("${uuid}", "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
	u2 := check("${uuid}", "[0-9a-f-]{36}")
	if u1 == u2 {
		t.Errorf("two uuids are equal: %s", u1)
	}
	check("${random_name}", "[A-Z][a-z]+")
	check("${random_email}", `[a-z]+\.[0-9]+@example\.com`)
	check("${timestamp}", "1[0-9]{9}")
	check("${timestamp_ms}", "1[0-9]{12}")
	seen := map[int]bool{}
	for range 2000 {
		n, err := strconv.Atoi(MustCompile("${random_int(1,10)}").Render(s))
		if err != nil || n < 1 || n > 10 {
			t.Fatalf("random_int(1,10) = %d, %v", n, err)
		}
		seen[n] = true
	}
	if len(seen) != 10 {
		t.Errorf("random_int(1,10) produced %d distinct values in 2000 draws; want 10", len(seen))
	}
	// Same seed and vu: same sequence (reproducible runs).
	a, b := NewScope(nil, 1, 9), NewScope(nil, 1, 9)
	ta := MustCompile("${uuid}${random_int(0,1000000)}")
	if x, y := ta.Render(a), ta.Render(b); x != y {
		t.Errorf("same seed rendered %q and %q", x, y)
	}
	// Without an Env the global lock-free source is used; iteration and vu are 0.
	if got := MustCompile("${vu}-${iteration}").Render(Map{}); got != "0-0" {
		t.Errorf("no Env: %q; want 0-0", got)
	}
}

func TestScope(t *testing.T) {
	s := NewScope(map[string]string{"a": "base"}, 1, 1)
	if v, ok := s.Lookup("a"); !ok || v != "base" {
		t.Errorf("Lookup(a) = %q, %v", v, ok)
	}
	s.Set("a", "over")
	s.Set("token", "t")
	if v, _ := s.Lookup("a"); v != "over" {
		t.Errorf("Lookup(a) after Set = %q; want over", v)
	}
	s.Reset()
	if v, _ := s.Lookup("a"); v != "base" {
		t.Errorf("Lookup(a) after Reset = %q; want base", v)
	}
	if _, ok := s.Lookup("token"); ok {
		t.Error("token survived Reset")
	}
}

func TestTemplateEscaping(t *testing.T) {
	v := Map{"x": "a\"b\\c\nd\x01 &é"}
	j, _ := Compile(`{"k":"${x}"}`, JSON)
	if got, want := j.Render(v), `{"k":"a\"b\\c\nd\u0001 &é"}`; got != want {
		t.Errorf("JSON escape = %s; want %s", got, want)
	}
	q, _ := Compile("${x}", Query)
	if got, want := q.Render(Map{"x": "a b&c=d/é~"}), "a+b%26c%3Dd%2F%C3%A9~"; got != want {
		t.Errorf("query escape = %s; want %s", got, want)
	}
}

// allocCases are templates of every kind the executor renders per request:
// static, variables, built-ins, JSON- and query-escaped values, and a URL
// joined from parts (Concat).
func allocCases(tb testing.TB) map[string]*Template {
	json, err := Compile(`{"user":"${token}","n":${random_int(1,9)},"who":"${random_name}"}`, JSON)
	if err != nil {
		tb.Fatal(err)
	}
	q, err := Compile("${token} & ${vu}", Query)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]*Template{
		"static":   MustCompile("/api/health"),
		"variable": MustCompile("Bearer ${token}"),
		"builtins": MustCompile("${uuid} ${random_email} ${timestamp_ms} ${vu} ${iteration}"),
		"json":     json,
		"url":      Concat(Literal("http://127.0.0.1:8080"), MustCompile("/api/users/${random_int(1,500)}?h=${host}"), Literal("&q="), q),
	}
}

func TestTemplateAllocs(t *testing.T) {
	s := NewScope(map[string]string{"host": "h"}, 1, 1)
	s.Set("token", `ab"c d`)
	buf := make([]byte, 0, 256)
	for name, tp := range allocCases(t) {
		allocs := testing.AllocsPerRun(200, func() { buf = tp.Append(buf[:0], s) })
		if allocs != 0 {
			t.Errorf("Append(%s: %q) allocates %.1f times per call; want 0", name, tp, allocs)
		}
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	s := NewScope(nil, 1, 1)
	s.Set("token", "abcdef")
	tp := MustCompile("/api/users/${random_int(1,500)}?t=${token}")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = tp.Append(buf[:0], s)
	}
}

// BenchmarkTemplateKinds renders each of allocCases (0 allocs/op each).
func BenchmarkTemplateKinds(b *testing.B) {
	s := NewScope(map[string]string{"host": "h"}, 1, 1)
	s.Set("token", `ab"c d`)
	for name, tp := range allocCases(b) {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = tp.Append(buf[:0], s)
			}
		})
	}
}

func TestResolveEnv(t *testing.T) {
	env := func(name string) (string, error) {
		switch name {
		case "SET":
			return `a"b`, nil
		case "EMPTY":
			return "", nil
		}
		return "", errors.New("not set")
	}
	tests := []struct {
		src     string
		esc     Escape
		want    string
		read    string
		missing string
	}{
		{"/x/${env.SET}/${v}", Plain, `/x/a"b/V`, `a"b`, ""},
		{`{"k":"${env.SET}"}`, JSON, `{"k":"a\"b"}`, `a"b`, ""},
		{"${env.SET}", Query, "a%22b", `a"b`, ""},
		{"${env.EMPTY:-dflt}-${env.NOPE:-d2}", Plain, "dflt-d2", "", ""},
		{"${env.NOPE}", Plain, "", "", "${env.NOPE}: not set"},
	}
	for _, tt := range tests {
		tp, err := Compile(tt.src, tt.esc)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		if !tp.UsesEnv() {
			t.Errorf("Compile(%q).UsesEnv() = false", tt.src)
		}
		read, missing := tp.ResolveEnv(env)
		var ms []string
		for _, m := range missing {
			ms = append(ms, m.Error())
		}
		if got := tp.Render(Map{"v": "V"}); got != tt.want || strings.Join(read, ",") != tt.read || strings.Join(ms, ",") != tt.missing {
			t.Errorf("ResolveEnv(%q): renders %q, read %q, missing %q; want %q, %q, %q", tt.src, got, read, ms, tt.want, tt.read, tt.missing)
		}
		if tp.UsesEnv() {
			t.Errorf("%q still uses the environment after ResolveEnv", tt.src)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := func(name string) (string, error) {
		if name == "JWT" {
			return "eyJ", nil
		}
		return "", errors.New("not set")
	}
	tests := []struct{ src, want, read, problems string }{
		{"plain $${x} ${env.JWT}", "plain $${x} eyJ", "eyJ", ""},
		{"${env.NO:-d}", "d", "", ""},
		{"x-${token}", "x-", "", "${token}: variables are constants; only ${env.NAME} is expanded in them (captures, data columns and built-ins belong in requests)"},
		{"${env.NO}", "", "", "${env.NO}: not set"},
		{"${env.1X}", "", "", `${env.1X}: invalid environment variable name "1X" (letters, digits and '_', not starting with a digit; a default is written ${env.NAME:-default})`},
		{"a${env.JWT", "a${env.JWT", "", "unterminated ${ at offset 1"},
	}
	for _, tt := range tests {
		got, read, problems := ExpandEnv(tt.src, env)
		if got != tt.want || strings.Join(read, ",") != tt.read || strings.Join(problems, ",") != tt.problems {
			t.Errorf("ExpandEnv(%q) = %q, %q, %q; want %q, %q, %q", tt.src, got, read, problems, tt.want, tt.read, tt.problems)
		}
	}
}
