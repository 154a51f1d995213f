package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loadlab/loadlab/internal/expect"
	"github.com/loadlab/loadlab/internal/secret"
	"github.com/loadlab/loadlab/internal/tmpl"
)

func itoa(i int) string { return strconv.Itoa(i) }

// HTTP methods a step may use.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

type validator struct {
	p       *Plan
	errs    Errors
	secrets []string // values to mask: see secrets.go
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, v.p.errAt(path, fmt.Sprintf(format, args...)))
}

// Validate checks a decoded, defaulted plan and compiles its templates,
// captures and checks (setting Request.Compiled). It returns every problem,
// sorted by line; nil means valid. Validate is pure apart from that
// compilation: it reads no files and makes no network calls.
func Validate(p *Plan) Errors {
	v := &validator{p: p}
	v.plan()
	v.errs.sort()
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (v *validator) plan() {
	p := v.p
	if strings.TrimSpace(p.Name) == "" {
		v.add("name", "required")
	} else {
		v.label("name", p.Name, 128)
	}
	switch p.Type {
	case TypeLoad, TypeBenchmark, TypeStress, TypeKnee:
	default:
		v.add("type", "unknown type %q (want load, benchmark, stress or knee)", p.Type)
	}
	v.target()
	v.dur("defaults.timeout", p.Defaults.Timeout.Duration, positive, MaxTimeout)
	v.maxBody("defaults.max_body", p.Defaults.MaxBody)
	v.headers("defaults.headers", p.Defaults.Headers)
	v.http()
	v.variables()
	v.data()
	v.scenarios()
	if p.Type == TypeLoad || len(p.Load.Phases) > 0 {
		v.load()
	}
	v.thresholds()
	if l := v.p.LatencyOf; l != "" && l != LatencySuccessful && l != LatencyAll {
		v.add("latency_of", "%q is not one of successful, all", l)
	}
	if p.Benchmark != nil {
		v.benchmark()
	}
	if p.Stress != nil {
		v.stress()
	}
	if p.Knee != nil {
		v.knee()
	}
	v.budget()
	v.p.redactor = secret.New(v.secrets...)
}

// listName checks the name of item i of a list (scenarios, load.phases): a
// label value, unique in the list.
func (v *validator) listName(at, what, list, name string, i int, seen map[string]int) {
	v.label(at, name, MaxNameLen)
	if j, dup := seen[name]; dup {
		v.add(at, "duplicate %s name %q (also %s[%d])", what, name, list, j)
	}
	seen[name] = i
}

// label checks a name used as a metric label value or in reports.
func (v *validator) label(path, s string, max int) {
	switch {
	case len(s) > max:
		v.add(path, "too long (%d bytes; at most %d)", len(s), max)
	case !utf8.ValidString(s):
		v.add(path, "not valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(path, "must not contain control characters")
	}
}

// CheckTarget validates a target base URL: http or https, a host, no query
// or fragment.
func CheckTarget(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("invalid URL %q: %v", s, unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("invalid URL %q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("invalid URL %q: no host", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "?") || strings.Contains(s, "#"):
		return fmt.Errorf("invalid URL %q: no query or fragment allowed (put them in steps)", s)
	case u.User != nil:
		return fmt.Errorf("invalid URL %q: no credentials in the URL (use defaults.headers)", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid URL %q: bad port %q", s, port)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func (v *validator) target() {
	if v.p.Target == "" {
		v.add("target", "required (or pass --target or set LOADGEN_TARGET)")
		return
	}
	if err := CheckTarget(v.p.Target); err != nil {
		v.add("target", "%v", err)
	}
}

func (v *validator) headers(path string, h map[string]string) {
	for _, k := range sortedKeys(h) {
		if !validHeaderName(k) {
			v.add(joinPath(path, k), "invalid header name %q", k)
		}
		if strings.ContainsAny(h[k], "\r\n") {
			v.add(joinPath(path, k), "header value must not contain line breaks")
		}
	}
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// name checks the name of a variable, a data source or a capture (what):
// templates refer to it.
func (v *validator) name(at, what, name string) {
	switch {
	case !tmpl.ValidName(name):
		v.add(at, "invalid %s name %q (letters, digits, '_' or '-', starting with a letter or '_')", what, name)
	case tmpl.IsBuiltin(name) && what == "capture":
		v.add(at, "%q is a built-in and cannot be captured into", name)
	case tmpl.IsBuiltin(name):
		v.add(at, "%q is a built-in and cannot be redefined", name)
	case name == tmpl.EnvName:
		v.add(at, "%q is reserved for ${env.NAME}", name)
	case what != "data source" && (v.p.Data[name].CSV != "" || len(v.p.Data[name].Columns) > 0):
		v.add(at, "%q is also a data source", name)
	}
}

func (v *validator) data() {
	for _, name := range sortedKeys(v.p.Data) {
		ds := v.p.Data[name]
		at := joinPath("data", name)
		v.name(at, "data source", name)
		switch ds.Order {
		case OrderSequential, OrderRandom:
		default:
			v.add(at+".order", "unknown order %q (want sequential or random)", ds.Order)
		}
		if ds.CSV == "" && len(ds.Columns) == 0 {
			v.add(at, "needs csv: FILE, or columns and rows")
			continue
		}
		src := at + ".columns"
		if ds.CSV != "" {
			src = at + ".csv"
		}
		seen := map[string]bool{}
		for i, c := range ds.Columns {
			if !tmpl.ValidName(c) {
				v.add(src, "column %d: invalid name %q (letters, digits, '_' or '-')", i+1, c)
			} else if seen[c] {
				v.add(src, "column %q appears twice", c)
			}
			seen[c] = true
		}
		if len(ds.Rows) == 0 {
			v.add(src, "no data rows")
		}
		for i, r := range ds.Rows {
			if len(r) != len(ds.Columns) {
				rp := at + ".rows[" + itoa(i) + "]"
				if ds.CSV != "" {
					v.add(src, "row %d has %d fields; the header has %d", i+2, len(r), len(ds.Columns))
				} else {
					v.add(rp, "has %d fields; columns has %d", len(r), len(ds.Columns))
				}
				break
			}
		}
	}
}

// scope is what a template may refer to at some point of a scenario.
type scope struct {
	p        *Plan
	captured map[string]bool // by earlier steps of this scenario
	later    map[string]int  // captured by a later step: step index
	isolated bool            // benchmark endpoints: no captures at all
}

// check returns a message for a reference that does not resolve, or "".
func (s *scope) check(ref string) string {
	src, col, dotted := strings.Cut(ref, ".")
	if dotted {
		ds, ok := s.p.Data[src]
		if !ok {
			return fmt.Sprintf("${%s} is not defined: no data source %q", ref, src)
		}
		if len(ds.Columns) > 0 && !slices.Contains(ds.Columns, col) {
			return fmt.Sprintf("${%s}: data source %s has no column %q (columns: %s)", ref, src, col, strings.Join(ds.Columns, ", "))
		}
		return ""
	}
	if _, ok := s.p.Variables[ref]; ok {
		return ""
	}
	if s.captured[ref] {
		return ""
	}
	if _, ok := s.p.Data[ref]; ok {
		return fmt.Sprintf("${%s} is a data source: name a column, e.g. ${%s.COLUMN}", ref, ref)
	}
	if s.isolated {
		return fmt.Sprintf("${%s} is not defined: benchmark endpoints run in isolation, so only variables, data columns and built-ins are available", ref)
	}
	if j, ok := s.later[ref]; ok {
		return fmt.Sprintf("${%s} is captured only later, by steps[%d]", ref, j)
	}
	return fmt.Sprintf("${%s} is not defined (not a variable, a data column, a capture of an earlier step, or a built-in)", ref)
}

func (v *validator) scenarios() {
	p := v.p
	if len(p.Scenarios) == 0 {
		if p.Type == TypeBenchmark && p.Benchmark != nil && len(p.Benchmark.Endpoints) > 0 {
			return
		}
		v.add("scenarios", "at least one scenario is required")
		return
	}
	names := map[string]int{}
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		at := scenarioPath(i)
		if sc.Name == "" {
			v.add(at+".name", "required when there are several scenarios")
		} else {
			v.listName(at+".name", "scenario", "scenarios", sc.Name, i, names)
		}
		if w := v.whole(at+".weight", sc.Weight); w <= 0 {
			v.add(at+".weight", "must be > 0")
		} else {
			v.upTo(at+".weight", w, MaxWeight)
		}
		v.think(at+".think", sc.Think)
		if f := sc.OnFailure; f != "" && f != OnFailureContinue && f != OnFailureAbort {
			v.add(at+".on_failure", "%q is not one of continue, abort_iteration", f)
		}
		if len(sc.Steps) == 0 {
			v.add(at+".steps", "at least one step is required")
			continue
		}
		s := &scope{p: p, captured: map[string]bool{}}
		stepNames := map[string]int{}
		for j := range sc.Steps {
			st := &sc.Steps[j]
			sat := at + ".steps[" + itoa(j) + "]"
			s.later = map[string]int{}
			for k := len(sc.Steps) - 1; k >= j; k-- {
				for name := range sc.Steps[k].Capture {
					s.later[name] = k
				}
			}
			if k, dup := stepNames[st.Name]; dup {
				v.add(sat+".name", "duplicate step name %q in scenario %q (also steps[%d]); give each step a name", st.Name, sc.Name, k)
			}
			stepNames[st.Name] = j
			v.step(sat, st, s)
			for name := range st.Capture {
				s.captured[name] = true
			}
		}
	}
}

func (v *validator) think(path string, t Think) {
	if t.Min.Duration < 0 {
		v.add(path+".min", "must be >= 0")
	} else if !v.durUpTo(path+".min", t.Min.Duration, MaxThink) {
		return
	}
	if t.Max.Duration < 0 {
		v.add(path+".max", "must be >= 0")
	} else if !v.durUpTo(path+".max", t.Max.Duration, MaxThink) {
		return
	}
	if t.Max.Duration < t.Min.Duration && t.Max.Duration >= 0 {
		v.add(path+".max", "must be >= min (%v)", t.Min.Duration)
	}
}

// step validates and compiles one step; s holds what its templates may use.
func (v *validator) step(at string, st *Step, s *scope) {
	v.label(at+".name", st.Name, MaxNameLen*2)
	if st.Think != nil {
		v.think(at+".think", *st.Think)
	}
	st.Rules = nil
	ok := true
	maxBody := st.Request.EffectiveMaxBody(v.p.Defaults)
	const noBody = "needs the response body, but max_body is 0 (no body is kept)"
	var caps []expect.Capture
	for _, name := range sortedKeys(st.Capture) {
		cat := joinPath(at+".capture", name)
		v.name(cat, "capture", name)
		if s.isolated {
			v.add(cat, "benchmark endpoints run in isolation; captures are not used")
		}
		c, err := expect.ParseCapture(name, st.Capture[name])
		switch {
		case err != nil:
			v.add(cat, "%v", err)
			ok = false
		case maxBody == 0 && c.NeedsBody():
			v.add(cat, noBody)
		}
		caps = append(caps, c)
	}
	chk, chkOK := v.check(at+".check", &st.Check)
	if maxBody == 0 && st.Check.BodyContains != "" {
		v.add(at+".check.body_contains", noBody)
	}
	if maxBody == 0 && len(st.Check.JSON) > 0 {
		v.add(at+".check.json", noBody)
	}
	v.request(at+".request", &st.Request, s)
	if ok && chkOK {
		st.Rules = expect.NewRules(chk, caps, int(min(max(maxBody, 0), MaxMaxBody)))
	}
}

// maxBody checks a max_body size.
func (v *validator) maxBody(path string, b ByteSize) {
	if b.Bytes < 0 || b.Bytes > MaxMaxBody {
		v.add(path, "%s is over the limit of %s", expect.FormatSize(b.Bytes), expect.FormatSize(MaxMaxBody))
	}
}

// check validates a step's check and returns it compiled, and whether it is
// valid.
func (v *validator) check(at string, c *Check) (expect.Check, bool) {
	n := len(v.errs)
	out := expect.Check{Status: c.Status, BodyContains: c.BodyContains, MaxLatency: c.MaxLatency.Duration}
	for i, code := range c.Status {
		sat := at + ".status[" + itoa(i) + "]"
		if x := v.whole(sat, code); x < 100 || x > 599 {
			v.add(sat, "%s is not an HTTP status (100-599)", fmtNum(x))
		}
	}
	v.dur(at+".max_latency", c.MaxLatency.Duration, nonNegative, MaxDuration)
	for _, k := range sortedKeys(c.JSON) {
		p, err := expect.ParsePath(k)
		if err != nil {
			v.add(joinPath(at+".json", k), "%v", err)
		} else if s, ok := c.JSON[k].(string); ok && strings.Contains(s, "${") {
			v.add(joinPath(at+".json", k), "expected values are literal; templates are not expanded in checks")
		} else if err := expect.CheckWant(c.JSON[k]); err != nil {
			v.add(joinPath(at+".json", k), "%v", err)
		}
		out.JSON = append(out.JSON, expect.JSONCheck{Path: p, Want: c.JSON[k]})
	}
	if strings.Contains(c.BodyContains, "${") {
		v.add(at+".body_contains", "literal text; templates are not expanded in checks")
	}
	return out, len(v.errs) == n
}

func (v *validator) request(at string, r *Request, s *scope) {
	r.Compiled = nil
	ok := true
	fail := func(path, format string, args ...any) {
		v.add(path, format, args...)
		ok = false
	}
	if !slices.Contains(Methods, r.Method) {
		fail(at+".method", "unknown method %q (want one of %s)", r.Method, strings.Join(Methods, ", "))
	}
	if r.Path == "" {
		fail(at+".path", "required")
	} else if !strings.HasPrefix(r.Path, "/") {
		fail(at+".path", "must start with / (it is relative to target)")
	} else if strings.ContainsAny(r.Path, " \t\r\n#") {
		fail(at+".path", "must not contain spaces, line breaks or '#' (escape them, e.g. %%20)")
	}
	if r.Timeout.Duration < 0 || (r.Timeout.Line > 0 && r.Timeout.Duration == 0) {
		fail(at+".timeout", "must be > 0")
	} else if !v.durUpTo(at+".timeout", r.Timeout.Duration, MaxTimeout) {
		ok = false
	}
	if r.MaxBody.IsSet() {
		v.maxBody(at+".max_body", r.MaxBody)
	}
	if r.Redirects != nil {
		v.redirects(at+".redirects", *r.Redirects)
	}
	v.headers(at+".headers", r.Headers)
	compile := func(path, src string, esc tmpl.Escape) *tmpl.Template {
		t, err := tmpl.Compile(src, esc)
		if err != nil {
			fail(path, "%v", err)
			return nil
		}
		if !v.resolveEnv(path, t) {
			ok = false
		}
		for _, ref := range t.Refs() {
			if msg := s.check(ref); msg != "" {
				fail(path, "%s", msg)
			}
		}
		return t
	}
	cr := &CompiledRequest{Method: r.Method, Timeout: r.EffectiveTimeout(v.p.Defaults), Redirects: -1}
	if r.Redirects != nil {
		cr.Redirects = *r.Redirects
	}
	cr.Path = compile(at+".path", r.Path, tmpl.Plain)
	if len(r.Query) > 0 {
		sep := "?"
		if strings.Contains(r.Path, "?") {
			sep = "&"
		}
		parts := []*tmpl.Template{cr.Path}
		for _, k := range sortedKeys(r.Query) {
			parts = append(parts, tmpl.Literal(sep+url.QueryEscape(k)+"="))
			parts = append(parts, compile(joinPath(at+".query", k), r.Query[k], tmpl.Query))
			sep = "&"
		}
		cr.Path = tmpl.Concat(parts...)
	}
	merged := map[string]string{}
	keyPath := map[string]string{}
	for k, val := range v.p.Defaults.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		merged[ck], keyPath[ck] = val, joinPath("defaults.headers", k)
	}
	for k, val := range r.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		merged[ck], keyPath[ck] = val, joinPath(at+".headers", k)
	}
	for _, k := range sortedKeys(merged) {
		t := compile(keyPath[k], merged[k], tmpl.Plain)
		if k == "Content-Type" {
			cr.ContentType = merged[k]
			if t != nil && !t.Static() {
				cr.ContentType = ""
			}
		}
		cr.Headers = append(cr.Headers, HeaderTemplate{Name: k, Value: t})
	}
	_, hasCT := merged["Content-Type"]
	switch {
	case r.Form != nil || r.Multipart != nil || r.BodyFile != "" || r.JSON != nil && r.Body != "":
		v.requestBody(at, r, cr, hasCT, compile, fail)
		sort.Slice(cr.Headers, func(i, j int) bool { return cr.Headers[i].Name < cr.Headers[j].Name })
	case r.JSON != nil:
		body, err := marshalJSON(r.JSON)
		if err != nil {
			fail(at+".json", "cannot be sent as JSON: %v", err)
			break
		}
		cr.Body = compile(at+".json", body, tmpl.JSON)
		if _, has := merged["Content-Type"]; !has {
			cr.ContentType = "application/json"
			cr.Headers = append(cr.Headers, HeaderTemplate{Name: "Content-Type", Value: tmpl.Literal("application/json")})
			sort.Slice(cr.Headers, func(i, j int) bool { return cr.Headers[i].Name < cr.Headers[j].Name })
		}
	case r.Body != "":
		cr.Body = compile(at+".body", r.Body, tmpl.Plain)
	}
	if !ok || cr.Path == nil {
		return
	}
	cr.URL = tmpl.Concat(tmpl.Literal(strings.TrimRight(v.p.Target, "/")), cr.Path)
	refs := map[string]bool{}
	for _, t := range []*tmpl.Template{cr.URL, cr.Body} {
		if t != nil {
			for _, ref := range t.Refs() {
				refs[ref] = true
			}
		}
	}
	for _, h := range cr.Headers {
		for _, ref := range h.Value.Refs() {
			refs[ref] = true
		}
	}
	cr.Refs = sortedKeys(refs)
	v.secretHeaders(cr)
	r.Compiled = cr
}

// marshalJSON renders a decoded value (maps, lists, scalars) as compact
// JSON without HTML escaping; NaN and infinities have no JSON spelling.
func marshalJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		var ue *json.UnsupportedValueError
		if errors.As(err, &ue) {
			return "", fmt.Errorf("%s is not a JSON number", ue.Str)
		}
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func (v *validator) load() {
	l := &v.p.Load
	switch l.Model {
	case ModelOpen, ModelClosed:
	default:
		v.add("load.model", "unknown model %q (want open or closed)", l.Model)
		return
	}
	if x := v.whole("load.max_in_flight", l.MaxInFlight); x < 0 || (x == 0 && v.p.written("load.max_in_flight")) {
		v.add("load.max_in_flight", "must be > 0")
	} else {
		v.upTo("load.max_in_flight", x, MaxInFlight)
	}
	switch l.DropPolicy {
	case DropWait, DropDrop:
	default:
		v.add("load.drop_policy", "unknown drop policy %q (want drop, or leave it out to wait)", l.DropPolicy)
	}
	if l.Model == ModelClosed && l.DropPolicy != "" {
		v.add("load.drop_policy", "only the open model drops iterations")
	}
	if len(l.Phases) == 0 {
		v.add("load.phases", "at least one phase is required")
		return
	}
	names := map[string]int{}
	peak := 0.0
	var total time.Duration // of the phases checked so far (each <= MaxDuration: no overflow)
	for i, ph := range l.Phases {
		at := "load.phases[" + itoa(i) + "]"
		if ph.Name == "" {
			v.add(at+".name", "required")
		} else {
			v.listName(at+".name", "phase", "load.phases", ph.Name, i, names)
		}
		if v.dur(at+".duration", ph.Duration.Duration, positive, MaxDuration) && total <= MaxDuration {
			if total += ph.Duration.Duration; total > MaxDuration {
				v.add(at+".duration", "the phases last %v up to here; the whole load must be <= %v", total, MaxDuration)
			}
		}
		if l.Model == ModelOpen {
			if ph.VUs != nil {
				v.add(at+".vus", "the open model takes rate, not vus (or set load.model: closed)")
			}
			if ph.Rate == nil {
				if ph.VUs == nil {
					v.add(at+".rate", "required for the open model")
				}
			} else if *ph.Rate < 0 {
				v.add(at+".rate", "must be >= 0")
			} else {
				v.upTo(at+".rate", *ph.Rate, MaxRate)
			}
			if ph.To != nil {
				if *ph.To < 0 {
					v.add(at+".to", "must be >= 0")
				} else {
					v.upTo(at+".to", *ph.To, MaxRate)
				}
			}
			for _, r := range []*float64{ph.Rate, ph.To} {
				if r != nil && *r > peak && *r <= MaxRate {
					peak = *r
				}
			}
		} else {
			if ph.Rate != nil {
				v.add(at+".rate", "the closed model takes vus, not rate (or set load.model: open)")
			}
			if ph.VUs == nil {
				if ph.Rate == nil {
					v.add(at+".vus", "required for the closed model")
				}
			} else if x := v.whole(at+".vus", *ph.VUs); x < 0 {
				v.add(at+".vus", "must be >= 0")
			} else {
				v.upTo(at+".vus", x, MaxVUs)
			}
			if ph.To != nil && v.upTo(at+".to", *ph.To, MaxVUs) && (*ph.To < 0 || *ph.To != math.Trunc(*ph.To)) {
				v.add(at+".to", "must be a whole number of virtual users >= 0")
			}
		}
	}
	if l.Model == ModelOpen && peak == 0 && len(v.errs) == 0 {
		v.add("load.phases", "every phase has rate 0: nothing would be sent")
	}
}

func (v *validator) stepExists(name string) bool {
	sc, st, scoped := strings.Cut(name, "/")
	for _, s := range v.p.Scenarios {
		if scoped && s.Name != sc {
			continue
		}
		for _, step := range s.Steps {
			if (scoped && step.Name == st) || (!scoped && step.Name == name) {
				return true
			}
		}
	}
	if b := v.p.Benchmark; b != nil {
		for _, step := range b.Endpoints {
			if step.Name == name {
				return true
			}
		}
	}
	return false
}

// The values of Plan.LatencyOf.
const (
	LatencySuccessful = "successful"
	LatencyAll        = "all"
)

func (v *validator) thresholds() {
	for i, t := range v.p.Thresholds {
		at := "thresholds[" + itoa(i) + "]"
		if t.Metric == "" {
			continue // reported while decoding
		}
		if t.Step != "" && !v.stepExists(t.Step) {
			var names []string
			for _, s := range v.p.Scenarios {
				for _, st := range s.Steps {
					if !slices.Contains(names, st.Name) {
						names = append(names, st.Name)
					}
				}
			}
			v.add(at, "step[%s]: no step named %q (steps: %s)", t.Step, t.Step, strings.Join(names, ", "))
		}
		v.dur(at+".window", t.Window.Duration, nonNegative, MaxDuration)
		if t.Metric == MetricRPS {
			v.upTo(at, t.Value, MaxRate)
		}
		if t.AbortOnFail && t.Window.Duration == 0 {
			v.add(at+".abort_on_fail", "needs a window (e.g. window: 30s) to be checked during the run")
		}
	}
}

func (v *validator) benchmark() {
	b := v.p.Benchmark
	if b.fromScenarios {
		b.Endpoints, b.fromScenarios = nil, false
	}
	if len(b.Endpoints) == 0 {
		b.fromScenarios = true
		// Default: every scenario step, checked for isolation.
		for i, sc := range v.p.Scenarios {
			s := &scope{p: v.p, isolated: true}
			for j, st := range sc.Steps {
				at := scenarioPath(i) + ".steps[" + itoa(j) + "]"
				if v.p.Type == TypeBenchmark {
					for _, ref := range templateRefs(st.Request) {
						if msg := s.check(ref); msg != "" {
							v.add(at+".request", "%s; list benchmark.endpoints instead", msg)
						}
					}
				}
				b.Endpoints = append(b.Endpoints, st)
			}
		}
	} else {
		names := map[string]int{}
		s := &scope{p: v.p, isolated: true}
		for j := range b.Endpoints {
			at := "benchmark.endpoints[" + itoa(j) + "]"
			st := &b.Endpoints[j]
			if k, dup := names[st.Name]; dup {
				v.add(at+".name", "duplicate endpoint name %q (also endpoints[%d])", st.Name, k)
			}
			names[st.Name] = j
			v.step(at, st, s)
		}
	}
	if x := v.whole("benchmark.requests", b.Requests); x <= 0 {
		v.add("benchmark.requests", "must be > 0")
	} else {
		v.upTo("benchmark.requests", x, MaxBenchRequests)
	}
	switch {
	case b.Warmup.Requests < 0 || b.Warmup.Duration < 0:
		v.add("benchmark.warmup", "must be >= 0")
	case b.Warmup.Requests > 0:
		v.upTo("benchmark.warmup", float64(b.Warmup.Requests), MaxBenchRequests)
	default:
		v.durUpTo("benchmark.warmup", b.Warmup.Duration, MaxDuration)
	}
	if len(b.Concurrency) == 0 {
		v.add("benchmark.concurrency", "at least one value is required")
	} else if len(b.Concurrency) > MaxConcurrencyLevels {
		v.add("benchmark.concurrency", "%d values; at most %d", len(b.Concurrency), MaxConcurrencyLevels)
	}
	for i, c := range b.Concurrency {
		at := "benchmark.concurrency[" + itoa(i) + "]"
		if x := v.whole(at, c); x <= 0 {
			v.add(at, "must be > 0")
		} else {
			v.upTo(at, x, MaxVUs)
		}
	}
	if b.Tolerance <= 0 || b.Tolerance >= 1 {
		v.add("benchmark.tolerance", "must be between 0 and 1 (exclusive), e.g. 10%%")
	}
	if b.Confidence <= 0.5 || b.Confidence >= 1 {
		v.add("benchmark.confidence", "must be between 0.5 and 1 (exclusive), e.g. 0.95")
	}
}

// templateRefs returns the references of a request's templates without
// compiling it into the plan (for checks on copies).
func templateRefs(r Request) []string {
	var refs []string
	add := func(s string, esc tmpl.Escape) {
		if t, err := tmpl.Compile(s, esc); err == nil {
			refs = append(refs, t.Refs()...)
		}
	}
	add(r.Path, tmpl.Plain)
	for _, k := range sortedKeys(r.Query) {
		add(r.Query[k], tmpl.Query)
	}
	for _, k := range sortedKeys(r.Headers) {
		add(r.Headers[k], tmpl.Plain)
	}
	if r.JSON != nil {
		if s, err := marshalJSON(r.JSON); err == nil {
			add(s, tmpl.JSON)
		}
	}
	add(r.Body, tmpl.Plain)
	for _, k := range sortedKeys(r.Form) {
		add(r.Form[k], tmpl.Query)
	}
	if r.Multipart != nil {
		for _, k := range sortedKeys(r.Multipart.Fields) {
			add(r.Multipart.Fields[k], tmpl.Plain)
		}
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

func (v *validator) stress() {
	s := v.p.Stress
	if s.StartRate <= 0 {
		v.add("stress.start_rate", "must be > 0")
	} else {
		v.upTo("stress.start_rate", s.StartRate, MaxRate)
	}
	switch {
	case s.MaxRate < 0:
		v.add("stress.max_rate", "must be >= 0 (0 = no cap)")
	case !v.upTo("stress.max_rate", s.MaxRate, MaxRate):
	case s.MaxRate > 0 && s.MaxRate < s.StartRate:
		v.add("stress.max_rate", "must be >= start_rate (%g)", s.StartRate)
	}
	if s.ErrorThreshold <= 0 || s.ErrorThreshold >= 1 {
		v.add("stress.error_threshold", "must be between 0 and 100%% (exclusive), e.g. 5%%")
	}
	v.dur("stress.p99_slo", s.P99SLO.Duration, nonNegative, MaxDuration)
	probeOK := v.dur("stress.probe_duration", s.ProbeDuration.Duration, positive, MaxDuration)
	coolOK := v.dur("stress.cooldown", s.Cooldown.Duration, nonNegative, MaxDuration)
	if s.Resolution <= 0 || s.Resolution >= 1 {
		v.add("stress.resolution", "must be between 0 and 100%% (exclusive), e.g. 5%%")
	}
	if x := v.whole("stress.max_probes", s.MaxProbes); x < 2 {
		v.add("stress.max_probes", "must be >= 2")
	} else if v.upTo("stress.max_probes", x, MaxStressProbes) && probeOK && coolOK {
		// each term <= MaxDuration and max_probes <= MaxStressProbes: no overflow
		if total := time.Duration(s.MaxProbes) * (s.ProbeDuration.Duration + s.Cooldown.Duration); total > MaxDuration {
			v.add("stress.max_probes", "%d probes of probe_duration + cooldown (%v) may last %v; a stress search must be <= %v",
				s.MaxProbes, s.ProbeDuration.Duration+s.Cooldown.Duration, total, MaxDuration)
		}
	}
}

func (v *validator) knee() {
	k := v.p.Knee
	switch k.Model {
	case ModelOpen, ModelClosed:
	default:
		v.add("knee.model", "unknown model %q (want closed or open)", k.Model)
	}
	if x := v.whole("knee.max_steps", k.MaxSteps); x < 2 || x > MaxKneeSteps {
		v.add("knee.max_steps", "must be between 2 and %d (got %s)", MaxKneeSteps, fmtNum(x))
	}
	limit, unit := float64(MaxVUs), "virtual users"
	if k.Model == ModelOpen {
		limit, unit = MaxRate, "iterations/s"
	}
	if len(k.Steps) == 1 {
		v.add("knee.steps", "at least two steps are needed to find a knee")
	} else if len(k.Steps) > MaxKneeSteps {
		v.add("knee.steps", "%d steps; at most %d", len(k.Steps), MaxKneeSteps)
	}
	defaulted := !v.p.written("knee.steps")
	for i, s := range k.Steps {
		at := "knee.steps[" + itoa(i) + "]"
		switch {
		case s <= 0:
			v.add(at, "must be > 0")
		case defaulted && s > limit:
			// 1, 2, 4, ...: the plan wrote max_steps, not these steps
			n := int(math.Floor(math.Log2(limit))) + 1
			v.add("knee.max_steps", "must be <= %d with the default steps 1, 2, 4, ... (step %d would be %s %s, over the limit of %s); or list knee.steps",
				n, i+1, fmtNum(s), unit, fmtNum(limit))
		case defaulted:
		case !v.upTo(at, s, limit):
		case k.Model == ModelClosed && s != math.Trunc(s):
			v.add(at, "must be a whole number of virtual users for the closed model")
		case i > 0 && s <= k.Steps[i-1]:
			v.add(at, "steps must increase (%g after %g)", s, k.Steps[i-1])
		}
		if defaulted && s > limit {
			break
		}
	}
	stepOK := v.dur("knee.step_duration", k.StepDuration.Duration, positive, MaxDuration)
	if k.Warmup.Duration < 0 {
		v.add("knee.warmup", "must be >= 0")
	} else if k.StepDuration.Duration > 0 && k.Warmup.Duration >= k.StepDuration.Duration {
		v.add("knee.warmup", "must be shorter than step_duration (%v)", k.StepDuration.Duration)
	} else if stepOK && len(k.Steps) <= MaxKneeSteps {
		// each step runs warmup + step_duration (< 2 x MaxDuration); at most MaxKneeSteps steps: no overflow
		each := k.Warmup.Duration + k.StepDuration.Duration
		if total := time.Duration(len(k.Steps)) * each; total > MaxDuration {
			v.add("knee.step_duration", "%d steps of warmup + step_duration (%v) last %v; a knee search must be <= %v",
				len(k.Steps), each, total, MaxDuration)
		}
	}
	if k.GainThreshold <= 0 || k.GainThreshold >= 1 {
		v.add("knee.gain_threshold", "must be between 0 and 100%% (exclusive), e.g. 10%%")
	}
	if k.MetricsURL != "" {
		if err := CheckTarget(k.MetricsURL); err != nil && !strings.Contains(err.Error(), "query") {
			v.add("knee.metrics_url", "%v", err)
		}
	}
}

// SeriesEstimate returns the most loadgen metric series the plan's steps
// can create: SeriesPerStep for every step of every scenario and benchmark
// endpoint, whatever the target answers.
func (p *Plan) SeriesEstimate() int {
	n := 0
	for _, sc := range p.Scenarios {
		n += len(sc.Steps)
	}
	if p.Benchmark != nil && p.Type == TypeBenchmark && len(p.Scenarios) == 0 {
		n += len(p.Benchmark.Endpoints)
	}
	return n * p.SeriesPerStep()
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

// SeriesPerStep is the most series one step can create: one requests_total
// series per status code label (StatusCodeLabels, plus "other" and "none"),
// and SeriesPerStepFixed (error reasons, outcomes, service time).
func (p *Plan) SeriesPerStep() int { return len(p.StatusCodeLabels()) + 2 + SeriesPerStepFixed }

func (v *validator) budget() {
	if est := v.p.SeriesEstimate(); est > DefaultSeriesBudget {
		per := v.p.SeriesPerStep()
		v.add("scenarios", "up to %d metric series (%d steps x %d per step) exceeds the budget of %d (at most %d steps across all scenarios)",
			est, est/per, per, DefaultSeriesBudget, DefaultSeriesBudget/per)
	}
}

// SetTarget replaces the plan's target (the --target flag, LOADGEN_TARGET)
// and recompiles request URLs. It fails, leaving the plan unchanged, when the
// URL is not a valid http(s) base URL.
func (p *Plan) SetTarget(target string) error {
	if err := CheckTarget(target); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	p.Target = target
	base := tmpl.Literal(strings.TrimRight(target, "/"))
	fix := func(steps []Step) {
		for i := range steps {
			if cr := steps[i].Request.Compiled; cr != nil && cr.Path != nil {
				cr.URL = tmpl.Concat(base, cr.Path)
			}
		}
	}
	for i := range p.Scenarios {
		fix(p.Scenarios[i].Steps)
	}
	if p.Benchmark != nil {
		fix(p.Benchmark.Endpoints)
	}
	return nil
}
