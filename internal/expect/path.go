package expect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Path is a compiled JSON path such as $.a.b[0].c or $["odd key"][2]: "$"
// then any of .name, ["name"] or ['name'], and [n]. "$" alone selects the
// whole document. A name step matches a key of an object only, an index
// step an element of an array only.
type Path struct {
	src   string
	steps []step
}

// step is one step of a Path: a key, escaped for gjson, or an index.
type step struct {
	comp  string // the gjson path component: gjson.Escape(key), or the index in decimal
	index bool
}

// ParsePath compiles a JSON path.
func ParsePath(s string) (Path, error) {
	p := Path{src: s}
	if !strings.HasPrefix(s, "$") {
		return p, fmt.Errorf("invalid JSON path %q: must start with $", s)
	}
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			i := strings.IndexAny(rest, ".[")
			if i < 0 {
				i = len(rest)
			}
			if i == 0 {
				return p, fmt.Errorf("invalid JSON path %q: empty name after '.'", s)
			}
			p.steps = append(p.steps, step{comp: gjson.Escape(rest[:i])})
			rest = rest[i:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return p, fmt.Errorf("invalid JSON path %q: missing ']'", s)
			}
			in := rest[1:end]
			if len(in) >= 2 && (in[0] == '"' || in[0] == '\'') && in[len(in)-1] == in[0] {
				p.steps = append(p.steps, step{comp: gjson.Escape(in[1 : len(in)-1])})
			} else if n, err := strconv.Atoi(in); err == nil && n >= 0 {
				p.steps = append(p.steps, step{comp: strconv.Itoa(n), index: true})
			} else {
				return p, fmt.Errorf("invalid JSON path %q: [%s] is not an index >= 0 or a quoted name", s, in)
			}
			rest = rest[end+1:]
		default:
			return p, fmt.Errorf("invalid JSON path %q: unexpected %q", s, rest[0])
		}
	}
	return p, nil
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// find returns the value at the path in doc, a valid JSON document. It
// scans doc once per step and does not allocate (but for names that needed
// escaping), so the result's strings point into doc.
func (p Path) find(doc string) (gjson.Result, bool) {
	cur := gjson.Parse(doc)
	for _, s := range p.steps {
		if s.index && !cur.IsArray() || !s.index && !cur.IsObject() {
			return gjson.Result{}, false
		}
		if cur = cur.Get(s.comp); !cur.Exists() {
			return gjson.Result{}, false
		}
	}
	return cur, true
}

// text renders a JSON value as a template value: strings as is, numbers as
// written, true/false, null as "", objects and arrays as compact JSON with
// their keys sorted. Strings and numbers point into the document.
func text(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		return v.Str
	case gjson.JSON:
		var x any
		d := json.NewDecoder(strings.NewReader(v.Raw))
		d.UseNumber()
		if d.Decode(&x) != nil {
			return ""
		}
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return v.Raw // number, true, false
}
