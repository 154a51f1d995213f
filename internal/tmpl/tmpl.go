// Package tmpl holds loadlab's request templates: strings with ${...}
// references compiled once and rendered on the hot path without allocating
// (Template.Append), the built-ins (${uuid}, ${random_int(MIN,MAX)}, ...),
// ${env.NAME} lookups resolved when a plan loads, and Scope, the variables of
// one virtual user. It knows nothing of plans: internal/plan compiles a
// plan's strings with it, and the executor renders them.
package tmpl

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/reqbody"
)

// Vars resolves the names a template refers to: plan variables, captures and
// data-row columns ("users.email").
type Vars interface {
	Lookup(name string) (string, bool)
}

// Env is a Vars that also carries per-caller state for the built-ins. When the
// Vars given to Template.Append implements Env, random built-ins draw from its
// Rand (one source per virtual user: no shared lock) and ${iteration} and
// ${vu} come from it; otherwise the lock-free math/rand/v2 global source is
// used and ${iteration} and ${vu} render 0.
type Env interface {
	Vars
	Rand() *rand.Rand
	Iteration() int64
	VU() int
}

// Map is a Vars over a map.
type Map map[string]string

// Lookup implements Vars.
func (m Map) Lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// Builtins are the built-in template names. A plan may not define a
// variable, capture or data source with one of these names.
var Builtins = []string{"random_int", "uuid", "random_name", "random_email", "timestamp", "timestamp_ms", "iteration", "vu"}

// IsBuiltin reports whether name (without arguments) is a built-in.
func IsBuiltin(name string) bool { return slices.Contains(Builtins, name) }

type partKind uint8

const (
	partLit partKind = iota
	partVar
	partRandInt
	partUUID
	partRandName
	partRandEmail
	partTimestamp
	partTimestampMs
	partIteration
	partVU
	partEnv // ${env.NAME} or ${env.NAME:-default}; s holds "NAME" or "NAME:-default". ResolveEnv makes it a literal.
)

// Escape says how a template escapes the values it inserts (variables,
// captures, built-ins, the environment); its literal text is kept as is.
type Escape uint8

// Escapes.
const (
	Plain Escape = iota // inserted as is
	JSON                // inside a JSON string: quotes, backslashes and control characters escaped
	Query               // a URL query component (as url.QueryEscape)
)

type part struct {
	kind   partKind
	esc    Escape // how dynamic values are escaped
	s      string // literal text or variable name
	lo, hi int64  // random_int bounds
}

// Template is a compiled string with ${...} references. It is immutable once
// compiled and its ${env.NAME} references resolved, and then safe for
// concurrent use. "$${" writes a literal "${".
type Template struct {
	src    string
	parts  []part
	refs   []string
	static []byte // the rendering, when there are no references
	isStat bool
}

// Error is a syntax error in a template; Offset is the byte offset of the
// offending "${" in the source.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Compile parses s, whose inserted values esc escapes. References are
// ${name}, ${source.column}, ${env.NAME} (${env.NAME:-default}) and the
// built-ins ${random_int(MIN,MAX)}, ${uuid}, ${random_name},
// ${random_email}, ${timestamp}, ${timestamp_ms}, ${iteration} and ${vu}.
func Compile(s string, esc Escape) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: partLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			lit.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, &Error{Offset: i, Msg: fmt.Sprintf("unterminated ${ at offset %d", i)}
		}
		expr := strings.TrimSpace(s[i+2 : i+2+end])
		p, err := parseRef(expr)
		if err != nil {
			return nil, &Error{Offset: i, Msg: fmt.Sprintf("${%s}: %v", expr, err)}
		}
		flush()
		p.esc = esc
		t.parts = append(t.parts, p)
		i += 2 + end + 1
	}
	flush()
	t.finish()
	return t, nil
}

// MustCompile is Compile(s, Plain) that panics on error, for tests and
// constant templates.
func MustCompile(s string) *Template {
	t, err := Compile(s, Plain)
	if err != nil {
		panic(err)
	}
	return t
}

