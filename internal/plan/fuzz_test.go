package plan

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and that every error it returns
// is an Errors with positions inside the input.
func FuzzParse(f *testing.F) {
	var seeds []string
	for _, g := range []string{"../../testplans/*.yaml", "testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		m, _ := filepath.Glob(g)
		seeds = append(seeds, m...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed plans")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("thresholds: [{expr: 'p99 < 1s', window: [1]}]\nload: {phases: [[1], {rate: {}}]}"))
	f.Add([]byte("a: &x [*x]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if dir := os.Getenv("PLAN_FUZZ_HANGDIR"); dir != "" {
			tm := time.AfterFunc(2*time.Second, func() { os.WriteFile(filepath.Join(dir, "hang.yaml"), data, 0o644) })
			defer tm.Stop()
		}
		p, err := Parse("fuzz.yaml", data, WithFS(nil), WithTarget("http://127.0.0.1:1"))
		if err == nil {
			if p == nil {
				t.Fatal("Parse returned nil plan and nil error")
			}
			// A valid plan renders without panicking.
			s := p.NewScope(1, 1)
			for _, sc := range p.Scenarios {
				for _, st := range sc.Steps {
					st.Request.Compiled.URL.Append(nil, s)
				}
			}
			return
		}
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("Parse error is %T %v; want non-empty Errors", err, err)
		}
	})
}
