package plan

import (
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on the numbers of a plan. Validate rejects any number outside them,
// and NaN and infinities everywhere, naming the limit ("must be <= 100000
// (got 1e+06)"); the executor clamps to them as well, so that a plan built in
// Go without validation cannot make it allocate from an absurd number. They
// are documented in docs/plan.md (Limits). MaxPlanSize and MaxDataRows are in
// load.go.
const (
	// MaxRate bounds every rate in iterations (or requests) per second:
	// phase rate and to, stress.start_rate and max_rate, open-model knee
	// steps, and rps thresholds.
	MaxRate = 1_000_000.0
	// MaxVUs bounds every count of virtual users: phase vus and to,
	// closed-model knee steps, benchmark.concurrency.
	MaxVUs = 100_000
	// MaxInFlight bounds load.max_in_flight.
	MaxInFlight = 100_000
	// MaxDuration bounds one phase, the whole load (the sum of its phases),
	// a stress search (max_probes x (probe_duration + cooldown)), a knee
	// search (steps x step_duration), and every other duration of a plan
	// that has no tighter limit (check.max_latency, thresholds' window,
	// stress.p99_slo, benchmark.warmup, knee.warmup).
	MaxDuration = 7 * 24 * time.Hour
	// MaxTimeout bounds defaults.timeout and the steps' request timeouts.
	MaxTimeout = 10 * time.Minute
	// MaxThink bounds think times (min and max).
	MaxThink = time.Hour
	// MaxWeight bounds scenarios[].weight.
	MaxWeight = 1_000_000
	// MaxBenchRequests bounds benchmark.requests and a warm-up given as a
	// number of requests.
	MaxBenchRequests = 10_000_000
	// MaxConcurrencyLevels bounds the entries of benchmark.concurrency.
	MaxConcurrencyLevels = 32
	// MaxStressProbes bounds stress.max_probes.
	MaxStressProbes = 100
	// MaxKneeSteps bounds knee.max_steps and the entries of knee.steps.
	MaxKneeSteps = 30
	// MaxDataBytes bounds one CSV data file (which must be a regular file).
	MaxDataBytes = 64 << 20
)

// fmtNum renders a number for an error message: 200, 1.5, 100000000000000,
// 1e+19, +Inf, NaN.
func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// upTo reports a number above hi (or NaN, or an infinity) at path as
// "must be <= HI (got X)". It returns whether x passed.
func (v *validator) upTo(path string, x, hi float64) bool {
	switch {
	case math.IsNaN(x):
		v.add(path, "must be a number (got NaN)")
	case x > hi:
		v.add(path, "must be <= %s (got %s)", fmtNum(hi), fmtNum(x))
	default:
		return true
	}
	return false
}

// durUpTo reports a duration above hi at path.
func (v *validator) durUpTo(path string, d, hi time.Duration) bool {
	if d > hi {
		v.add(path, "must be <= %v (got %v)", hi, d)
		return false
	}
	return true
}

// unreportedBigInts returns an error for each integer written too large for
// an int that validation did not report (yaml.v3 drops such an element from
// a list, so Validate never sees it): none is ever accepted silently.
func (p *Plan) unreportedBigInts(errs Errors) Errors {
	var out Errors
	for path, x := range p.bigInts {
		if !slices.ContainsFunc(errs, func(e FieldError) bool { return e.Path == path }) {
			out = append(out, p.errAt(path, "out of range (got "+fmtNum(x)+")"))
		}
	}
	return out
}

// whole returns the value of an integer field at path as written: the
// decoded n, or the number written when it did not fit in an int (see
// checkInts), so that range checks report what the plan said.
func (v *validator) whole(path string, n int) float64 {
	if x, ok := v.p.bigInts[path]; ok {
		return x
	}
	return float64(n)
}

// Integer fields. yaml.v3 decodes a float written in an int field by
// truncating it (max_in_flight: 1.5 gives 1) and fails on one too large for
// an int with a message about Go types. checkInts walks the YAML alongside
// the plan's Go types before decoding: a number with a fraction, NaN or an
// infinity in an integer field is an error ("must be a whole number (got
// 1.5)"); a whole number too large for an int is recorded in Plan.bigInts,
// its decoding error dropped, and Validate reports it against the field's
// limit like any other number.

// decodedAs maps types whose YAML is decoded through a shadow type (the
// func(any) error unmarshalers in yaml.go) to that type.
var decodedAs = map[reflect.Type]reflect.Type{
	reflect.TypeFor[Phase]():     reflect.TypeFor[phaseYAML](),
	reflect.TypeFor[Stress]():    reflect.TypeFor[stressYAML](),
	reflect.TypeFor[Benchmark](): reflect.TypeFor[benchmarkYAML](),
	reflect.TypeFor[Knee]():      reflect.TypeFor[kneeYAML](),
}

var nodeUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// checkInts walks root (decoded into a value of type t) and returns the
// errors of integer fields; huge collects whole numbers too large for an int.
func checkInts(root *yaml.Node, t reflect.Type, huge map[string]float64) Errors {
	budget := maxIntWalk
	return walkInts(root, t, "", huge, 0, &budget)
}

// maxIntWalk bounds the nodes checkInts visits: aliases are followed, and a
// few repeated ones could otherwise make it visit billions (yaml.v3 rejects
// such a document while decoding).
const maxIntWalk = 1_000_000

func walkInts(n *yaml.Node, t reflect.Type, path string, huge map[string]float64, depth int, budget *int) Errors {
	if *budget--; n == nil || depth > 64 || *budget < 0 {
		return nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return walkInts(n.Content[0], t, path, huge, depth+1, budget)
	}
	if n.Kind == yaml.AliasNode {
		return walkInts(n.Alias, t, path, huge, depth+1, budget)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := decodedAs[t]; ok {
		t = s
	}
	if reflect.PointerTo(t).Implements(nodeUnmarshaler) {
		return nil // checks its own scalars
	}
	var errs Errors
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind == yaml.ScalarNode {
			if e, ok := checkInt(n, path, huge); !ok {
				errs = append(errs, e)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				errs = append(errs, walkInts(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", huge, depth+1, budget)...)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				errs = append(errs, walkInts(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), huge, depth+1, budget)...)
			}
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if f, ok := yamlField(t, k.Value); ok {
				errs = append(errs, walkInts(n.Content[i+1], f.Type, joinPath(path, k.Value), huge, depth+1, budget)...)
			}
		}
	}
	return errs
}

// yamlField finds the field of struct t decoded from YAML key name.
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkInt checks one scalar written in an integer field.
func checkInt(n *yaml.Node, path string, huge map[string]float64) (FieldError, bool) {
	at := func(msg string) FieldError { return FieldError{Path: path, Line: n.Line, Col: n.Column, Msg: msg} }
	var x float64
	switch n.ShortTag() {
	case "!!int":
		if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return FieldError{}, true
		}
		b, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0)
		if !ok {
			return FieldError{}, true // yaml.v3 reports it
		}
		x, _ = b.Float64()
	case "!!float":
		if err := n.Decode(&x); err != nil {
			return FieldError{}, true // yaml.v3 reports it
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) {
			return at("must be a whole number (got " + n.Value + ")"), false
		}
		if x >= -(1<<63) && x < 1<<63 {
			return FieldError{}, true // decoded exactly
		}
	default:
		return FieldError{}, true // not a number: yaml.v3 reports the type
	}
	huge[path] = x
	return FieldError{}, true
}
