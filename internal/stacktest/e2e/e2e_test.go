// Package e2e is the end-to-end proof of the observability stack: the pinned
// Prometheus scrapes a real `loadgen run` against a real target with
// prometheus/prometheus.yml and the shipped rules, and a real MariaDB holds
// stored runs; every dashboard and rule query must then run without error and
// return data. It lives apart from internal/stacktest so that the static
// checks there never depend on the engine and store compiling.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/stacktest"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/mysqlstore"
	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/mysqltest"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

// mayBeEmpty lists the PromQL queries allowed to return no data after a
// healthy run, and why.
var mayBeEmpty = map[string]string{
	`ALERTS{alertstate="firing"}`: "no alert fires during a healthy run",
	"loadgen_watched_process_":    "`loadgen run` watches no process unless --watch-pid is given",
}

func allowedEmpty(expr string) (string, bool) {
	for k, why := range mayBeEmpty {
		if strings.Contains(expr, k) {
			return why, true
		}
	}
	return "", false
}

const planYAML = `name: stacktest-e2e
target: http://127.0.0.1:1
defaults:
  headers: {Accept: application/json}
  timeout: 5s
scenarios:
  - name: browse
    steps:
      - name: list-teams
        request: {method: GET, path: /api/teams}
        check: {status: [200]}
      - name: list-users
        request: {path: /api/users, query: {page: "1", limit: "20"}}
        check: {status: [200]}
load:
  model: open
  max_in_flight: 200
  phases:
    - {name: warm-up,   duration: 6s,  rate: 20}
    - {name: sustained, duration: 14s, rate: 40}
`

