package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
)

// journeyServer issues a fresh token per login and accepts /api/me only with
// a token it issued; it counts what it saw.
type journeyServer struct {
	mu       sync.Mutex
	issued   map[string]bool
	logins   int
	meOK     int
	meBad    []string // Authorization headers it rejected
	profiles atomic.Int64
}

func (js *journeyServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Email, Password string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Password != "secret" {
			http.Error(w, `{"error":"bad credentials"}`, http.StatusUnauthorized)
			return
		}
		js.mu.Lock()
		js.logins++
		tok := fmt.Sprintf("tok-%d-%s", js.logins, strings.SplitN(body.Email, "@", 2)[0])
		js.issued[tok] = true
		js.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q}`, tok)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		js.mu.Lock()
		ok = ok && js.issued[tok]
		if ok {
			js.meOK++
		} else {
			js.meBad = append(js.meBad, auth)
		}
		js.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":7,"name":"Ada"}`)
	})
	mux.HandleFunc("GET /api/profile", func(w http.ResponseWriter, r *http.Request) {
		js.profiles.Add(1)
		fmt.Fprint(w, `{"status":"fine"}`)
	})
	return mux
}

const journeyPlan = `name: journey
target: %s
variables: {password: secret}
scenarios:
  - name: user
    steps:
      - name: login
        request: {method: POST, path: /api/auth/login, json: {email: "${random_email}", password: "${password}"}}
        capture: {token: "$.token"}
        check: {status: [200]}
      - name: me
        request: {method: GET, path: /api/me, headers: {Authorization: "Bearer ${token}"}}
        check: {status: [200], json: {"$.name": Ada}}
      - name: profile
        request: {method: GET, path: /api/profile}
        check: {body_contains: "never in the body"}
load:
  model: open
  phases:
    - {name: steady, duration: 2s, rate: 20}
thresholds: ["step[me].error_rate < 1%%", "step[profile].error_rate < 1%%"]
`

// TestJourneyCaptureAndCheck: a token captured from the login response
// reaches the next request's header, and a failing check counts as an error
// with reason "check" (and fails its threshold).
func TestJourneyCaptureAndCheck(t *testing.T) {
	js := &journeyServer{issued: map[string]bool{}}
	srv := httptest.NewServer(js.handler())
	defer srv.Close()

	y := fmt.Sprintf(journeyPlan, srv.URL)
	p, err := plan.Parse("journey.yaml", []byte(y))
	if err != nil {
		t.Fatalf("plan.Parse: %v", err)
	}
	s := runWithin(t, p, 30*time.Second, nil)
	if s.Status != store.StatusCompleted {
		t.Fatalf("status %q (%s); want completed", s.Status, s.Error)
	}
	js.mu.Lock()
	logins, meOK, meBad := js.logins, js.meOK, js.meBad
	js.mu.Unlock()
	if logins < 30 || meOK != logins || len(meBad) != 0 {
		t.Errorf("server: %d logins, %d /api/me accepted, rejected %q; want every login's token to reach /api/me (≥30 iterations)", logins, meOK, meBad)
	}
	steps := map[string]report.Step{}
	for _, st := range s.Steps {
		steps[st.Step] = st
	}
	if me := steps["me"]; me.Requests != uint64(logins) || me.Errors != 0 {
		t.Errorf("step me: %d requests %d errors (%v); want %d requests, 0 errors", me.Requests, me.Errors, me.ErrorsByReason, logins)
	}
	prof := steps["profile"]
	if prof.Requests == 0 || prof.Errors != prof.Requests || prof.ErrorsByReason["check"] != prof.Requests {
		t.Errorf("step profile: %d requests, %d errors, by reason %v; want every request an error with reason check", prof.Requests, prof.Errors, prof.ErrorsByReason)
	}
	if got := s.ErrorsByReason["check"]; got != prof.Requests {
		t.Errorf("errors_by_reason[check] = %d; want %d", got, prof.Requests)
	}
	if len(s.Thresholds) != 2 || !s.Thresholds[0].OK || s.Thresholds[1].OK {
		t.Errorf("thresholds = %+v; want me passing, profile failing", s.Thresholds)
	}
	if s.Passed() {
		t.Errorf("Passed() = true with a failed threshold")
	}
}

