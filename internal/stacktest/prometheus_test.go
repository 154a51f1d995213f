package stacktest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
	"github.com/loadlab/loadlab/internal/testenv/promtest"
)

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
	p := promtest.Start(t, promtest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.Query(ctx, "sum(rate(loadgen_requests_total[1m])", time.Time{}); err == nil {
		t.Fatal("a malformed expression evaluated without error: the check below would prove nothing")
	}
	n := 0
	for _, q := range append(dq, rq...) {
		if q.Lang != PromQL {
			continue
		}
		n++
		if _, err := p.Query(ctx, q.Expr, time.Time{}); err != nil {
			t.Errorf("%s:\n  %s\n  error: %v", q.Source, q.Expr, err)
		}
		if q.Cond != "" {
			if _, err := p.Query(ctx, q.Cond, time.Time{}); err != nil {
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