// summary is the part of loadgen's --out-json the test reads.
type summary struct {
	RunID     string    `json:"run_id"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Requests  uint64    `json:"requests"`
	Errors    uint64    `json:"errors"`
	LatencyMS struct {
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// build compiles cmd/<name> into dir.
func build(t *testing.T, dir, name string) string {
	t.Helper()
	return testenv.BuildBinary(context.Background(), t, dir, "./cmd/"+name)
}

// newDatabase creates loadlab_stacktest_<rand> on the test MariaDB and drops
// it at cleanup; it returns the database's DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	c := mysqltest.NewDatabase(t, "loadlab_stacktest_")
	c.ParseTime = true
	return c.FormatDSN()
}

// startProcess starts a child and stops it by its PID at cleanup.
func startProcess(t *testing.T, name string, args ...string) (*bytes.Buffer, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &out, cmd.Process.Pid
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 15s", url)
}

// TestStackEndToEnd is the proof described in issues 6 and 16, with two load
// generators scraped as Prometheus scrapes them in production: a `loadgen run`
// (role run, watching the target's process) and a `loadgen serve` (role serve)
// running the same plan at the same time over its control API. Both store
// their runs in MariaDB. Then (a) every PromQL query of every dashboard and
// rule (from the generator's query manifest, grafana/queries.json) returns
// data from the real runs, (b) every History SQL query returns rows from
// MariaDB, (d) for each generator, Prometheus's final histogram counts
// exactly its requests and its p99 is within 5% of the generator's own, and
// (f) no _info metric took a value other than 1 in any sample Prometheus
// stored. (c) provisioned datasource UIDs and (e) valid JSON with unique panel
// ids are checked by internal/stacktest's static tests.
func TestStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 40 s")
	}
	root := testenv.RepoRoot(t)
	testenv.Tool(t, "prometheus")
	dsn := newDatabase(t)
	dir := t.TempDir()
	loadgen := build(t, dir, "loadgen")
	target := build(t, dir, "target")

	help, _ := exec.Command(loadgen, "run", "-h").CombinedOutput()
	if strings.Contains(string(help), "unknown command") {
		testenv.Unavailable(t, "`loadgen run` is not available yet:\n%s", help)
	}
	// With --watch-pid, the watched-process panels must show data too.
	watch := strings.Contains(string(help), "-watch-pid")

	targetAddr := testenv.FreeAddr(t)
	targetOut, targetPID := startProcess(t, target, "--addr", targetAddr, "--error-rate", "0.03")
	waitHTTP(t, "http://"+targetAddr+"/api/health")

	metricsAddr := testenv.FreeAddr(t) // loadgen run's /metrics
	serveAddr := testenv.FreeAddr(t)   // loadgen serve's control API and /metrics
	serveOut, _ := startProcess(t, loadgen, "serve", "--addr", serveAddr, "--store", "mysql://"+dsn)
	waitHTTP(t, "http://"+serveAddr+"/api/health")
	prom := promtest.Start(t, promtest.Config(t,
		promtest.Target{Job: "loadgen", Addr: metricsAddr, Labels: map[string]string{"role": "run"}},
		promtest.Target{Job: "loadgen", Addr: serveAddr, Labels: map[string]string{"role": "serve"}},
		promtest.Target{Job: "target", Addr: targetAddr}))
	prom.WaitUp(t, "target", 30*time.Second) // the scrape loops are running before the runs start
	prom.WaitUp(t, "loadgen", 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The serve run starts first (the API answers at once) and runs alongside `loadgen run`.
	servePlan := strings.Replace(planYAML, "target: http://127.0.0.1:1", "target: http://"+targetAddr, 1)
	serveRunID := startServeRun(t, ctx, serveAddr, servePlan)

	planPath := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(planPath, []byte(planYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	outJSON := filepath.Join(dir, "summary.json")
	args := []string{"run", planPath, "--quiet",
		"--target", "http://" + targetAddr, "--metrics-addr", metricsAddr, "--linger", "5s",
		"--store", "mysql://" + dsn, "--out-json", outJSON}
	if watch {
		args = append(args, "--watch-pid", fmt.Sprint(targetPID))
	}
	run := exec.CommandContext(ctx, loadgen, args...)
	runOut, err := run.CombinedOutput()
	// Once loadgen has exited, the next scrape fails and Prometheus marks its
	// series stale: final values are read just before the exit, which is
	// after the scrapes made during --linger.
	final := time.Now().Add(-300 * time.Millisecond)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 1 || ee.ExitCode() == 2 {
			t.Fatalf("loadgen run: %v\n%s\ntarget:\n%s", err, runOut, targetOut)
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("loadgen run output:\n%s\nloadgen serve output:\n%s", runOut, serveOut)
		}
	}()
	b, err := os.ReadFile(outJSON)
	if err != nil {
		t.Fatalf("summary: %v\n%s", err, runOut)
	}
	var sum summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	serveSum := waitServeRun(t, ctx, serveAddr, serveRunID)
	for _, g := range []struct {
		name string
		s    summary
	}{{"loadgen run", sum}, {"loadgen serve", serveSum}} {
		if g.s.Requests < 500 || g.s.Errors == 0 {
			t.Fatalf("%s made %d requests with %d errors; want >= 500 with some errors (target --error-rate 0.03)", g.name, g.s.Requests, g.s.Errors)
		}
		t.Logf("%s run %s: %d requests, %d errors, p99 %.2f ms", g.name, g.s.RunID, g.s.Requests, g.s.Errors, g.s.LatencyMS.P99)
	}

	qctx, qcancel := context.WithTimeout(context.Background(), time.Minute)
	defer qcancel()
	scalar := func(expr string, at time.Time) float64 {
		t.Helper()
		v, ok := prom.Scalar(t, qctx, expr, at)
		if !ok {
			t.Fatalf("%s: not one series", expr)
		}
		return v
	}
	if final.Sub(sum.EndedAt) < 4*time.Second {
		t.Fatalf("loadgen exited %v after the run ended; --linger 5s should keep /metrics up for two more scrapes", final.Sub(sum.EndedAt))
	}
	// serve keeps serving after its run: its final histogram is in every scrape since.
	serveFinal := time.Now()
	if d := serveSum.EndedAt.Add(5 * time.Second).Sub(serveFinal); d > 0 {
		time.Sleep(d)
		serveFinal = time.Now()
	}

	// (d) each generator's whole-run histogram, as Prometheus scraped it last,
	// against that generator's own summary.
	for _, g := range []struct {
		name, addr string
		s          summary
		at         time.Time
	}{{"loadgen run", metricsAddr, sum, final}, {"loadgen serve", serveAddr, serveSum, serveFinal}} {
		h := fmt.Sprintf(`sum(loadgen_request_duration_seconds{instance=%q})`, g.addr)
		if got := scalar("histogram_count("+h+")", g.at); got != float64(g.s.Requests) {
			t.Errorf("%s: Prometheus counted %v requests in the final histogram; its summary says %d", g.name, got, g.s.Requests)
		}
		p99 := scalar("histogram_quantile(0.99, "+h+")", g.at) * 1000
		if rel := math.Abs(p99-g.s.LatencyMS.P99) / g.s.LatencyMS.P99; rel > 0.05 {
			t.Errorf("%s: Prometheus p99 %.3f ms vs its own p99 %.3f ms: %.1f%% apart; want within 5%%", g.name, p99, g.s.LatencyMS.P99, 100*rel)
		} else {
			t.Logf("%s p99: Prometheus %.3f ms, loadgen %.3f ms (%.2f%% apart)", g.name, p99, g.s.LatencyMS.P99, 100*rel)
		}
	}

	// (a) every query, at a moment late in both runs (the last phase active,
	// a full rate window behind it).
	at := sum.EndedAt
	if serveSum.EndedAt.Before(at) {
		at = serveSum.EndedAt
	}
	at = at.Add(-2 * time.Second)
	if got := scalar(`sum(loadgen_run_active)`, at); got != 2 {
		t.Errorf("sum(loadgen_run_active) = %v while both runs ran; want 2", got)
	}
	if got := scalar(fmt.Sprintf(`loadgen_run_active{instance=%q}`, metricsAddr), final); got != 0 {
		t.Errorf("loadgen run's loadgen_run_active = %v during --linger; want 0", got)
	}
	if got := scalar(`count(count by (instance) (loadgen_build_info))`, at); got != 2 {
		t.Errorf("%v generators scraped; want 2", got)
	}
	queries, err := stacktest.AllQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	checked, empty := 0, 0
	for _, q := range queries {
		if q.Lang != stacktest.PromQL {
			continue
		}
		expr := q.Expr
		if q.Alert {
			if _, err := prom.Query(qctx, expr, at); err != nil {
				t.Errorf("%s: %v", q.Source, err)
			}
			if q.Cond == "" {
				continue
			}
			expr = q.Cond // the alert's input must exist even when it does not fire
		}
		r, err := prom.Query(qctx, expr, at)
		checked++
		switch {
		case err != nil:
			t.Errorf("%s:\n  %s\n  error: %v", q.Source, expr, err)
		case len(r.Result) == 0:
			if why, ok := allowedEmpty(expr); ok && !(watch && strings.Contains(expr, "loadgen_watched_process_")) {
				empty++
				t.Logf("%s: empty, allowed (%s)", q.Source, why)
				continue
			}
			t.Errorf("%s:\n  %s\n  returned no data", q.Source, expr)
		}
	}
	t.Logf("%d PromQL queries returned data (%d allowed empty)", checked-empty, empty)

	// (f) every sample of every _info series Prometheus stored, from before
	// the runs to now (runs started and ended, serve kept the last one).
	r, err := prom.Query(qctx, `{__name__=~".+_info"}[5m]`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	infoSamples := 0
	for _, raw := range r.Result {
		var m struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Values {
			infoSamples++
			if v[1] != "1" {
				t.Errorf("%v = %v at %v; an _info metric is always 1", m.Metric, v[1], v[0])
			}
		}
	}
	if infoSamples < 20 {
		t.Errorf("%d samples of _info series; want at least 20 (loadgen_run_info, loadgen_build_info, go_info)", infoSamples)
	}

	// (b) History SQL against MariaDB: the two load runs stored by loadgen
	// above, plus benchmark, stress and knee results written through the store.
	checkHistorySQL(t, ctx, dsn, false)
}

// startServeRun starts plan on `loadgen serve` at addr over the control API
// and returns the run's id.
func startServeRun(t *testing.T, ctx context.Context, addr, plan string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/tests/start", strings.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		RunID string `json:"run_id"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusAccepted || a.RunID == "" {
		t.Fatalf("POST /api/tests/start: HTTP %d %s (%v); want 202 and a run_id", resp.StatusCode, body, err)
	}
	return a.RunID
}

