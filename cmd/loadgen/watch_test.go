package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/control"
	"github.com/loadlab/loadlab/internal/testenv"
)

// watchServe is an in-process loadgen serve over the real engine (no store), for runs watch.
type watchServe struct {
	url, token string
}

func startWatchServe(t *testing.T, token string) *watchServe {
	t.Helper()
	cfg := control.DefaultConfig()
	cfg.Token, cfg.MaxConcurrentRuns = token, 8
	srv, err := control.New(cfg, &control.EngineRunner{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	})
	return &watchServe{url: ts.URL, token: token}
}

func (s *watchServe) call(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s = %s: %v", method, path, resp.Status, out)
	}
	return out
}

// start posts a load plan (open model, 50/s for dur, with thresholds) and returns the run's ID.
func (s *watchServe) start(t *testing.T, target string, dur time.Duration, thresholds string) string {
	t.Helper()
	body := fmt.Sprintf(`name: watched
target: %s
scenarios:
  - name: browse
    steps:
      - {name: teams, request: {path: /api/teams}, check: {status: [200]}}
load:
  model: open
  phases:
    - {name: warm-up, duration: 500ms, rate: 20}
    - {name: steady, duration: %s, rate: 50}
thresholds: [%s]
`, target, dur, thresholds)
	return s.call(t, http.MethodPost, "/api/tests/start", body)["run_id"].(string)
}

func (s *watchServe) watch(id string, extra ...string) (code int, stdout, stderr string) {
	args := append([]string{"runs", "watch", "--server", s.url, id}, extra...)
	if s.token != "" {
		args = append(args, "--token", s.token)
	}
	var out, errb testenv.SyncBuffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestRunsWatchExitCodes: loadgen runs watch follows a run in serve with loadgen run's progress line and exits
// with the run's exit code: 0 passed, 3 a threshold failed or a rolling threshold aborted the run, 1 cancelled;
// again at once for a run that has ended, 2 for a run that does not exist.
func TestRunsWatchExitCodes(t *testing.T) {
	target := startTarget(t)
	s := startWatchServe(t, "")
	cases := []struct {
		name       string
		thresholds string
		cancel     bool
		code       int
		stdoutHas  string
	}{
		{"passed", `"p99 < 5s", "error_rate < 1%"`, false, exitOK, "PASSED: completed, all 2 thresholds held"},
		{"threshold failed", `"p50 < 1us"`, false, exitThreshold, "THRESHOLDS FAILED"},
		{"aborted by a threshold", `{expr: "p50 < 1us", window: 2s, abort_on_fail: true}`, false, exitThreshold, "ABORTED"},
		{"cancelled", `"p99 < 5s"`, true, exitError, "cancelled over the control API"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := s.start(t, target, 3*time.Second, c.thresholds)
			if c.cancel {
				go func() {
					time.Sleep(time.Second)
					s.call(t, http.MethodPost, "/api/tests/runs/"+id+"/cancel", "")
				}()
			}
			code, stdout, stderr := s.watch(id)
			if code != c.code {
				t.Fatalf("runs watch %s = exit %d; want %d\nstdout:\n%s\nstderr:\n%s", id, code, c.code, stdout, stderr)
			}
			if !strings.Contains(stdout, c.stdoutHas) {
				t.Errorf("stdout lacks %q (the report as loadgen run prints it):\n%s", c.stdoutHas, stdout)
			}
			// the plain progress line of loadgen run, once a second (stderr is not a terminal)
			if !strings.Contains(stderr, "] phase ") || !strings.Contains(stderr, "req/s") || strings.Contains(stderr, "\x1b[") {
				t.Errorf("stderr has no plain progress line:\n%s", stderr)
			}
			// a run that has ended: its end at once, the same code
			start := time.Now()
			if again, out, _ := s.watch(id, "--quiet"); again != c.code || !strings.Contains(out, c.stdoutHas) {
				t.Errorf("runs watch of the ended run = exit %d; want %d\n%s", again, c.code, out)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("runs watch of an ended run took %s; want its end at once", d)
			}
		})
	}
	t.Run("unknown run", func(t *testing.T) {
		t.Parallel()
		code, _, stderr := s.watch("no-such-run")
		if code != exitUsage || !strings.Contains(stderr, "404") {
			t.Errorf("runs watch no-such-run = exit %d; want %d with the 404\n%s", code, exitUsage, stderr)
		}
	})
}

// TestRunsWatchToken: against a serve with a token, runs watch needs it (--token or LOADGEN_TOKEN); without it
// the refusal is exit code 2.
func TestRunsWatchToken(t *testing.T) {
	target := startTarget(t)
	s := startWatchServe(t, "s3cret")
	id := s.start(t, target, time.Second, `"p99 < 5s"`)
	if code, out, stderr := s.watch(id, "--quiet"); code != exitOK {
		t.Errorf("runs watch --token = exit %d; want 0\n%s\n%s", code, out, stderr)
	}
	var errb testenv.SyncBuffer
	if code := run([]string{"runs", "watch", "--server", s.url, id}, &errb, &errb); code != exitUsage || !strings.Contains(errb.String(), "401") {
		t.Errorf("runs watch without the token = exit %d; want %d with the 401\n%s", code, exitUsage, errb.String())
	}
}
