package expect

import (
	"fmt"
	"regexp"
	"strings"
)

// Capture takes a value from a response into a variable. Its source is a
// JSON path ("$.a.b[0].c"), "header:NAME" or "regex:PATTERN" (the first
// group of the first match, or the whole match without groups).
type Capture struct {
	Name string // the variable it sets
	Src  string // the source as written

	header string         // header:NAME
	re     *regexp.Regexp // regex:PATTERN
	path   Path           // otherwise
}

// ParseCapture compiles the capture of src into the variable name.
func ParseCapture(name, src string) (Capture, error) {
	c := Capture{Name: name, Src: src}
	switch {
	case strings.HasPrefix(src, "header:"):
		c.header = strings.TrimSpace(strings.TrimPrefix(src, "header:"))
		if c.header == "" || strings.ContainsAny(c.header, " :\t\r\n") {
			return c, fmt.Errorf("invalid header name %q", c.header)
		}
	case strings.HasPrefix(src, "regex:"):
		re, err := regexp.Compile(strings.TrimPrefix(src, "regex:"))
		if err != nil {
			return c, fmt.Errorf("invalid regex: %w", err)
		}
		c.re = re
	case strings.HasPrefix(src, "$"):
		p, err := ParsePath(src)
		if err != nil {
			return c, err
		}
		c.path = p
	default:
		return c, fmt.Errorf("invalid capture %q: want a JSON path ($.a.b[0]), header:NAME or regex:PATTERN", src)
	}
	return c, nil
}

// NeedsBody reports whether the capture reads the response body (JSON path
// and regex captures do; header captures do not).
func (c *Capture) NeedsBody() bool { return c.header == "" }

// Extract returns the captured value, and whether it was found. A JSON
// capture finds nothing in a body that is not JSON.
func (c *Capture) Extract(r *Response) (string, bool) {
	switch {
	case c.header != "":
		if r.Header == nil {
			return "", false
		}
		v := r.Header(c.header)
		return v, v != ""
	case c.re != nil:
		m := c.re.FindSubmatch(r.Body)
		if m == nil {
			return "", false
		}
		if len(m) > 1 {
			return string(m[1]), true
		}
		return string(m[0]), true
	}
	doc, ok := r.doc()
	if !ok {
		return "", false
	}
	v, ok := c.path.find(doc)
	if !ok {
		return "", false
	}
	return strings.Clone(text(v)), true // the body's buffer is reused
}
