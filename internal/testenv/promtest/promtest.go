// Package promtest runs the pinned Prometheus (bin/prometheus, from `make
// tools`) for tests, with the repository's scrape config and rules pointed at
// the test's own processes, and queries it. It also checks a registry's
// _info metrics.
package promtest

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

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/loadlab/loadlab/internal/testenv"
)

// RuleGlob is where the shipped rule files are, relative to the repository root.
const RuleGlob = "prometheus/rules/*.yml"

// Server is a pinned Prometheus started by a test.
type Server struct {
	URL string
	cmd *exec.Cmd
	log *testenv.SyncBuffer
}

// Target is one scrape target of a job, with the target labels its static
// config gives it (nil: none).
type Target struct {
	Job, Addr string
	Labels    map[string]string
}

// Config returns prometheus/prometheus.yml with absolute rule paths and the
// given targets: each job keeps its settings and scrapes the targets given for
// it, each in its own static config; jobs with no target are dropped.
func Config(t testing.TB, targets ...Target) []byte {
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
	cfg["rule_files"] = []string{filepath.Join(root, RuleGlob)}
	scrapes := []any{}
	for _, sc := range cfg["scrape_configs"].([]any) {
		m := sc.(map[string]any)
		var static []any
		for _, tg := range targets {
			if tg.Job != m["job_name"] {
				continue
			}
			c := map[string]any{"targets": []string{tg.Addr}}
			if len(tg.Labels) > 0 {
				c["labels"] = tg.Labels
			}
			static = append(static, c)
		}
		if static == nil {
			continue
		}
		m["static_configs"] = static
		scrapes = append(scrapes, m)
	}
	cfg["scrape_configs"] = scrapes
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Start runs the pinned Prometheus with config on a free port, a
// temporary TSDB and any extra flags, waits until it is ready, and stops it
// (by its PID) at cleanup.
func Start(t testing.TB, config []byte, flags ...string) *Server {
	t.Helper()
	bin := testenv.Tool(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	p := &Server{URL: "http://" + addr, log: &testenv.SyncBuffer{}}
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
func (p *Server) Log() string { return p.log.String() }

// Query runs an instant query at time at (now when zero); a PromQL error is
// returned as an error.
func (p *Server) Query(ctx context.Context, expr string, at time.Time) (QueryResult, error) {
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

// Scalar runs an instant query at time at (now when zero) and returns the value of its one series; ok is false
// when the answer does not have exactly one. A failed query or a value that is not a number fails the test.
func (p *Server) Scalar(t testing.TB, ctx context.Context, expr string, at time.Time) (v float64, ok bool) {
	t.Helper()
	r, err := p.Query(ctx, expr, at)
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if len(r.Result) != 1 {
		return 0, false
	}
	var s struct {
		Value [2]any `json:"value"`
	}
	if err := json.Unmarshal(r.Result[0], &s); err != nil {
		t.Fatalf("query %s: %v in %s", expr, err, r.Result[0])
	}
	str, _ := s.Value[1].(string)
	if v, err = strconv.ParseFloat(str, 64); err != nil {
		t.Fatalf("query %s: value %q: %v", expr, str, err)
	}
	return v, true
}

// WaitUp waits until Prometheus has scraped job successfully (up == 1). The
// first scrape of a fresh Prometheus can come several seconds after it is
// ready, and a rate() needs two.
func (p *Server) WaitUp(t testing.TB, job string, timeout time.Duration) {
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

// InfoNotOne gathers g and describes every sample of an _info metric whose
// value is not 1 (by convention an _info metric carries metadata in its
// labels and is always 1).
func InfoNotOne(g prometheus.Gatherer) ([]string, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_info") {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue()
			if m.GetGauge() == nil {
				v = m.GetUntyped().GetValue()
			}
			if v != 1 {
				bad = append(bad, fmt.Sprintf("%s%v = %v", mf.GetName(), m.GetLabel(), v))
			}
		}
	}
	return bad, nil
}
