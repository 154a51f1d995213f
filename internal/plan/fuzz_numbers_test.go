package plan_test

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/plan"
)

// numbersTemplate is a plan with every numeric field; each ${N} is filled by
// FuzzPlanNumbers. %TYPE% and %MODEL% pick the plan type and load model.
const numbersTemplate = `name: numbers
type: %TYPE%
target: http://127.0.0.1:1
defaults: {timeout: ${0}, max_body: ${35}}
scenarios:
  - name: a
    weight: ${1}
    think: {min: ${2}, max: ${3}}
    steps:
      - name: one
        request: {path: /a, timeout: ${4}, max_body: ${36}}
        check: {status: [${5}, 200], max_latency: ${6}, body_contains: ok}
        think: ${7}
  - name: b
    weight: ${8}
    steps:
      - {name: two, request: {path: /b}}
load:
  model: %MODEL%
  max_in_flight: ${9}
  phases:
    - {name: p1, duration: ${10}, %COUNT%: ${11}, to: ${12}}
    - {name: p2, duration: ${13}, %COUNT%: ${14}}
thresholds:
  - "rps > ${15}"
  - {expr: "p99 < 1s", window: ${16}}
benchmark:
  requests: ${17}
  warmup: ${18}
  concurrency: [${19}, ${20}]
stress:
  start_rate: ${21}
  max_rate: ${22}
  max_probes: ${23}
  probe_duration: ${24}
  cooldown: ${25}
  p99_slo: ${26}
  error_threshold: ${27}
  resolution: ${28}
knee:
  model: %MODEL%
  steps: [${29}, ${30}]
  max_steps: ${31}
  step_duration: ${32}
  warmup: ${33}
  gain_threshold: ${34}
`

// numberFields says, for each ${N}, whether it is a duration (d) or a
// number or size (n), and a valid value.
var numberFields = []struct {
	dur  bool
	good string
}{
	{true, "5s"}, {false, "1"}, {true, "0s"}, {true, "10ms"}, {true, "2s"}, {false, "200"}, {true, "1s"},
	{true, "0s"}, {false, "2"}, {false, "100"}, {true, "1s"}, {false, "10"}, {false, "20"}, {true, "1s"},
	{false, "5"}, {false, "1"}, {true, "10s"}, {false, "100"}, {false, "10"}, {false, "1"}, {false, "4"},
	{false, "10"}, {false, "100"}, {false, "5"}, {true, "1s"}, {true, "0s"}, {true, "0s"}, {false, "5%"},
	{false, "0.05"}, {false, "1"}, {false, "2"}, {false, "8"}, {true, "1s"}, {true, "100ms"}, {false, "10%"},
	{false, "1MiB"}, {false, "65536"},
}

// spellings are number texts worth trying in every field.
var spellings = []string{"0", "-1", "1.5", "-0.5", "1e19", "-1e19", "9.2e18", "9.3e18", "1e400", "1e-400",
	".nan", ".inf", "-.inf", "NaN", "Inf", "+Inf", "99999999999999999999", "0x7fffffffffffffff",
	"0x8000000000000000", "0o17", "1_000", "200/s", "12000/m", "720000/h", "1e9/h", "NaN/s", "-5/m", `"7"`,
	"100000", "100001", "1000000", "1000001", "2147483648", "4294967296", "169h", "10m1s", "-1s",
	"2562047h", "2562048h", "1ns", "5%", "150%", "null", "[]", "{}", "true",
	"1MiB", "1GiB", "1073741825", "2GiB", "512KiB", "10MB", "1 KiB", "1.5MiB", "1mib", "-1KiB", "9999999999999GiB"}

