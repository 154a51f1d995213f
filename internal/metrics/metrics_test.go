package metrics

import (
	"bytes"
	"flag"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

var update = flag.Bool("update", false, "rewrite testdata/exposition.golden")

// fill builds metrics on a pedantic registry and records a fixed set of values.
func fill(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.SetPhases([]string{"warm-up", "sustained"})
	m.SetPhase("sustained")
	m.StartRun("run-1", "quickstart", "load", time.Unix(1700000000, 0))
	login := m.Step("browse", "login", "POST")
	teams := m.Step("browse", "teams", "GET")
	for range 3 {
		login.Success.Observe(0.012)
		login.Service.Observe(0.010)
		login.Request(200).Inc()
	}
	teams.Failure.Observe(0.5)
	teams.Service.Observe(0.4)
	teams.Request(503).Inc()
	teams.Errors[httpclient.ReasonStatus].Inc()
	teams.Request(0).Inc()
	teams.Errors[httpclient.ReasonConnect].Inc()
	teams.Request(418).Inc()
	teams.Errors[httpclient.ReasonStatus].Inc()
	login.Iterations.Inc()
	m.TTFB.Observe(0.009)
	m.Connect.Observe(0.0002)
	m.ScheduleLag.Observe(0.0007)
	m.Dropped.Add(0)
	m.InFlight.Set(2)
	m.VirtualUsers.Set(5)
	m.TargetRate.Set(100)
	if m.Step("browse", "login", "POST") != login {
		t.Error("Step returned a new StepMetrics for the same key")
	}
	return reg
}

func exposition(t *testing.T, reg prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	// goversion changes with the toolchain: normalise it for the golden file.
	return regexp.MustCompile(`goversion="[^"]*"`).ReplaceAll(buf.Bytes(), []byte(`goversion="GO"`))
}

func TestLint(t *testing.T) {
	reg := fill(t)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestGolden(t *testing.T) {
	got := exposition(t, fill(t))
	testenv.Golden(t, filepath.Join("testdata", "exposition.golden"), got, *update)
}

func TestNativeHistogram(t *testing.T) {
	reg := fill(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, mf := range mfs {
		if mf.GetName() != "loadgen_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			if h.GetSchema() != 3 { // factor 1.1 -> schema 3
				t.Errorf("schema = %d; want 3", h.GetSchema())
			}
			if h.GetSampleCount() > 0 && len(h.GetPositiveSpan()) == 0 {
				t.Errorf("native histogram with %d samples has no spans", h.GetSampleCount())
			}
			found++
		}
	}
	if found != 4 { // login/teams x success/failure (pre-created)
		t.Errorf("request_duration_seconds children = %d; want 4", found)
	}
}

func TestRequestCodeCache(t *testing.T) {
	m := New(prometheus.NewRegistry())
	s := m.Step("a", "b", "GET", 299)
	for _, tc := range []struct {
		code int
		want string
	}{{200, "200"}, {404, "404"}, {299, "299"}, {0, "none"}, {42, "other"}, {700, "other"}, {418, "other"}, {101, "other"}} {
		s.Request(tc.code).Inc()
		if got := testutil.ToFloat64(m.Requests.WithLabelValues("a", "b", "GET", tc.want)); got < 1 {
			t.Errorf("Request(%d) counted %v under code=%q; want >= 1", tc.code, got, tc.want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { s.Request(200).Inc(); s.Request(418).Inc() }); allocs != 0 {
		t.Errorf("Request(200).Inc() allocates %v times; want 0", allocs)
	}
	if s2 := m.Step("a", "b", "GET", 418); s2 != s {
		t.Fatal("Step returned a new StepMetrics for the same key")
	}
	s.Request(418).Inc()
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("a", "b", "GET", "418")); got != 1 {
		t.Errorf("after Step added 418: code=\"418\" = %v; want 1", got)
	}
}

// TestCodeSeriesBounded: a step answered with every code from 100 to 599
// (and a few impossible ones) has at most one requests_total series per
// labelled code (the common ones and its own), plus other and none.
func TestCodeSeriesBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	s := m.Step("a", "b", "GET", 200, 299, 418) // 200 is common already
	labelled := len(plan.CommonStatusCodes) + 2
	for code := 0; code <= 1000; code++ {
		s.Request(code).Inc()
	}
	if got, want := testutil.CollectAndCount(m.Requests), labelled+2; got != want {
		t.Errorf("requests_total series = %d after codes 0-1000; want %d (labelled codes + other + none)", got, want)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("a", "b", "GET", CodeOther)); got != float64(1000-labelled) {
		t.Errorf("code=other = %v; want %d", got, 1000-labelled)
	}
}

// TestPromtoolCheckMetrics lints the golden exposition with the pinned promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition(t, fill(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func BenchmarkRecord(b *testing.B) {
	m := New(prometheus.NewRegistry())
	s := m.Step("a", "b", "GET")
	b.ReportAllocs()
	for b.Loop() {
		s.Success.Observe(0.0123)
		s.Service.Observe(0.011)
		s.Request(200).Inc()
		m.TTFB.Observe(0.01)
	}
}

