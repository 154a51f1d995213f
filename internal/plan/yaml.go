package plan

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"
)

// Custom unmarshalers. Following STYLE B5, node-style unmarshalers are used
// only for scalars and small closed shapes that check their own keys (Think,
// Threshold); structs with several fields use the func(any) error form with a
// "plain" type, which keeps the parent decoder and so KnownFields(true).
//
// Their errors are *yaml.TypeError with the message "line L:C: msg", so that
// decoding goes on and Parse can report every problem at its column.

func nodeErr(n *yaml.Node, format string, args ...any) error {
	return report(&yaml.TypeError{Errors: []string{fmt.Sprintf("line %d:%d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}})
}

// While Parse decodes, the custom unmarshalers hand their errors to a
// collector and return nil: a failing element of a sequence is then kept
// (yaml.v3 drops elements whose unmarshaler fails, which would shift the
// indexes of the elements after it). Outside Parse they return the error.
var (
	decodeMu  sync.Mutex // serializes Parse's decoding
	collector atomic.Pointer[[]string]
)

func report(err error) error {
	te, ok := err.(*yaml.TypeError)
	if !ok || err == nil {
		return err
	}
	if c := collector.Load(); c != nil {
		*c = append(*c, te.Errors...)
		return nil
	}
	return err
}

// collect runs decode with a collector and returns what was reported.
func collect(decode func() error) ([]string, error) {
	decodeMu.Lock()
	defer decodeMu.Unlock()
	var msgs []string
	collector.Store(&msgs)
	defer collector.Store(nil)
	err := decode()
	return msgs, err
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// parseDurationValue parses a YAML duration scalar: a Go duration ("1m30s",
// "250ms") or a bare 0.
func parseDurationValue(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %q needs a unit, e.g. %ss or %sms", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 250ms, 10s, 1m30s)", s)
	}
	return d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler for a duration scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.unmarshal(n); err != nil {
		return nodeErr(n, "%s", err.Error()[len(fmt.Sprintf("line %d:%d: ", n.Line, n.Column)):])
	}
	return nil
}

// unmarshal decodes a duration; its error text is "line L:C: msg".
func (d *Duration) unmarshal(n *yaml.Node) error {
	d.Line, d.Col = n.Line, n.Column
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return fmt.Errorf("line %d:%d: must be a duration such as 10s, got %s", n.Line, n.Column, kindName(n))
	}
	v, err := parseDurationValue(n.Value)
	if err != nil {
		return fmt.Errorf("line %d:%d: %v", n.Line, n.Column, err)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

// UnmarshalYAML accepts "think: 1s" (min = max) or "think: {min: 1s, max: 3s}".
func (t *Think) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var d Duration
		err := d.UnmarshalYAML(n)
		t.Min, t.Max = d, d
		return err
	case yaml.MappingNode:
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var dst *Duration
			switch k.Value {
			case "min":
				dst = &t.Min
			case "max":
				dst = &t.Max
			default:
				errs = append(errs, fmt.Sprintf("line %d:%d: unknown field %q (want min, max)", k.Line, k.Column, k.Value))
				continue
			}
			if err := dst.unmarshal(v); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if t.Max.Line == 0 {
			t.Max = t.Min // {min: 1s} alone means exactly 1s
		}
		if len(errs) > 0 {
			return report(&yaml.TypeError{Errors: errs})
		}
		return nil
	}
	return nodeErr(n, "must be a duration (1s) or {min: 1s, max: 3s}, got %s", kindName(n))
}

// MarshalYAML writes think time as {min, max}.
func (t Think) MarshalYAML() (any, error) {
	return map[string]string{"min": t.Min.Duration.String(), "max": t.Max.Duration.String()}, nil
}

// UnmarshalYAML accepts a threshold string or {expr, window, abort_on_fail}.
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error {
	t.Line, t.Col = n.Line, n.Column
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" {
			return nodeErr(n, "must be a threshold such as \"p99 < 300ms\", got %s", kindName(n))
		}
		th, err := ParseThreshold(n.Value)
		if err != nil {
			return nodeErr(n, "%v", err)
		}
		th.Line, th.Col = n.Line, n.Column
		*t = th
		return nil
	case yaml.MappingNode:
		var errs []string
		var expr *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "expr":
				expr = v
			case "window":
				if err := t.Window.unmarshal(v); err != nil {
					errs = append(errs, err.Error())
				}
			case "abort_on_fail":
				b, err := strconv.ParseBool(v.Value)
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || err != nil {
					errs = append(errs, fmt.Sprintf("line %d:%d: must be true or false, got %s", v.Line, v.Column, kindName(v)))
				}
				t.AbortOnFail = b
			default:
				errs = append(errs, fmt.Sprintf("line %d:%d: unknown field %q (want expr, window, abort_on_fail)", k.Line, k.Column, k.Value))
			}
		}
		if expr == nil {
			errs = append(errs, fmt.Sprintf("line %d:%d: expr is required", n.Line, n.Column))
		} else if expr.Kind != yaml.ScalarNode || expr.ShortTag() != "!!str" {
			errs = append(errs, fmt.Sprintf("line %d:%d: must be a threshold such as \"p99 < 300ms\", got %s", expr.Line, expr.Column, kindName(expr)))
		} else if th, err := ParseThreshold(expr.Value); err != nil {
			errs = append(errs, fmt.Sprintf("line %d:%d: %v", expr.Line, expr.Column, err))
		} else {
			th.Window, th.AbortOnFail, th.Line, th.Col = t.Window, t.AbortOnFail, n.Line, n.Column
			*t = th
		}
		if len(errs) > 0 {
			return report(&yaml.TypeError{Errors: errs})
		}
		return nil
	}
	return nodeErr(n, "must be a threshold string or {expr, window, abort_on_fail}, got %s", kindName(n))
}

