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
	m.StartRun("run-1", "quickstart", "load", time.Unix(1700000000, 0), nil)
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
	login.TTFB.Observe(0.009)
	login.Receive.Observe(0.001)
	login.Connect.Observe(0.0002)
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
		s.TTFB.Observe(0.01)
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
	// per step: 3 codes (none, 200, 503) + 2 outcomes + 1 service + len(ErrorReasons) reasons + the HTTP phases;
	// plus iterations{sa}
	perStep := 3 + 2 + 1 + len(httpclient.ErrorReasons) + len(HTTPPhases)
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
	r := m.StartRun("run-1", "quickstart", "load", time.Unix(1700000000, 0), nil)
	r.SetPhases([]string{"warm-up", "sustained"})
	check("StartRun", 1)
	r.SetPhase("warm-up")
	r.SetPhase("sustained")
	r.SetPhase("")
	m.EndRun(r)
	check("EndRun", 0)
	if got, ok := gaugeValue(t, reg, "loadgen_phase", "warm-up"); !ok || got != 0 {
		t.Errorf("loadgen_phase{phase=warm-up} = %v (exported %v) after the run ended; want 0, still exported", got, ok)
	}
	if n := testutil.CollectAndCount(m.RunInfo); n != 1 {
		t.Errorf("after EndRun: loadgen_run_info has %d series; want 1 (the run is still named during --linger)", n)
	}
	m.StartRun("run-2", "quickstart", "stress", time.Unix(1700000100, 0), nil)
	check("second StartRun", 1)
	if n := testutil.CollectAndCount(m.RunInfo); n != 1 {
		t.Errorf("after the second StartRun: loadgen_run_info has %d series; want 1 (the previous run's is replaced)", n)
	}
	if _, ok := gaugeValue(t, reg, "loadgen_phase", "warm-up"); ok {
		t.Error("loadgen_phase{phase=warm-up} of the previous run still exported after the next start")
	}
}

// gaugeValue gathers reg and returns the value of the series of name whose
// only label value (if any) is label.
func gaugeValue(t *testing.T, reg prometheus.Gatherer, name, label string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) == 0 && label == "" || len(l) == 1 && l[0].GetValue() == label {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestRunsUnderServe: with runs overlapping, loadgen_run_info names the runs
// in progress (or the last one when none is), is never anything but 1, and
// loadgen_run_active counts the runs in progress.
func TestRunsUnderServe(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	runs := map[string]*Metrics{}
	start := func(id, typ string) func() {
		return func() { runs[id] = m.StartRun(id, "p", typ, time.Now(), nil) }
	}
	end := func(id string) func() { return func() { m.EndRun(runs[id]) } }
	for _, tc := range []struct {
		step         func()
		name         string
		active, info int
	}{
		{start("a", "load"), "a starts", 1, 1},
		{start("b", "stress"), "b starts", 2, 2},
		{end("a"), "a ends while b runs", 1, 1},
		{end("b"), "b ends", 0, 1},
		{start("c", "load"), "c starts", 1, 1},
		{end("c"), "c ends", 0, 1},
	} {
		tc.step()
		bad, err := promtest.InfoNotOne(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: %s; want 1", tc.name, b)
		}
		if got := testutil.ToFloat64(m.RunActive); got != float64(tc.active) {
			t.Errorf("%s: loadgen_run_active = %v; want %d", tc.name, got, tc.active)
		}
		if got := testutil.CollectAndCount(m.RunInfo); got != tc.info {
			t.Errorf("%s: loadgen_run_info has %d series; want %d", tc.name, got, tc.info)
		}
	}
	if got := testutil.ToFloat64(m.RunInfo.WithLabelValues("c", "p", "load")); got != 1 {
		t.Errorf("the last run's loadgen_run_info = %v; want 1", got)
	}
}

// TestLiveGaugesPerRun: each run sets its own live gauges; the exported ones
// are their sums over the runs in progress (loadgen_phase counts the runs in
// each phase), so overlapping runs never overwrite each other, and a run
// that ends drops out of them.
func TestLiveGaugesPerRun(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	a := m.StartRun("a", "p", "load", time.Now(), nil)
	b := m.StartRun("b", "q", "load", time.Now(), nil)
	for _, r := range []struct {
		m                   *Metrics
		inFlight, vus, rate float64
		phases              []string
	}{{a, 3, 1, 100, []string{"warm-up", "steady"}}, {b, 4, 2, 50, []string{"steady"}}} {
		r.m.InFlight.Set(r.inFlight)
		r.m.VirtualUsers.Set(r.vus)
		r.m.TargetRate.Set(r.rate)
		r.m.SetPhases(r.phases)
		r.m.SetPhase("steady")
	}
	want := map[string]float64{"loadgen_in_flight_requests": 7, "loadgen_virtual_users": 3,
		"loadgen_target_rate_iterations_per_second": 150}
	for name, v := range want {
		if got, _ := gaugeValue(t, reg, name, ""); got != v {
			t.Errorf("%s = %v with two runs; want their sum %v", name, got, v)
		}
	}
	for phase, v := range map[string]float64{"steady": 2, "warm-up": 0} {
		if got, ok := gaugeValue(t, reg, "loadgen_phase", phase); !ok || got != v {
			t.Errorf("loadgen_phase{phase=%s} = %v (exported %v); want %v runs in it", phase, got, ok, v)
		}
	}
	m.EndRun(a)
	if got, _ := gaugeValue(t, reg, "loadgen_in_flight_requests", ""); got != 4 {
		t.Errorf("loadgen_in_flight_requests = %v after run a ended; want run b's 4", got)
	}
	if got, _ := gaugeValue(t, reg, "loadgen_phase", "steady"); got != 1 {
		t.Errorf("loadgen_phase{phase=steady} = %v after run a ended; want 1 (run b)", got)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
}

// TestStepSeriesKeepsSharedSteps: a step the starting run or a run in
// progress uses is never forgotten; only steps of finished runs alone are.
func TestStepSeriesKeepsSharedSteps(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	k := func(sc, st string) StepKey { return StepKey{Scenario: sc, Step: st} }
	exists := func(sc, st string) bool { return seriesOf(t, reg)["loadgen_requests_total{"+sc+"/"+st+"}"] }
	start := func(id string, keys ...StepKey) *Metrics {
		r := m.StartRun(id, "p", "load", time.Now(), keys)
		for _, k := range keys {
			r.Step(k.Scenario, k.Step, "GET")
		}
		return r
	}
	a := start("A", k("s", "a1"), k("s", "a2"))
	c := start("C", k("c", "c1")) // overlaps A
	if !exists("s", "a1") || !exists("s", "a2") {
		t.Fatal("run A's steps forgotten while A is active")
	}
	m.EndRun(a)
	m.EndRun(c)
	b := start("B", k("s", "a1"), k("b", "b1")) // shares a1 with A
	if !exists("s", "a1") {
		t.Error("step s/a1 forgotten although the starting run uses it")
	}
	if exists("s", "a2") || exists("c", "c1") {
		t.Error("steps of finished runs (s/a2, c/c1) kept after the next start")
	}
	m.EndRun(b)
	m.StartRun("D", "p", "load", time.Now(), nil)
	if exists("s", "a1") {
		t.Error("step s/a1 kept after its last run ended and another started")
	}
}
