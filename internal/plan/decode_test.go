package plan

import (
	"strings"
	"testing"
)

// TestDecode: the decoder's own cases, each a whole plan and every error it
// must give (file:line:col: path: message), or none.
func TestDecode(t *testing.T) {
	const head = "name: d\ntarget: http://127.0.0.1:1\nload: {phases: [{name: p, duration: 1s, rate: 1}]}\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"duplicate header", "scenarios:\n  - steps:\n      - request: {path: /a, headers: {A: x, A: y}}\n",
			[]string{"d.yaml:6:45: scenarios[0].steps[0].request.headers.A: duplicate key \"A\" (first at line 6)"}},
		{"duplicate key in a JSON body", "scenarios:\n  - steps:\n      - request:\n          path: /a\n          json: {a: 1, b: {c: 2, c: 3}}\n",
			[]string{"d.yaml:8:34: scenarios[0].steps[0].request.json.b.c: duplicate key \"c\" (first at line 8)"}},
		{"key not a string", "scenarios:\n  - steps:\n      - request: {path: /a, headers: {[x]: y}}\n",
			[]string{"d.yaml:6:39: scenarios[0].steps[0].request.headers: a key must be a string, got a list"}},
		{"merge keys", "x-step: &base {request: {path: /a}, check: {status: [200]}}\n" +
			"scenarios:\n  - steps:\n      - {<<: *base, name: one}\n      - <<: [{name: two}, *base]\n        request: {path: /b}\n",
			[]string{"d.yaml:4:1: x-step: unknown field \"x-step\" (known: benchmark, data, defaults, knee, latency_of, load, name, scenarios, stress, target, thresholds, type, variables)"}},
		{"merge of a scalar", "scenarios:\n  - steps:\n      - {<<: 1, request: {path: /a}}\n",
			[]string{"d.yaml:6:14: scenarios[0].steps[0]: << merges a mapping or a list of mappings, got an integer \"1\""}},
		{"unknown key in a merged mapping", "scenarios:\n  - steps:\n      - {<<: &m {requst: {}}, request: {path: /a}}\n",
			[]string{"d.yaml:6:18: scenarios[0].steps[0].requst: unknown field \"requst\" (did you mean request?)"}},
		{"quoted integer", "scenarios:\n  - weight: \"7\"\n    steps: [{request: {path: /a}}]\n",
			[]string{"d.yaml:5:13: scenarios[0].weight: must be an integer, got a string \"7\""}},
		{"integer spellings", "scenarios:\n  - {name: a, weight: 0x10, steps: [{request: {path: /a}}]}\n  - {name: b, weight: 1e3, steps: [{request: {path: /b}}]}\n  - {name: c, weight: 1_000, steps: [{request: {path: /c}}]}\n", nil},
		{"integer written as a hex too large for yaml.v3", "scenarios:\n  - weight: 0x80000000000000000\n    steps: [{request: {path: /a}}]\n",
			[]string{"d.yaml:5:13: scenarios[0].weight: must be <= 1000000 (got 1.4757395258967641e+20)"}},
		{"bool", "scenarios: [{steps: [{request: {path: /a}}]}]\nthresholds: [{expr: p99 < 1s, window: 1s, abort_on_fail: yes}]\n",
			[]string{"d.yaml:5:58: thresholds[0].abort_on_fail: must be true or false, got a string \"yes\""}},
		{"threshold expr not a string", "scenarios: [{steps: [{request: {path: /a}}]}]\nthresholds: [{expr: [p99 < 1s]}]\n",
			[]string{"d.yaml:5:21: thresholds[0].expr: must be a string, got a list"}},
		{"bad threshold in a mapping", "scenarios: [{steps: [{request: {path: /a}}]}]\nthresholds: [{expr: p42 < 1s}]\n",
			[]string{"d.yaml:5:21: thresholds[0].expr: threshold \"p42 < 1s\": unknown metric \"p42\" (want one of p50, p90, p95, p99, p99.9, max, mean, error_rate, rps)"}},
		{"ratio and rate types", "type: stress\nscenarios: [{steps: [{request: {path: /a}}]}]\nstress: {error_threshold: true, start_rate: false, max_rate: [1]}\n",
			[]string{
				"d.yaml:6:27: stress.error_threshold: must be a ratio (0.05) or a percentage (5%), got a boolean",
				"d.yaml:6:45: stress.start_rate: must be a number or a rate such as 200/s, got a boolean",
				"d.yaml:6:62: stress.max_rate: must be a number or a rate such as 200/s, got a list",
			}},
		{"struct given a scalar", "defaults: 5s\nscenarios: [{steps: [{request: {path: /a}}]}]\n",
			[]string{"d.yaml:4:11: defaults: must be a mapping, got a string \"5s\""}},
		{"list given a mapping", "scenarios: {a: 1}\n",
			[]string{"d.yaml:4:12: scenarios: must be a list, got a mapping"}},
		{"null is absent", "defaults: {timeout: ~, headers: ~}\nscenarios: [{steps: [{request: {path: /a}, think: ~}]}]\n",
			[]string{"d.yaml:4:21: defaults.timeout: must be > 0"}},
		{"long value cut", "scenarios: [{weight: abcdefghijklmnopqrstuvwxyz, steps: [{request: {path: /a}}]}]\n",
			[]string{"d.yaml:4:22: scenarios[0].weight: must be an integer, got a string \"abcdefghijklmnopq...\""}},
		{"aliases reused", "scenarios:\n  - steps:\n      - &s {request: {path: /a}, check: {status: [200, 201]}}\n      - *s\n      - *s\n",
			[]string{
				"d.yaml:7:9: scenarios[0].steps[1].name: duplicate step name \"GET /a\" in scenario \"default\" (also steps[0]); give each step a name",
				"d.yaml:8:9: scenarios[0].steps[2].name: duplicate step name \"GET /a\" in scenario \"default\" (also steps[1]); give each step a name",
			}},
		{"a JSON body nested too deep", "scenarios:\n  - steps:\n      - request: {path: /a, json: &j [[*j]]}\n",
			[]string{"d.yaml:6:40: scenarios[0].steps[0].request.json" + strings.Repeat("[0]", 68) + ": nested more than 100 levels deep"}},
		{"syntax error", "scenarios:\n  - steps: [\n", []string{"d.yaml:5:1: yaml: did not find expected node content"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("d.yaml", []byte(head+tt.yaml), WithFS(nil))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Parse:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDecodeValues: what the decoder makes of the values it accepts.
func TestDecodeValues(t *testing.T) {
	p, err := Parse("v.yaml", []byte(`name: v
target: http://127.0.0.1:1
x: &step {request: {path: /a, json: {n: 1, f: 1.5, s: "x", b: true, l: [1, "2"], m: {k: ~}}}}
scenarios:
  - steps:
      - <<: *step
        name: merged
        check: {status: [201]}
      - {name: plain, request: {path: /b, method: post}, capture: {id: "$.id"}}
load: {phases: [{name: p, duration: 1s, rate: "120/m", to: 5}]}
stress: {error_threshold: 5%, start_rate: 7}
`), WithFS(nil))
	if err == nil || !strings.Contains(err.Error(), `unknown field "x"`) || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("Parse: %v; want only the unknown field x", err)
	}
	p, err = Parse("v.yaml", []byte(`name: v
target: http://127.0.0.1:1
scenarios:
  - steps:
      - &step {name: one, request: {path: /a, json: {n: 1, f: 1.5, s: "x", b: true, l: [1, "2"], m: {k: ~}}}}
      - <<: *step
        name: merged
        check: {status: [201]}
      - {name: plain, request: {path: /b, method: post}, capture: {id: "$.id"}}
load: {phases: [{name: p, duration: 1s, rate: "120/m", to: 5}]}
stress: {error_threshold: 5%, start_rate: 7}
`), WithFS(nil))
	if err != nil {
		t.Fatal(err)
	}
	steps := p.Scenarios[0].Steps
	if got := steps[0].Request.Compiled.Body.Render(nil); got != `{"b":true,"f":1.5,"l":[1,"2"],"m":{"k":null},"n":1,"s":"x"}` {
		t.Errorf("JSON body = %s", got)
	}
	if steps[1].Name != "merged" || steps[1].Request.Path != "/a" || steps[1].Check.Status[0] != 201 || steps[1].Request.Compiled.Body == nil {
		t.Errorf("merged step = %+v", steps[1])
	}
	if steps[2].Request.Method != "POST" || steps[2].Capture["id"] != "$.id" || len(steps[2].Rules.Captures()) != 1 {
		t.Errorf("plain step = %+v", steps[2])
	}
	if ph := p.Load.Phases[0]; *ph.Rate != 2 || *ph.To != 5 || ph.Duration.Line != 10 || ph.Duration.Col != 37 {
		t.Errorf("phase = rate %v to %v duration at %d:%d", *ph.Rate, *ph.To, ph.Duration.Line, ph.Duration.Col)
	}
	if s := p.Stress; s.ErrorThreshold != 0.05 || s.StartRate != 7 || s.Resolution != DefaultResolution {
		t.Errorf("stress = %+v", s)
	}
	if !p.Written("load.phases[0].to") || p.Written("load.max_in_flight") {
		t.Error("Written does not follow the YAML")
	}
}
