package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
)

// start runs runMain with args, waits for the listening line and returns the
// base URL, a stop function that returns the exit code, and stderr.
func start(t *testing.T, args []string, env map[string]string) (string, func() int, *testenv.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &testenv.SyncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- runMain(ctx, args, pw, stderr, func(k string) string { return env[k] })
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case c := <-code:
		cancel()
		t.Fatalf("runMain(%v) exited %d before listening; stderr:\n%s", args, c, stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no listening line; stderr:\n%s", stderr)
	}
	addr, ok := strings.CutPrefix(line, "target listening on ")
	if !ok {
		cancel()
		t.Fatalf("first stdout line = %q; want \"target listening on ADDR\"", line)
	}
	stopped := false
	stop := func() int {
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("runMain did not return after cancel")
			return -1
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return "http://" + addr, stop, stderr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServes(t *testing.T) {
	lat := filepath.Join(t.TempDir(), "latency.yaml")
	if err := os.WriteFile(lat, []byte("routes:\n  GET /api/users: {fixed: 1ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url, stop, stderr := start(t, []string{"--addr", "127.0.0.1:0", "--log.level", "debug", "--log.format", "json", "--latency-config", lat, "--latency", "GET /api/teams=2ms-3ms",
		"--workers", "3", "--queue", "5", "--error-rate", "0.25", "--stall-every", "1h", "--stall-for", "1s", "--added-latency", "1ms"}, nil)
	if strings.HasSuffix(url, ":0") {
		t.Fatalf("listening line shows port 0 (%s); want the real port", url)
	}
	code, body := get(t, url+"/api/health")
	if code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("GET /api/health = %d %s; want 200 ok", code, body)
	}
	get(t, url+"/no/such/path")
	code, body = get(t, url+"/metrics")
	for _, want := range []string{"target_pool_workers 3", "target_queue_capacity 5", "target_fault_error_ratio 0.25", `target_http_requests_total{code="404",method="GET",route="unmatched"} 1`, "go_goroutines", "process_cpu_seconds_total"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET /metrics = %d, lacks %q", code, want)
		}
	}
	if strings.Contains(body, `route="/api/health"`) { // health checks are not load
		t.Errorf("GET /metrics counts /api/health in the request metrics")
	}
	code, body = get(t, url+"/admin/config")
	var cfg struct {
		Workers int
		Routes  map[string]struct{ Latency string }
		Faults  struct {
			AddedLatency string `json:"added_latency"`
			StallEvery   string `json:"stall_every"`
		}
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil || code != 200 {
		t.Fatalf("GET /admin/config = %d %s (%v)", code, body, err)
	}
	if cfg.Workers != 3 || cfg.Routes["GET /api/users"].Latency != "1ms" || cfg.Routes["GET /api/teams"].Latency != "2ms-3ms" ||
		cfg.Faults.AddedLatency != "1ms" || cfg.Faults.StallEvery != "1h0m0s" {
		t.Errorf("GET /admin/config = %s; want the flags' workers, latency and faults", body)
	}
	if c := stop(); c != exitOK {
		t.Errorf("exit code after cancel = %d; want %d; stderr:\n%s", c, exitOK, stderr)
	}
}

func TestRunEnvAddrAndAdminOff(t *testing.T) {
	url, stop, _ := start(t, []string{"--admin=false", "--latency-scale", "0"}, map[string]string{"TARGET_ADDR": "127.0.0.1:0"})
	if code, _ := get(t, url+"/admin/faults"); code != 404 {
		t.Errorf("GET /admin/faults with --admin=false = %d; want 404", code)
	}
	if code, _ := get(t, url+"/api/users"); code != 200 {
		t.Errorf("GET /api/users = %d; want 200", code)
	}
	stop()
}

func TestRunAdminToken(t *testing.T) {
	url, stop, stderr := start(t, []string{"--addr", "127.0.0.1:0", "--latency-scale", "0"}, map[string]string{"TARGET_ADMIN_TOKEN": "env-t0ken"})
	if code, _ := get(t, url+"/admin/config"); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/config without the token = %d; want 401", code)
	}
	req, _ := http.NewRequest("PUT", url+"/admin/faults", strings.NewReader(`{"error_rate": 0.5}`))
	req.Header.Set("Authorization", "Bearer env-t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("PUT /admin/faults with the token = %d; want 200", resp.StatusCode)
	}
	stop()
	if strings.Contains(stderr.String(), "env-t0ken") || !strings.Contains(stderr.String(), "admin=token") {
		t.Errorf("log %s: want admin=token and never the token", stderr)
	}
}

func TestRunUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("routes:\n  GET /nope: {fixed: 1ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"help", []string{"-h"}, exitOK, "-shutdown-timeout duration"},
		{"bad log level", []string{"--log.level", "loud"}, exitUsage, `invalid value "loud" for flag -log.level`},
		{"unknown flag", []string{"--nope"}, exitUsage, "flag provided but not defined"},
		{"positional", []string{"extra"}, exitUsage, "unexpected arguments"},
		{"bad latency flag", []string{"--latency", "GET /api/users"}, exitUsage, "want ROUTE=SPEC"},
		{"bad latency file", []string{"--latency-config", bad}, exitUsage, `line 2: routes: "GET /nope": not a pooled route`},
		{"missing latency file", []string{"--latency-config", bad + ".missing"}, exitUsage, "no such file"},
		{"bad error rate", []string{"--error-rate", "2"}, exitUsage, "error rate 2: must be within 0-1"},
		{"unknown route flag", []string{"--latency", "GET /x=1ms"}, exitUsage, `latency for "GET /x": not a pooled route`},
		{"bad addr", []string{"--addr", "127.0.0.1:-1"}, exitError, "target:"},
		{"negative timeout", []string{"--read-timeout", "-1s"}, exitUsage, "timeouts must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			got := runMain(context.Background(), tc.args, &out, &errb, func(string) string { return "" })
			if got != tc.want || !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("runMain(%q) = %d, stderr %q; want %d containing %q", tc.args, got, errb.String(), tc.want, tc.wantErr)
			}
		})
	}
}
