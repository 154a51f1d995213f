package plan

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.golden")

// TestInvalidGolden checks that each invalid plan yields exactly the errors in
// its .golden file (run with -update to rewrite them).
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid plans: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := LoadFile(f)
			if err == nil {
				t.Fatalf("LoadFile(%s) = %+v, nil; want errors", f, p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %T", err)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err is %T, want Errors", err)
			}
			for i := 1; i < len(es); i++ {
				if es[i].Line != 0 && es[i].Line < es[i-1].Line {
					t.Errorf("errors not sorted by line: %q before %q", es[i-1], es[i])
				}
			}
			got := err.Error() + "\n"
			testenv.Golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(got), *update)
		})
	}
}

func TestValidPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	shipped, _ := filepath.Glob("../../testplans/*.yaml")
	if len(shipped) < 7 {
		t.Errorf("found %d shipped plans in testplans/, want at least 7", len(shipped))
	}
	for _, f := range append(files, shipped...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile(%s):\n%v", f, err)
			}
			for _, sc := range p.Scenarios {
				for _, st := range sc.Steps {
					if st.Request.Compiled == nil || st.Request.Compiled.URL == nil {
						t.Errorf("%s/%s: request not compiled", sc.Name, st.Name)
					}
				}
			}
			if p.Benchmark != nil {
				for _, st := range p.Benchmark.Endpoints {
					if st.Request.Compiled == nil {
						t.Errorf("benchmark endpoint %s not compiled", st.Name)
					}
				}
			}
		})
	}
}