// UnmarshalYAML parses a capture string.
func (c *Capture) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return nodeErr(n, "must be a capture string ($.path, header:NAME or regex:PATTERN), got %s", kindName(n))
	}
	cc, err := ParseCapture(n.Value)
	cc.Line, cc.Col = n.Line, n.Column
	*c = cc
	if err != nil {
		return nodeErr(n, "%v", err)
	}
	return nil
}

// MarshalYAML writes the capture as written.
func (c Capture) MarshalYAML() (any, error) { return c.Src, nil }

// UnmarshalYAML accepts a number of requests (20) or a duration ("5s").
func (w *Warmup) UnmarshalYAML(n *yaml.Node) error {
	w.Line, w.Col = n.Line, n.Column
	if n.Kind != yaml.ScalarNode {
		return nodeErr(n, "must be a number of requests (20) or a duration (5s), got %s", kindName(n))
	}
	if n.ShortTag() == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return nodeErr(n, "invalid number of requests %q", n.Value)
		}
		w.Requests = v
		return nil
	}
	d, err := parseDurationValue(n.Value)
	if err != nil {
		return nodeErr(n, "must be a number of requests (20) or a duration (5s): %v", err)
	}
	w.Duration = d
	return nil
}

// rateValue is a rate scalar: 200, 2.5, "200/s", "12000/m".
type rateValue float64

func (r *rateValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.ShortTag() == "!!bool" {
		return nodeErr(n, "must be a number or a rate such as 200/s, got %s", kindName(n))
	}
	v, err := parseRate(n.Value)
	if err != nil {
		return nodeErr(n, "%v", err)
	}
	*r = rateValue(v)
	return nil
}

// ratioValue is a ratio scalar: 0.05 or "5%".
type ratioValue float64

func (r *ratioValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.ShortTag() == "!!bool" {
		return nodeErr(n, "must be a ratio (0.05) or a percentage (5%%), got %s", kindName(n))
	}
	v, err := parseRatio(n.Value)
	if err != nil {
		return nodeErr(n, "%v", err)
	}
	*r = ratioValue(v)
	return nil
}

func ratePtr(r *rateValue) *float64 {
	if r == nil {
		return nil
	}
	v := float64(*r)
	return &v
}

