package report

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

var t0 = time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)

// fill records n latencies spread evenly over [lo, hi].
func fill(h *hist.Histogram, n int, lo, hi time.Duration) {
	for i := 0; i < n; i++ {
		h.Record(lo + time.Duration(int64(hi-lo)*int64(i)/int64(max(n-1, 1))))
	}
}

// fakeResults is a fixed two-step, two-phase run: login 1000 requests
// 10-50 ms with 10 check errors, teams 3000 requests 1-9 ms with 30 status
// errors, over 20 s (warm-up 5 s, sustained 15 s).
func fakeResults() *executor.Results {
	login := executor.NewCell("browse", "login", "POST")
	login.Requests, login.Errors = 1000, 10
	login.ErrorsByReason[executor.ReasonCheck] = 10
	login.Status = map[int]uint64{200: 1000}
	fill(login.Latency, 1000, 10*time.Millisecond, 50*time.Millisecond)
	fill(login.Service, 1000, 9*time.Millisecond, 45*time.Millisecond)
	fill(login.Connect, 50, 100*time.Microsecond, 300*time.Microsecond)
	fill(login.TTFB, 1000, 8*time.Millisecond, 44*time.Millisecond)
	fill(login.FailedLatency, 10, 100*time.Millisecond, 200*time.Millisecond)
	login.Canceled = 4
	login.Checks = []executor.CheckCount{{Name: "status in [200]", Checked: 1000}, {Name: `body_contains "token"`, Checked: 1000, Failed: 10}}

	teams := executor.NewCell("browse", "teams", "GET")
	teams.Requests, teams.Errors = 3000, 30
	teams.ErrorsByReason[executor.ReasonStatus] = 30
	teams.Status = map[int]uint64{200: 2970, 500: 30}
	fill(teams.Latency, 3000, 1*time.Millisecond, 9*time.Millisecond)
	fill(teams.Service, 3000, 900*time.Microsecond, 8*time.Millisecond)
	fill(teams.TTFB, 3000, 800*time.Microsecond, 7*time.Millisecond)
	fill(teams.FailedLatency, 30, 2*time.Millisecond, 3*time.Millisecond)

	total := executor.NewCell("", "", "")
	total.Merge(login)
	total.Merge(teams)

	warm := &executor.PhaseResult{Name: "warm-up", Index: 0, Planned: 5 * time.Second,
		Start: t0, End: t0.Add(5 * time.Second), Rate: 50, To: 50, Cell: *executor.NewCell("", "", "")}
	warm.Requests, warm.Errors = 500, 2
	fill(warm.Latency, 500, 2*time.Millisecond, 40*time.Millisecond)
	sus := &executor.PhaseResult{Name: "sustained", Index: 1, Planned: 15 * time.Second,
		Start: t0.Add(5 * time.Second), End: t0.Add(20 * time.Second), Rate: 250, To: 250, Cell: *executor.NewCell("", "", "")}
	sus.Requests, sus.Errors = 3500, 38
	fill(sus.Latency, 3500, 1*time.Millisecond, 50*time.Millisecond)
	never := &executor.PhaseResult{Name: "never", Index: 2, Planned: 5 * time.Second, Cell: *executor.NewCell("", "", "")}

	lag := hist.New()
	fill(lag, 2000, 10*time.Microsecond, 1200*time.Microsecond)
	return &executor.Results{
		Plan: "fake", Model: "open", Started: t0, Ended: t0.Add(20 * time.Second),
		Steps: []*executor.Cell{login, teams}, Phases: []*executor.PhaseResult{warm, sus, never},
		Total: total, ScheduleLag: lag, Iterations: 2000,
		ErrorSamples: []executor.ErrorSample{
			{At: 1234567 * time.Microsecond, Phase: "warm-up", Scenario: "browse", Step: "teams", Reason: executor.ReasonStatus,
				Status: 500, Message: "status 500", Count: 30},
			{At: 7 * time.Second, Phase: "sustained", Scenario: "browse", Step: "login", Reason: executor.ReasonCheck,
				Check: `body_contains "token"`, Status: 200, Message: "check body contains token failed", Count: 10},
		},
	}
}

func th(expr, metric, step, op string, value float64, window time.Duration, abort bool) plan.Threshold {
	return plan.Threshold{Expr: expr, Metric: metric, Step: step, Op: op, Value: value,
		Window: plan.D(window), AbortOnFail: abort}
}

