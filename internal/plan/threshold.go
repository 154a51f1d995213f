package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Metrics a threshold may name, in the order documented.
var ThresholdMetrics = []string{MetricP50, MetricP90, MetricP95, MetricP99, MetricP999, MetricMax, MetricMean, MetricErrorRate, MetricRPS}

// IsLatency reports whether the threshold's metric is a latency (its Value is in seconds).
func (t Threshold) IsLatency() bool {
	switch t.Metric {
	case MetricErrorRate, MetricRPS:
		return false
	}
	return true
}

// Quantile returns the quantile (0-1) for p50..p99.9, and false for the other metrics.
func (t Threshold) Quantile() (float64, bool) {
	switch t.Metric {
	case MetricP50:
		return 0.50, true
	case MetricP90:
		return 0.90, true
	case MetricP95:
		return 0.95, true
	case MetricP99:
		return 0.99, true
	case MetricP999:
		return 0.999, true
	}
	return 0, false
}

// Holds reports whether the observed value (seconds, ratio or req/s) satisfies
// the threshold.
func (t Threshold) Holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	}
	return false
}

// String returns the expression as written, or a canonical form.
func (t Threshold) String() string {
	if t.Expr != "" {
		return t.Expr
	}
	return t.canonical()
}

func (t Threshold) canonical() string {
	var b strings.Builder
	if t.Step != "" {
		fmt.Fprintf(&b, "step[%s].", t.Step)
	}
	b.WriteString(t.Metric)
	b.WriteString(" " + t.Op + " ")
	switch {
	case t.IsLatency():
		b.WriteString(time.Duration(t.Value * float64(time.Second)).String())
	case t.Metric == MetricErrorRate:
		b.WriteString(strconv.FormatFloat(t.Value*100, 'g', -1, 64) + "%")
	default:
		b.WriteString(strconv.FormatFloat(t.Value, 'g', -1, 64))
	}
	return b.String()
}

// FormatValue renders an observed value in the threshold's unit (ms for
// latency, % for error_rate, req/s for rps).
func (t Threshold) FormatValue(v float64) string {
	switch {
	case t.IsLatency():
		return strconv.FormatFloat(v*1000, 'f', 2, 64) + "ms"
	case t.Metric == MetricErrorRate:
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
}

// ParseThreshold parses "[step[NAME].]METRIC OP VALUE". METRIC is one of
// ThresholdMetrics; OP is <, <=, > or >=; VALUE is a duration for latency
// metrics ("300ms"), a percentage or ratio for error_rate ("1%", "0.01") and a
// number for rps.
func ParseThreshold(s string) (Threshold, error) {
	t := Threshold{Expr: s}
	expr := strings.TrimSpace(s)
	if expr == "" {
		return t, fmt.Errorf("empty threshold")
	}
	opAt, opLen := -1, 0
	for i := 0; i < len(expr); i++ {
		if expr[i] == '<' || expr[i] == '>' {
			opAt, opLen = i, 1
			if i+1 < len(expr) && expr[i+1] == '=' {
				opLen = 2
			}
			break
		}
		if expr[i] == '=' || expr[i] == '!' {
			return t, fmt.Errorf("threshold %q: operator must be <, <=, > or >=", s)
		}
	}
	if opAt < 0 {
		return t, fmt.Errorf("threshold %q: want METRIC OP VALUE, e.g. \"p99 < 300ms\"", s)
	}
	lhs := strings.TrimSpace(expr[:opAt])
	t.Op = expr[opAt : opAt+opLen]
	rhs := strings.TrimSpace(expr[opAt+opLen:])
	if strings.HasPrefix(lhs, "step[") {
		end := strings.Index(lhs, "].")
		if end < 0 {
			return t, fmt.Errorf("threshold %q: want step[NAME].METRIC", s)
		}
		t.Step = strings.TrimSpace(lhs[len("step["):end])
		if t.Step == "" {
			return t, fmt.Errorf("threshold %q: empty step name", s)
		}
		lhs = lhs[end+2:]
	}
	t.Metric = strings.TrimSpace(lhs)
	switch t.Metric {
	case "p999":
		t.Metric = MetricP999
	case "avg":
		t.Metric = MetricMean
	}
	known := false
	for _, m := range ThresholdMetrics {
		known = known || m == t.Metric
	}
	if !known {
		return t, fmt.Errorf("threshold %q: unknown metric %q (want one of %s)", s, t.Metric, strings.Join(ThresholdMetrics, ", "))
	}
	if t.Metric == MetricRPS && t.Step != "" {
		// allowed: a step's own request rate
	}
	if rhs == "" {
		return t, fmt.Errorf("threshold %q: missing value", s)
	}
	switch {
	case t.IsLatency():
		d, err := time.ParseDuration(rhs)
		if err != nil {
			return t, fmt.Errorf("threshold %q: %s needs a duration such as 300ms, got %q", s, t.Metric, rhs)
		}
		if d < 0 {
			return t, fmt.Errorf("threshold %q: negative duration", s)
		}
		t.Value = d.Seconds()
	case t.Metric == MetricErrorRate:
		v, err := parseRatio(rhs)
		if err != nil {
			return t, fmt.Errorf("threshold %q: error_rate needs a percentage or ratio such as 1%% or 0.01: %v", s, err)
		}
		t.Value = v
	default:
		v, err := strconv.ParseFloat(strings.TrimSuffix(rhs, "/s"), 64)
		if err != nil || v < 0 {
			return t, fmt.Errorf("threshold %q: rps needs a number >= 0, got %q", s, rhs)
		}
		t.Value = v
	}
	return t, nil
}

// parseRatio parses "5%" (0.05) or "0.05"; the result must be in [0, 1].
func parseRatio(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 || v != v {
		return 0, fmt.Errorf("%s is outside 0-100%%", s)
	}
	return v, nil
}

// parseRate parses an arrival rate: 200, "200/s", "12000/m", "720000/h".
func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	per := 1.0
	if num, unit, ok := strings.Cut(s, "/"); ok {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			per = 60
		case "h", "hour":
			per = 3600
		default:
			return 0, fmt.Errorf("invalid rate %q: unit must be /s, /m or /h", s)
		}
		s = strings.TrimSpace(num)
	}
	v, err := strconv.ParseFloat(s, 64)
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		err = nil // 1e400 is +Inf: Validate reports it against the rate limit
	}
	if err != nil || v != v {
		return 0, fmt.Errorf("invalid rate %q: want a number such as 200 or 200/s", s)
	}
	return v / per, nil
}

// ParseRatio parses a ratio as plans write it, "5%" or "0.05", into [0, 1] (for flags that take one).
func ParseRatio(s string) (float64, error) { return parseRatio(s) }
