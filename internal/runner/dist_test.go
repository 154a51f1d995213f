package runner

import (
	"strings"
	"testing"
)

func TestParseSegment(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		in, env string
		i, n    int
		err     string
	}{
		{"0/3", "", 0, 3, ""},
		{"2/3", "", 2, 3, ""},
		{"auto/4", "3", 3, 4, ""},
		{"0/1", "", 0, 1, ""},
		{"3/3", "", 0, 0, `index "3" must be a whole number from 0 to 2`},
		{"-1/3", "", 0, 0, "must be a whole number from 0 to 2"},
		{"auto/3", "", 0, 0, "JOB_COMPLETION_INDEX is not set"},
		{"auto/3", "7", 0, 0, `index "7"`},
		{"1/0", "", 0, 0, "N must be a whole number from 1 to 1000"},
		{"1", "", 0, 0, "want I/N or auto/N"},
		{"x/2", "", 0, 0, `index "x"`},
	} {
		i, n, err := ParseSegment(tc.in, env(tc.env))
		switch {
		case tc.err == "" && (err != nil || i != tc.i || n != tc.n):
			t.Errorf("ParseSegment(%q) = %d, %d, %v; want %d, %d", tc.in, i, n, err, tc.i, tc.n)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSegment(%q) error %v; want %q", tc.in, err, tc.err)
		}
	}
}