func fakeSummary(t *testing.T) *Summary {
	t.Helper()
	res := fakeResults()
	s := FromResults(res)
	s.RunID = "r-0001"
	s.Target = "http://127.0.0.1:8117"
	s.Thresholds = Evaluate([]plan.Threshold{
		th("p99 < 300ms", plan.MetricP99, "", "<", 0.3, 0, false),
		th("error_rate < 2%", plan.MetricErrorRate, "", "<", 0.02, 0, false),
		th("step[login].p95 < 60ms", plan.MetricP95, "login", "<", 0.060, 0, false),
	}, res)
	s.Health.CPUMaxPct, s.Health.CPUMeasured = 37.5, true
	s.Health.JudgeHealth()
	s.Store = &StoreInfo{URL: "sqlite://data/loadgen.db"}
	return s
}

func TestGolden(t *testing.T) {
	cases := map[string]func(*Summary){
		"passed": func(s *Summary) {},
		"thresholds_failed": func(s *Summary) {
			s.Thresholds[2].OK = false
		},
		"failed_target_down": func(s *Summary) {
			s.Status = store.StatusFailed
			s.Error = "all 4000 requests failed: connect refused to 127.0.0.1:8117"
			s.Store.Spooled, s.Store.Message = true, "store unreachable; spooled to data/spool"
		},
		"aborted_unreliable": func(s *Summary) {
			s.Status = store.StatusAborted
			s.Thresholds = append(s.Thresholds, Threshold{Expr: "p99 < 20ms", Value: 48.2, Unit: "ms", Window: "10s", Aborted: true})
			s.Error = "threshold \"p99 < 20ms\" failed over the last 10s at 12s (48.2 ms): run aborted (abort_on_fail)"
			s.Health.LagP99MS, s.Health.CPUMaxPct = 35.1, 97
			s.Health.JudgeHealth()
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s := fakeSummary(t)
			mod(s)
			var text, js bytes.Buffer
			if err := s.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSON(&js, s); err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", name+".txt.golden"), text.Bytes(), *update)
			testenv.Golden(t, filepath.Join("testdata", name+".json.golden"), js.Bytes(), *update)
			back, err := ReadJSON(&js)
			if err != nil {
				t.Fatal(err)
			}
			if back.RunID != s.RunID || back.Requests != s.Requests || back.LatencyMS != s.LatencyMS || len(back.Steps) != len(s.Steps) {
				t.Errorf("JSON round trip lost data: got %+v", back)
			}
		})
	}
}

func TestFromResults(t *testing.T) {
	s := FromResults(fakeResults())
	checks := []struct {
		name      string
		got, want float64
		tol       float64 // relative
	}{
		{"requests", float64(s.Requests), 4000, 0},
		{"errors", float64(s.Errors), 40, 0},
		{"error_rate", s.ErrorRate, 0.01, 1e-9},
		{"rps", s.RPS, 200, 1e-9},
		{"duration_s", s.DurationS, 20, 0},
		{"login p50 ms", s.Steps[0].LatencyMS.P50, 30, 0.006},
		{"login p99 ms", s.Steps[0].LatencyMS.P99, 49.6, 0.006},
		{"login max ms", s.Steps[0].LatencyMS.Max, 50, 0},
		{"login rps", s.Steps[0].RPS, 50, 1e-9},
		{"teams p90 ms", s.Steps[1].LatencyMS.P90, 8.2, 0.006},
		{"login connect count", float64(s.Steps[0].TimingMS.Connect.Count), 50, 0},
		{"phase count", float64(len(s.Phases)), 2, 0},
		{"warm-up rps", s.Phases[0].RPS, 100, 1e-9},
		{"sustained duration", s.Phases[1].DurationS, 15, 0},
		{"lag p99 ms", s.Health.LagP99MS, 1.188, 0.006},
	}
	for _, c := range checks {
		if d := c.got - c.want; d > c.tol*c.want || -d > c.tol*c.want {
			t.Errorf("%s = %v; want %v (±%.1f%%)", c.name, c.got, c.want, 100*c.tol)
		}
	}
	if s.ErrorsByReason["check"] != 10 || s.ErrorsByReason["status"] != 30 {
		t.Errorf("errors_by_reason = %v; want check 10, status 30", s.ErrorsByReason)
	}
	if len(s.ErrorSamples) != 2 || s.ErrorSamples[0] != (ErrorSample{AtS: 1.235, Phase: "warm-up", Scenario: "browse",
		Step: "teams", Reason: "status", Status: 500, Message: "status 500", Count: 30}) {
		t.Errorf("error_samples = %+v; want the run's two samples, in order", s.ErrorSamples)
	}
	if s.Status != store.StatusCompleted || !s.Health.Reliable {
		t.Errorf("status %q reliable %v; want completed, reliable", s.Status, s.Health.Reliable)
	}
	res := fakeResults()
	res.Canceled = true
	if got := FromResults(res).Status; got != store.StatusInterrupted {
		t.Errorf("cancelled run status = %q; want interrupted", got)
	}
}

