package plan

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTemplateRender(t *testing.T) {
	vars := mapVars{"a": "1", "b": "two", "users.email": "u@x", "q": `a "b"`}
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
		tp, err := CompileTemplate(tt.src)
		if err != nil {
			t.Errorf("CompileTemplate(%q) error %v", tt.src, err)
			continue
		}
		if got := tp.Render(vars); got != tt.want {
			t.Errorf("CompileTemplate(%q).Render = %q; want %q", tt.src, got, tt.want)
		}
		if got := strings.Join(tp.Refs(), ","); got != tt.refs {
			t.Errorf("CompileTemplate(%q).Refs() = %q; want %q", tt.src, got, tt.refs)
		}
		if tp.Static() != tt.static {
			t.Errorf("CompileTemplate(%q).Static() = %v; want %v", tt.src, tp.Static(), tt.static)
		}
		if tp.UsesBuiltins() != tt.builtins {
			t.Errorf("CompileTemplate(%q).UsesBuiltins() = %v; want %v", tt.src, tp.UsesBuiltins(), tt.builtins)
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
		_, err := CompileTemplate(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileTemplate(%q) error = %v; want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func TestTemplateBuiltins(t *testing.T) {
	s := NewScope(map[string]string{"v": "x"}, 3, 42)
	s.SetIteration(17)
	check := func(src, pattern string) string {
		t.Helper()
		got := MustCompileTemplate(src).Render(s)
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
		n, err := strconv.Atoi(MustCompileTemplate("${random_int(1,10)}").Render(s))
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
	ta := MustCompileTemplate("${uuid}${random_int(0,1000000)}")
	if x, y := ta.Render(a), ta.Render(b); x != y {
		t.Errorf("same seed rendered %q and %q", x, y)
	}
	// Without an Env the global lock-free source is used; iteration and vu are 0.
	if got := MustCompileTemplate("${vu}-${iteration}").Render(mapVars{}); got != "0-0" {
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
	v := mapVars{"x": "a\"b\\c\nd\x01 &é"}
	j, _ := compileTemplate(`{"k":"${x}"}`, escJSON)
	if got, want := j.Render(v), `{"k":"a\"b\\c\nd\u0001 &é"}`; got != want {
		t.Errorf("JSON escape = %s; want %s", got, want)
	}
	q, _ := compileTemplate("${x}", escQuery)
	if got, want := q.Render(mapVars{"x": "a b&c=d/é~"}), "a+b%26c%3Dd%2F%C3%A9~"; got != want {
		t.Errorf("query escape = %s; want %s", got, want)
	}
}

func TestTemplateAllocs(t *testing.T) {
	s := NewScope(map[string]string{"host": "h"}, 1, 1)
	s.Set("token", "abcdef")
	buf := make([]byte, 0, 256)
	for _, src := range []string{
		"/api/health",
		"Bearer ${token}",
		"/api/users/${random_int(1,500)}?h=${host}",
		"${uuid} ${random_email} ${timestamp_ms} ${vu} ${iteration}",
	} {
		tp := MustCompileTemplate(src)
		allocs := testing.AllocsPerRun(200, func() { buf = tp.Append(buf[:0], s) })
		if allocs != 0 {
			t.Errorf("Append(%q) allocates %.1f times per call; want 0", src, allocs)
		}
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	s := NewScope(nil, 1, 1)
	s.Set("token", "abcdef")
	tp := MustCompileTemplate("/api/users/${random_int(1,500)}?t=${token}")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = tp.Append(buf[:0], s)
	}
}

func TestDataSourceRow(t *testing.T) {
	d := DataSource{Order: OrderSequential, Columns: []string{"email"}, Keys: []string{"users.email"}, Rows: [][]string{{"a"}, {"b"}, {"c"}}}
	for n, want := range []string{"a", "b", "c", "a"} {
		if got := d.Row(uint64(n), nil)[0]; got != want {
			t.Errorf("Row(%d) = %s; want %s", n, got, want)
		}
	}
	s := NewScope(nil, 1, 1)
	s.SetRow(&d, d.Row(1, nil))
	if v, _ := s.Lookup("users.email"); v != "b" {
		t.Errorf("after SetRow: users.email = %q; want b", v)
	}
	d.Order = OrderRandom
	seen := map[string]bool{}
	for i := range 300 {
		seen[d.Row(uint64(i), s.Rand())[0]] = true
	}
	if len(seen) != 3 {
		t.Errorf("random order used %d of 3 rows", len(seen))
	}
	if (&DataSource{}).Row(0, nil) != nil {
		t.Error("Row on an empty source is not nil")
	}
}