func TestShippedPlanShapes(t *testing.T) {
	load := func(name string) *Plan {
		t.Helper()
		p, err := LoadFile(filepath.Join("../../testplans", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	q := load("quickstart.yaml")
	if d := q.Load.TotalDuration(); d > 30*time.Second {
		t.Errorf("quickstart lasts %v; want <= 30s", d)
	}
	for _, ph := range q.Load.Phases {
		for _, r := range []*float64{ph.Rate, ph.To} {
			if r != nil && *r > 500 {
				t.Errorf("quickstart phase %s reaches %g/s; want a few hundred at most", ph.Name, *r)
			}
		}
	}
	f := load("five-phases.yaml")
	want := []struct {
		name string
		d    time.Duration
	}{{"warm-up", 10 * time.Second}, {"ramp-up", 60 * time.Second}, {"sustained", 120 * time.Second}, {"spike", 30 * time.Second}, {"recovery", 60 * time.Second}}
	if len(f.Load.Phases) != len(want) {
		t.Fatalf("five-phases has %d phases; want 5", len(f.Load.Phases))
	}
	for i, w := range want {
		if got := f.Load.Phases[i]; got.Name != w.name || got.Duration.Duration != w.d {
			t.Errorf("five-phases phase %d = %s %v; want %s %v", i, got.Name, got.Duration.Duration, w.name, w.d)
		}
	}
	u := load("user-journey.yaml")
	if ds := u.Data["users"]; len(ds.Rows) != 50 || ds.Rows[0][0] != "user1@example.com" || ds.Rows[49][1] != "secret" {
		t.Errorf("user-journey users.csv: %d rows, first %v", len(ds.Rows), ds.Rows[:1])
	}
	if b := load("benchmark.yaml"); b.Type != TypeBenchmark || len(b.Benchmark.Endpoints) != 6 {
		t.Errorf("benchmark.yaml: type %s, %d endpoints; want benchmark, 6", b.Type, len(b.Benchmark.Endpoints))
	}
	if s := load("stress.yaml"); s.Type != TypeStress || s.Stress == nil {
		t.Errorf("stress.yaml: type %s", s.Type)
	}
	if k := load("knee.yaml"); k.Type != TypeKnee || k.Knee == nil || k.Knee.MetricsURL == "" {
		t.Errorf("knee.yaml: type %s", k.Type)
	}
}

func TestParseDefaultsAndCompiled(t *testing.T) {
	p, err := LoadFile("testdata/valid/closed-inline-data.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypeLoad || p.Load.Model != ModelClosed || p.Defaults.Timeout.Duration != DefaultTimeout {
		t.Errorf("defaults: type %q model %q timeout %v", p.Type, p.Load.Model, p.Defaults.Timeout)
	}
	sc := p.Scenarios[0]
	if sc.Weight != 1 || sc.Think.Min.Duration != 250*time.Millisecond || sc.Think.Max.Duration != 250*time.Millisecond {
		t.Errorf("scenario weight %d think %v-%v; want 1, 250ms-250ms", sc.Weight, sc.Think.Min, sc.Think.Max)
	}
	login, me := sc.Steps[0].Request.Compiled, sc.Steps[1].Request.Compiled
	if login.Method != "POST" || login.ContentType != "application/json" || login.Timeout != DefaultTimeout {
		t.Errorf("login compiled: %s %q %v", login.Method, login.ContentType, login.Timeout)
	}
	if me.Timeout != 2*time.Second {
		t.Errorf("me timeout = %v; want 2s", me.Timeout)
	}
	s := p.NewScope(7, 1)
	s.Set("users.email", "a@example.com")
	s.Set("users.name", `Ann "A" & co`)
	s.Set("token", "tok")
	if got, want := login.URL.Render(s), "https://example.test:8443/base/login"; got != want {
		t.Errorf("login URL = %q; want %q", got, want)
	}
	if got, want := login.Body.Render(s), `{"email":"a@example.com","n":3,"password":"secret","tags":["x","Ann \"A\" & co"]}`; got != want {
		t.Errorf("login body = %s; want %s", got, want)
	}
	if got, want := me.URL.Render(s), "https://example.test:8443/base/me?x=1&q=Ann+%22A%22+%26+co"; got != want {
		t.Errorf("me URL = %q; want %q", got, want)
	}
	var hdr []string
	for _, h := range me.Headers {
		hdr = append(hdr, h.Name+"="+h.Value.Render(s))
	}
	if got, want := strings.Join(hdr, " "), "Accept=application/json Authorization=Bearer tok X-Run=7"; got != want {
		t.Errorf("me headers = %q; want %q", got, want)
	}
	if got := strings.Join(me.Refs, ","); got != "token,users.name" {
		t.Errorf("me refs = %q", got)
	}
	if v, _ := s.Lookup("greeting"); v != "$${literal}" {
		t.Errorf("greeting = %q; variables are literal", v)
	}
	if th := p.Thresholds[1]; th.Step != "journey/login" || th.Metric != MetricMax || th.Window.Duration != 30*time.Second || !th.AbortOnFail {
		t.Errorf("threshold[1] = %+v", th)
	}
	if err := p.SetTarget("http://10.0.0.1:9000"); err != nil {
		t.Fatal(err)
	}
	if got, want := login.URL.Render(s), "http://10.0.0.1:9000/login"; got != want {
		t.Errorf("after SetTarget: URL = %q; want %q", got, want)
	}
	if err := p.SetTarget("ftp://x"); err == nil {
		t.Error("SetTarget(ftp://x) = nil; want error")
	}
}

func TestParseOptions(t *testing.T) {
	src := []byte("scenarios:\n  - steps:\n      - request: {path: /x}\nload:\n  phases:\n    - {name: p, duration: 1s, rate: 1}\n")
	if _, err := Parse("mem.yaml", src); err == nil || !strings.Contains(err.Error(), "mem.yaml:1:1: target: required") {
		t.Errorf("Parse without target: %v", err)
	}
	p, err := Parse("mem.yaml", src, WithTarget("http://127.0.0.1:1"), WithType(TypeStress))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mem" || p.Target != "http://127.0.0.1:1" || p.Stress == nil || p.Stress.ErrorThreshold != DefaultErrorThreshold ||
		p.Stress.ProbeDuration.Duration != DefaultProbeDuration || p.Stress.StartRate != DefaultStartRate {
		t.Errorf("Parse with options: %+v stress %+v", p, p.Stress)
	}
	p, err = Parse("mem.yaml", src, WithTarget("http://127.0.0.1:1"), WithType(TypeKnee))
	if err != nil {
		t.Fatal(err)
	}
	if k := p.Knee; k.Model != ModelClosed || len(k.Steps) != DefaultKneeMaxSteps || k.Steps[7] != 128 {
		t.Errorf("knee defaults: %+v", k)
	}
	p, err = Parse("mem.yaml", src, WithTarget("http://127.0.0.1:1"), WithType(TypeBenchmark))
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Benchmark; len(b.Endpoints) != 1 || b.Requests != DefaultBenchRequests || b.Warmup.Requests != DefaultBenchWarmup || b.Concurrency[0] != 1 {
		t.Errorf("benchmark defaults: %+v", b)
	}
	// Validate is idempotent (benchmark endpoints copied once).
	if errs := Validate(p); errs != nil || len(p.Benchmark.Endpoints) != 1 {
		t.Errorf("second Validate: %v, %d endpoints", errs, len(p.Benchmark.Endpoints))
	}
	csv := []byte("target: http://x\ndata: {u: {csv: u.csv}}\nscenarios:\n  - steps:\n      - request: {path: /x}\nload:\n  phases:\n    - {name: p, duration: 1s, rate: 1}\n")
	if _, err := Parse("mem.yaml", csv, WithFS(nil)); err == nil || !strings.Contains(err.Error(), "data.u.csv: csv files are not available here") {
		t.Errorf("Parse with WithFS(nil): %v", err)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/nope.yaml")
	if err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v; want a wrapped not-exist error", err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "testplans/x.yaml", Path: "load.phases[1].rate", Line: 14, Col: 9, Msg: "must be > 0"}, "testplans/x.yaml:14:9: load.phases[1].rate: must be > 0"},
		{FieldError{Path: "target", Msg: "required"}, "target: required"},
		{FieldError{File: "f", Line: 1, Col: 1, Msg: "empty plan"}, "f:1:1: empty plan"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("FieldError.Error() = %q; want %q", got, tt.want)
		}
	}
}
