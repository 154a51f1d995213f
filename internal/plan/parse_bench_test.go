package plan

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse decodes, defaults and validates every shipped plan (one op
// is all of them).
func BenchmarkParse(b *testing.B) {
	files, _ := filepath.Glob("../../testplans/*.yaml")
	var srcs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, data)
	}
	fsys := os.DirFS("../../testplans")
	b.ReportAllocs()
	for b.Loop() {
		for i, data := range srcs {
			if _, err := Parse(filepath.Base(files[i]), data, WithFS(fsys)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
