package executor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrorSamplesMaskSecrets: a server that echoes the credentials it got in
// failing responses must not get them into the error samples, whether the
// plan fixes them (a secret variable, an Authorization header) or they change
// per request (a captured session token, a data column).
func TestErrorSamplesMaskSecrets(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"token":"captured-session-token-4242"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization"), "key": r.Header.Get("X-Api-Key"),
			"body": string(body)})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := mustPlan(t, srv.URL, `
variables: {pw: {value: literal-secret-password, secret: true}}
data: {keys: {columns: [k], rows: [[row-api-key-000001], [row-api-key-000002]]}}
scenarios:
  - name: s
    steps:
      - name: login
        request: {method: POST, path: /login}
        capture: {session: "$.token"}
      - name: session
        request: {path: /a, headers: {Authorization: "Bearer ${session}"}}
        check: {status: [500], json: {"$.auth": "x"}}
      - name: key
        request: {path: /b, headers: {X-Api-Key: "${keys.k}"}}
        check: {status: [500], json: {"$.key": "x"}}
      - name: body
        request: {method: POST, path: /c, body: "pw=${pw}"}
        check: {status: [500], json: {"$.body": "x"}}
load:
  phases:
    - {name: a, duration: 300ms, rate: 20}
`)
	_, res, _ := run(t, p)
	if len(res.ErrorSamples) < 3 {
		t.Fatalf("ErrorSamples = %+v; want one per failing step", res.ErrorSamples)
	}
	for _, es := range res.ErrorSamples {
		for _, secret := range []string{"captured-session", "row-api-key", "literal-secret"} {
			if strings.Contains(es.Message, secret) {
				t.Errorf("step %s: error sample %q holds %q", es.Step, es.Message, secret)
			}
		}
		if !strings.Contains(es.Message, "***") {
			t.Errorf("step %s: error sample %q: want the echoed secret masked", es.Step, es.Message)
		}
	}
}
