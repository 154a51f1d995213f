package plan

import (
	"slices"
	"testing"
	"testing/fstest"
)

// TestCSVTrimmed: CSV values are trimmed of surrounding spaces, as header names are.
func TestCSVTrimmed(t *testing.T) {
	fsys := fstest.MapFS{"users.csv": {Data: []byte("email , password\n user1@example.com , secret\nuser2@example.com,\" s p \"\n")}}
	p, err := Parse("plan.yaml", []byte(`name: csv
target: http://127.0.0.1:1
data: {users: {csv: users.csv}}
scenarios: [{steps: [{request: {path: "/${users.email}"}}]}]
load: {phases: [{name: p, duration: 1s, rate: 1}]}
`), WithFS(fsys))
	if err != nil {
		t.Fatal(err)
	}
	ds := p.Data["users"]
	if !slices.Equal(ds.Columns, []string{"email", "password"}) || !slices.Equal(ds.Rows[0], []string{"user1@example.com", "secret"}) ||
		!slices.Equal(ds.Rows[1], []string{"user2@example.com", "s p"}) {
		t.Errorf("columns %q rows %q; want every value trimmed", ds.Columns, ds.Rows)
	}
}
