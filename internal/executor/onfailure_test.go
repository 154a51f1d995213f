package executor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestOnFailure: by default an iteration goes on after a failed step until a step that needs a capture the failed
// step did not take, and ends there (no request with "Bearer " and an empty token); on_failure continue sends it
// anyway; abort_iteration ends the iteration at the first failed step, even before a step that needs nothing from it.
func TestOnFailure(t *testing.T) {
	var emptyBearer, n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			if n.Add(1)%2 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Write([]byte(`{"token":"t"}`))
		case "/teams":
			if a := r.Header.Get("Authorization"); strings.TrimSpace(a) == "Bearer" { // the server trims the trailing space
				emptyBearer.Add(1)
			}
		}
	}))
	t.Cleanup(srv.Close)
	const plan = `
scenarios:
  - name: s
%s    steps:
      - {name: login, request: {path: /login}, capture: {token: "$.token"}}
      - {name: health, request: {path: /health}}
      - {name: teams, request: {path: /teams, headers: {Authorization: "Bearer ${token}"}}}
load: %s
`
	for _, load := range []string{"{model: closed, phases: [{name: a, duration: 500ms, vus: 2}]}",
		"{model: open, phases: [{name: a, duration: 500ms, rate: 200}]}"} {
		for _, tc := range []struct {
			onFailure                               string
			sendsEmpty, teamsSkipped, healthSkipped bool
		}{
			{"", false, true, false},
			{"continue", true, false, false},
			{"abort_iteration", false, true, true},
		} {
			emptyBearer.Store(0)
			line := ""
			if tc.onFailure != "" {
				line = "    on_failure: " + tc.onFailure + "\n"
			}
			_, res, _ := run(t, mustPlan(t, srv.URL, strings.Replace(strings.Replace(plan, "%s", line, 1), "%s", load, 1)))
			login, health, teams := res.Steps[0], res.Steps[1], res.Steps[2]
			if login.Errors == 0 {
				t.Fatalf("%q: no login failed", tc.onFailure)
			}
			if got := emptyBearer.Load() > 0; got != tc.sendsEmpty {
				t.Errorf("on_failure %q: sent %d requests with an empty bearer token; want some: %v", tc.onFailure, emptyBearer.Load(), tc.sendsEmpty)
			}
			if got := teams.Skipped > 0; got != tc.teamsSkipped {
				t.Errorf("on_failure %q: teams skipped %d; want some: %v", tc.onFailure, teams.Skipped, tc.teamsSkipped)
			}
			// One per failed login, but for the closed model's last iterations, which the end of the schedule cuts (2 VUs).
			if tc.teamsSkipped && (teams.Skipped > login.Errors || teams.Skipped+2 < login.Errors) {
				t.Errorf("on_failure %q: teams skipped %d; want one per failed login (%d)", tc.onFailure, teams.Skipped, login.Errors)
			}
			if got := health.Skipped > 0; got != tc.healthSkipped {
				t.Errorf("on_failure %q: health skipped %d; want some: %v", tc.onFailure, health.Skipped, tc.healthSkipped)
			}
		}
	}
}