// FuzzPlanNumbers feeds numbers (huge, negative, fractional, NaN and
// infinity spellings, rates with units) into every numeric field of a plan
// of each type and model: Parse must never panic, and every plan it accepts
// must have its numbers within the plan limits and build an executor
// (executor.New, not run) without panicking.
func FuzzPlanNumbers(f *testing.F) {
	for i, s := range spellings {
		f.Add(uint8(i), uint64(1)<<(uint(i)%35), s, int64(i)*1e17, float64(i)*1.5e18)
	}
	f.Add(uint8(1), uint64(math.MaxUint64), "1e19", int64(math.MaxInt64), math.Inf(1))
	f.Add(uint8(2), uint64(0x5555555555), "-.inf", int64(math.MinInt64), math.NaN())
	f.Add(uint8(3), uint64(0), "", int64(0), 0.0)
	f.Fuzz(func(t *testing.T, kind uint8, mask uint64, raw string, i int64, x float64) {
		raw = strings.Map(func(r rune) rune { // one scalar, one line; YAML syntax errors are not the point here
			if r == '\n' || r == '\r' || r == '#' {
				return -1
			}
			return r
		}, raw)
		typ := []string{"load", "load", "benchmark", "stress", "knee"}[kind%5]
		model, count := "open", "rate"
		if kind%5 == 1 || (kind/5)%2 == 1 {
			model, count = "closed", "vus"
		}
		y := strings.NewReplacer("%TYPE%", typ, "%MODEL%", model, "%COUNT%", count).Replace(numbersTemplate)
		for n, fld := range numberFields {
			v := fld.good
			switch bits.RotateLeft64(mask, -2*n) & 3 { // fields n and n+32 share bits
			case 1:
				v = raw
			case 2:
				v = strconv.FormatInt(i>>(uint(n)%40), 10)
				if fld.dur {
					v += "ms"
				}
			case 3:
				v = strconv.FormatFloat(x, 'g', -1, 64)
				if fld.dur {
					v += "s"
				}
			}
			if v == "" {
				v = "0"
			}
			y = strings.Replace(y, "${"+strconv.Itoa(n)+"}", v, 1)
		}
		p, err := plan.Parse("numbers.yaml", []byte(y), plan.WithFS(nil))
		if err != nil {
			var es plan.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Parse error is %T %v; want plan.Errors", err, err)
			}
			return
		}
		checkBounded(t, p, y)
		if len(p.Load.Phases) > 0 {
			if _, err := executor.New(p); err != nil {
				t.Fatalf("executor.New on a valid plan: %v\n%s", err, y)
			}
		}
	})
}

// checkBounded asserts that a plan Parse accepted has every number within
// the plan limits.
func checkBounded(t *testing.T, p *plan.Plan, y string) {
	t.Helper()
	bad := func(what string, v any) { t.Fatalf("valid plan with %s = %v\n%s", what, v, y) }
	okRate := func(r float64) bool { return r >= 0 && r <= plan.MaxRate }
	if d := p.Defaults.Timeout.Duration; d <= 0 || d > plan.MaxTimeout {
		bad("defaults.timeout", d)
	}
	if b := p.Defaults.MaxBody.Bytes; b < 0 || b > plan.MaxMaxBody {
		bad("defaults.max_body", b)
	}
	if l := p.Load.MaxInFlight; l <= 0 || l > plan.MaxInFlight {
		bad("max_in_flight", l)
	}
	if d := p.Load.TotalDuration(); d > plan.MaxDuration {
		bad("load duration", d)
	}
	for _, ph := range p.Load.Phases {
		if ph.Rate != nil && !okRate(*ph.Rate) {
			bad("rate", *ph.Rate)
		}
		if ph.To != nil && !okRate(*ph.To) {
			bad("to", *ph.To)
		}
		if ph.VUs != nil && (*ph.VUs < 0 || *ph.VUs > plan.MaxVUs) {
			bad("vus", *ph.VUs)
		}
		if ph.VUs != nil && ph.To != nil && *ph.To > plan.MaxVUs {
			bad("to (vus)", *ph.To)
		}
	}
	for _, sc := range p.Scenarios {
		if sc.Weight <= 0 || sc.Weight > plan.MaxWeight {
			bad("weight", sc.Weight)
		}
		if sc.Think.Max.Duration > plan.MaxThink {
			bad("think", sc.Think.Max)
		}
		for _, st := range sc.Steps {
			if d := st.Request.Compiled.Timeout; d <= 0 || d > plan.MaxTimeout {
				bad("request timeout", d)
			}
			b := st.Request.EffectiveMaxBody(p.Defaults)
			if b < 0 || b > plan.MaxMaxBody || st.Rules.NeedsBody() && (b == 0 || int64(st.Rules.Keep()) != b) {
				bad("request max_body", b) // a body check needs max_body > 0, and keeps that much
			}
		}
	}
	if b := p.Benchmark; b != nil {
		if b.Requests <= 0 || b.Requests > plan.MaxBenchRequests {
			bad("benchmark.requests", b.Requests)
		}
		for _, c := range b.Concurrency {
			if c <= 0 || c > plan.MaxVUs {
				bad("concurrency", c)
			}
		}
	}
	if s := p.Stress; s != nil && (!okRate(s.StartRate) || !okRate(s.MaxRate) || s.MaxProbes > plan.MaxStressProbes ||
		s.ProbeDuration.Duration > plan.MaxDuration) {
		bad("stress", *s)
	}
	if k := p.Knee; k != nil {
		for _, s := range k.Steps {
			if !(s > 0) || s > plan.MaxRate {
				bad("knee step", s)
			}
		}
	}
	for _, th := range p.Thresholds {
		if math.IsNaN(th.Value) || math.IsInf(th.Value, 0) {
			bad("threshold value", th.Value)
		}
	}
}
