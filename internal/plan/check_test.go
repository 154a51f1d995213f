package plan

import (
	"strings"
	"testing"
	"time"
)

func TestCheckEval(t *testing.T) {
	body := []byte(`{"status":"ok","count":3,"ratio":0.5,"ok":true,"user":{"id":"7"},"list":[1,2],"nil":null}`)
	tests := []struct {
		name    string
		check   Check
		status  int
		latency time.Duration
		ok      bool
		why     string
	}{
		{"default status ok", Check{}, 204, 0, true, ""},
		{"default status 404", Check{}, 404, 0, false, "status 404"},
		{"explicit status", Check{Status: []int{200, 201}}, 201, 0, true, ""},
		{"explicit status miss", Check{Status: []int{200}}, 302, 0, false, "status 302 not in [200]"},
		{"body contains", Check{BodyContains: `"count":3`}, 200, 0, true, ""},
		{"body contains miss", Check{BodyContains: "nope"}, 200, 0, false, `body does not contain "nope"`},
		{"latency ok", Check{MaxLatency: D(time.Second)}, 200, time.Second, true, ""},
		{"latency over", Check{MaxLatency: D(time.Second)}, 200, 1500 * time.Millisecond, false, "latency 1.5s over 1s"},
		{"json eq", Check{JSON: map[string]any{"$.status": "ok", "$.count": 3, "$.ratio": 0.5, "$.ok": true, "$.user.id": 7, "$.list": []any{1, 2}, "$.nil": nil, "$.absent": nil}}, 200, 0, true, ""},
		{"json string mismatch", Check{JSON: map[string]any{"$.status": "down"}}, 200, 0, false, "$.status = ok, want down"},
		{"json number mismatch", Check{JSON: map[string]any{"$.count": 4}}, 200, 0, false, "$.count = 3, want 4"},
		{"json bool mismatch", Check{JSON: map[string]any{"$.ok": false}}, 200, 0, false, "$.ok = true, want false"},
		{"json missing", Check{JSON: map[string]any{"$.x": 1}}, 200, 0, false, "$.x: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			if errs := c.compile(); errs != nil {
				t.Fatal(errs)
			}
			ok, why := c.Eval(tt.status, body, tt.latency)
			if ok != tt.ok || why != tt.why {
				t.Errorf("Eval = %v, %q; want %v, %q", ok, why, tt.ok, tt.why)
			}
			// Uncompiled checks (built in Go) give the same answer.
			ok2, why2 := tt.check.Eval(tt.status, body, tt.latency)
			if ok2 != ok || why2 != why {
				t.Errorf("uncompiled Eval = %v, %q; compiled %v, %q", ok2, why2, ok, why)
			}
		})
	}
	ok, why := Check{JSON: map[string]any{"$.a": 1}}.Eval(200, []byte("<html>"), 0)
	if ok || !strings.Contains(why, "not JSON") {
		t.Errorf("non-JSON body: %v, %q", ok, why)
	}
}
