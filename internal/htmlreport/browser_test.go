package htmlreport_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/htmlreport"
	"github.com/loadlab/loadlab/internal/testenv/browsertest"
)

var shots = flag.String("shots", "", "also write the browser test's PNG screenshots into this directory (e.g. docs/img)")

// TestBrowser opens every kind of report from file:// in headless Chromium and checks that it draws every chart,
// logs no console error and makes no network request; it writes a PNG screenshot of each (internal/testenv/browsertest).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	st := fixtures(t)
	dir := t.TempDir()
	ctx := context.Background()
	reports := []struct {
		name   string
		write  func(f *os.File) error
		charts int // at least
	}{
		{"load", func(f *os.File) error { return htmlreport.Write(ctx, f, st, loadID) }, 5},
		{"stress", func(f *os.File) error { return htmlreport.Write(ctx, f, st, stressID) }, 1},
		{"knee", func(f *os.File) error { return htmlreport.Write(ctx, f, st, kneeID) }, 1},
		{"bench", func(f *os.File) error { return htmlreport.Write(ctx, f, st, benchID) }, 3},
		{"compare", func(f *os.File) error {
			return htmlreport.WriteCompare(ctx, f, st, baseID, slowID, bench.Criteria{})
		}, 6},
	}
	var pages []browsertest.Page
	for _, r := range reports {
		p := filepath.Join(dir, r.name+".html")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		pages = append(pages, browsertest.Page{Name: r.name, Path: p, Charts: r.charts})
	}
	browsertest.Check(t, *shots, pages...)
}
