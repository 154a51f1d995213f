package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/loadlab/loadlab/internal/plan"
)

// Short-form defaults (the reference platform's start body).
const (
	DefaultShortUsers          = 10
	DefaultShortDurationS      = 30
	DefaultShortErrorThreshold = 5.0 // percent
)

// ShortJourney is the default journey of a short-form start: the demo
// target's read endpoints, in order.
var ShortJourney = []string{"/api/health", "/api/teams", "/api/users"}

// ShortForm is the reference platform's start body, mapped onto a plan by
// Plan: load = closed model with Users virtual users for DurationS on the
// default journey (think 100-300 ms after each step); benchmark = each
// journey endpoint measured alone; stress = the journey in the open model,
// rate doubled then bisected until the error rate passes the threshold.
type ShortForm struct {
	Name                  string   `json:"name"`
	TestType              string   `json:"test_type"`
	TargetURL             string   `json:"target_url"`
	Users                 *int     `json:"users"`
	DurationSeconds       *float64 `json:"duration_seconds"`
	ErrorThresholdPercent *float64 `json:"error_threshold_percent"`
}

// isShortForm reports whether a JSON body is the short form (it has
// test_type or target_url, which no plan has).
func isShortForm(body []byte) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return false
	}
	_, a := keys["test_type"]
	_, b := keys["target_url"]
	return a || b
}

// YAML renders the plan the short form stands for; maxRate caps a stress
// search (0 = no cap).
func (f ShortForm) YAML(maxRate float64) ([]byte, error) {
	typ := f.TestType
	if typ == "" {
		typ = plan.TypeLoad
	}
	name := f.Name
	if name == "" {
		name = "api-" + typ
	}
	users := DefaultShortUsers
	if f.Users != nil {
		users = *f.Users
	}
	dur := float64(DefaultShortDurationS)
	if f.DurationSeconds != nil {
		dur = *f.DurationSeconds
	}
	thr := DefaultShortErrorThreshold
	if f.ErrorThresholdPercent != nil {
		thr = *f.ErrorThresholdPercent
	}
	var errs plan.Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, plan.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	switch typ {
	case plan.TypeLoad, plan.TypeBenchmark, plan.TypeStress:
	default:
		bad("test_type", "unknown test type %q (want load, benchmark or stress)", typ)
	}
	if f.TargetURL == "" {
		bad("target_url", "required")
	} else if err := plan.CheckTarget(f.TargetURL); err != nil {
		bad("target_url", "%v", err)
	}
	if users < 1 {
		bad("users", "must be >= 1")
	} else if users > plan.MaxVUs {
		bad("users", "must be <= %d (got %d)", plan.MaxVUs, users)
	}
	if !(dur > 0) || math.IsInf(dur, 0) {
		bad("duration_seconds", "must be > 0")
	} else if limit := plan.MaxDuration.Seconds(); dur > limit {
		bad("duration_seconds", "must be <= %s (got %g)", num(limit), dur)
	}
	if !(thr > 0 && thr < 100) {
		bad("error_threshold_percent", "must be between 0 and 100 (exclusive)")
	}
	if len(errs) > 0 {
		return nil, errs
	}

	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntype: %s\ntarget: %s\n", jsonString(name), typ, jsonString(f.TargetURL))
	b.WriteString("defaults:\n  headers: {Accept: application/json}\n  timeout: 5s\n")
	b.WriteString("scenarios:\n  - name: journey\n")
	if typ == plan.TypeLoad {
		b.WriteString("    think: {min: 100ms, max: 300ms}\n")
	}
	b.WriteString("    steps:\n")
	for _, p := range ShortJourney {
		fmt.Fprintf(&b, "      - name: %s\n        request: {method: GET, path: %s}\n", strings.TrimPrefix(strings.ReplaceAll(p, "/", "-"), "-api-"), p)
	}
	durStr := num(dur) + "s" // no exponent: 1e+06s is not a duration
	switch typ {
	case plan.TypeLoad:
		fmt.Fprintf(&b, "load:\n  model: closed\n  phases:\n    - {name: sustained, duration: %s, vus: %d}\n", durStr, users)
		fmt.Fprintf(&b, "thresholds:\n  - \"error_rate < %g%%\"\n", thr)
	case plan.TypeBenchmark:
		c := 1
		if f.Users != nil {
			c = users
		}
		fmt.Fprintf(&b, "benchmark:\n  concurrency: [%d]\n", c)
	case plan.TypeStress:
		fmt.Fprintf(&b, "stress:\n  error_threshold: %g%%\n", thr)
		if f.DurationSeconds != nil {
			fmt.Fprintf(&b, "  probe_duration: %s\n", durStr)
		}
		if maxRate > 0 {
			fmt.Fprintf(&b, "  max_rate: %g\n", maxRate)
		}
	}
	return []byte(b.String()), nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a YAML double-quoted scalar
	return string(b)
}

