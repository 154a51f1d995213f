package junit_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/junit"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/storetest"
	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

func summary() *report.Summary {
	return &report.Summary{Header: report.Header{RunID: "20261126-061806-728eccd1", Plan: "quickstart", Status: store.StatusCompleted,
		StartedAt: time.Date(2026, 11, 26, 6, 18, 6, 0, time.UTC)}, DurationS: 25.0512,
		Thresholds: []report.Threshold{
			{Expr: "p99 < 300ms", OK: true, Value: 78.9, Unit: "ms"},
			{Expr: "error_rate < 1%", OK: false, Value: 0.0234, Unit: "ratio"},
			{Expr: "step[list-users].p95 < 50ms", OK: false, Value: 78, Unit: "ms", Window: "10s", Aborted: true},
			{Expr: "step[nope].p99 < 1s", OK: false, Unit: "ms", Note: "no requests measured"},
		}}
}

func gateResult() *gate.Result {
	base := &store.Run{ID: "base", Plan: "shop", Type: store.TypeLoad}
	cur := &store.Run{ID: "new", Plan: "shop", Type: store.TypeLoad}
	mk := func(name string, seed uint64, mid time.Duration, n int) store.StepResult {
		s, err := store.NewStepResult("browse", name, int64(n), 0, storetest.Histogram(seed, n, mid), time.Minute)
		if err != nil {
			panic(err)
		}
		return s
	}
	r, err := gate.CompareSteps(base, cur,
		[]store.StepResult{mk("home", 1, 10*time.Millisecond, 5000), mk("search", 2, 50*time.Millisecond, 5000),
			mk("rare", 5, time.Millisecond, 100), mk("gone", 6, time.Millisecond, 100)},
		[]store.StepResult{mk("home", 3, 10*time.Millisecond, 5000), mk("search", 4, 60*time.Millisecond, 5000),
			mk("rare", 7, time.Millisecond, 100)},
		bench.Criteria{})
	if err != nil {
		panic(err)
	}
	return r
}

func TestGolden(t *testing.T) {
	for name, suites := range map[string][]junit.Suite{
		"summary": {junit.Summary(summary())},
		"gate":    {junit.Gate(gateResult())},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := junit.Write(&b, suites...); err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", name+".xml.golden"), b.Bytes(), *update)
			// It is well-formed XML with the counts CI tools read.
			var doc struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Suites   []struct {
					Cases []struct {
						Name    string `xml:"name,attr"`
						Failure *struct {
							Message string `xml:"message,attr"`
						} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			if doc.Tests != suites[0].Tests || doc.Failures != suites[0].Failures || doc.Failures == 0 {
				t.Errorf("testsuites tests=%d failures=%d; want %d, %d (> 0)", doc.Tests, doc.Failures, suites[0].Tests,
					suites[0].Failures)
			}
		})
	}
}

func TestSummaryCases(t *testing.T) {
	s := junit.Summary(summary())
	if s.Tests != 5 || s.Failures != 3 {
		t.Fatalf("Summary: %d tests, %d failures; want 5 (status + 4 thresholds), 3", s.Tests, s.Failures)
	}
	if f := s.Cases[2].Failure; f == nil || !strings.Contains(f.Message, "measured 2.34%") {
		t.Errorf("error_rate case failure = %+v; want the measured value 2.34%%", f)
	}
	failed := summary()
	failed.Status, failed.Error = store.StatusFailed, "all 40 requests failed: connect 40"
	if f := junit.Summary(failed).Cases[0].Failure; f == nil || f.Text != failed.Error {
		t.Errorf("status case of a failed run = %+v; want a failure carrying the run's error", f)
	}
}

func TestGateCases(t *testing.T) {
	s := junit.Gate(gateResult())
	var failed []string
	for _, c := range s.Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) == 0 || !strings.HasPrefix(failed[0], "search ") {
		t.Errorf("failed cases = %v; want the search step's quantiles", failed)
	}
	if s.Skipped == 0 {
		t.Errorf("no skipped case; want the rare step's p99 (too few samples) and the gone step")
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.xml")
	if err := junit.WriteFile(p, junit.Summary(summary())); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || !bytes.HasPrefix(b, []byte(xml.Header)) {
		t.Errorf("WriteFile wrote %q, %v", b, err)
	}
	if err := junit.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.xml")); err == nil {
		t.Error("WriteFile into a missing directory: no error")
	}
}