func TestEvaluate(t *testing.T) {
	res := fakeResults()
	cases := []struct {
		th     plan.Threshold
		ok     bool
		value  float64 // reported unit
		unit   string
		note   string
		relTol float64
	}{
		{th("p99 < 300ms", plan.MetricP99, "", "<", 0.3, 0, false), true, 48.4, "ms", "", 0.006},
		{th("p50 < 5ms", plan.MetricP50, "", "<", 0.005, 0, false), false, 6.33, "ms", "", 0.006},
		{th("error_rate < 1%", plan.MetricErrorRate, "", "<", 0.01, 0, false), false, 0.01, "ratio", "", 1e-9},
		{th("error_rate <= 1%", plan.MetricErrorRate, "", "<=", 0.01, 0, false), true, 0.01, "ratio", "", 1e-9},
		{th("rps > 150", plan.MetricRPS, "", ">", 150, 0, false), true, 200, "req/s", "", 1e-9},
		{th("rps >= 250", plan.MetricRPS, "", ">=", 250, 0, false), false, 200, "req/s", "", 1e-9},
		{th("step[login].max <= 50ms", plan.MetricMax, "login", "<=", 0.05, 0, false), true, 50, "ms", "", 0},
		{th("step[browse/teams].mean < 4ms", plan.MetricMean, "browse/teams", "<", 0.004, 0, false), false, 5, "ms", "", 0.01},
		{th("step[login].error_rate < 2%", plan.MetricErrorRate, "login", "<", 0.02, 0, false), true, 0.01, "ratio", "", 1e-9},
		{th("step[nope].p99 < 1s", plan.MetricP99, "nope", "<", 1, 0, false), false, 0, "ms", "no requests measured", 0},
		{th("step[other/login].p99 < 1s", plan.MetricP99, "other/login", "<", 1, 0, false), false, 0, "ms", "no requests measured", 0},
	}
	for _, c := range cases {
		t.Run(c.th.Expr, func(t *testing.T) {
			got := Evaluate([]plan.Threshold{c.th}, res)[0]
			if got.OK != c.ok || got.Unit != c.unit || got.Note != c.note {
				t.Errorf("Evaluate(%q) = ok %v unit %q note %q; want ok %v unit %q note %q", c.th.Expr, got.OK, got.Unit, got.Note, c.ok, c.unit, c.note)
			}
			if d := got.Value - c.value; d > c.relTol*c.value+1e-12 || -d > c.relTol*c.value+1e-12 {
				t.Errorf("Evaluate(%q).Value = %v; want %v", c.th.Expr, got.Value, c.value)
			}
		})
	}
}

// fakeWindows serves fixed window stats.
type fakeWindows struct {
	total executor.WindowStats
	steps []executor.WindowStats
}

func (f *fakeWindows) Window(time.Duration) executor.WindowStats        { return f.total }
func (f *fakeWindows) StepWindows(time.Duration) []executor.WindowStats { return f.steps }

func windowOf(n int, lo, hi time.Duration, errs uint64) executor.WindowStats {
	h := hist.New()
	fill(h, n, lo, hi)
	return executor.WindowStats{Span: 10 * time.Second, Requests: uint64(n), Errors: errs, Latency: h}
}

