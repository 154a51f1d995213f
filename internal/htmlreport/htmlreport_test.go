package htmlreport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/htmlreport"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden: the data each kind of report embeds, built from records written through the real store.
func TestGolden(t *testing.T) {
	st := fixtures(t)
	ctx := t.Context()
	cases := []struct {
		name  string
		build func() (*htmlreport.Data, error)
	}{
		{"load", func() (*htmlreport.Data, error) { return htmlreport.Build(ctx, st, loadID) }},
		{"stress", func() (*htmlreport.Data, error) { return htmlreport.Build(ctx, st, stressID) }},
		{"knee", func() (*htmlreport.Data, error) { return htmlreport.Build(ctx, st, kneeID) }},
		{"bench", func() (*htmlreport.Data, error) { return htmlreport.Build(ctx, st, benchID) }},
		{"compare", func() (*htmlreport.Data, error) {
			return htmlreport.BuildCompare(ctx, st, baseID, slowID, bench.Criteria{})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(d, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", tc.name+".json.golden"), append(got, '\n'), *update)
		})
	}
}

// TestContent checks the figures the page needs are there, independently of the golden files.
func TestContent(t *testing.T) {
	st := fixtures(t)
	ctx := t.Context()

	d, err := htmlreport.Build(ctx, st, loadID)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Runs[0]
	if r.Verdict.Word != "PASSED" || r.Verdict.ThresholdsPassed != 3 || r.Verdict.Reliable == nil || !*r.Verdict.Reliable {
		t.Errorf("verdict = %+v; want PASSED, 3 thresholds passed, reliable", r.Verdict)
	}
	if s := r.Series; s == nil || len(s.T) != 30 || !s.HasService || len(s.P90) != 30 || s.T[0] != 2 {
		t.Errorf("series: %+v; want 30 snapshots from t=2 s with p90 and service time", s)
	}
	if len(r.Phases) != 3 || r.Phases[1].Name != "ramp-up" || r.Phases[1].StartS != 10 || r.Phases[1].EndS != 30 {
		t.Errorf("phases = %+v; want warm-up, ramp-up [10 s, 30 s], sustained", r.Phases)
	}
	if len(r.Distribution) != 4 || r.Distribution[0].Name != "all steps" || r.Distribution[0].Count != 11500 {
		t.Fatalf("distribution: %d curves (first %+v); want all steps (11500) and 3 steps", len(r.Distribution), r.Distribution[0].Name)
	}
	c := r.Distribution[0]
	if last := c.X[len(c.X)-1]; last != htmlreport.CurveMax || c.X[0] != 0 || c.X[20] != 1 {
		t.Errorf("curve x = %v...%v; want 0 (p0), 1 (p90) at index 20, up to %v (p99.99)", c.X[0], last, htmlreport.CurveMax)
	}
	for i := 1; i < len(c.Ms); i++ {
		if c.Ms[i] < c.Ms[i-1] {
			t.Fatalf("curve not monotonic at %v: %v < %v", c.X[i], c.Ms[i], c.Ms[i-1])
		}
	}
	if len(r.ErrorSamples) != 2 || len(r.ErrorReasons) != 2 || r.ErrorReasons[0].Reason != "status" {
		t.Errorf("errors: reasons %+v samples %d; want status first, and 2 samples", r.ErrorReasons, len(r.ErrorSamples))
	}
	if r.Steps[0].Timing == nil || r.Steps[0].Timing.Connect.Count != 40 {
		t.Errorf("step timing = %+v; want the stored breakdown", r.Steps[0].Timing)
	}

	d, err = htmlreport.Build(ctx, st, stressID)
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Runs[0].Stress; s == nil || s.MaxSustainable != 850 || s.Breakdown != 900 || len(s.Probes) != 9 ||
		d.Runs[0].Verdict.Line != "Max sustainable RPS = 850.0 | Breakdown at 900.0 RPS" {
		t.Errorf("stress = %+v, verdict %q", s, d.Runs[0].Verdict.Line)
	}

	d, err = htmlreport.Build(ctx, st, kneeID)
	if err != nil {
		t.Fatal(err)
	}
	if k := d.Runs[0].Knee; k == nil || k.Knee == nil || k.USL == nil || len(k.FitX) != 61 || k.USL.R2 < 0.9 {
		t.Errorf("knee = %+v; want a knee, a USL fit with R2 >= 0.9 and its curve", k)
	}

	d, err = htmlreport.BuildCompare(ctx, st, benchID, benchID, bench.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Compare.Steps; len(s) != 5 || s[1].Name != "benchmark/GET /api/teams c=8" || s[1].Base == nil ||
		s[1].New == nil || s[1].Gate == nil || d.Compare.Gate.Regression {
		t.Errorf("benchmark compared with itself: %+v; want 4 endpoints with curves and verdicts, then all, no regression", s)
	}

	d, err = htmlreport.BuildCompare(ctx, st, baseID, slowID, bench.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	g := d.Compare.Gate
	if !g.Regression || len(g.Regressions) != 1 || !strings.HasPrefix(g.Regressions[0], "browse/search: slower") {
		t.Errorf("gate = regression %v %v; want browse/search only", g.Regression, g.Regressions)
	}
	if n := len(d.Compare.Steps); n != 4 || d.Compare.Steps[3].Name != "all steps" || d.Compare.Steps[1].Base == nil ||
		d.Compare.Steps[1].New == nil {
		t.Errorf("compare steps: %d, %+v; want 3 steps with both curves, then all steps", n, d.Compare.Steps)
	}
}

func TestMissingAndPartialRuns(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	if _, err := htmlreport.Build(ctx, st, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Build(nope) = %v; want ErrNotFound", err)
	}
	// A run killed mid-way: created, a few snapshots, never finished (no summary, no step results).
	if err := st.CreateRun(ctx, &store.Run{ID: "killed", Plan: "p", Type: store.TypeLoad, Status: store.StatusRunning,
		CreatedAt: t0, StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSnapshots(ctx, "killed", []store.Snapshot{{TS: t0.Add(2 * time.Second), Phase: "warm", RPS: 10, P50Ms: 3},
		{TS: t0.Add(4 * time.Second), Phase: "hot", RPS: 20, P50Ms: 4}}); err != nil {
		t.Fatal(err)
	}
	d, err := htmlreport.Build(ctx, st, "killed")
	if err != nil {
		t.Fatal(err)
	}
	r := d.Runs[0]
	if r.Verdict.Word != "RUNNING" || len(r.Notes) == 0 || len(r.Phases) != 2 || r.Series == nil || r.Series.HasService ||
		r.Series.HasP90 {
		t.Errorf("partial run: verdict %+v, notes %v, phases %+v; want RUNNING, a note, phases from the snapshots", r.Verdict,
			r.Notes, r.Phases)
	}
	var b bytes.Buffer
	if err := htmlreport.Render(&b, d); err != nil {
		t.Fatal(err)
	}
}

// TestPageSelfContained: the page references nothing outside itself, and data cannot break out of its script.
func TestPageSelfContained(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	if err := st.CreateRun(ctx, &store.Run{ID: "x", Plan: "</script><script>alert(1)</script>", Type: store.TypeLoad,
		Status: store.StatusFailed, Error: "<b>&amp;", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := htmlreport.Write(ctx, &b, st, "x"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>alert(1)") || strings.Count(page, "</script>") != 3 {
		t.Errorf("the data broke out of its script element")
	}
	if m := regexp.MustCompile(`(?i)<link|\ssrc\s*=|@import|url\(\s*['"]?(https?:|//)`).FindString(page); m != "" {
		t.Errorf("the page loads something from outside: %q", m)
	}
	if !strings.Contains(page, "default-src 'none'") {
		t.Error("no Content-Security-Policy forbidding network loads")
	}
}

// TestOneHourSize: a one-hour run's page stays under 2 MB (2 s and 1 s snapshots, 10 steps, 5 phases).
func TestOneHourSize(t *testing.T) {
	for _, interval := range []time.Duration{2 * time.Second, time.Second} {
		st := openStore(t)
		hourRun(t, st, interval)
		var b bytes.Buffer
		start := time.Now()
		if err := htmlreport.Write(t.Context(), &b, st, hourID); err != nil {
			t.Fatal(err)
		}
		t.Logf("one-hour run, snapshots every %v: %d bytes in %v", interval, b.Len(), time.Since(start).Round(time.Millisecond))
		if b.Len() > 2<<20 {
			t.Errorf("one-hour report (snapshots every %v) is %d bytes; want under 2 MB", interval, b.Len())
		}
	}
}

// BenchmarkOneHour measures building and rendering a one-hour run's report (1800 snapshots, 10 steps), including
// reading it from SQLite.
func BenchmarkOneHour(b *testing.B) {
	for _, interval := range []time.Duration{2 * time.Second, time.Second} {
		b.Run(interval.String(), func(b *testing.B) {
			st := openStore(b)
			hourRun(b, st, interval)
			var buf bytes.Buffer
			b.ResetTimer()
			for range b.N {
				buf.Reset()
				if err := htmlreport.Write(context.Background(), &buf, st, hourID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/page")
		})
	}
}

// TestVendoredUPlot: the embedded chart library is the version the Makefile pins (UPLOT_VERSION), unmodified
// since `make vendor-uplot` (scripts/vendor-uplot.sh) wrote it.
func TestVendoredUPlot(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^UPLOT_VERSION\s*:=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no UPLOT_VERSION")
	}
	pin := string(m[1])
	dir := "uplot"
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if v := strings.TrimSpace(string(read("VERSION"))); v != pin {
		t.Errorf("uplot/VERSION = %s; Makefile pins %s (run make vendor-uplot)", v, pin)
	}
	if js := read("uPlot.iife.min.js"); !bytes.Contains(js[:min(200, len(js))], []byte("(v"+pin+")")) {
		t.Errorf("uPlot.iife.min.js header is %q; want version v%s", js[:min(80, len(js))], pin)
	}
	sums := strings.Fields(string(read("SHA256SUMS")))
	if len(sums) != 6 {
		t.Fatalf("SHA256SUMS has %d fields; want 3 files", len(sums))
	}
	for i := 0; i < len(sums); i += 2 {
		h := sha256.Sum256(read(sums[i+1]))
		if got := hex.EncodeToString(h[:]); got != sums[i] {
			t.Errorf("%s: sha256 %s; SHA256SUMS says %s (edited by hand? run make vendor-uplot)", sums[i+1], got, sums[i])
		}
	}
	if lic := read("LICENSE"); !bytes.Contains(lic, []byte("MIT License")) {
		t.Error("uplot/LICENSE is not uPlot's MIT license")
	}
}
