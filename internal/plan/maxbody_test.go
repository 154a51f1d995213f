package plan

import (
	"slices"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"65536", 65536, false},
		{"512KiB", 512 << 10, false},
		{"1MiB", 1 << 20, false},
		{"1 MiB", 1 << 20, false},
		{"2GiB", 2 << 30, false},
		{"64kB", 64000, false},
		{"10MB", 10e6, false},
		{"1GB", 1e9, false},
		{"100B", 100, false},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"MiB", 0, true},
		{"lots", 0, true},
		{"9999999999999GiB", 0, true},
		{"1mib", 0, true}, // units are case-sensitive: no guessing whether m means milli, mega or mebi
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1500: "1500B", 4096: "4KiB", 1 << 20: "1MiB", 3 << 30: "3GiB"} {
		if got := FormatByteSize(n); got != want {
			t.Errorf("FormatByteSize(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestMaxBodyCompiled: a request's max_body wins over defaults.max_body, which
// wins over DefaultMaxBody; 0 is a value (keep none), not "unset".
func TestMaxBodyCompiled(t *testing.T) {
	const src = `
name: mb
target: http://127.0.0.1:1
defaults: {max_body: %s}
scenarios:
  - steps:
      - {name: own, request: {path: /a, max_body: 64KiB}}
      - {name: zero, request: {path: /b, max_body: 0}}
      - {name: inherit, request: {path: /c}}
load: {phases: [{name: a, duration: 1s, rate: 1}]}
`
	for _, tc := range []struct {
		defaults string
		inherit  int
	}{{"2MiB", 2 << 20}, {"0", 0}} {
		p, err := Parse("mb.yaml", []byte(strings.Replace(src, "%s", tc.defaults, 1)))
		if err != nil {
			t.Fatal(err)
		}
		got := []int{}
		for _, st := range p.Scenarios[0].Steps {
			got = append(got, st.Request.Compiled.MaxBody)
		}
		if want := []int{64 << 10, 0, tc.inherit}; !slices.Equal(got, want) {
			t.Errorf("defaults.max_body %s: compiled MaxBody = %v; want %v", tc.defaults, got, want)
		}
	}
	p, err := Parse("mb.yaml", []byte(strings.Replace(src, "defaults: {max_body: %s}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Scenarios[0].Steps[2].Request.Compiled.MaxBody; got != DefaultMaxBody {
		t.Errorf("no max_body anywhere: compiled MaxBody = %d; want DefaultMaxBody %d", got, DefaultMaxBody)
	}
}

func TestNeedsBody(t *testing.T) {
	hdr, _ := ParseCapture("header:X-Id")
	js, _ := ParseCapture("$.id")
	re, _ := ParseCapture("regex:id=(\\d+)")
	for _, tc := range []struct {
		name string
		st   Step
		want bool
	}{
		{"status only", Step{Check: Check{Status: []int{200}, MaxLatency: D(1)}}, false},
		{"header capture", Step{Capture: map[string]Capture{"id": hdr}}, false},
		{"body_contains", Step{Check: Check{BodyContains: "x"}}, true},
		{"json check", Step{Check: Check{JSON: map[string]any{"$.a": 1}}}, true},
		{"json capture", Step{Capture: map[string]Capture{"id": js, "h": hdr}}, true},
		{"regex capture", Step{Capture: map[string]Capture{"id": re}}, true},
	} {
		if got := tc.st.NeedsBody(); got != tc.want {
			t.Errorf("%s: NeedsBody() = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestEvalCut: a body rule failing on a cut body names max_body; a status or
// latency failure, or a rule that holds on the part kept, does not.
func TestEvalCut(t *testing.T) {
	body := []byte(`{"a":1,"b":`)
	for _, tc := range []struct {
		name     string
		check    Check
		status   int
		received int64
		ok       bool
		why      string
	}{
		{"found in the part kept", Check{BodyContains: `"a":1`}, 200, 1 << 30, true, ""},
		{"not in the part kept", Check{BodyContains: "zzz"}, 200, 5000, false, `body does not contain "zzz" (only the first 11B of the 5000-byte body were kept: max_body)`},
		{"whole body", Check{BodyContains: "zzz"}, 200, int64(len(body)), false, `body does not contain "zzz"`},
		{"json on a cut body", Check{JSON: map[string]any{"$.b": 2}}, 200, 4096, false, "body is not JSON (only the first 11B of the 4096-byte body were kept: max_body)"},
		{"status first", Check{Status: []int{200}, BodyContains: "zzz"}, 500, 5000, false, "status 500 not in [200]"},
	} {
		ok, why := tc.check.EvalCut(tc.status, body, tc.received, 0)
		if ok != tc.ok || why != tc.why {
			t.Errorf("%s: EvalCut = %v, %q; want %v, %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

// TestStatusCodeLabels: the common codes and every code a check names, once;
// the series bound per step follows them.
func TestStatusCodeLabels(t *testing.T) {
	p, err := Parse("codes.yaml", []byte(`
name: codes
target: http://127.0.0.1:1
scenarios:
  - steps:
      - {name: a, request: {path: /a}, check: {status: [200, 418]}}
      - {name: b, request: {path: /b}, check: {status: [418, 299]}}
load: {phases: [{name: a, duration: 1s, rate: 1}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := p.StatusCodeLabels()
	want := slices.Sorted(slices.Values(append(slices.Clone(CommonStatusCodes), 299, 418)))
	if !slices.Equal(got, want) {
		t.Errorf("StatusCodeLabels() = %v; want %v", got, want)
	}
	if got, want := p.SeriesPerStep(), len(want)+2+SeriesPerStepFixed; got != want {
		t.Errorf("SeriesPerStep() = %d; want %d", got, want)
	}
	if got, want := p.SeriesEstimate(), 2*p.SeriesPerStep(); got != want {
		t.Errorf("SeriesEstimate() = %d; want %d", got, want)
	}
}