func TestRolling(t *testing.T) {
	ths := []plan.Threshold{
		th("p99 < 300ms", plan.MetricP99, "", "<", 0.3, 0, false),
		th("p99 < 100ms over 10s", plan.MetricP99, "", "<", 0.1, 10*time.Second, true),
		th("error_rate < 5% over 10s", plan.MetricErrorRate, "", "<", 0.05, 10*time.Second, false),
		th("step[login].p50 < 1s over 30s", plan.MetricP50, "login", "<", 1, 30*time.Second, true),
	}
	r := NewRolling(ths)
	if r.Len() != 3 {
		t.Fatalf("Len = %d; want 3", r.Len())
	}
	src := &fakeWindows{total: windowOf(100, time.Millisecond, 50*time.Millisecond, 0)}
	src.steps = []executor.WindowStats{windowOf(100, time.Millisecond, 50*time.Millisecond, 0)}
	src.steps[0].Scenario, src.steps[0].Step = "browse", "login"

	// Before the window has elapsed nothing is judged, even a bad window.
	bad := windowOf(100, 200*time.Millisecond, 400*time.Millisecond, 10)
	src.total = bad
	if a := r.Check(src, 5*time.Second); a != nil {
		t.Fatalf("Check before the window elapsed aborted: %+v", a)
	}
	// A good window, then an empty one (skipped), then a bad one.
	src.total = windowOf(100, time.Millisecond, 50*time.Millisecond, 0)
	if a := r.Check(src, 10*time.Second); a != nil {
		t.Fatalf("Check on a good window aborted: %+v", a)
	}
	src.total = executor.WindowStats{Span: 10 * time.Second, Latency: hist.New()}
	if a := r.Check(src, 11*time.Second); a != nil {
		t.Fatalf("Check on an empty window aborted: %+v", a)
	}
	src.total = bad
	a := r.Check(src, 12*time.Second)
	if a == nil || a.Expr != "p99 < 100ms over 10s" || a.Elapsed != 12*time.Second {
		t.Fatalf("Check on a bad window = %+v; want an abort of the p99 threshold at 12s", a)
	}
	if !strings.Contains(a.Message(), "p99 < 100ms over 10s") || !strings.Contains(a.Message(), "abort_on_fail") {
		t.Errorf("Abort.Message() = %q", a.Message())
	}

	final := r.Final(ths, fakeResults())
	want := []struct {
		ok, aborted bool
		window      string
		note        string
	}{
		{true, false, "", ""},
		{false, true, "10s", ""},
		{false, false, "10s", "first failed at 12s"},
		{true, false, "30s", "run shorter than the window: judged over the whole run"},
	}
	if len(final) != len(want) {
		t.Fatalf("Final returned %d thresholds; want %d", len(final), len(want))
	}
	for i, w := range want {
		g := final[i]
		if g.OK != w.ok || g.Aborted != w.aborted || g.Window != w.window || g.Note != w.note {
			t.Errorf("Final[%d] (%s) = ok %v aborted %v window %q note %q; want ok %v aborted %v window %q note %q",
				i, g.Expr, g.OK, g.Aborted, g.Window, g.Note, w.ok, w.aborted, w.window, w.note)
		}
	}
	if final[2].Value != 0.1 || final[2].Unit != "ratio" {
		t.Errorf("error_rate worst value = %v %s; want 0.1 ratio", final[2].Value, final[2].Unit)
	}
}

func TestHealth(t *testing.T) {
	cases := []struct {
		name     string
		h        Health
		reliable bool
		reasons  int
	}{
		{"fine", Health{LagP99MS: 1.2, CPUMaxPct: 40, CPUMeasured: true}, true, 0},
		{"lag", Health{LagP99MS: 10.5, CPUMaxPct: 40, CPUMeasured: true}, false, 1},
		{"cpu", Health{LagP99MS: 1, CPUMaxPct: 95, CPUMeasured: true}, false, 1},
		{"both", Health{LagP99MS: 50, CPUMaxPct: 99, CPUMeasured: true}, false, 2},
		{"cpu not measured", Health{LagP99MS: 1, CPUMaxPct: 0}, true, 0},
	}
	for _, c := range cases {
		c.h.JudgeHealth()
		if c.h.Reliable != c.reliable || len(c.h.Reasons) != c.reasons {
			t.Errorf("%s: reliable %v reasons %q; want %v with %d reasons", c.name, c.h.Reliable, c.h.Reasons, c.reliable, c.reasons)
		}
	}
}