// waitServeRun polls the run until it has a summary and returns it.
func waitServeRun(t *testing.T, ctx context.Context, addr, id string) summary {
	t.Helper()
	for {
		var a struct {
			Status  string          `json:"status"`
			Summary json.RawMessage `json:"summary"`
		}
		resp, err := http.Get("http://" + addr + "/api/tests/runs/" + id)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
		}
		if err == nil && len(a.Summary) > 0 {
			var s summary
			if err := json.Unmarshal(a.Summary, &s); err != nil {
				t.Fatalf("serve run %s summary: %v", id, err)
			}
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("serve run %s has no summary before the deadline (status %q, last error %v)", id, a.Status, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestHistorySQL runs every History dashboard query against MariaDB after
// runs of every type were stored through the store (mysqlstore and its
// migrations): no errors, rows from each. TestStackEndToEnd repeats it with a
// load run stored by `loadgen run` itself.
func TestHistorySQL(t *testing.T) {
	dsn := newDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkHistorySQL(t, ctx, dsn, true)
}

func checkHistorySQL(t *testing.T, ctx context.Context, dsn string, withLoadRun bool) {
	t.Helper()
	dq, err := stacktest.DashboardQueries(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := mysqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storeResults(t, ctx, st, withLoadRun)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nsql := 0
	for _, q := range dq {
		if q.Lang != stacktest.SQL {
			continue
		}
		nsql++
		rows, cols, err := runSQL(ctx, db, q.Expr)
		switch {
		case err != nil:
			t.Errorf("%s:\n%s\n  error: %v", q.Source, q.Expr, err)
		case rows == 0:
			t.Errorf("%s:\n%s\n  returned no rows", q.Source, q.Expr)
		case q.Format == "time_series" && cols[0] != "time":
			t.Errorf("%s: time_series query's first column is %q; Grafana needs time", q.Source, cols[0])
		}
	}
	if nsql < 10 {
		t.Errorf("%d History SQL queries; want at least 10", nsql)
	}
	t.Logf("%d History SQL queries ran and returned rows", nsql)
}

func runSQL(ctx context.Context, db *sql.DB, q string) (int, []string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	return n, cols, rows.Err()
}

// storeResults writes a benchmark, a stress and a knee run (and, with
// withLoad, a load run with snapshots) through the store.
func storeResults(t *testing.T, ctx context.Context, st store.Store, withLoad bool) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	types := []store.Type{store.TypeBenchmark, store.TypeStress, store.TypeKnee}
	if withLoad {
		types = append(types, store.TypeLoad)
	}
	for _, typ := range types {
		r := &store.Run{Name: "e2e-" + string(typ), Plan: "e2e-" + string(typ), Type: typ, Status: store.StatusRunning, StartedAt: now}
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		switch typ {
		case store.TypeBenchmark:
			err := st.AddBenchmarkResults(ctx, r.ID, []store.BenchmarkResult{
				{Plan: r.Plan, Endpoint: "GET /api/teams", Method: "GET", Concurrency: 4, Requests: 300, RPS: 250, CreatedAt: now,
					Latency: store.Latency{P50Ms: 3, P95Ms: 7, P99Ms: 9, P999Ms: 12, MaxMs: 14}},
				{Plan: r.Plan, Endpoint: "GET /api/health", Method: "GET", Concurrency: 4, Requests: 300, RPS: 900, CreatedAt: now,
					Latency: store.Latency{P50Ms: 0.3, P95Ms: 0.7, P99Ms: 0.9, P999Ms: 1.2, MaxMs: 1.4}},
			})
			if err != nil {
				t.Fatal(err)
			}
		case store.TypeStress:
			err := st.AddStressResult(ctx, r.ID, store.StressResult{State: "COMPLETED", MaxSustainableRPS: 64, BreakdownRPS: 76,
				Threshold: 0.05, CreatedAt: now, Probes: []store.StressProbe{
					{Seq: 1, Phase: "double", TargetRPS: 64, AchievedRPS: 64, Requests: 640, OK: true},
					{Seq: 2, Phase: "double", TargetRPS: 128, AchievedRPS: 120, Requests: 1200, Errors: 200, ErrorRate: 0.17},
				}})
			if err != nil {
				t.Fatal(err)
			}
		case store.TypeLoad:
			var snaps []store.Snapshot
			for i := 0; i < 5; i++ {
				snaps = append(snaps, store.Snapshot{TS: now.Add(time.Duration(2*i) * time.Second), Phase: "sustained",
					RPS: 100, TargetRPS: 100, P50Ms: 20, P95Ms: 60, P99Ms: 75, InFlight: 3, VUs: 3, Requests: int64(200 * (i + 1))})
			}
			if err := st.AddSnapshots(ctx, r.ID, snaps); err != nil {
				t.Fatal(err)
			}
		case store.TypeKnee:
			err := st.AddKneeResult(ctx, r.ID, store.KneeResult{KneeRPS: 300, KneeP99Ms: 40, MaxThroughputRPS: 320, CreatedAt: now,
				Points: []store.KneePoint{{TargetRPS: 100, ThroughputRPS: 100, P99Ms: 20}, {TargetRPS: 400, ThroughputRPS: 320, P99Ms: 90}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		fin := store.Finish{Status: store.StatusCompleted, EndedAt: now.Add(10 * time.Second),
			Totals: store.Totals{Requests: 1000, Errors: 10, ErrorRate: 0.01, RPS: 100, P50Ms: 20, P95Ms: 60, P99Ms: 75, MaxMs: 120}}
		if err := st.FinishRun(ctx, r.ID, fin); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTargetQueriesReturnData is the target half of the proof, which needs
// only the target: the pinned Prometheus scrapes a real target (native
// histograms over protobuf) while the test sends it a little traffic, and
// every dashboard and rule query that reads no loadgen_ metric must return
// data.
func TestTargetQueriesReturnData(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 15 s")
	}
	root := testenv.RepoRoot(t)
	testenv.Tool(t, "prometheus")
	target := build(t, t.TempDir(), "target")
	addr := testenv.FreeAddr(t)
	startProcess(t, target, "--addr", addr, "--error-rate", "0.05")
	waitHTTP(t, "http://"+addr+"/api/health")
	prom := promtest.Start(t, promtest.Config(t, promtest.Target{Job: "target", Addr: addr}))
	prom.WaitUp(t, "target", 30*time.Second)

	// About 25 requests per second for 10 s: bounded in count and time.
	client := &http.Client{Timeout: 5 * time.Second}
	paths := []string{"/api/teams", "/api/users?page=1&limit=10", "/api/teams/3", "/api/users/7"}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 250 && time.Now().Before(deadline); i++ {
		resp, err := client.Get("http://" + addr + paths[i%len(paths)])
		if err == nil {
			resp.Body.Close()
		}
		time.Sleep(40 * time.Millisecond)
	}
	at := time.Now()

	queries, err := stacktest.AllQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checked := 0
	for _, q := range queries {
		expr := q.Expr
		if q.Alert {
			expr = q.Cond
		}
		if q.Lang != stacktest.PromQL || expr == "" || strings.Contains(expr, "loadgen") || strings.Contains(expr, "ALERTS") ||
			!strings.Contains(expr, "target_") && !strings.Contains(expr, "process_") && !strings.Contains(expr, "go_") && !strings.Contains(expr, "up{") {
			continue
		}
		checked++
		r, err := prom.Query(ctx, expr, at)
		switch {
		case err != nil:
			t.Errorf("%s:\n  %s\n  error: %v", q.Source, expr, err)
		case len(r.Result) == 0:
			t.Errorf("%s:\n  %s\n  returned no data at %s%s", q.Source, expr, at.Format(time.RFC3339Nano), recent(ctx, prom, expr, at))
		}
	}
	if checked < 20 {
		t.Errorf("checked %d target queries; want at least 20", checked)
	}
	t.Logf("%d target queries returned data", checked)
	// The server histogram arrived as a native histogram (not only _count/_sum).
	r, err := prom.Query(ctx, `histogram_count(sum(target_http_request_duration_seconds))`, at)
	if err != nil || len(r.Result) != 1 {
		t.Errorf("histogram_count(sum(target_http_request_duration_seconds)) = %v, %v; want one native histogram sample", r, err)
	}
}

// recent describes the samples of a series-selector expression in the 30 s
// before at, to tell a late rule evaluation from a missing series.
func recent(ctx context.Context, prom *promtest.Server, expr string, at time.Time) string {
	if strings.ContainsAny(expr, " (") {
		return ""
	}
	r, err := prom.Query(ctx, expr+"[30s]", at)
	if err != nil {
		return "; " + err.Error()
	}
	return fmt.Sprintf("; samples in the 30 s before: %s", r.Result)
}

// TestComposeCommandsMatchBinaries: the flags docker-compose.yml and the
// Dockerfiles pass to loadgen and target exist in the binaries.
func TestComposeCommandsMatchBinaries(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		bin   string
		args  []string // the help invocation
		flags []string
	}{
		{"target", []string{"-h"}, []string{"-addr"}},
		{"loadgen", []string{"serve", "-h"}, []string{"-addr", "-allow-target", "-allowed-host", "-target", "-token", "-store"}},
	} {
		t.Run(tc.bin, func(t *testing.T) {
			bin := build(t, dir, tc.bin)
			out, _ := exec.Command(bin, tc.args...).CombinedOutput()
			if strings.Contains(string(out), "unknown command") {
				testenv.Unavailable(t, "`%s %s` is not available yet", tc.bin, strings.Join(tc.args[:len(tc.args)-1], " "))
			}
			for _, f := range tc.flags {
				if !strings.Contains(string(out), f+" ") && !strings.Contains(string(out), f+"\n") {
					t.Errorf("%s %s: no flag %s (used by docker-compose.yml):\n%s", tc.bin, strings.Join(tc.args, " "), f, out)
				}
			}
		})
	}

	// Prometheus scrapes `loadgen serve` on its control address (compose job
	// loadgen -> loadgen:8089): /metrics there must carry loadgen's metrics.
	t.Run("serve-metrics", func(t *testing.T) {
		bin := filepath.Join(dir, "loadgen")
		if !fileExists(bin) {
			t.Skip("loadgen not built")
		}
		addr := testenv.FreeAddr(t)
		out, _ := startProcess(t, bin, "serve", "--addr", addr, "--store", "sqlite://"+filepath.Join(dir, "serve.db"))
		waitHTTP(t, "http://"+addr+"/api/health")
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		for _, m := range []string{"loadgen_build_info", "loadgen_sysmon_collector_success", "loadgen_in_flight_requests"} {
			if !strings.Contains(b.String(), m) {
				t.Errorf("loadgen serve /metrics lacks %s (serve output:\n%s)", m, out)
			}
		}
	})
}
