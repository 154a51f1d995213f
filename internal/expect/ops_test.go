package expect

import (
	"strings"
	"testing"
)

// TestJSONOperators: exists, not_empty, matches, numeric comparisons, length and eq, each passing and failing
// with the value it saw in the message.
func TestJSONOperators(t *testing.T) {
	body := `{"token":"abc","empty":"","none":null,"count":3,"ratio":0.5,"items":[1,2,3],"obj":{},"email":"a@b.c","name":"Zoë",
		"gt":{"gt":1}}`
	tests := []struct {
		path string
		want map[string]any
		name string // the check's name
		why  string // "" when it passes
	}{
		{"$.token", map[string]any{"exists": true}, "json $.token exists", ""},
		{"$.nope", map[string]any{"exists": true}, "json $.nope exists", "$.nope: missing, want exists"},
		{"$.nope", map[string]any{"exists": false}, "json $.nope missing", ""},
		{"$.token", map[string]any{"exists": false}, "json $.token missing", "$.token = abc, want it missing"},
		{"$.token", map[string]any{"not_empty": true}, "json $.token not_empty", ""},
		{"$.empty", map[string]any{"not_empty": true}, "json $.empty not_empty", "$.empty = , want not_empty"},
		{"$.none", map[string]any{"not_empty": true}, "json $.none not_empty", "$.none = , want not_empty"},
		{"$.obj", map[string]any{"not_empty": true}, "json $.obj not_empty", "$.obj = {}, want not_empty"},
		{"$.email", map[string]any{"matches": "^[^@]+@[^@]+$"}, `json $.email matches "^[^@]+@[^@]+$"`, ""},
		{"$.token", map[string]any{"matches": "^[0-9]+$"}, `json $.token matches "^[0-9]+$"`, `$.token = abc, want matches "^[0-9]+$"`},
		{"$.count", map[string]any{"gt": 0, "lte": 3}, "json $.count > 0, <= 3", ""},
		{"$.count", map[string]any{"gt": 3}, "json $.count > 3", "$.count = 3, want > 3"},
		{"$.ratio", map[string]any{"gte": 0.5, "lt": 1}, "json $.ratio >= 0.5, < 1", ""},
		{"$.token", map[string]any{"lt": 10}, "json $.token < 10", "$.token = abc, want < 10"},
		{"$.items", map[string]any{"len": 3}, "json $.items len = 3", ""},
		{"$.items", map[string]any{"min_len": 4}, "json $.items len >= 4", "$.items = [1,2,3], want len >= 4"},
		{"$.name", map[string]any{"max_len": 3}, "json $.name len <= 3", ""},
		{"$.obj", map[string]any{"len": 0}, "json $.obj len = 0", ""},
		{"$.gt", map[string]any{"eq": map[string]any{"gt": 1}}, `json $.gt = {"gt":1}`, ""},
		{"$.count", map[string]any{"eq": 4}, "json $.count = 4", "$.count = 3, want = 4"},
	}
	for _, tt := range tests {
		if err := CheckWant(tt.want); err != nil {
			t.Errorf("CheckWant(%v) = %v; want nil", tt.want, err)
			continue
		}
		rules := NewRules(Check{JSON: []JSONCheck{{Path: mustPath(t, tt.path), Want: tt.want}}}, nil, 1<<20)
		if n := rules.Names(); len(n) != 1 || n[0] != tt.name {
			t.Errorf("%s %v: Names() = %q; want %q", tt.path, tt.want, n, tt.name)
		}
		v, why, failed := rules.Check(resp(200, body))
		if why != tt.why || (tt.why == "") != (v == Pass) || (failed != 0) != (tt.why != "") {
			t.Errorf("%s %v: Check = %v, %q, %b; want %q", tt.path, tt.want, v, why, failed, tt.why)
		}
	}
}

func TestCheckWant(t *testing.T) {
	for _, tc := range []struct {
		want any
		err  string
	}{
		{map[string]any{"gt": "x"}, "gt: want a number"},
		{map[string]any{"matches": "("}, "matches: error parsing regexp"},
		{map[string]any{"exists": "yes"}, "exists: want true or false"},
		{map[string]any{"not_empty": false}, "not_empty: only true"},
		{map[string]any{"len": -1}, "len: want a whole number"},
		{map[string]any{"gt": 1, "id": 7}, "mixes operators (gt) with other keys (id)"},
		{map[string]any{"id": 7}, ""},
		{"text", ""},
	} {
		err := CheckWant(tc.want)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckWant(%v) = %v; want %q", tc.want, err, tc.err)
		}
	}
}