// readPlan reads a start body into a validated plan.
func (s *Server) readPlan(r *http.Request) (*plan.Plan, error) {
	body, err := io.ReadAll(r.Body) // bounded by MaxBodyBytes (mutating)
	if err != nil {
		return nil, err // *http.MaxBytesError -> 413
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(EINVALID, "empty body: send a plan (application/yaml or application/json) or the short form")
	}
	mt, err := bodyType(r) // JSON or YAML (mutating checked it before the body was read)
	if err != nil {
		return nil, err
	}
	if mt == JSONType {
		if !json.Valid(body) {
			var x any
			err := json.Unmarshal(body, &x)
			return nil, errorf(EINVALID, "body is not valid JSON: %v", err)
		}
		if isShortForm(body) {
			var f ShortForm
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				return nil, errorf(EINVALID, "short form: %v", err)
			}
			if f.TargetURL == "" {
				f.TargetURL = s.cfg.DefaultTarget
			}
			if f.TargetURL != "" {
				if err := s.allow.check(f.TargetURL); err != nil {
					return nil, err
				}
			}
			y, err := f.YAML(s.cfg.MaxRate)
			if err != nil {
				return nil, err
			}
			body = y
		}
	}
	// JSON is YAML: one parser, one set of error positions.
	env := plan.WithEnvLookup(s.planEnv)
	p, err := plan.Parse("", body, plan.WithFS(nil), env)
	var pe plan.Errors
	if err != nil && s.cfg.DefaultTarget != "" && errors.As(err, &pe) && slices.ContainsFunc(pe, func(e plan.FieldError) bool {
		return e.Path == "target" && strings.HasPrefix(e.Msg, "required")
	}) {
		// no target in the plan: use the server's default
		p, err = plan.Parse("", body, plan.WithFS(nil), env, plan.WithTarget(s.cfg.DefaultTarget))
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planEnv is where ${env.NAME} in a plan sent over the API looks: the
// server's environment, for the names in Config.PlanEnv only.
func (s *Server) planEnv(name string) (string, error) {
	if !slices.Contains(s.cfg.PlanEnv, name) {
		return "", fmt.Errorf("plans sent over the API may read only the server's environment variables named by loadgen serve --plan-env; %s is not one of them", name)
	}
	if v, ok := os.LookupEnv(name); ok {
		return v, nil
	}
	return "", fmt.Errorf("environment variable %s (allowed by --plan-env) is not set in the server's environment", name)
}

// admit checks a valid plan against the allow-list and the caps, and caps an
// uncapped stress search at MaxRate.
func (s *Server) admit(p *plan.Plan) error {
	if err := s.allow.check(p.Target); err != nil {
		return err
	}
	// Every other host serve connects to on the plan's behalf passes the same
	// list: a proxy, the addresses of hosts: overrides (redirects are checked
	// as they are followed: Job.AllowHost).
	h := p.Defaults.HTTP
	if h.Proxy != "" && h.Proxy != "direct" {
		if err := s.allow.checkURL("defaults.http.proxy", h.Proxy); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Hosts)) {
		host := h.Hosts[name]
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if err := s.allow.checkURL("defaults.http.hosts["+name+"]", "http://"+net.JoinHostPort(strings.Trim(host, "[]"), "1")); err != nil {
			return err
		}
	}
	if k := p.Knee; k != nil && k.MetricsURL != "" {
		if err := s.allow.checkURL("knee.metrics_url", k.MetricsURL); err != nil {
			return err
		}
	}
	rate := func(what string, v float64) error {
		if s.cfg.MaxRate > 0 && !(v <= s.cfg.MaxRate) {
			return errorf(ECAP, "%s asks for %s iterations/s; the rate cap (--max-rate) is %s", what, num(v), num(s.cfg.MaxRate))
		}
		return nil
	}
	// Counts are compared as float64, so that no conversion can overflow
	// (a to: 1e19 must not pass as a negative int).
	vus := func(what string, v float64) error {
		if s.cfg.MaxVUs > 0 && !(v <= float64(s.cfg.MaxVUs)) {
			return errorf(ECAP, "%s asks for %s virtual users; the VU cap (--max-vus) is %d", what, num(v), s.cfg.MaxVUs)
		}
		return nil
	}
	closed := p.Load.Model == plan.ModelClosed
	if usesInFlight(p) && s.cfg.MaxInFlight > 0 && p.Load.MaxInFlight > s.cfg.MaxInFlight {
		if p.Written("load.max_in_flight") {
			return errorf(ECAP, "load.max_in_flight asks for %d iterations in flight; the in-flight cap (--max-in-flight) is %d",
				p.Load.MaxInFlight, s.cfg.MaxInFlight)
		}
		p.Load.MaxInFlight = s.cfg.MaxInFlight // the default (plan.DefaultMaxInFlight) is over the cap: run at the cap
	}
	for i, ph := range p.Load.Phases {
		at := fmt.Sprintf("load.phases[%d] (%s)", i, ph.Name)
		if ph.Rate != nil {
			if err := rate(at+".rate", *ph.Rate); err != nil {
				return err
			}
		}
		if ph.VUs != nil {
			if err := vus(at+".vus", float64(*ph.VUs)); err != nil {
				return err
			}
		}
		if ph.To != nil {
			var err error
			if closed {
				err = vus(at+".to", math.Ceil(*ph.To))
			} else {
				err = rate(at+".to", *ph.To)
			}
			if err != nil {
				return err
			}
		}
	}
	if b := p.Benchmark; b != nil {
		for i, c := range b.Concurrency {
			if err := vus(fmt.Sprintf("benchmark.concurrency[%d]", i), float64(c)); err != nil {
				return err
			}
		}
	}
	if st := p.Stress; st != nil {
		if err := rate("stress.start_rate", st.StartRate); err != nil {
			return err
		}
		if err := rate("stress.max_rate", st.MaxRate); err != nil {
			return err
		}
		if st.MaxRate == 0 && s.cfg.MaxRate > 0 {
			// An uncapped search would double past the cap: cap it.
			st.MaxRate = max(s.cfg.MaxRate, st.StartRate)
		}
	}
	if k := p.Knee; k != nil {
		for i, v := range kneeSteps(k) {
			at := fmt.Sprintf("knee.steps[%d]", i)
			var err error
			if k.Model == plan.ModelOpen {
				err = rate(at, v)
			} else {
				err = vus(at, math.Ceil(v))
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// usesInFlight reports whether p's engines use load.max_in_flight: open-model
// load runs, stress probes and open-model knee steps.
func usesInFlight(p *plan.Plan) bool {
	switch p.Type {
	case plan.TypeLoad, "":
		return p.Load.Model != plan.ModelClosed
	case plan.TypeStress:
		return true
	case plan.TypeKnee:
		return p.Knee != nil && p.Knee.Model == plan.ModelOpen
	}
	return false
}

// kneeSteps returns the load levels a knee search will try (the plan's, or
// the documented default 1, 2, 4, ... MaxSteps values).
func kneeSteps(k *plan.Knee) []float64 {
	if len(k.Steps) > 0 {
		return k.Steps
	}
	n := k.MaxSteps
	if n <= 0 {
		n = plan.DefaultKneeMaxSteps
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Pow(2, float64(i))
	}
	return out
}

// num formats a rate without exponents (1000000, 12.5).
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
