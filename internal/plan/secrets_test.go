package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// envOf is a ${env.NAME} source over a map.
func envOf(m map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if v, ok := m[name]; ok {
			return v, nil
		}
		return "", fmt.Errorf("%s is not in the test environment", name)
	}
}

const envPlan = `name: env
target: http://127.0.0.1:8117
defaults: {headers: {X-Api-Key: "${env.API_KEY}"}}
variables:
  jwt: "${env.JWT}"
  plain: "${env.PLAIN}"
  shown: {value: "${env.REGION}", secret: false}
  literal: {value: "hunter2-literal", secret: true}
  base: v1
scenarios:
  - steps:
      - name: login
        request:
          method: POST
          path: "/${base}/login?tenant=${env.TENANT:-acme}"
          query: {q: "${env.QUERY}"}
          headers: {Authorization: "Bearer ${jwt}", Cookie: "sid=${env.SID}"}
          json: {password: "${env.PASSWORD}", region: "${shown}"}
        capture: {session: "$.session"}
      - name: me
        request: {path: /me, headers: {Authorization: "Session ${session}"}}
load:
  phases:
    - {name: p, duration: 1s, rate: 1}
`

var testEnv = map[string]string{
	"API_KEY": "key-0123456789", "JWT": "eyJ.header.sig", "PLAIN": "plain-env-value", "REGION": "eu-west-1",
	"QUERY": "a b&c", "SID": "sid-abcdef", "PASSWORD": `pa"ss\word`,
}

func TestEnvResolvedAtLoad(t *testing.T) {
	p, err := Parse("env.yaml", []byte(envPlan), WithEnvLookup(envOf(testEnv)))
	if err != nil {
		t.Fatal(err)
	}
	login := p.Scenarios[0].Steps[0].Request.Compiled
	s := p.NewScope(0, 1)
	if got, want := login.URL.Render(s), "http://127.0.0.1:8117/v1/login?tenant=acme&q=a+b%26c"; got != want {
		t.Errorf("URL = %q; want %q", got, want)
	}
	if got, want := login.Body.Render(s), `{"password":"pa\"ss\\word","region":"eu-west-1"}`; got != want {
		t.Errorf("body = %s; want %s", got, want)
	}
	hdr := map[string]string{}
	for _, h := range login.Headers {
		hdr[h.Name] = h.Value.Render(s)
		if h.Name == "X-Api-Key" && !h.Value.Static() {
			t.Error("a header made of ${env.NAME} alone should be static once loaded")
		}
	}
	if hdr["Authorization"] != "Bearer eyJ.header.sig" || hdr["Cookie"] != "sid=sid-abcdef" || hdr["X-Api-Key"] != "key-0123456789" {
		t.Errorf("headers = %v", hdr)
	}
	if v, _ := s.Lookup("jwt"); v != "eyJ.header.sig" {
		t.Errorf("variable jwt = %q; want the environment's value", v)
	}
	// Read once: changing the source after loading changes nothing.
	testEnv["JWT"] = "changed"
	defer func() { testEnv["JWT"] = "eyJ.header.sig" }()
	if got := login.Headers[0].Value.Render(p.NewScope(0, 1)); strings.Contains(got, "changed") {
		t.Errorf("the environment was read again at render time: %q", got)
	}
}

func TestRedactorOfPlan(t *testing.T) {
	p, err := Parse("env.yaml", []byte(envPlan), WithEnvLookup(envOf(testEnv)))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Redactor()
	for _, secret := range []string{"key-0123456789", "eyJ.header.sig", "Bearer eyJ.header.sig", "plain-env-value", "sid-abcdef",
		"sid=sid-abcdef", `pa"ss\word`, `pa\"ss\\word`, "hunter2-literal", "a+b%26c"} {
		if got := r.String("<" + secret + ">"); got != "<***>" {
			t.Errorf("Redactor.String(<%s>) = %q; want <***>", secret, got)
		}
	}
	for _, shown := range []string{"eu-west-1", "acme", "v1"} {
		if got := r.String(shown); got != shown {
			t.Errorf("Redactor masks %q (%q): not a secret", shown, got)
		}
	}
	y := p.StoredYAML()
	for _, secret := range []string{"key-0123456789", "eyJ.header.sig", "hunter2-literal"} {
		if strings.Contains(y, secret) {
			t.Errorf("stored YAML holds %q:\n%s", secret, y)
		}
	}
	if !strings.Contains(y, "${env.JWT}") || !strings.Contains(y, "secret: false") {
		t.Errorf("stored YAML should keep ${env.JWT} and secret: false as written:\n%s", y)
	}
	// A header taking a capture is masked per request.
	me := p.Scenarios[0].Steps[1].Request.Compiled
	s := p.NewScope(0, 1)
	s.Set("session", "sess-42-xyz")
	if got := strings.Join(me.AppendSecrets(nil, s), "|"); got != "Session sess-42-xyz|sess-42-xyz" {
		t.Errorf("AppendSecrets = %q", got)
	}
	if got := p.Scenarios[0].Steps[0].Request.Compiled.AppendSecrets(nil, s); len(got) != 0 {
		t.Errorf("AppendSecrets of fixed headers = %q; want none (the plan's Redactor has them)", got)
	}
}