// finish computes refs and the static rendering.
func (t *Template) finish() {
	t.refs = t.refs[:0]
	for _, p := range t.parts {
		if p.kind == partVar && !slices.Contains(t.refs, p.s) {
			t.refs = append(t.refs, p.s)
		}
	}
	slices.Sort(t.refs)
	t.isStat, t.static = false, nil
	if len(t.parts) == 0 || (len(t.parts) == 1 && t.parts[0].kind == partLit) {
		t.isStat = true
		if len(t.parts) == 1 {
			t.static = []byte(t.parts[0].s)
		} else {
			t.static = []byte{}
		}
	}
}

// Concat joins templates into one (each keeps its own escaping); nil
// templates are skipped.
func Concat(ts ...*Template) *Template {
	out := &Template{}
	var src strings.Builder
	for _, t := range ts {
		if t == nil {
			continue
		}
		src.WriteString(t.src)
		for _, p := range t.parts {
			if n := len(out.parts); n > 0 && p.kind == partLit && out.parts[n-1].kind == partLit {
				out.parts[n-1].s += p.s
				continue
			}
			out.parts = append(out.parts, p)
		}
	}
	out.src = src.String()
	out.finish()
	return out
}

// Literal returns a static template for s (no ${...} parsing).
func Literal(s string) *Template {
	t := &Template{src: s}
	if s != "" {
		t.parts = []part{{kind: partLit, s: s}}
	}
	t.finish()
	return t
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' || c == '-' }

// ValidName reports whether s is a name templates can refer to: a letter
// or '_' then letters, digits, '_' or '-'.
func ValidName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func parseRef(expr string) (part, error) {
	if rest, ok := strings.CutPrefix(expr, EnvPrefix); ok {
		name, _, _ := strings.Cut(rest, ":-")
		if !validEnvName(name) {
			return part{}, fmt.Errorf("invalid environment variable name %q (letters, digits and '_', not starting with a digit; a default is written ${env.NAME:-default})", name)
		}
		return part{kind: partEnv, s: rest}, nil
	}
	if open := strings.IndexByte(expr, '('); open >= 0 {
		fn := strings.TrimSpace(expr[:open])
		if !strings.HasSuffix(expr, ")") {
			return part{}, errors.New("missing closing parenthesis")
		}
		args := strings.Split(expr[open+1:len(expr)-1], ",")
		switch fn {
		case "random_int":
			if len(args) != 2 {
				return part{}, errors.New("random_int takes two integers: random_int(MIN,MAX)")
			}
			lo, err1 := strconv.ParseInt(strings.TrimSpace(args[0]), 10, 64)
			hi, err2 := strconv.ParseInt(strings.TrimSpace(args[1]), 10, 64)
			if err1 != nil || err2 != nil {
				return part{}, errors.New("random_int takes two integers: random_int(MIN,MAX)")
			}
			if lo > hi {
				return part{}, fmt.Errorf("random_int: min %d > max %d", lo, hi)
			}
			if hi-lo < 0 || hi-lo == 1<<63-1 {
				return part{}, errors.New("random_int: range too large")
			}
			return part{kind: partRandInt, lo: lo, hi: hi}, nil
		case "uuid", "random_name", "random_email", "timestamp", "timestamp_ms", "iteration", "vu":
			return part{}, fmt.Errorf("%s takes no arguments: write ${%s}", fn, fn)
		}
		return part{}, fmt.Errorf("unknown function %q (built-ins: %s)", fn, strings.Join(Builtins, ", "))
	}
	switch expr {
	case "uuid":
		return part{kind: partUUID}, nil
	case "random_name":
		return part{kind: partRandName}, nil
	case "random_email":
		return part{kind: partRandEmail}, nil
	case "timestamp":
		return part{kind: partTimestamp}, nil
	case "timestamp_ms":
		return part{kind: partTimestampMs}, nil
	case "iteration":
		return part{kind: partIteration}, nil
	case "vu":
		return part{kind: partVU}, nil
	case "random_int":
		return part{}, errors.New("random_int needs bounds: random_int(MIN,MAX)")
	}
	src, col, dotted := strings.Cut(expr, ".")
	if !ValidName(src) || (dotted && !ValidName(col)) {
		return part{}, errors.New("invalid name (want NAME or SOURCE.COLUMN: letters, digits, '_' or '-')")
	}
	return part{kind: partVar, s: expr}, nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Refs returns the names (variables, captures, "source.column") the template
// needs, sorted; built-ins are not included. The caller must not modify it.
func (t *Template) Refs() []string { return t.refs }

// Static reports whether the template renders the same bytes every time.
func (t *Template) Static() bool { return t.isStat }

// UsesBuiltins reports whether the template calls any built-in.
func (t *Template) UsesBuiltins() bool {
	for _, p := range t.parts {
		if p.kind != partLit && p.kind != partVar && p.kind != partEnv {
			return true
		}
	}
	return false
}

// LiteralText returns the template's literal parts joined (what it renders
// when every reference is empty).
func (t *Template) LiteralText() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.kind == partLit {
			b.WriteString(p.s)
		}
	}
	return b.String()
}

