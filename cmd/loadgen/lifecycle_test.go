package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/loadlab/loadlab/internal/junit"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/browsertest"
)

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