func TestPlainVariableInAuthorizationIsSecret(t *testing.T) {
	src := `name: x
target: http://127.0.0.1:1
variables: {jwt: abc.def.ghi, who: alice}
defaults: {headers: {Authorization: "Bearer ${jwt}"}}
scenarios:
  - steps: [{request: {path: "/u/${who}"}}]
load: {phases: [{name: p, duration: 1s, rate: 1}]}
`
	p, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if y := p.StoredYAML(); strings.Contains(y, "abc.def.ghi") || !strings.Contains(y, "alice") {
		t.Errorf("stored YAML: want jwt masked, who kept:\n%s", y)
	}
}

func TestEnvErrors(t *testing.T) {
	denied := errors.New("plans sent over the API may not read the server's environment")
	tests := []struct {
		name string
		opts []Option
		src  string
		want string
	}{
		{"unset", []Option{WithEnvLookup(envOf(nil))}, `path: "/x/${env.NOPE}"`,
			"request.path: ${env.NOPE}: NOPE is not in the test environment"},
		{"refused", []Option{WithEnvLookup(func(string) (string, error) { return "", denied })}, `path: /x, headers: {Authorization: "${env.T}"}`,
			"request.headers.Authorization: ${env.T}: plans sent over the API may not read the server's environment"},
		{"no environment", []Option{WithEnvLookup(nil)}, `path: /x, body: "${env.T}"`,
			"request.body: ${env.T}: environment variables are not available here"},
		{"line break", []Option{WithEnvLookup(envOf(map[string]string{"T": "a\r\nX-Evil: 1"}))}, `path: /x, headers: {X-T: "${env.T}"}`,
			"request.headers.X-T: a value read from the environment contains a line break"},
		{"space in path", []Option{WithEnvLookup(envOf(map[string]string{"T": "a b"}))}, `path: "/${env.T}"`,
			"request.path: a value read from the environment contains a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: x\ntarget: http://127.0.0.1:1\nscenarios:\n  - steps: [{request: {" + tt.src + "}}]\nload: {phases: [{name: p, duration: 1s, rate: 1}]}\n"
			_, err := Parse("x.yaml", []byte(src), tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEnvDefaultsAndOverrides(t *testing.T) {
	src := `name: x
target: http://127.0.0.1:1
variables: {a: "${env.A:-da}", b: "${env.B:-db}", c: "[${env.C}]"}
scenarios:
  - steps: [{request: {path: "/${env.EMPTY:-e}/${env.A:-x}"}}]
load: {phases: [{name: p, duration: 1s, rate: 1}]}
`
	p, err := Parse("x.yaml", []byte(src), WithEnvLookup(envOf(map[string]string{"B": "from-lookup", "EMPTY": "", "C": "lookup"})),
		WithEnv(map[string]string{"A": "from-flag", "C": "flag-wins"}))
	if err != nil {
		t.Fatal(err)
	}
	vars := p.VariableValues()
	if vars["a"] != "from-flag" || vars["b"] != "from-lookup" || vars["c"] != "[flag-wins]" {
		t.Errorf("variables = %v", vars)
	}
	if got := p.Scenarios[0].Steps[0].Request.Compiled.Path.Render(nil); got != "/e/from-flag" {
		t.Errorf("path = %q; want /e/from-flag (an empty value takes the default)", got)
	}
	if p.Redactor().String("db") != "db" {
		t.Error("a default written in the plan is not a secret")
	}
}

func TestVariableForms(t *testing.T) {
	src := "name: x\ntarget: http://127.0.0.1:1\nvariables:\n  n: 42\n  e:\n  m: {value: hello}\n  s:\n    value: topsecret\n    secret: true\n" +
		"scenarios:\n  - steps: [{request: {path: \"/${n}/${m}/${s}/${e}\"}}]\nload: {phases: [{name: p, duration: 1s, rate: 1}]}\n"
	p, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Scenarios[0].Steps[0].Request.Compiled.Path.Render(p.NewScope(0, 1)); got != "/42/hello/topsecret/" {
		t.Errorf("path = %q", got)
	}
	if s := p.Variables["s"].Secret; s == nil || !*s || p.Variables["m"].Secret != nil {
		t.Errorf("secret flags: %+v", p.Variables)
	}
	if y := p.StoredYAML(); strings.Contains(y, "topsecret") || !strings.Contains(y, "secret: true") {
		t.Errorf("stored YAML:\n%s", y)
	}
	bad := "name: x\ntarget: http://127.0.0.1:1\nvariables: {l: [1, 2]}\nscenarios:\n  - steps: [{request: {path: /}}]\nload: {phases: [{name: p, duration: 1s, rate: 1}]}\n"
	if _, err := Parse("x.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "x.yaml:3:16: variables.l: must be a string or {value: STRING, secret: true}, got a list") {
		t.Errorf("a list variable: %v", err)
	}
}