// TestTargetDown: nothing listens at the target; every request fails with
// reason connect, the run still ends on schedule, status failed, with a
// one-line explanation naming the cause.
func TestTargetDown(t *testing.T) {
	addr := testenv.FreeAddr(t) // nothing listens there

	p := openPlan(t, "http://"+addr, 50, 2*time.Second, 100)
	start := time.Now()
	s := runWithin(t, p, 30*time.Second, nil)
	if el := time.Since(start); el < 1900*time.Millisecond || el > 10*time.Second {
		t.Errorf("run took %v; want it to end on schedule (2 s)", el)
	}
	if s.Status != store.StatusFailed {
		t.Errorf("status = %q; want failed", s.Status)
	}
	if s.Requests < 90 || s.Errors != s.Requests || s.ErrorsByReason["connect"] != s.Requests {
		t.Errorf("requests %d errors %d by reason %v; want ~100, all connect", s.Requests, s.Errors, s.ErrorsByReason)
	}
	want := fmt.Sprintf("all %d requests failed: connect %d", s.Requests, s.Requests)
	if !strings.HasPrefix(s.Error, want) || strings.Contains(s.Error, "\n") {
		t.Errorf("error = %q; want one line starting %q", s.Error, want)
	}
	t.Logf("error line: %s", s.Error)
}

// TestTargetGoesAway: the target serves for 1.5 s of a 5 s run, then is
// closed: status failed, explanation says since when it was unreachable.
func TestTargetGoesAway(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	p := openPlan(t, srv.URL, 50, 5*time.Second, 100)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		srv.CloseClientConnections()
		srv.Close()
	}()
	s := runWithin(t, p, 30*time.Second, nil)
	t.Logf("status %s: %s (requests %d errors %d %v)", s.Status, s.Error, s.Requests, s.Errors, s.ErrorsByReason)
	if s.Status != store.StatusFailed || !strings.HasPrefix(s.Error, "target unreachable from ") {
		t.Errorf("status %q error %q; want failed, \"target unreachable from ...\"", s.Status, s.Error)
	}
	if s.Errors == 0 || s.Errors == s.Requests {
		t.Errorf("errors %d of %d; want some but not all", s.Errors, s.Requests)
	}
}

// TestInterrupt: cancelling ctx (SIGINT) stops the run early and still
// returns a partial summary, status interrupted.
func TestInterrupt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	p := openPlan(t, srv.URL, 50, 30*time.Second, 100)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	rep, err := Execute(ctx, &Run{Plan: p})
	s, ok := rep.(*report.Summary)
	if !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, %v; want a summary and the cancellation", rep, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("interrupted run took %v; want it to stop promptly", el)
	}
	if s.Status != store.StatusInterrupted || s.Requests < 40 || !strings.HasPrefix(s.Error, "interrupted after") {
		t.Errorf("status %q error %q requests %d; want interrupted with ~75 requests", s.Status, s.Error, s.Requests)
	}
}

// TestAbortOnFail: a rolling threshold with abort_on_fail ends the run early
// with status aborted.
func TestAbortOnFail(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	p := openPlan(t, srv.URL, 50, 30*time.Second, 100)
	th, err := plan.ParseThreshold("p50 < 5ms")
	if err != nil {
		t.Fatal(err)
	}
	th.Window, th.AbortOnFail = plan.D(2*time.Second), true
	p.Thresholds = []plan.Threshold{th}
	start := time.Now()
	s := runWithin(t, p, 30*time.Second, nil)
	if el := time.Since(start); el > 6*time.Second {
		t.Errorf("run took %v; want an early abort", el)
	}
	if s.Status != store.StatusAborted || len(s.Thresholds) != 1 || !s.Thresholds[0].Aborted || s.Thresholds[0].OK {
		t.Errorf("status %q thresholds %+v; want aborted by the p50 threshold", s.Status, s.Thresholds)
	}
	t.Logf("abort: %s", s.Error)
}
