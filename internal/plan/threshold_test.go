package plan

import (
	"math"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		src              string
		metric, step, op string
		value            float64
		latency          bool
		canonical        string
	}{
		{"p99 < 300ms", "p99", "", "<", 0.3, true, "p99 < 300ms"},
		{"p50<=1s", "p50", "", "<=", 1, true, "p50 <= 1s"},
		{"p99.9 < 2s", "p99.9", "", "<", 2, true, "p99.9 < 2s"},
		{"p999 < 2s", "p99.9", "", "<", 2, true, "p99.9 < 2s"},
		{"max < 1.5s", "max", "", "<", 1.5, true, "max < 1.5s"},
		{"avg < 10ms", "mean", "", "<", 0.01, true, "mean < 10ms"},
		{"error_rate < 1%", "error_rate", "", "<", 0.01, false, "error_rate < 1%"},
		{"error_rate <= 0.05", "error_rate", "", "<=", 0.05, false, "error_rate <= 5%"},
		{"rps > 50", "rps", "", ">", 50, false, "rps > 50"},
		{"rps >= 12.5/s", "rps", "", ">=", 12.5, false, "rps >= 12.5"},
		{"step[login].p95 < 200ms", "p95", "login", "<", 0.2, true, "step[login].p95 < 200ms"},
		{" step[browse/login].error_rate < 2% ", "error_rate", "browse/login", "<", 0.02, false, "step[browse/login].error_rate < 2%"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.src)
		if err != nil {
			t.Errorf("ParseThreshold(%q) error %v", tt.src, err)
			continue
		}
		if th.Metric != tt.metric || th.Step != tt.step || th.Op != tt.op || math.Abs(th.Value-tt.value) > 1e-12 || th.IsLatency() != tt.latency {
			t.Errorf("ParseThreshold(%q) = %+v; want metric %s step %q op %s value %g", tt.src, th, tt.metric, tt.step, tt.op, tt.value)
		}
		if th.Expr != tt.src {
			t.Errorf("Expr = %q; want %q", th.Expr, tt.src)
		}
		if got := th.canonical(); got != tt.canonical {
			t.Errorf("canonical(%q) = %q; want %q", tt.src, got, tt.canonical)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "empty"},
		{"p99 300ms", "want METRIC OP VALUE"},
		{"p99 == 3s", "operator must be"},
		{"p98 < 1s", "unknown metric"},
		{"p99 < 300", "needs a duration"},
		{"p99 <", "missing value"},
		{"error_rate < 101%", "outside"},
		{"error_rate < lots", "percentage or ratio"},
		{"rps > -1", "rps needs a number"},
		{"step[].p99 < 1s", "empty step name"},
		{"step[x]p99 < 1s", "want step[NAME].METRIC"},
	}
	for _, tt := range tests {
		_, err := ParseThreshold(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseThreshold(%q) error = %v; want %q", tt.src, err, tt.want)
		}
	}
}

func TestThresholdHolds(t *testing.T) {
	tests := []struct {
		src  string
		v    float64
		want bool
	}{
		{"p99 < 300ms", 0.299, true},
		{"p99 < 300ms", 0.3, false},
		{"p99 <= 300ms", 0.3, true},
		{"rps > 50", 50, false},
		{"rps >= 50", 50, true},
		{"error_rate < 1%", 0.0099, true},
		{"error_rate < 1%", 0.01, false},
	}
	for _, tt := range tests {
		th, _ := ParseThreshold(tt.src)
		if got := th.Holds(tt.v); got != tt.want {
			t.Errorf("%q.Holds(%g) = %v; want %v", tt.src, tt.v, got, tt.want)
		}
	}
	th, _ := ParseThreshold("p99 < 1s")
	if q, ok := th.Quantile(); !ok || q != 0.99 {
		t.Errorf("Quantile = %g, %v", q, ok)
	}
	if got := th.FormatValue(0.01234); got != "12.34ms" {
		t.Errorf("FormatValue = %q", got)
	}
}

func TestParseRateAndRatio(t *testing.T) {
	rates := []struct {
		s    string
		want float64
		ok   bool
	}{{"200", 200, true}, {"2.5", 2.5, true}, {"200/s", 200, true}, {"120/m", 2, true}, {"7200/h", 2, true}, {"1/d", 0, false}, {"x/s", 0, false}, {"NaN", 0, false}}
	for _, tt := range rates {
		got, err := parseRate(tt.s)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseRate(%q) = %g, %v; want %g, ok=%v", tt.s, got, err, tt.want, tt.ok)
		}
	}
	ratios := []struct {
		s    string
		want float64
		ok   bool
	}{{"5%", 0.05, true}, {"0.05", 0.05, true}, {"100%", 1, true}, {"0", 0, true}, {"-1%", 0, false}, {"1.5", 0, false}, {"x%", 0, false}}
	for _, tt := range ratios {
		got, err := parseRatio(tt.s)
		if (err == nil) != tt.ok || (tt.ok && math.Abs(got-tt.want) > 1e-12) {
			t.Errorf("parseRatio(%q) = %g, %v; want %g, ok=%v", tt.s, got, err, tt.want, tt.ok)
		}
	}
}
