package plan

import (
	"net/http"
	"strings"
	"testing"
)

func TestCaptureExtract(t *testing.T) {
	body := []byte(`{"token":"abc","n":12.50,"ok":true,"nil":null,"items":[{"id":7,"tags":["x","y"]}],"odd key":{"v":"w"}}`)
	hdr := http.Header{"X-Request-Id": {"r-1"}}
	tests := []struct {
		src, want string
		found     bool
	}{
		{"$.token", "abc", true},
		{"$.n", "12.50", true},
		{"$.ok", "true", true},
		{"$.nil", "", true},
		{"$.items[0].id", "7", true},
		{"$.items[0].tags", `["x","y"]`, true},
		{"$.items[0].tags[1]", "y", true},
		{`$["odd key"].v`, "w", true},
		{"$['odd key']['v']", "w", true},
		{"$.items[3].id", "", false},
		{"$.token.x", "", false},
		{"$.missing", "", false},
		{"header:X-Request-Id", "r-1", true},
		{"header:x-request-id", "r-1", true},
		{"header:X-Nope", "", false},
		{`regex:"token":"(\w+)"`, "abc", true},
		{`regex:"ok":\w+`, `"ok":true`, true},
		{`regex:zzz(\d)`, "", false},
	}
	for _, tt := range tests {
		c, err := ParseCapture(tt.src)
		if err != nil {
			t.Errorf("ParseCapture(%q) error %v", tt.src, err)
			continue
		}
		got, found := c.Extract(200, hdr.Get, body)
		if got != tt.want || found != tt.found {
			t.Errorf("Capture(%q).Extract = %q, %v; want %q, %v", tt.src, got, found, tt.want, tt.found)
		}
	}
	c, _ := ParseCapture("$.a")
	if _, found := c.Extract(200, nil, []byte("not json")); found {
		t.Error("JSON capture found a value in a non-JSON body")
	}
}

func TestParseCaptureErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"token", "want a JSON path"},
		{"$token", "unexpected"},
		{"$.a..b", "empty name"},
		{"$.a[x]", "not an index"},
		{"$.a[1", "missing ']'"},
		{"header:", "invalid header name"},
		{"header:A B", "invalid header name"},
		{"regex:(", "invalid regex"},
	}
	for _, tt := range tests {
		_, err := ParseCapture(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCapture(%q) error = %v; want %q", tt.src, err, tt.want)
		}
	}
}
