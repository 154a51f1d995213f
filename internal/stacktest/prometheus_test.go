package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
	"gopkg.in/yaml.v3"
)

// promServer is a pinned Prometheus started by a test (bin/prometheus, from `make tools`).
type promServer struct {
	URL string
	cmd *exec.Cmd
	log *strings.Builder
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// promConfig returns prometheus/prometheus.yml with absolute rule paths and
// the given scrape targets by job (jobs left out are dropped).
func promConfig(t *testing.T, targets map[string]string) []byte {
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

// startPrometheus runs the pinned Prometheus with config on a free port and a
// temporary TSDB, waits until it is ready, and stops it (by its PID) at cleanup.
func startPrometheus(t *testing.T, config []byte) *promServer {
	t.Helper()
	bin := testenv.Tool(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	p := &promServer{URL: "http://" + addr, log: &strings.Builder{}}
	p.cmd = exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
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

// queryResult is the data of an /api/v1/query answer.
type queryResult struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// query runs an instant query; a PromQL error is returned as an error.
func (p *promServer) query(ctx context.Context, expr string) (queryResult, error) {
	form := url.Values{"query": {expr}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return queryResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return queryResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return queryResult{}, err
	}
	var r struct {
		Status    string      `json:"status"`
		ErrorType string      `json:"errorType"`
		Error     string      `json:"error"`
		Warnings  []string    `json:"warnings"`
		Data      queryResult `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return queryResult{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return queryResult{}, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// TestPromQLValid sends every dashboard and rule expression to a real,
// empty Prometheus 3.16: each must parse and evaluate without error (empty
// results are expected here; the end-to-end test checks for data). It also
// checks that Prometheus loads the rule files and evaluates every rule
// without an error.
func TestPromQLValid(t *testing.T) {
	root := testenv.RepoRoot(t)
	dq, err := DashboardQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	rq, err := RuleQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	p := startPrometheus(t, promConfig(t, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.query(ctx, "sum(rate(loadgen_requests_total[1m])"); err == nil {
		t.Fatal("a malformed expression evaluated without error: the check below would prove nothing")
	}
	n := 0
	for _, q := range append(dq, rq...) {
		if q.Lang != PromQL {
			continue
		}
		n++
		if _, err := p.query(ctx, q.Expr); err != nil {
			t.Errorf("%s:\n  %s\n  error: %v", q.Source, q.Expr, err)
		}
		if q.Cond != "" {
			if _, err := p.query(ctx, q.Cond); err != nil {
				t.Errorf("%s (condition without threshold):\n  %s\n  error: %v", q.Source, q.Cond, err)
			}
		}
	}
	t.Logf("%d PromQL expressions evaluated by Prometheus", n)

	// Rules: loaded, and after an evaluation round every rule is healthy.
	var groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Name      string `json:"name"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"rules"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		groups = nil
		resp, err := http.Get(p.URL + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct {
				Groups json.RawMessage `json:"groups"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.Data.Groups, &groups); err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, g := range groups {
			for _, rl := range g.Rules {
				if rl.Health == "unknown" {
					pending++
				}
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	total := 0
	for _, g := range groups {
		for _, rl := range g.Rules {
			total++
			if rl.Health != "ok" || rl.LastError != "" {
				t.Errorf("rule %s/%s: health %q error %q", g.Name, rl.Name, rl.Health, rl.LastError)
			}
		}
	}
	if total != len(rq) {
		t.Errorf("Prometheus loaded %d rules; rule files have %d", total, len(rq))
	}
}
