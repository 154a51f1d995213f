package store_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/storetest"
	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func fixtureRuns() []store.Run {
	return []store.Run{
		{ID: "20261126-094500-00000002", Name: "after deploy", Plan: "checkout", Type: store.TypeLoad, Status: store.StatusCompleted,
			Verdict:   store.VerdictThresholdsFailed,
			CreatedAt: t0.Add(15 * time.Minute), StartedAt: t0.Add(15 * time.Minute), EndedAt: t0.Add(20*time.Minute + 300*time.Millisecond),
			Totals: store.Totals{Requests: 60000, Errors: 120, ErrorRate: 0.002, RPS: 199.8, P50Ms: 2.31, P95Ms: 14.7, P99Ms: 131.2, MaxMs: 802}},
		{ID: "20261126-093000-00000001", Plan: "stress-teams", Type: store.TypeStress, Status: store.StatusInterrupted,
			Error: "interrupted: process host:4242 stopped without finishing the run", CreatedAt: t0, StartedAt: t0.Add(time.Second),
			EndedAt: t0.Add(95 * time.Second), Totals: store.Totals{Requests: 1234}},
		{ID: "20261126-092000-00000000", Plan: "checkout", Type: store.TypeBenchmark, Status: store.StatusQueued, CreatedAt: t0.Add(-10 * time.Minute)},
	}
}

func TestFormatRunsGolden(t *testing.T) {
	var b bytes.Buffer
	if err := store.FormatRuns(&b, fixtureRuns()); err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, filepath.Join("testdata", "runs-list.golden"), b.Bytes(), *update)
	b.Reset()
	store.FormatRuns(&b, nil)
	testenv.Golden(t, filepath.Join("testdata", "runs-list-empty.golden"), b.Bytes(), *update)
}

func TestFormatRunGolden(t *testing.T) {
	runs := fixtureRuns()
	var b bytes.Buffer
	runs[0].SummaryText = "== checkout: completed ==\nrequests 60000  errors 120 (0.20%)\n"
	if err := store.FormatRun(&b, &runs[0]); err != nil {
		t.Fatal(err)
	}
	if b.String() != runs[0].SummaryText {
		t.Errorf("FormatRun with a stored summary = %q; want it verbatim %q", b.String(), runs[0].SummaryText)
	}
	b.Reset()
	store.FormatRun(&b, &runs[1])
	testenv.Golden(t, filepath.Join("testdata", "runs-show-interrupted.golden"), b.Bytes(), *update)
}

func compareFixture(t *testing.T) *store.Comparison {
	t.Helper()
	runs := fixtureRuns()
	mk := func(scenario, step string, seed uint64, n int, mid time.Duration, errs int64) store.StepResult {
		s, err := store.NewStepResult(scenario, step, int64(n), errs, storetest.Histogram(seed, n, mid), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := []store.StepResult{
		mk("journey", "login", 1, 3000, 4*time.Millisecond, 3),
		mk("journey", "list teams", 2, 3000, 10*time.Millisecond, 0),
		mk("journey", "logout", 3, 3000, 1*time.Millisecond, 0),
	}
	b := []store.StepResult{
		mk("journey", "login", 4, 3000, 4*time.Millisecond, 3),
		mk("journey", "list teams", 5, 3000, 15*time.Millisecond, 30),
		mk("journey", "update profile", 6, 1500, 20*time.Millisecond, 0),
	}
	c, err := store.Compare(&runs[1], &runs[0], a, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareGolden(t *testing.T) {
	c := compareFixture(t)
	var b bytes.Buffer
	if err := store.FormatComparison(&b, c); err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, filepath.Join("testdata", "runs-compare.golden"), b.Bytes(), *update)
	j, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	testenv.Golden(t, filepath.Join("testdata", "runs-compare.golden.json"), append(j, '\n'), *update)
}

func TestCompareMergesHistograms(t *testing.T) {
	c := compareFixture(t)
	all := c.Steps[len(c.Steps)-1]
	if all.Scenario != store.AllSteps || all.A == nil || all.B == nil {
		t.Fatalf("last row = %+v; want the (all) row with both runs", all)
	}
	// The (all) p99 must be the p99 of the merged distribution, not an average of step p99s.
	h := storetest.Histogram(1, 3000, 4*time.Millisecond)
	h.Merge(storetest.Histogram(2, 3000, 10*time.Millisecond))
	h.Merge(storetest.Histogram(3, 3000, 1*time.Millisecond))
	if want := store.LatencyOf(h).P99Ms; all.A.P99Ms != want {
		t.Errorf("(all) A p99 = %v; want merged %v", all.A.P99Ms, want)
	}
	if all.A.Requests != 9000 || all.B.Requests != 7500 || all.B.Errors != 33 {
		t.Errorf("(all) counts = %+v / %+v; want 9000 and 7500 requests, 33 errors in B", all.A, all.B)
	}
	for _, s := range c.Steps {
		switch s.Step {
		case "logout":
			if s.B != nil || s.A == nil {
				t.Errorf("logout row = %+v; want only A", s)
			}
		case "update profile":
			if s.A != nil || s.B == nil {
				t.Errorf("update profile row = %+v; want only B", s)
			}
		case "list teams":
			if s.DeltaErrorRate != 0.01 || s.DeltaP99Ms <= 0 {
				t.Errorf("list teams row = %+v; want +1 point errors and slower p99", s)
			}
		}
	}
}

func TestBenchmarkSteps(t *testing.T) {
	h := storetest.Histogram(9, 200, time.Millisecond)
	b := store.BenchmarkResult{Endpoint: "GET /api/teams", Requests: 200, Errors: 2, ErrorRate: 0.01, RPS: 20, Latency: store.LatencyOf(h)}
	b.Hist, _ = h.MarshalBinary()
	got := store.BenchmarkSteps([]store.BenchmarkResult{b})
	if len(got) != 1 || got[0].Scenario != "benchmark" || got[0].Step != b.Endpoint || got[0].Requests != 200 ||
		got[0].P99Ms != b.P99Ms || !bytes.Equal(got[0].Hist, b.Hist) {
		t.Errorf("BenchmarkSteps = %+v; want one benchmark step carrying the endpoint's figures", got)
	}
}
