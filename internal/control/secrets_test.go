package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store/sqlitestore"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoTarget answers POST /login with a token to capture and anything else
// with 500 and a JSON body echoing the request's Authorization header and
// body: the way a misbehaving server leaks what it was sent. (The executor's
// tests cover the captured token; here every request fails, so the run's
// error quotes an error sample.)
func echoTarget(t *testing.T) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/login" {
			fmt.Fprint(w, `{"token": "captured-session-token-42"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization"), "body": string(body)})
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestSecretsNeverLeave runs, through serve's engine, a plan whose target
// echoes every credential it gets in failing responses: a token from serve's
// environment (${env.NAME}, allowed by PlanEnv), a plain variable used in an
// Authorization header and a secret variable sent in a JSON body. None of
// them may appear in the stored run (plan YAML,
// error, summary text and JSON), in the API's answers or in the logs.
func TestSecretsNeverLeave(t *testing.T) {
	const (
		envToken    = "env-jwt-eyJhbGciOiJIUzI1NiJ9.payload.sig"
		plainToken  = "plain-var-token-0123456789"
		password    = "s3cret-pa55word-in-body"
		capturedTok = "captured-session-token-42"
	)
	t.Setenv("LOADLAB_TEST_JWT", envToken)
	tgt := echoTarget(t)
	st, err := sqlitestore.Open(context.Background(), t.TempDir()+"/runs.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	er := &EngineRunner{Store: st, StoreURL: "sqlite://test", Log: log}
	srv, err := New(Config{PlanEnv: []string{"LOADLAB_TEST_JWT"}}, er, st, WithLogger(log), WithSampler(fakeSampler{}))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{harness: &harness{t: t, srv: srv, url: serve(t, srv, 10*time.Second)}, st: st}

	planText := fmt.Sprintf(`name: secrets
target: %s
variables:
  jwt: "${env.LOADLAB_TEST_JWT}"
  plain: %s
  password: {value: %q, secret: true}
scenarios:
  - name: echo
    steps:
      - name: env-token
        request: {path: /a, headers: {Authorization: "Bearer ${jwt}"}}
        check: {status: [500], json: {"$.auth": "nope"}}
      - name: plain-token
        request: {path: /b, headers: {Authorization: "Token ${plain}"}}
        check: {status: [500], json: {"$.auth": "nope"}}
      - name: body
        request: {method: POST, path: /c, json: {password: "${password}"}}
        check: {status: [500], json: {"$.body": "nope"}}
load:
  phases:
    - {name: p, duration: 1s, rate: 10}
`, tgt, plainToken, password)
	id := e.startRun(planText)
	var final answer
	waitFor(t, func() bool {
		final = e.get(id)
		s, _ := final.body["status"].(string)
		return s == "completed" || s == "failed"
	})

	r, err := st.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	list := e.do("GET", "/api/tests/runs", "")
	outputs := map[string]string{
		"stored plan yaml":    r.PlanYAML,
		"stored error":        r.Error,
		"stored summary text": r.SummaryText,
		"stored summary json": string(r.SummaryJSON),
		"API run detail":      final.raw,
		"API run list":        list.raw,
		"logs":                logs.String(),
	}
	for where, text := range outputs {
		for _, secret := range []string{envToken, plainToken, password, capturedTok, "eyJhbGciOiJIUzI1NiJ9", "s3cret-pa55"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %q:\n%s", where, secret, text)
			}
		}
	}
	// The echoes did reach the error samples (masked), so the check above means something.
	if !strings.Contains(r.Error, "***") || !strings.Contains(string(r.SummaryJSON), "***") {
		t.Errorf("want the run failed with a masked error sample; error %q", r.Error)
	}
	if !strings.Contains(r.PlanYAML, "${env.LOADLAB_TEST_JWT}") || !strings.Contains(r.PlanYAML, "plain: ***") {
		t.Errorf("stored plan: want ${env.NAME} kept as written and the plain token masked:\n%s", r.PlanYAML)
	}

	// A variable serve was not told to pass is refused, naming it and the flag.
	a := e.do("POST", "/api/tests/start", strings.Replace(planText, "LOADLAB_TEST_JWT", "HOME", 1), yamlHdr()...)
	e.want(a, http.StatusBadRequest, "")
	if !strings.Contains(a.raw, "HOME is not one of them") || !strings.Contains(a.raw, "--plan-env") || !strings.Contains(a.raw, "variables.jwt") {
		t.Errorf("refusal %s: want the path and --plan-env named", a.raw)
	}
}
