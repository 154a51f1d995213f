// Package htmlreport builds a run's HTML report from its stored records: one self-contained file (the chart
// library, the page's script and the data are all inside it) that opens from disk with no network. It shows the
// verdict, the run over time with its phases shaded, latency percentile curves from the stored histograms, the
// per-step and per-phase tables, errors with samples and the timing breakdown; a stress search's probes, a knee
// search's USL fit, a benchmark's endpoints; and for two runs, the comparison with the regression gate's verdict.
//
// Build and BuildCompare read a store.Store into Data (the JSON blob the page renders); Render writes the page.
// Write and WriteCompare do both, for callers that only want the file:
//
//	err := htmlreport.Write(ctx, f, st, runID)
//
// The charts are drawn by uPlot (MIT, vendored from npm under uplot/, pinned by the Makefile's UPLOT_VERSION).
package htmlreport

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/store"
)

var (
	//go:embed uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed uplot/uPlot.min.css
	uplotCSS string
	//go:embed uplot/VERSION
	uplotVersion string
	//go:embed page.js
	pageJS string
	//go:embed page.css
	pageCSS string
	//go:embed page.html
	pageHTML string
)

var page = template.Must(template.New("report").Parse(pageHTML))

// Write builds the report of run id from st and writes it to w.
func Write(ctx context.Context, w io.Writer, st store.Store, id string) error {
	d, err := Build(ctx, st, id)
	if err != nil {
		return err
	}
	return Render(w, d)
}

// WriteCompare builds the comparison of run newID against the baseline baseID and writes it to w; c are the
// regression gate's criteria (zero: its defaults).
func WriteCompare(ctx context.Context, w io.Writer, st store.Store, baseID, newID string, c bench.Criteria) error {
	d, err := BuildCompare(ctx, st, baseID, newID, c)
	if err != nil {
		return err
	}
	return Render(w, d)
}

// Render writes the page of d.
func Render(w io.Writer, d *Data) error {
	blob, err := json.Marshal(d) // escapes <, > and &: safe inside <script>
	if err != nil {
		return fmt.Errorf("html report: encode data: %w", err)
	}
	var b bytes.Buffer
	err = page.Execute(&b, struct {
		Title                 string
		UPlotVersion          string
		UPlotCSS, PageCSS     template.CSS
		UPlotJS, PageJS, Data template.JS
	}{d.Title, strings.TrimSpace(uplotVersion), template.CSS(uplotCSS), template.CSS(pageCSS), template.JS(uplotJS), template.JS(pageJS),
		template.JS(blob)})
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}
