// Package expect holds what loadlab does with a response: the checks a step
// makes of it (status, body_contains, json, max_latency) and the captures it
// takes from it (JSON path, header, regex), compiled once into Rules.
// However many checks and captures read a JSON body, it is checked to be
// JSON once per response and never decoded: each JSON path is a scan of the
// body (github.com/tidwall/gjson) that allocates nothing.
package expect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Response is one response as checks and captures read it. Reset fills it;
// a Response may be reused for the next response.
type Response struct {
	Status int
	// Header looks a response header up ("" when absent); nil means none.
	Header func(name string) string
	// Body is the part of the body kept (max_body); Received is the number
	// of body bytes received, more than len(Body) when the body was cut.
	Body     []byte
	Received int64
	Latency  time.Duration

	json int8 // whether Body is one JSON value: 0 not looked at yet, 1 yes, -1 no
}

// Reset prepares r for another response; Header is kept.
func (r *Response) Reset(status int, body []byte, received int64, latency time.Duration) {
	r.Status, r.Body, r.Received, r.Latency, r.json = status, body, received, latency, 0
}

// cut reports whether the body was kept only in part.
func (r *Response) cut() bool { return r.Received > int64(len(r.Body)) }

// doc returns the body as a string without copying it, and whether it is one
// JSON value; the body is checked the first time only.
func (r *Response) doc() (string, bool) {
	if r.json == 0 {
		r.json = -1
		if gjson.ValidBytes(r.Body) {
			r.json = 1
		}
	}
	return unsafe.String(unsafe.SliceData(r.Body), len(r.Body)), r.json > 0
}

// Verdict is what the checks made of a response.
type Verdict uint8

// Verdicts. A status outside the expected set (the check's own status list,
// or 100-399 when it has none) is FailStatus; a failing body, JSON or latency
// check is FailCheck.
const (
	Pass Verdict = iota
	FailStatus
	FailCheck
)

// Check is what a step checks of a response, as written in a plan.
type Check struct {
	Status       []int // accepted codes; empty means any code from 100 to 399
	BodyContains string
	JSON         []JSONCheck
	MaxLatency   time.Duration // 0: no limit
}

// JSONCheck is one json check: the value at Path must equal Want, a value
// as YAML decodes it (numbers compare as numbers, true/false as booleans,
// null matches a missing or null value, anything else as text).
type JSONCheck struct {
	Path Path
	Want any
}

// Rules are a step's checks and captures, compiled by NewRules. They are
// immutable and safe for concurrent use.
type Rules struct {
	names      []string // the checks in the order Check applies them (see Names)
	status     []int
	contains   []byte
	json       []jsonCheck
	maxLatency time.Duration
	captures   []Capture
	maxBody    int
	needsBody  bool
}

type jsonCheck struct {
	path Path
	want any
	ops  []op // wantOps: the operators, in Operators order
	kind wantKind
	num  float64 // wantNumber
	text string  // wantNumber, wantText: the expected value as text
	js   []byte  // wantJSON: the expected value as JSON
}

type wantKind uint8

const (
	wantNull wantKind = iota
	wantNumber
	wantBool
	wantJSON
	wantText
	wantOps // an operator mapping (ops.go)
)

// NewRules compiles a step's check and captures; maxBody is the most body
// bytes the step keeps for them (its max_body).
func NewRules(c Check, captures []Capture, maxBody int) *Rules {
	r := &Rules{status: c.Status, contains: []byte(c.BodyContains), maxLatency: c.MaxLatency, maxBody: maxBody,
		captures: slices.Clone(captures)}
	for _, jc := range c.JSON {
		r.json = append(r.json, newJSONCheck(jc))
	}
	slices.SortFunc(r.json, func(a, b jsonCheck) int { return strings.Compare(a.path.src, b.path.src) })
	slices.SortFunc(r.captures, func(a, b Capture) int { return strings.Compare(a.Name, b.Name) })
	r.needsBody = c.BodyContains != "" || len(c.JSON) > 0 ||
		slices.ContainsFunc(r.captures, func(c Capture) bool { return c.NeedsBody() })
	if len(r.status) > 0 {
		r.names = append(r.names, fmt.Sprintf("status in %v", r.status))
	}
	if r.maxLatency > 0 {
		r.names = append(r.names, "max_latency "+r.maxLatency.String())
	}
	if len(r.contains) > 0 {
		r.names = append(r.names, fmt.Sprintf("body_contains %q", r.contains))
	}
	for i := range r.json {
		r.names = append(r.names, "json "+r.json[i].path.src+" "+r.json[i].describe())
	}
	if len(r.names) > MaxCounted {
		r.names = r.names[:MaxCounted]
	}
	return r
}

