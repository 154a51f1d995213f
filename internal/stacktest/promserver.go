package stacktest

// Test helpers shared by this package's tests and the end-to-end tests in
// internal/stacktest/e2e: run the pinned Prometheus with the repository's
// scrape config and rules, and query it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
	"gopkg.in/yaml.v3"
)

// Prometheus is a pinned Prometheus started by a test (bin/prometheus, from `make tools`).
type Prometheus struct {
	URL string
	cmd *exec.Cmd
	log *testenv.SyncBuffer
}

// PromConfig returns prometheus/prometheus.yml with absolute rule paths and
// the given scrape targets by job (jobs left out are dropped).
func PromConfig(t testing.TB, targets map[string]string) []byte {
	t.Helper()
	root := testenv.RepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["rule_files"] = []string{filepath.Join(root, RuleDir, "*.yml")}
	var scrapes []any
	for _, sc := range cfg["scrape_configs"].([]any) {
		m := sc.(map[string]any)
		addr, ok := targets[m["job_name"].(string)]
		if !ok {
			continue
		}
		m["static_configs"] = []any{map[string]any{"targets": []string{addr}}}
		scrapes = append(scrapes, m)
	}
	if scrapes == nil {
		scrapes = []any{}
	}
	cfg["scrape_configs"] = scrapes
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// StartPrometheus runs the pinned Prometheus with config on a free port and a
// temporary TSDB and any extra flags, waits until it is ready, and stops it
// (by its PID) at cleanup.
func StartPrometheus(t testing.TB, config []byte, flags ...string) *Prometheus {
	t.Helper()
	bin := testenv.Tool(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	p := &Prometheus{URL: "http://" + addr, log: &testenv.SyncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.level=warn"}, flags...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("prometheus exited early:\n%s", p.log.String())
		default:
		}
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s:\n%s", p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// QueryResult is the data of an /api/v1/query answer.
type QueryResult struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// Log returns what Prometheus has logged so far.
func (p *Prometheus) Log() string { return p.log.String() }

// Query runs an instant query at time at (now when zero); a PromQL error is
// returned as an error.
func (p *Prometheus) Query(ctx context.Context, expr string, at time.Time) (QueryResult, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return QueryResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return QueryResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return QueryResult{}, err
	}
	var r struct {
		Status    string      `json:"status"`
		ErrorType string      `json:"errorType"`
		Error     string      `json:"error"`
		Warnings  []string    `json:"warnings"`
		Data      QueryResult `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return QueryResult{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return QueryResult{}, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// WaitUp waits until Prometheus has scraped job successfully (up == 1). The
// first scrape of a fresh Prometheus can come several seconds after it is
// ready, and a rate() needs two.
func (p *Prometheus) WaitUp(t testing.TB, job string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		r, err := p.Query(ctx, fmt.Sprintf(`up{job=%q} == 1`, job), time.Time{})
		if err == nil && len(r.Result) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("prometheus did not scrape job %s within %v (last error %v):\n%s", job, timeout, err, p.Log())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
