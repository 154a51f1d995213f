package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

type jsonCheck struct {
	path JSONPath
	want any
}

// StatusOK reports whether status is accepted: in Status when it is set, else
// any code from 100 to 399.
func (c Check) StatusOK(status int) bool {
	if len(c.Status) == 0 {
		return status >= 100 && status < 400
	}
	return slices.Contains(c.Status, status)
}

// IsZero reports whether the check has no explicit rule (only the default
// status rule applies).
func (c Check) IsZero() bool {
	return len(c.Status) == 0 && c.BodyContains == "" && len(c.JSON) == 0 && c.MaxLatency.Duration == 0
}

// compile prepares the JSON path checks; it returns one error per bad path.
func (c *Check) compile() map[string]error {
	c.jsonChecks = c.jsonChecks[:0]
	var errs map[string]error
	keys := make([]string, 0, len(c.JSON))
	for k := range c.JSON {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, err := ParseJSONPath(k)
		if err != nil {
			if errs == nil {
				errs = map[string]error{}
			}
			errs[k] = err
			continue
		}
		c.jsonChecks = append(c.jsonChecks, jsonCheck{path: p, want: c.JSON[k]})
	}
	return errs
}

// Eval applies the check to a response. why is empty when ok; otherwise it is a
// short, bounded explanation (never the body) for reports.
func (c Check) Eval(status int, body []byte, latency time.Duration) (ok bool, why string) {
	return c.EvalCut(status, body, int64(len(body)), latency)
}

// EvalCut is Eval on a body of which only the first len(body) of received
// bytes were kept (max_body): a body rule that fails on a cut body says so,
// naming the limit.
func (c Check) EvalCut(status int, body []byte, received int64, latency time.Duration) (ok bool, why string) {
	if !c.StatusOK(status) {
		if len(c.Status) == 0 {
			return false, fmt.Sprintf("status %d", status)
		}
		return false, fmt.Sprintf("status %d not in %v", status, c.Status)
	}
	if c.MaxLatency.Duration > 0 && latency > c.MaxLatency.Duration {
		return false, fmt.Sprintf("latency %v over %v", latency.Round(time.Microsecond), c.MaxLatency.Duration)
	}
	ok, why = c.evalBody(body)
	if !ok && received > int64(len(body)) {
		why += CutNote(len(body), received)
	}
	return ok, why
}

func (c Check) evalBody(body []byte) (ok bool, why string) {
	if c.BodyContains != "" && !bytes.Contains(body, []byte(c.BodyContains)) {
		return false, fmt.Sprintf("body does not contain %q", c.BodyContains)
	}
	if len(c.JSON) == 0 {
		return true, ""
	}
	checks := c.jsonChecks
	if len(checks) != len(c.JSON) {
		cc := c
		cc.jsonChecks = nil
		cc.compile()
		checks = cc.jsonChecks
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return false, "body is not JSON"
	}
	for _, jc := range checks {
		got, found := jc.path.Select(doc)
		if !jsonEqual(got, found, jc.want) {
			if !found {
				return false, fmt.Sprintf("%s: missing", jc.path.Src)
			}
			return false, fmt.Sprintf("%s = %s, want %v", jc.path.Src, truncate(jsonValueString(got), 40), jc.want)
		}
	}
	return true, ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// jsonEqual compares a JSON value with a YAML-decoded expected value.
func jsonEqual(got any, found bool, want any) bool {
	if want == nil {
		return !found || got == nil
	}
	if !found {
		return false
	}
	if wf, ok := toFloat(want); ok {
		if gf, ok := toFloat(got); ok {
			return gf == wf || math.Abs(gf-wf) <= 1e-9*math.Max(math.Abs(gf), math.Abs(wf))
		}
	}
	if wb, ok := want.(bool); ok {
		gb, ok := got.(bool)
		return ok && gb == wb
	}
	switch want.(type) {
	case map[string]any, []any:
		wj, err := json.Marshal(want)
		if err != nil {
			return false
		}
		gj, err := json.Marshal(got)
		return err == nil && bytes.Equal(wj, gj)
	}
	return jsonValueString(got) == fmt.Sprint(want)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	return 0, false
}

// NeedsBody reports whether the check reads the response body
// (body_contains, json).
func (c Check) NeedsBody() bool { return c.BodyContains != "" || len(c.JSON) > 0 }

// NeedsBody reports whether the step's checks or captures read the response
// body: only then does the executor keep (up to max_body of) it.
func (s *Step) NeedsBody() bool {
	if s.Check.NeedsBody() {
		return true
	}
	for _, c := range s.Capture {
		if c.NeedsBody() {
			return true
		}
	}
	return false
}

// CutNote is what a check or capture failure adds when the body was kept
// only in part: it names the limit.
func CutNote(kept int, received int64) string {
	return fmt.Sprintf(" (only the first %s of the %d-byte body were kept: max_body)", FormatByteSize(int64(kept)), received)
}

// CommonStatusCodes get their own value of the code label of
// loadgen_requests_total in every plan, beside the codes the plan's checks
// name; any other code counts as "other", so a target answering every code
// cannot grow the series count.
var CommonStatusCodes = []int{200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504}

// StatusCodeLabels returns, sorted, the status codes that get their own code
// label: CommonStatusCodes and every code the plan's checks name.
func (p *Plan) StatusCodeLabels() []int {
	codes := slices.Clone(CommonStatusCodes)
	add := func(steps []Step) {
		for _, st := range steps {
			codes = append(codes, st.Check.Status...)
		}
	}
	for _, sc := range p.Scenarios {
		add(sc.Steps)
	}
	if p.Benchmark != nil {
		add(p.Benchmark.Endpoints)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}
