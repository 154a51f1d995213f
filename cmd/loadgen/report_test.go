package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/storetest"
)

// gateStore writes four load runs of plan "shop" (two steps each) and one of another plan into a SQLite store:
//
//	base       t0     passed
//	same       t0+1h  passed; independent samples of the same distributions as base
//	thfail     t0+2h  completed, a threshold failed (not a baseline candidate)
//	slow       t0+3h  passed; its search step is 20% slower (every latency of the distribution x1.2)
//	other      t0+4h  plan "other"
func gateStore(t *testing.T) (url string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "loadgen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	runs := []struct {
		id, plan     string
		seed         uint64
		searchFactor float64
		thresholdsOK bool
	}{
		{"20261126-090000-0000base", "shop", 1, 1, true},
		{"20261126-100000-0000same", "shop", 11, 1, true},
		{"20261126-110000-00thfail", "shop", 21, 1, false},
		{"20261126-120000-0000slow", "shop", 31, 1.2, true},
		{"20261126-130000-000other", "other", 41, 1, true},
	}
	for i, r := range runs {
		at := t0.Add(time.Duration(i) * time.Hour)
		if err := st.CreateRun(ctx, &store.Run{ID: r.id, Name: r.plan, Plan: r.plan, Type: store.TypeLoad,
			Status: store.StatusRunning, CreatedAt: at, StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		home, _ := store.NewStepResult("browse", "home", 5000, 0,
			storetest.Histogram(r.seed, 5000, 10*time.Millisecond), time.Minute)
		search, _ := store.NewStepResult("browse", "search", 5000, 0,
			storetest.Histogram(r.seed+1, 5000, time.Duration(float64(50*time.Millisecond)*r.searchFactor)), time.Minute)
		if err := st.AddStepResults(ctx, r.id, []store.StepResult{home, search}); err != nil {
			t.Fatal(err)
		}
		sum, _ := json.Marshal(map[string]any{"run_id": r.id, "plan": r.plan, "type": "load", "status": "completed",
			"thresholds": []map[string]any{{"expr": "p99 < 1s", "ok": r.thresholdsOK, "value": 400, "unit": "ms"}}})
		if err := st.FinishRun(ctx, r.id, store.Finish{Status: store.StatusCompleted, EndedAt: at.Add(time.Minute),
			SummaryJSON: sum}); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite://" + filepath.Join(dir, "loadgen.db")
}

func TestRunsCompareGate(t *testing.T) {
	url := gateStore(t)
	dir := t.TempDir()
	spool := "--spool=" + filepath.Join(dir, "spool")
	xml := filepath.Join(dir, "gate.xml")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"20% slower step", []string{"runs", "compare", "--store", url, spool, "--gate", "20261126-090000-0000base", "20261126-120000-0000slow"},
			exitThreshold, []string{"REGRESSION GATE", "GATE FAILED: browse/search: slower: p50 x1.", "browse/home    p99"}},
		{"identical", []string{"runs", "compare", "--store", url, spool, "--gate", "20261126-090000-0000base", "20261126-090000-0000base"},
			exitOK, []string{"GATE PASSED"}},
		{"same distributions", []string{"runs", "compare", "--store", url, spool, "--gate", "20261126-090000-0000base", "20261126-100000-0000same"},
			exitOK, []string{"GATE PASSED"}},
		{"wide tolerance", []string{"runs", "compare", "--store", url, spool, "--gate", "--tolerance", "50%", "20261126-090000-0000base", "20261126-120000-0000slow"},
			exitOK, []string{"tolerance 50%", "GATE PASSED"}},
		{"without --gate", []string{"runs", "compare", "--store", url, spool, "20261126-090000-0000base", "20261126-120000-0000slow"},
			exitOK, []string{"browse/search"}},
		{"last-passed", []string{"runs", "compare", "--store", url, spool, "--baseline", "last-passed", "20261126-120000-0000slow", "--gate", "--out-junit", xml},
			exitThreshold, []string{"A: 20261126-100000-0000same", "GATE FAILED"}},
		{"last-passed, first run", []string{"runs", "compare", "--store", url, spool, "--baseline", "last-passed", "20261126-090000-0000base", "--gate"},
			exitOK, []string{"GATE SKIPPED: no baseline: no passed load run of plan \"shop\" before 20261126-090000-0000base"}},
		{"baseline ID", []string{"runs", "compare", "--store", url, spool, "--baseline", "20261126-100000-0000same", "20261126-120000-0000slow", "--gate", "--json"},
			exitThreshold, []string{`"regression": true`, `"comparison"`}},
		{"bad tolerance", []string{"runs", "compare", "--store", url, spool, "--gate", "--tolerance", "150%", "a", "b"}, exitUsage, nil},
		{"one run without --baseline", []string{"runs", "compare", "--store", url, spool, "--gate", "a"}, exitUsage, nil},
		{"missing run", []string{"runs", "compare", "--store", url, spool, "--gate", "20261126-090000-0000base", "nope"}, exitUsage, nil}, // as runs show
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			for _, c := range tt.contains {
				if !strings.Contains(out.String(), c) {
					t.Errorf("output lacks %q:\n%s", c, out.String())
				}
			}
		})
	}
	b, err := os.ReadFile(xml)
	if err != nil || !bytes.Contains(b, []byte(`<testcase name="search p50" classname="loadgen.gate.browse"`)) ||
		!bytes.Contains(b, []byte(`<failure message="regression: p50: base`)) {
		t.Errorf("--out-junit wrote %s, %v; want a failed search p50 case", b, err)
	}
}

func TestReportCommand(t *testing.T) {
	url := gateStore(t)
	dir := t.TempDir()
	spool := "--spool=" + filepath.Join(dir, "spool")
	one, two := filepath.Join(dir, "one.html"), filepath.Join(dir, "two.html")
	tests := []struct {
		name string
		args []string
		code int
		file string
		want string
	}{
		{"one run", []string{"report", "--store", url, spool, "20261126-090000-0000base", "-o", one}, exitOK, one, `"kind":"run"`},
		{"two runs", []string{"report", "--store", url, spool, "-o", two, "20261126-090000-0000base", "20261126-120000-0000slow"}, exitOK, two, `"regression":true`},
		{"last-passed to stdout", []string{"report", "--store", url, spool, "--baseline", "last-passed", "20261126-120000-0000slow", "-o", "-"}, exitOK, "", `"kind":"compare"`},
		{"no baseline", []string{"report", "--store", url, spool, "--baseline", "last-passed", "20261126-090000-0000base"}, exitError, "", ""},
		{"missing run", []string{"report", "--store", url, spool, "nope", "-o", filepath.Join(dir, "x.html")}, exitError, "", ""},
		{"no run", []string{"report", "--store", url, spool}, exitUsage, "", ""},
		{"three runs", []string{"report", "--store", url, spool, "a", "b", "c"}, exitUsage, "", ""},
		{"unwritable", []string{"report", "--store", url, spool, "20261126-090000-0000base", "-o", filepath.Join(dir, "no", "dir.html")}, exitError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d; want %d\nstderr:\n%s", code, tt.code, errb.String())
			}
			if tt.want == "" {
				return
			}
			page := out.Bytes()
			if tt.file != "" {
				var err error
				if page, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(errb.String(), "wrote "+tt.file) {
					t.Errorf("stderr %q does not name the file", errb.String())
				}
			}
			if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte(tt.want)) {
				t.Errorf("report (%d bytes) is not an HTML page holding %s", len(page), tt.want)
			}
		})
	}
}
