package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/storetest"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// putRun stores a finished load run of plan with one step result per histogram ("browse/<name>").
func putRun(t *testing.T, st store.Store, id, plan string, at time.Time, status store.Status, thresholdsOK bool,
	steps map[string]*hist.Histogram) *store.Run {
	t.Helper()
	ctx := t.Context()
	r := &store.Run{ID: id, Name: plan, Plan: plan, Type: store.TypeLoad, Status: store.StatusRunning, CreatedAt: at,
		StartedAt: at}
	if err := st.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	var rows []store.StepResult
	for name, h := range steps {
		sr, err := store.NewStepResult("browse", name, int64(h.Count()), 0, h, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, sr)
	}
	if err := st.AddStepResults(ctx, id, rows); err != nil {
		t.Fatal(err)
	}
	sum, _ := json.Marshal(map[string]any{"run_id": id, "thresholds": []map[string]any{{"expr": "p99 < 1s", "ok": thresholdsOK}}})
	if err := st.FinishRun(ctx, id, store.Finish{Status: status, EndedAt: at.Add(time.Minute), SummaryJSON: sum}); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sample returns an exponential sample of n latencies around mid (seeded).
func sample(seed uint64, mid time.Duration) *hist.Histogram {
	return storetest.Histogram(seed, 5000, mid)
}

func TestCompare(t *testing.T) {
	st := openStore(t)
	base := map[string]*hist.Histogram{"home": sample(1, 10*time.Millisecond), "search": sample(2, 50*time.Millisecond)}
	putRun(t, st, "base", "shop", t0, store.StatusCompleted, true, base)
	putRun(t, st, "identical", "shop", t0.Add(time.Hour), store.StatusCompleted, true, base)
	// Independent samples of the same distributions: run-to-run sampling noise, not a regression.
	putRun(t, st, "resampled", "shop", t0.Add(2*time.Hour), store.StatusCompleted, true,
		map[string]*hist.Histogram{"home": sample(11, 10*time.Millisecond), "search": sample(12, 50*time.Millisecond)})
	// The search step really is 20% slower (every latency of its distribution x1.2).
	putRun(t, st, "slower", "shop", t0.Add(3*time.Hour), store.StatusCompleted, true,
		map[string]*hist.Histogram{"home": sample(21, 10*time.Millisecond), "search": sample(22, 60*time.Millisecond)})

	for _, tc := range []struct {
		cur        string
		regression bool
		regressed  string
	}{
		{"identical", false, ""},
		{"resampled", false, ""},
		{"slower", true, "browse/search"},
	} {
		t.Run(tc.cur, func(t *testing.T) {
			r, err := gate.Compare(t.Context(), st, "base", tc.cur, bench.Criteria{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Regression != tc.regression || r.Tolerance != gate.DefaultTolerance || len(r.Steps) != 2 {
				t.Fatalf("Compare(base, %s) = regression %v tolerance %v, %d steps; want %v, %v, 2 steps: %+v", tc.cur,
					r.Regression, r.Tolerance, len(r.Steps), tc.regression, gate.DefaultTolerance, r.Regressions)
			}
			for _, s := range r.Steps {
				if got := s.Verdict.Regression; got != (s.Name() == tc.regressed) {
					t.Errorf("step %s: regression %v (%s); want %v", s.Name(), got, s.Verdict.Reason, !got)
				}
			}
			var out bytes.Buffer
			if err := gate.Format(&out, r); err != nil {
				t.Fatal(err)
			}
			want := "GATE PASSED"
			if tc.regression {
				want = "GATE FAILED: browse/search: slower: "
			}
			if !strings.Contains(out.String(), want) {
				t.Errorf("Format:\n%s\nwant %q", out.String(), want)
			}
		})
	}
}

func TestCompareMissingSteps(t *testing.T) {
	st := openStore(t)
	putRun(t, st, "a", "shop", t0, store.StatusCompleted, true, map[string]*hist.Histogram{"home": sample(1, time.Millisecond)})
	putRun(t, st, "b", "shop", t0.Add(time.Hour), store.StatusCompleted, true, map[string]*hist.Histogram{"cart": sample(2, time.Millisecond)})
	r, err := gate.Compare(t.Context(), st, "a", "b", bench.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Regression || len(r.Steps) != 2 || r.Steps[0].Missing != "base" || r.Steps[1].Missing != "new" {
		t.Errorf("Compare with disjoint steps = %+v; want cart missing in base, home missing in new, no regression", r.Steps)
	}
	if _, err := gate.Compare(t.Context(), st, "a", "nope", bench.Criteria{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Compare(a, nope) = %v; want ErrNotFound", err)
	}
}

func TestLastPassed(t *testing.T) {
	st := openStore(t)
	h := map[string]*hist.Histogram{"home": sample(1, time.Millisecond)}
	putRun(t, st, "20261126-060000-aaaaaaaa", "shop", t0, store.StatusCompleted, true, h)                  // passed
	putRun(t, st, "20261126-070000-bbbbbbbb", "other", t0.Add(time.Hour), store.StatusCompleted, true, h)  // another plan
	putRun(t, st, "20261126-080000-cccccccc", "shop", t0.Add(2*time.Hour), store.StatusCompleted, true, h) // passed: the one
	putRun(t, st, "20261126-090000-dddddddd", "shop", t0.Add(3*time.Hour), store.StatusCompleted, false, h)
	putRun(t, st, "20261126-100000-eeeeeeee", "shop", t0.Add(4*time.Hour), store.StatusFailed, true, h)
	cur := putRun(t, st, "20261126-110000-ffffffff", "shop", t0.Add(5*time.Hour), store.StatusCompleted, true, h)
	putRun(t, st, "20261126-120000-99999999", "shop", t0.Add(6*time.Hour), store.StatusCompleted, true, h) // after cur

	got, err := gate.LastPassed(t.Context(), st, cur)
	if err != nil || got.ID != "20261126-080000-cccccccc" {
		t.Fatalf("LastPassed = %v, %v; want 20261126-080000-cccccccc (newest passed run of plan shop before the new one)", got, err)
	}
	first, _ := st.GetRun(context.Background(), "20261126-060000-aaaaaaaa")
	if got, err := gate.LastPassed(t.Context(), st, first); !errors.Is(err, gate.ErrNoBaseline) {
		t.Errorf("LastPassed(first run) = %v, %v; want ErrNoBaseline", got, err)
	}
}