// Append renders the template onto dst and returns the extended slice. It does
// not allocate when dst has room. A name v does not resolve renders as "".
func (t *Template) Append(dst []byte, v Vars) []byte {
	if t.isStat {
		return append(dst, t.static...)
	}
	env, _ := v.(Env)
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case partLit:
			dst = append(dst, p.s...)
		case partVar:
			if v != nil {
				if s, ok := v.Lookup(p.s); ok {
					dst = appendEsc(dst, s, p.esc)
				}
			}
		case partRandInt:
			n := p.lo + int64(randUint64n(env, uint64(p.hi-p.lo)+1))
			dst = strconv.AppendInt(dst, n, 10)
		case partUUID:
			dst = appendUUID(dst, env)
		case partRandName:
			dst = appendEsc(dst, firstNames[randUint64n(env, uint64(len(firstNames)))], p.esc)
		case partRandEmail:
			name := firstNames[randUint64n(env, uint64(len(firstNames)))]
			for j := 0; j < len(name); j++ {
				c := name[j]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				dst = append(dst, c)
			}
			dst = append(dst, '.')
			dst = strconv.AppendUint(dst, randUint64n(env, 1000000), 10)
			dst = append(dst, "@example.com"...)
		case partTimestamp:
			dst = strconv.AppendInt(dst, time.Now().Unix(), 10)
		case partTimestampMs:
			dst = strconv.AppendInt(dst, time.Now().UnixMilli(), 10)
		case partIteration:
			var n int64
			if env != nil {
				n = env.Iteration()
			}
			dst = strconv.AppendInt(dst, n, 10)
		case partVU:
			var n int
			if env != nil {
				n = env.VU()
			}
			dst = strconv.AppendInt(dst, int64(n), 10)
		case partEnv: // not resolved (ResolveEnv was not called): the default, if any
			_, def, _ := strings.Cut(p.s, ":-")
			dst = appendEsc(dst, def, p.esc)
		}
	}
	return dst
}

// Render returns the rendering as a string (allocates; for tests and cold paths).
func (t *Template) Render(v Vars) string { return string(t.Append(nil, v)) }

func appendEsc(dst []byte, s string, esc Escape) []byte {
	switch esc {
	case JSON:
		return appendJSONString(dst, s)
	case Query:
		return reqbody.AppendQueryEscape(dst, s)
	}
	return append(dst, s...)
}

func randUint64n(env Env, n uint64) uint64 {
	if env != nil {
		if r := env.Rand(); r != nil {
			return r.Uint64N(n)
		}
	}
	return rand.Uint64N(n) // runtime per-thread ChaCha8 source: no shared lock
}

func randUint64(env Env) uint64 {
	if env != nil {
		if r := env.Rand(); r != nil {
			return r.Uint64()
		}
	}
	return rand.Uint64()
}

const hexDigits = "0123456789abcdef"

// appendUUID appends a random (version 4) UUID.
func appendUUID(dst []byte, env Env) []byte {
	var b [16]byte
	a, c := randUint64(env), randUint64(env)
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[x>>4], hexDigits[x&0x0f])
	}
	return dst
}

// appendJSONString appends s escaped for the inside of a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

var firstNames = [...]string{
	"Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace",
	"Guido", "Hedy", "Ivan", "Jean", "John", "Ken", "Leslie", "Linus", "Margaret", "Niklaus",
	"Radia", "Rob", "Robin", "Shafi", "Sophie", "Tim", "Tony", "Vint", "Whitfield", "Yukihiro",
	"Zhou", "Anita",
}
