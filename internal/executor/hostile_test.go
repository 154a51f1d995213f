package executor

import (
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

func startHostile(t *testing.T) string {
	t.Helper()
	s, err := hostile.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

// TestHostileTarget: bodies over max_body pass unless a check or capture
// needed the part dropped (then reason check, naming the limit), a malformed
// response is reason protocol with the parser's message, an endless body
// ends at the timeout, and every byte read counts in BytesIn.
func TestHostileTarget(t *testing.T) {
	url := startHostile(t)
	p := mustPlan(t, url, `
defaults: {max_body: 64KiB}
scenarios:
  - name: s
    steps:
      - name: big-found
        request: {path: /big/4194304}
        check: {body_contains: "0123456789abcdef"}
      - name: big-plain
        request: {path: /big-chunked/4194304, max_body: 0}
      - name: big-miss
        request: {path: /big/4194304}
        check: {body_contains: "zzz"}
      - name: big-capture
        request: {path: /big-chunked/4194304}
        capture: {z: "regex:z(z+)"}
      - name: small-capture
        request: {path: /ok}
        capture: {z: "regex:z(z+)"}
      - name: garbage
        request: {path: /garbage}
      - name: endless
        request: {path: /chunked-endless, timeout: 300ms}
load:
  phases: [{name: a, duration: 1s, rate: 2}]
`)
	_, res, _ := run(t, p)
	want := map[string]Reason{"big-found": ReasonNone, "big-plain": ReasonNone, "big-miss": ReasonCheck, "big-capture": ReasonCheck,
		"small-capture": ReasonNone, "garbage": ReasonProtocol, "endless": ReasonTimeout}
	for step, reason := range want {
		c := res.Step("s", step)
		if c == nil || c.Requests != 2 {
			t.Fatalf("step %s: %+v; want 2 requests", step, c)
		}
		if reason == ReasonNone && c.Errors != 0 || reason != ReasonNone && c.ErrorsByReason[reason] != 2 {
			t.Errorf("step %s: errors %v; want %v", step, c.ErrorCounts(), reason)
		}
		if strings.HasPrefix(step, "big") && c.BytesIn < 2*4194304 {
			t.Errorf("step %s: BytesIn %d; want every byte read counted (>= %d)", step, c.BytesIn, 2*4194304)
		}
	}
	msgs := map[string]string{}
	for _, s := range res.ErrorSamples {
		msgs[s.Step] = s.Message
	}
	for step, sub := range map[string]string{
		"big-miss":    `body does not contain "zzz" (only the first 64KiB of the 4194304-byte body were kept: max_body)`,
		"big-capture": "capture z (regex:z(z+)): not found (only the first 64KiB of the 4194304-byte body were kept: max_body)",
		"garbage":     "malformed response:",
	} {
		if !strings.Contains(msgs[step], sub) {
			t.Errorf("error sample of %s = %q; want it to contain %q", step, msgs[step], sub)
		}
	}
}