type phaseYAML struct {
	Name     string     `yaml:"name"`
	Duration Duration   `yaml:"duration"`
	Rate     *rateValue `yaml:"rate"`
	VUs      *int       `yaml:"vus"`
	To       *rateValue `yaml:"to"`
}

// UnmarshalYAML decodes a phase; rate and to accept "200/s" forms.
func (p *Phase) UnmarshalYAML(unmarshal func(any) error) error {
	var y phaseYAML
	err := report(unmarshal(&y))
	*p = Phase{Name: y.Name, Duration: y.Duration, Rate: ratePtr(y.Rate), VUs: y.VUs, To: ratePtr(y.To)}
	return err
}

// MarshalYAML writes a phase.
func (p Phase) MarshalYAML() (any, error) {
	y := phaseYAML{Name: p.Name, Duration: p.Duration, VUs: p.VUs}
	if p.Rate != nil {
		r := rateValue(*p.Rate)
		y.Rate = &r
	}
	if p.To != nil {
		r := rateValue(*p.To)
		y.To = &r
	}
	return y, nil
}

type stressYAML struct {
	StartRate      rateValue  `yaml:"start_rate"`
	MaxRate        rateValue  `yaml:"max_rate"`
	ErrorThreshold ratioValue `yaml:"error_threshold"`
	P99SLO         Duration   `yaml:"p99_slo"`
	ProbeDuration  Duration   `yaml:"probe_duration"`
	Cooldown       Duration   `yaml:"cooldown"`
	Resolution     ratioValue `yaml:"resolution"`
	MaxProbes      int        `yaml:"max_probes"`
}

// UnmarshalYAML decodes the stress section; ratios accept "5%".
func (s *Stress) UnmarshalYAML(unmarshal func(any) error) error {
	var y stressYAML
	err := report(unmarshal(&y))
	*s = Stress{StartRate: float64(y.StartRate), MaxRate: float64(y.MaxRate), ErrorThreshold: float64(y.ErrorThreshold),
		P99SLO: y.P99SLO, ProbeDuration: y.ProbeDuration, Cooldown: y.Cooldown, Resolution: float64(y.Resolution), MaxProbes: y.MaxProbes}
	return err
}

type benchmarkYAML struct {
	Endpoints   []Step     `yaml:"endpoints"`
	Warmup      Warmup     `yaml:"warmup"`
	Requests    int        `yaml:"requests"`
	Concurrency []int      `yaml:"concurrency"`
	Tolerance   ratioValue `yaml:"tolerance"`
	Confidence  ratioValue `yaml:"confidence"`
}

// UnmarshalYAML decodes the benchmark section; ratios accept "10%".
func (b *Benchmark) UnmarshalYAML(unmarshal func(any) error) error {
	var y benchmarkYAML
	err := report(unmarshal(&y))
	*b = Benchmark{Endpoints: y.Endpoints, Warmup: y.Warmup, Requests: y.Requests, Concurrency: y.Concurrency,
		Tolerance: float64(y.Tolerance), Confidence: float64(y.Confidence)}
	return err
}

type kneeYAML struct {
	Model         string      `yaml:"model"`
	Steps         []rateValue `yaml:"steps"`
	MaxSteps      int         `yaml:"max_steps"`
	StepDuration  Duration    `yaml:"step_duration"`
	Warmup        Duration    `yaml:"warmup"`
	GainThreshold ratioValue  `yaml:"gain_threshold"`
	MetricsURL    string      `yaml:"metrics_url"`
}

// UnmarshalYAML decodes the knee section.
func (k *Knee) UnmarshalYAML(unmarshal func(any) error) error {
	var y kneeYAML
	err := report(unmarshal(&y))
	*k = Knee{Model: y.Model, MaxSteps: y.MaxSteps, StepDuration: y.StepDuration, Warmup: y.Warmup,
		GainThreshold: float64(y.GainThreshold), MetricsURL: y.MetricsURL}
	for _, s := range y.Steps {
		k.Steps = append(k.Steps, float64(s))
	}
	return err
}
