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
      - {name: own, request: {path: /a, max_body: 64KiB}, capture: {id: $.id}}
      - {name: zero, request: {path: /b, max_body: 0}, capture: {id: "header:X-Id"}}
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
		got, keep := []int64{}, []int{}
		for _, st := range p.Scenarios[0].Steps {
			got = append(got, st.Request.EffectiveMaxBody(p.Defaults))
			keep = append(keep, st.Rules.Keep())
		}
		if want := []int64{64 << 10, 0, int64(tc.inherit)}; !slices.Equal(got, want) {
			t.Errorf("defaults.max_body %s: effective max_body = %v; want %v", tc.defaults, got, want)
		}
		// Only a step whose rules read the body keeps any of it.
		if want := []int{64 << 10, 0, 0}; !slices.Equal(keep, want) {
			t.Errorf("defaults.max_body %s: kept = %v; want %v", tc.defaults, keep, want)
		}
	}
	p, err := Parse("mb.yaml", []byte(strings.Replace(src, "defaults: {max_body: %s}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Scenarios[0].Steps[2].Request.EffectiveMaxBody(p.Defaults); got != DefaultMaxBody {
		t.Errorf("no max_body anywhere: effective max_body = %d; want DefaultMaxBody %d", got, DefaultMaxBody)
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