// seriesOf returns the label sets (scenario/step/...) of every loadgen_* series in reg that has a scenario label.
func seriesOf(t *testing.T, reg prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var sc, st string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "scenario":
					sc = l.GetValue()
				case "step":
					st = l.GetValue()
				}
			}
			if sc != "" {
				out[mf.GetName()+"{"+sc+"/"+st+"}"] = true
			}
		}
	}
	return out
}

func TestForgetSteps(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	a1 := m.Step("sa", "a1", "GET")
	a2 := m.Step("sa", "a2", "POST")
	b1 := m.Step("sb", "b1", "GET")
	shared := m.Step("sb", "b2", "GET")
	for _, s := range []*StepMetrics{a1, a2, b1, shared} {
		s.Request(200).Inc()
		s.Request(503).Inc()
		s.Success.Observe(0.01)
		s.Errors[httpclient.ReasonStatus].Inc()
		s.Iterations.Inc()
	}
	// forget all of scenario sa and one step of sb
	n := m.ForgetSteps([]StepKey{{"sa", "a1"}, {"sa", "a2"}, {"sb", "b1"}})
	got := seriesOf(t, reg)
	for k := range got {
		if strings.Contains(k, "{sa/") || strings.Contains(k, "/b1}") {
			t.Errorf("series %s still exported after ForgetSteps", k)
		}
	}
	for _, want := range []string{"loadgen_requests_total{sb/b2}", "loadgen_request_errors_total{sb/b2}",
		"loadgen_request_duration_seconds{sb/b2}", "loadgen_service_time_seconds{sb/b2}", "loadgen_iterations_total{sb/}"} {
		if !got[want] {
			t.Errorf("series %s gone; want it kept (step b2 was not forgotten)", want)
		}
	}
	// per step: 3 codes (none, 200, 503) + 2 outcomes + 1 service + len(ErrorReasons) reasons; plus iterations{sa}
	perStep := 3 + 2 + 1 + len(httpclient.ErrorReasons)
	if want := 3*perStep + 1; n != want {
		t.Errorf("ForgetSteps deleted %d series; want %d", n, want)
	}
	// a forgotten step is created afresh by Step, from zero
	again := m.Step("sa", "a1", "GET")
	if again == a1 {
		t.Fatal("Step returned the forgotten StepMetrics; want a new one")
	}
	again.Request(200).Inc()
	if v := testutil.ToFloat64(m.Requests.WithLabelValues("sa", "a1", "GET", "200")); v != 1 {
		t.Errorf("requests_total{sa/a1} after re-creation = %v; want 1 (a new series)", v)
	}
	if m.ForgetSteps(nil) != 0 {
		t.Error("ForgetSteps(nil) deleted series")
	}
}

// TestInfoAlwaysOne walks a run's lifecycle (phases, start, end, the next
// run) and fails if any _info metric takes a value other than 1 at any step:
// activity is loadgen_run_active's and loadgen_phase's job.
func TestInfoAlwaysOne(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	check := func(step string, wantActive float64) {
		t.Helper()
		bad, err := promtest.InfoNotOne(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("after %s: %s; want 1", step, b)
		}
		if got := testutil.ToFloat64(m.RunActive); got != wantActive {
			t.Errorf("after %s: loadgen_run_active = %v; want %v", step, got, wantActive)
		}
	}
	check("New", 0)
	m.SetPhases([]string{"warm-up", "sustained"})
	m.StartRun("run-1", "quickstart", "load", time.Unix(1700000000, 0))
	check("StartRun", 1)
	m.SetPhase("warm-up")
	m.SetPhase("sustained")
	m.SetPhase("")
	m.EndRun()
	check("EndRun", 0)
	if n := testutil.CollectAndCount(m.RunInfo); n != 1 {
		t.Errorf("after EndRun: loadgen_run_info has %d series; want 1 (the run is still named during --linger)", n)
	}
	m.StartRun("run-2", "quickstart", "stress", time.Unix(1700000100, 0))
	check("second StartRun", 1)
	if n := testutil.CollectAndCount(m.RunInfo); n != 1 {
		t.Errorf("after the second StartRun: loadgen_run_info has %d series; want 1 (the previous run's is replaced)", n)
	}
	if got := testutil.ToFloat64(m.Phase.WithLabelValues("warm-up")); got != 0 {
		t.Errorf("loadgen_phase{phase=warm-up} = %v after the phases ended; want 0", got)
	}
}
