package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/loadlab/loadlab/internal/junit"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/browsertest"
)

func startTarget(t *testing.T) string {
	t.Helper()
	srv, err := target.New(target.FixedServiceConfig(16, 64, 2*time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

const tinyPlan = `name: tiny
target: http://127.0.0.1:1   # replaced by --target
scenarios:
  - name: browse
    steps:
      - name: teams
        request: {method: GET, path: /api/teams}
        check: {status: [200]}
load:
  model: open
  phases:
    - {name: steady, duration: 2s, rate: 50}
thresholds: [%s]
`

func writePlan(t *testing.T, thresholds string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(tinyPlan, thresholds)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunCLI runs `loadgen run` in-process against an in-process target and
// checks exit codes, the --out-json file and the summary.
func TestRunCLI(t *testing.T) {
	url := startTarget(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nload:\n  phases:\n    - {name: x, duration: 2s, rate: -5}\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unsetEnv := filepath.Join(t.TempDir(), "env.yaml")
	if err := os.WriteFile(unsetEnv, []byte("name: env\ntarget: http://127.0.0.1:1\nvariables: {jwt: \"${env.LOADLAB_TEST_NEVER_SET}\"}\n"+
		"scenarios: [{steps: [{request: {path: /}}]}]\nload: {phases: [{name: p, duration: 1s, rate: 1}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  string
		stderrHas  *regexp.Regexp
		wantStatus store.Status
	}{
		{"passed", []string{"--target", url, writePlan(t, `"p99 < 2s", "error_rate < 1%"`)}, exitOK, "PASSED: completed, all 2 thresholds held", nil, store.StatusCompleted},
		{"flags after the plan", []string{writePlan(t, ""), "--target", url}, exitOK, "PASSED", nil, store.StatusCompleted},
		{"thresholds failed", []string{"--target", url, writePlan(t, `"p50 < 1us"`)}, exitThreshold, "THRESHOLDS FAILED: 1 of 1 thresholds failed", nil, store.StatusCompleted},
		{"target down", []string{"--target", "http://127.0.0.1:1", writePlan(t, "")}, exitError, "FAILED: all ", nil, store.StatusFailed},
		{"bad plan", []string{bad}, exitUsage, "", regexp.MustCompile(`bad\.yaml:\d+:\d+: `), ""},
		{"unset environment variable", []string{unsetEnv}, exitUsage, "", regexp.MustCompile(`env\.yaml:3:18: variables\.jwt: \$\{env\.LOADLAB_TEST_NEVER_SET\}: environment variable LOADLAB_TEST_NEVER_SET is not set`), ""},
		{"missing plan file", []string{filepath.Join(t.TempDir(), "nope.yaml")}, exitUsage, "", regexp.MustCompile(`nope\.yaml`), ""},
		{"no plan", []string{}, exitUsage, "", regexp.MustCompile(`want exactly one plan file`), ""},
		{"unknown flag", []string{"--nope", "x.yaml"}, exitUsage, "", regexp.MustCompile(`flag provided but not defined`), ""},
		{"bad duration scale", []string{"--duration-scale", "0", "x.yaml"}, exitUsage, "", regexp.MustCompile(`duration-scale`), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "summary.json")
			args := append([]string{"run", "--metrics-addr", "off", "--store", "off", "--quiet", "--out-json", out}, c.args...)
			var stdout, stderr testenv.SyncBuffer
			code := run(args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("loadgen %s = exit %d; want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, c.code, stdout.String(), stderr.String())
			}
			if c.stdoutHas != "" && !strings.Contains(stdout.String(), c.stdoutHas) {
				t.Errorf("stdout lacks %q:\n%s", c.stdoutHas, stdout.String())
			}
			if c.stderrHas != nil && !c.stderrHas.MatchString(stderr.String()) {
				t.Errorf("stderr does not match %s:\n%s", c.stderrHas, stderr.String())
			}
			if c.wantStatus == "" {
				if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("--out-json written for a run that never started (stat err %v)", err)
				}
				return
			}
			checkJSON(t, out, c.wantStatus)
		})
	}
}

// TestRunCLIStore records a run in an SQLite store through --store and
// reads it back.
func TestRunCLIStore(t *testing.T) {
	url := startTarget(t)
	db := filepath.Join(t.TempDir(), "runs.db")
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr testenv.SyncBuffer
	args := []string{"run", "--metrics-addr", "off", "--quiet", "--store", "sqlite://" + db, "--out-json", out, "--target", url, writePlan(t, "")}
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "STORE   sqlite://"+db) {
		t.Errorf("summary does not say where the run was stored:\n%s", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.ReadJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s.Store == nil || s.Store.Spooled || s.Store.URL != "sqlite://"+db {
		t.Errorf("summary store = %+v; want sqlite://%s, not spooled", s.Store, db)
	}
	st, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetRun(context.Background(), s.RunID)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", s.RunID, err)
	}
	if got.Status != store.StatusCompleted || got.Totals.Requests != int64(s.Requests) || !strings.Contains(got.SummaryText, "PASSED") {
		t.Errorf("stored run status %q requests %d; want completed, %d, with the summary text", got.Status, got.Totals.Requests, s.Requests)
	}
}

// checkJSON reads an --out-json file and checks the documented fields exist.
func checkJSON(t *testing.T, path string, status store.Status) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("--out-json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("--out-json is not JSON: %v", err)
	}
	for _, k := range []string{"run_id", "plan", "type", "status", "started_at", "ended_at", "duration_s", "requests", "errors",
		"error_rate", "rps", "latency_ms", "errors_by_reason", "steps", "phases", "thresholds", "health"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("--out-json lacks %q", k)
		}
	}
	s, err := report.ReadJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != status || s.Plan != "tiny" || s.Type != "load" || s.RunID == "" {
		t.Errorf("summary status %q plan %q type %q run_id %q; want %q, tiny, load, non-empty", s.Status, s.Plan, s.Type, s.RunID, status)
	}
	if s.Requests < 90 || s.Requests > 110 {
		t.Errorf("requests = %d; want ~100 (50/s for 2 s)", s.Requests)
	}
	if len(s.Steps) != 1 || s.Steps[0].Step != "teams" || len(s.Phases) != 1 || s.Phases[0].Name != "steady" {
		t.Errorf("steps %+v phases %+v; want one step teams, one phase steady", s.Steps, s.Phases)
	}
	if status == store.StatusCompleted && (s.LatencyMS.P50 < 2 || s.LatencyMS.P50 > 200) {
		t.Errorf("latency p50 = %v ms; want ≥ the target's 2 ms service time", s.LatencyMS.P50)
	}
}

// TestRunCLIMetricsLinger checks that /metrics is served during --linger
// after the run, with loadgen_request_duration_seconds as a native histogram
// (read over protobuf) and loadgen_run_info naming the run.
func TestRunCLIMetricsLinger(t *testing.T) {
	url := startTarget(t)
	planPath := writePlan(t, "")
	var stdout, stderr testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"run", "--target", url, "--metrics-addr", "127.0.0.1:0", "--linger", "3s", "--store", "off",
			"--watch-pid", fmt.Sprint(os.Getpid()), planPath}, &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`serving metrics on (http://\S+/metrics)`)
	var metricsURL string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil && metricsURL == "" {
			metricsURL = m[1]
		}
		if strings.Contains(stdout.String(), "PASSED") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if metricsURL == "" || !strings.Contains(stdout.String(), "PASSED") {
		t.Fatalf("no metrics address or summary in time\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "[") || !strings.Contains(stderr.String(), "p99") {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}
	// The run is over and the command lingers: scrape over protobuf.
	fams := scrapeProto(t, metricsURL)
	h := fams["loadgen_request_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("loadgen_request_duration_seconds missing or not a histogram: %v", h)
	}
	var count uint64
	native := false
	for _, m := range h.GetMetric() {
		hh := m.GetHistogram()
		count += hh.GetSampleCount()
		if hh.Schema != nil && (len(hh.GetPositiveSpan()) > 0 || hh.GetZeroCount() > 0) {
			native = true
		}
	}
	if count < 90 || !native {
		t.Errorf("loadgen_request_duration_seconds: %d samples, native %v; want ~100 samples in a native histogram", count, native)
	}
	info := fams["loadgen_run_info"]
	if info == nil || len(info.GetMetric()) != 1 {
		t.Fatalf("loadgen_run_info = %v; want one series", info)
	}
	labels := map[string]string{}
	for _, l := range info.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["plan"] != "tiny" || labels["type"] != "load" || labels["run_id"] == "" {
		t.Errorf("loadgen_run_info labels = %v; want plan tiny, type load, a run_id", labels)
	}
	for _, name := range []string{"loadgen_build_info", "loadgen_requests_total", "go_goroutines", "process_cpu_seconds_total",
		"loadgen_host_cpus", "loadgen_watched_process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d; want 0\nstderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("loadgen run did not return after --linger")
	}
	// After lingering, the server is gone.
	if resp, err := http.Get(metricsURL); err == nil {
		resp.Body.Close()
		t.Errorf("/metrics still served after linger")
	}
}

func scrapeProto(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	fams := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decode %s: %v", url, err)
		}
		fams[mf.GetName()] = &mf
	}
	return fams
}

// TestRunCLIInterrupt builds the binary, starts a long run and sends it
// SIGINT: it stops at once, prints the partial summary and exits 1.
func TestRunCLIInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	url := startTarget(t)
	bin := testenv.BuildBinary(context.Background(), t, t.TempDir(), "./cmd/loadgen")
	planPath := filepath.Join(t.TempDir(), "long.yaml")
	long := strings.Replace(fmt.Sprintf(tinyPlan, ""), "duration: 2s", "duration: 60s", 1)
	if err := os.WriteFile(planPath, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testenv.SyncBuffer
	cmd := exec.Command(bin, "run", "--metrics-addr", "off", "--store", "off", "--target", url, planPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // by PID, only if still running
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(stderr.String(), "requests") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("after SIGINT: %v; want exit %d\nstdout:\n%s\nstderr:\n%s", err, exitError, stdout.String(), stderr.String())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("exit took %v after SIGINT", el)
	}
	if !strings.Contains(stdout.String(), "INTERRUPTED: interrupted after") || !strings.Contains(stdout.String(), "STEPS") {
		t.Errorf("no partial summary after SIGINT:\n%s", stdout.String())
	}
}

// stressPlan writes a stress plan of probes of probe long against /api/teams.
func stressPlan(t *testing.T, probe string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stress.yaml")
	body := "name: cli-stress\ntype: stress\ntarget: http://127.0.0.1:1\nscenarios: [{steps: [{name: teams, request: {path: /api/teams}}]}]\n" +
		"stress: {start_rate: 20, max_rate: 40, probe_duration: " + probe + ", cooldown: 0s, max_probes: 3}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startCLI runs loadgen with args in the background; the returned func waits for its exit code.
func startCLI(t *testing.T, args []string, stdout, stderr *testenv.SyncBuffer) func() int {
	t.Helper()
	done := make(chan int, 1)
	go func() { done <- run(args, stdout, stderr) }()
	return func() int {
		select {
		case code := <-done:
			return code
		case <-time.After(60 * time.Second):
			t.Fatalf("loadgen %s did not end\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr)
			return -1
		}
	}
}

// metricsURL waits for the /metrics address loadgen prints on stderr.
func metricsURL(t *testing.T, stderr *testenv.SyncBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`serving metrics on (http://\S+/metrics)`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no metrics address on stderr:\n%s", stderr)
	return ""
}

func gauge(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f := fams[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	return f.GetMetric()[0].GetGauge().GetValue(), true
}

func counterSum(fams map[string]*dto.MetricFamily, name string) float64 {
	var n float64
	for _, m := range fams[name].GetMetric() {
		n += m.GetCounter().GetValue()
	}
	return n
}

func infoType(fams map[string]*dto.MetricFamily) string {
	for _, m := range fams["loadgen_run_info"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "type" {
				return l.GetValue()
			}
		}
	}
	return ""
}

// TestStressCLIServesMetrics: the acceptance of issue 11 for the modes. `loadgen stress` serves /metrics while it
// runs (the run named, active, its requests counted) and prints progress; `loadgen run` of a stress plan honours
// --duration-scale (probes of 10 s scaled to 0.5 s), --metrics-addr, --quiet, --linger and --watch-pid.
func TestStressCLIServesMetrics(t *testing.T) {
	url := startTarget(t)
	t.Run("stress serves /metrics mid-run", func(t *testing.T) {
		var stdout, stderr testenv.SyncBuffer
		wait := startCLI(t, []string{"stress", stressPlan(t, "1s"), "--target", url, "--store", "off",
			"--metrics-addr", "127.0.0.1:0"}, &stdout, &stderr)
		mu := metricsURL(t, &stderr) // printed before the first progress line, a second into the run
		fams := scrapeProto(t, mu)
		active, _ := gauge(fams, "loadgen_run_active")
		if active != 1 || infoType(fams) != "stress" || counterSum(fams, "loadgen_requests_total") == 0 {
			t.Errorf("mid-run /metrics: run_active %v, run_info type %q, %v requests; want 1, stress, some", active,
				infoType(fams), counterSum(fams, "loadgen_requests_total"))
		}
		if _, ok := gauge(fams, "loadgen_in_flight_requests"); !ok || fams["loadgen_phase"] == nil {
			t.Error("mid-run /metrics lacks the live gauges (in flight, phase)")
		}
		if code := wait(); code != exitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		if !regexp.MustCompile(`\[\d+\.\ds/1\.0s\] phase probe .* p99 .* requests \d+`).MatchString(stderr.String()) {
			t.Errorf("no progress line on stderr:\n%s", stderr.String())
		}
		if !strings.Contains(stdout.String(), "Max sustainable RPS = ") {
			t.Errorf("no verdict on stdout:\n%s", stdout.String())
		}
	})
	t.Run("run of a stress plan honours the run flags", func(t *testing.T) {
		var stdout, stderr testenv.SyncBuffer
		out := filepath.Join(t.TempDir(), "stress.json")
		wait := startCLI(t, []string{"run", stressPlan(t, "10s"), "--target", url, "--store", "off", "--quiet",
			"--duration-scale", "0.05", "--metrics-addr", "127.0.0.1:0", "--linger", "3s", "--out-json", out,
			"--watch-pid", fmt.Sprint(os.Getpid())}, &stdout, &stderr)
		mu := metricsURL(t, &stderr) // --quiet: printed at once
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "Max sustainable RPS") &&
			time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
		fams := scrapeProto(t, mu) // the run has ended: lingering
		if active, _ := gauge(fams, "loadgen_run_active"); active != 0 || infoType(fams) != "stress" ||
			fams["loadgen_watched_process_resident_memory_bytes"] == nil {
			t.Errorf("/metrics while lingering: run_active %v, run_info type %q, watched process %v; want 0, stress, present",
				active, infoType(fams), fams["loadgen_watched_process_resident_memory_bytes"] != nil)
		}
		if code := wait(); code != exitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		if strings.Contains(stderr.String(), "p99") {
			t.Errorf("progress lines on stderr with --quiet:\n%s", stderr.String())
		}
		var rep struct {
			Type   string `json:"type"`
			Probes []struct {
				Requests int `json:"requests"`
			} `json:"probe_stats"`
		}
		b, err := os.ReadFile(out)
		if err != nil || json.Unmarshal(b, &rep) != nil || rep.Type != "stress" || len(rep.Probes) == 0 {
			t.Fatalf("--out-json = %s (%v); want a stress report with probes", b, err)
		}
		for i, p := range rep.Probes { // at 20 to 40 it/s: about 10-20 requests in 0.5 s, 200-400 in 10 s
			if p.Requests == 0 || p.Requests > 60 {
				t.Errorf("probe %d: %d requests; want those of a 0.5 s probe (10 s x 0.05)", i+1, p.Requests)
			}
		}
	})
}

// TestBadFlagsExitCodes: the same bad flag gives the same exit code (2) in every command.
func TestBadFlagsExitCodes(t *testing.T) {
	planPath, benchPath, kneePath := writePlan(t, ""), filepath.Join(t.TempDir(), "bench.yaml"), filepath.Join(t.TempDir(), "knee.yaml")
	for path, body := range map[string]string{benchPath: modeBenchPlan, kneePath: "name: k\ntarget: http://127.0.0.1:1\n" +
		"scenarios: [{steps: [{request: {path: /}}]}]\nknee: {steps: [1, 2], warmup: 0s, step_duration: 1s}\n"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spool := "--spool=" + t.TempDir()
	// Each command gets what it needs besides the bad flag (a valid plan of its type, no store to touch).
	commands := map[string][]string{
		"run":      {"run", planPath},
		"bench":    {"bench", benchPath},
		"stress":   {"stress", stressPlan(t, "1s")},
		"knee":     {"knee", kneePath},
		"validate": {"validate", planPath},
		"runs":     {"runs", "list", spool},
		"watch":    {"runs", "watch", "--server", "http://127.0.0.1:1", "run-x"},
		"report":   {"report", "run-x", spool},
		"serve":    {"serve", "--addr", "127.0.0.1:0", "--store", "off"},
	}
	bad := [][]string{
		{"--nope"},
		{"--store", "ftp://x"},
		{"--store", "nonsense"},
		{"--duration-scale", "0"},
		{"--duration-scale", "1000"},
		{"--linger", "-1s"},
		{"--watch-pid", "-1"},
		{"--metrics-addr", "nonsense"},
		{"--out-remote-write", "ftp://x/api/v1/write"},
		{"--target", "not a url"},
	}
	for name, cmd := range commands {
		for _, flags := range bad {
			t.Run(name+" "+strings.Join(flags, " "), func(t *testing.T) {
				args := append(append([]string{}, cmd...), flags...)
				var stdout, stderr testenv.SyncBuffer
				if code := run(args, &stdout, &stderr); code != exitUsage {
					t.Errorf("loadgen %s = exit %d; want %d\nstderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr.String())
				}
			})
		}
	}
}

// TestRunCLIOutputs: --out-html with --store off records the run in a temporary store and writes a report the
// browser test accepts; --out-junit writes the status and thresholds.
func TestRunCLIOutputs(t *testing.T) {
	url := startTarget(t)
	dir := t.TempDir()
	html, xmlPath := filepath.Join(dir, "run.html"), filepath.Join(dir, "run.xml")
	var stdout, stderr testenv.SyncBuffer
	args := []string{"run", writePlan(t, `"p99 < 2s", "p50 < 1us"`), "--target", url, "--store", "off", "--metrics-addr",
		"off", "--quiet", "--duration-scale", "1.5", "--out-html", html, "--out-junit", xmlPath}
	if code := run(args, &stdout, &stderr); code != exitThreshold {
		t.Fatalf("exit %d; want %d (a threshold fails)\nstdout:\n%s\nstderr:\n%s", code, exitThreshold, stdout.String(), stderr.String())
	}
	var suites struct {
		Suites []junit.Suite `xml:"testsuite"`
	}
	b, err := os.ReadFile(xmlPath)
	if err != nil || xml.Unmarshal(b, &suites) != nil || len(suites.Suites) != 1 {
		t.Fatalf("--out-junit = %s (%v); want one suite", b, err)
	}
	s := suites.Suites[0]
	if s.Name != "loadgen tiny" || s.Tests != 3 || s.Failures != 1 || s.Cases[0].Name != "status" || s.Cases[0].Failure != nil ||
		s.Cases[2].Name != "threshold p50 < 1us" || s.Cases[2].Failure == nil {
		t.Errorf("--out-junit suite %+v; want status passed, p99 held, p50 failed", s)
	}
	if fi, err := os.Stat(html); err != nil || fi.Size() < 50_000 {
		t.Fatalf("--out-html: %v, %v; want a self-contained page", fi, err)
	}
	browsertest.Check(t, "", browsertest.Page{Name: "cli-load", Path: html, Charts: 5})
}
