package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Capture kinds (Capture.Kind).
const (
	CaptureJSON   = "json"   // "$.token", "$.items[0].id"
	CaptureHeader = "header" // "header:X-Request-Id"
	CaptureRegex  = "regex"  // "regex:token=(\\w+)" (first group, or the whole match without groups)
)

// Capture takes a value from a response into a variable. In YAML it is a
// string: a JSON path ("$.a.b[0].c"), "header:NAME" or "regex:PATTERN".
type Capture struct {
	Src       string // as written
	Kind      string // CaptureJSON | CaptureHeader | CaptureRegex
	Header    string // header name, for CaptureHeader
	Path      JSONPath
	Re        *regexp.Regexp
	Line, Col int
}

// ParseCapture parses a capture source.
func ParseCapture(s string) (Capture, error) {
	c := Capture{Src: s}
	switch {
	case strings.HasPrefix(s, "header:"):
		c.Kind = CaptureHeader
		c.Header = strings.TrimSpace(strings.TrimPrefix(s, "header:"))
		if c.Header == "" || strings.ContainsAny(c.Header, " :\t\r\n") {
			return c, fmt.Errorf("invalid header name %q", c.Header)
		}
	case strings.HasPrefix(s, "regex:"):
		c.Kind = CaptureRegex
		re, err := regexp.Compile(strings.TrimPrefix(s, "regex:"))
		if err != nil {
			return c, fmt.Errorf("invalid regex: %w", err)
		}
		c.Re = re
	case strings.HasPrefix(s, "$"):
		c.Kind = CaptureJSON
		p, err := ParseJSONPath(s)
		if err != nil {
			return c, err
		}
		c.Path = p
	default:
		return c, fmt.Errorf("invalid capture %q: want a JSON path ($.a.b[0]), header:NAME or regex:PATTERN", s)
	}
	return c, nil
}

// Extract returns the captured value from a response, and whether it was found.
// header looks up a response header (it may be nil for JSON and regex captures).
func (c Capture) Extract(status int, header func(string) string, body []byte) (string, bool) {
	switch c.Kind {
	case CaptureHeader:
		if header == nil {
			return "", false
		}
		v := header(c.Header)
		return v, v != ""
	case CaptureRegex:
		if c.Re == nil {
			return "", false
		}
		m := c.Re.FindSubmatch(body)
		if m == nil {
			return "", false
		}
		if len(m) > 1 {
			return string(m[1]), true
		}
		return string(m[0]), true
	case CaptureJSON:
		v, ok := c.Path.Lookup(body)
		if !ok {
			return "", false
		}
		return jsonValueString(v), true
	}
	return "", false
}

// JSONPath is a compiled path such as $.a.b[0].c or $["odd key"][2]. The empty
// path (just "$") selects the whole document.
type JSONPath struct {
	Src   string
	elems []pathElem
}

type pathElem struct {
	key   string
	index int // >= 0 for [n]
	isIdx bool
}

// ParseJSONPath compiles a JSON path: "$" then any of .name, ["name"] or ['name'], and [n].
func ParseJSONPath(s string) (JSONPath, error) {
	p := JSONPath{Src: s}
	if !strings.HasPrefix(s, "$") {
		return p, fmt.Errorf("invalid JSON path %q: must start with $", s)
	}
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			i := 0
			for i < len(rest) && rest[i] != '.' && rest[i] != '[' {
				i++
			}
			if i == 0 {
				return p, fmt.Errorf("invalid JSON path %q: empty name after '.'", s)
			}
			p.elems = append(p.elems, pathElem{key: rest[:i]})
			rest = rest[i:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return p, fmt.Errorf("invalid JSON path %q: missing ']'", s)
			}
			in := rest[1:end]
			if len(in) >= 2 && (in[0] == '"' || in[0] == '\'') && in[len(in)-1] == in[0] {
				p.elems = append(p.elems, pathElem{key: in[1 : len(in)-1]})
			} else {
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return p, fmt.Errorf("invalid JSON path %q: [%s] is not an index >= 0 or a quoted name", s, in)
				}
				p.elems = append(p.elems, pathElem{index: n, isIdx: true})
			}
			rest = rest[end+1:]
		default:
			return p, fmt.Errorf("invalid JSON path %q: unexpected %q", s, rest[0])
		}
	}
	return p, nil
}

// String returns the path as written.
func (p JSONPath) String() string { return p.Src }

// Lookup decodes body and returns the value at the path (numbers as
// json.Number), and whether it exists.
func (p JSONPath) Lookup(body []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, false
	}
	return p.Select(doc)
}

// Select walks an already decoded document.
func (p JSONPath) Select(doc any) (any, bool) {
	cur := doc
	for _, e := range p.elems {
		if e.isIdx {
			a, ok := cur.([]any)
			if !ok || e.index >= len(a) {
				return nil, false
			}
			cur = a[e.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[e.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// jsonValueString renders a decoded JSON value as a template value: strings as
// is, numbers as written, true/false, null as "", objects and arrays as compact JSON.
func jsonValueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

var errNoValue = errors.New("no value")

// NeedsBody reports whether the capture reads the response body (JSON path
// and regex captures do; header captures do not).
func (c Capture) NeedsBody() bool { return c.Kind != CaptureHeader }