// MaxCounted is the most checks of a step whose pass rates are counted (the
// bits of Check's failed mask); checks beyond it are applied but not counted.
const MaxCounted = 64

// Names names the step's explicit checks, in the order of Check's failed
// mask: "status in [200]", "max_latency 50ms", "body_contains \"ok\"",
// "json $.id = 7". The default status rule (100-399) is not a check.
func (r *Rules) Names() []string { return r.names }

func newJSONCheck(c JSONCheck) jsonCheck {
	jc := jsonCheck{path: c.Path, want: c.Want, kind: wantText, text: fmt.Sprint(c.Want)}
	if m, ok := isOps(c.Want); ok {
		if ops, err := compileOps(m); err == nil { // CheckWant reported an error at validation
			jc.kind, jc.ops = wantOps, ops
			return jc
		}
	}
	return newEqCheck(c)
}

// newEqCheck compiles c as an equality check, whatever its expected value looks like.
func newEqCheck(c JSONCheck) jsonCheck {
	jc := jsonCheck{path: c.Path, want: c.Want, kind: wantText, text: fmt.Sprint(c.Want)}
	switch w := c.Want.(type) {
	case nil:
		jc.kind = wantNull
	case bool:
		jc.kind = wantBool
	case int:
		jc.kind, jc.num = wantNumber, float64(w)
	case int64:
		jc.kind, jc.num = wantNumber, float64(w)
	case uint64:
		jc.kind, jc.num = wantNumber, float64(w)
	case float64:
		jc.kind, jc.num = wantNumber, w
	case map[string]any, []any:
		jc.kind = wantJSON
		if b, err := json.Marshal(w); err == nil {
			jc.js = b
		}
	}
	return jc
}

// NeedsBody reports whether a check or a capture reads the response body.
func (r *Rules) NeedsBody() bool { return r.needsBody }

// Keep is how much of a response body to keep for the rules: max_body when
// they read the body, else nothing.
func (r *Rules) Keep() int {
	if r.needsBody {
		return r.maxBody
	}
	return 0
}

// Captures returns the captures, sorted by name (the caller must not
// modify them).
func (r *Rules) Captures() []Capture { return r.captures }

// Check applies every check: status, latency, body_contains, json. v is the
// verdict of the first that failed and why a short, bounded explanation of it
// (never the body; it names max_body when a body rule failed on a cut body),
// empty on Pass. failed has bit i set when the check Names()[i] failed: every
// check is applied, so each one's pass rate is counted even when an earlier
// one failed. A status outside the expected set is FailStatus whether the
// set is the check's own list or the default 100-399.
func (r *Rules) Check(resp *Response) (v Verdict, why string, failed uint64) {
	i := 0
	switch {
	case len(r.status) == 0:
		if resp.Status < 100 || resp.Status >= 400 {
			v, why = FailStatus, "unexpected status "+strconv.Itoa(resp.Status)
		}
	default:
		if !slices.Contains(r.status, resp.Status) {
			v, why = FailStatus, fmt.Sprintf("status %d not in %v", resp.Status, r.status)
			failed |= 1
		}
		i++
	}
	if r.maxLatency > 0 {
		if resp.Latency > r.maxLatency {
			if v == Pass {
				v, why = FailCheck, fmt.Sprintf("latency %v over %v", resp.Latency.Round(time.Microsecond), r.maxLatency)
			}
			failed |= bit(i)
		}
		i++
	}
	if len(r.contains) > 0 {
		if !bytes.Contains(resp.Body, r.contains) {
			if v == Pass {
				v, why = FailCheck, fmt.Sprintf("body does not contain %q", r.contains)+cutNoteIf(resp)
			}
			failed |= bit(i)
		}
		i++
	}
	if len(r.json) == 0 {
		return v, why, failed
	}
	doc, ok := resp.doc()
	for j := range r.json {
		jc := &r.json[j]
		var msg string
		if !ok {
			msg = "body is not JSON"
		} else {
			got, found := jc.path.find(doc)
			if jc.match(got, found) {
				i++
				continue
			}
			msg = jc.explain(got, found)
		}
		if v == Pass {
			v, why = FailCheck, msg+cutNoteIf(resp)
		}
		failed |= bit(i)
		i++
	}
	return v, why, failed
}

// bit is the mask bit of check i (0 past MaxCounted).
func bit(i int) uint64 {
	if i >= MaxCounted {
		return 0
	}
	return 1 << uint(i)
}

// cutNoteIf is cutNote when the body was cut, else "".
func cutNoteIf(resp *Response) string {
	if !resp.cut() {
		return ""
	}
	return cutNote(resp)
}

// explain says why jc failed on the value got (found: whether the path held one), showing the value seen.
func (jc *jsonCheck) explain(got gjson.Result, found bool) string {
	if jc.kind == wantOps {
		o, _ := matchOps(jc.ops, got, found)
		if o == nil {
			return jc.path.src + ": failed"
		}
		if !found {
			return jc.path.src + ": missing, want " + o.src
		}
		s := text(got)
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		if o.kind == opExists {
			return fmt.Sprintf("%s = %s, want it missing", jc.path.src, s)
		}
		return fmt.Sprintf("%s = %s, want %s", jc.path.src, s, o.src)
	}
	if !found {
		return jc.path.src + ": missing"
	}
	s := text(got)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%s = %s, want %v", jc.path.src, s, jc.want)
}

func (jc *jsonCheck) match(got gjson.Result, found bool) bool {
	if jc.kind == wantOps {
		_, ok := matchOps(jc.ops, got, found)
		return ok
	}
	switch {
	case jc.kind == wantNull:
		return !found || got.Type == gjson.Null
	case !found:
		return false
	case jc.kind == wantNumber && got.Type == gjson.Number:
		g, w := got.Num, jc.num
		return g == w || math.Abs(g-w) <= 1e-9*math.Max(math.Abs(g), math.Abs(w))
	case jc.kind == wantBool:
		return (got.Type == gjson.True || got.Type == gjson.False) && got.Bool() == jc.want.(bool)
	case jc.kind == wantJSON:
		return got.Type == gjson.JSON && jc.js != nil && text(got) == string(jc.js)
	}
	return text(got) == jc.text
}

// Capture sets, in vars, the value of every capture found in the response.
// A capture that reads the body and finds nothing in a body that was cut
// fails (the rest might have held it): ok is false and why says so, naming
// max_body. Other captures that find nothing leave their variable unset.
func (r *Rules) Capture(resp *Response, vars interface{ Set(name, value string) }) (ok bool, why string) {
	for i := range r.captures {
		c := &r.captures[i]
		if v, found := c.Extract(resp); found {
			vars.Set(c.Name, v)
		} else if resp.cut() && c.NeedsBody() {
			return false, "capture " + c.Name + " (" + c.Src + "): not found" + cutNote(resp)
		}
	}
	return true, ""
}

// cutNote is what a failure on a cut body adds: it names the limit.
func cutNote(resp *Response) string {
	return fmt.Sprintf(" (only the first %s of the %d-byte body were kept: max_body)", FormatSize(int64(len(resp.Body))), resp.Received)
}

// FormatSize writes n bytes in the largest binary unit that divides it, as
// a plan writes sizes ("1MiB", "1500B").
func FormatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// describe writes what jc expects, as a check's name and a failure show it: "= 7".
func (jc *jsonCheck) describe() string {
	switch jc.kind {
	case wantOps:
		return describeOps(jc.ops)
	case wantNull:
		return "= null"
	case wantJSON:
		return "= " + string(jc.js)
	}
	return "= " + jc.text
}
