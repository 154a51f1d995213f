package runner

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
)

// TestRunRecordsInStore runs a short plan with a real SQLite store and reads
// the run back: status, snapshots, step results with their histograms, and
// the summary as JSON and text.
func TestRunRecordsInStore(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runs.db")
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatalf("sqlitestore.Open: %v", err)
	}
	defer st.Close()

	p := openPlan(t, srv.URL, 50, 3*time.Second, 100)
	url := "sqlite://" + path
	rep, err := Execute(ctx, &Run{Plan: p, Sink: st, StoreURL: url})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	s := rep.(*report.Summary)
	if s.Store == nil || s.Store.URL != url || s.Store.Spooled || s.Store.Message != "" {
		t.Errorf("summary store = %+v; want url %s, not spooled, no message", s.Store, url)
	}
	run, err := st.GetRun(ctx, s.RunID)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", s.RunID, err)
	}
	if run.Status != store.StatusCompleted || run.Type != store.TypeLoad || run.Plan != "accuracy" || run.Totals.Requests != int64(s.Requests) {
		t.Errorf("stored run: status %q type %q plan %q requests %d; want completed, load, accuracy, %d", run.Status, run.Type, run.Plan, run.Totals.Requests, s.Requests)
	}
	var back report.Summary
	if err := json.Unmarshal(run.SummaryJSON, &back); err != nil || back.RunID != s.RunID || back.Requests != s.Requests {
		t.Errorf("stored summary JSON: %v; run_id %q requests %d", err, back.RunID, back.Requests)
	}
	if !strings.Contains(run.SummaryText, "PASSED") || !strings.Contains(run.SummaryText, "STEPS") ||
		!strings.Contains(run.SummaryText, "TIMING") {
		t.Errorf("stored summary text lacks the verdict or tables:\n%s", run.SummaryText)
	}
	if !strings.Contains(run.PlanYAML, "accuracy") {
		t.Errorf("stored plan YAML = %q", run.PlanYAML)
	}
	snaps, err := st.Snapshots(ctx, s.RunID)
	if err != nil || len(snaps) < 1 {
		t.Errorf("snapshots: %d, err %v; want at least 1 in a 3 s run", len(snaps), err)
	}
	for i, x := range snaps {
		// Latency percentiles of the live window, and the resource monitor's host figures, in every snapshot.
		if !(x.P50Ms > 0 && x.P50Ms <= x.P90Ms && x.P90Ms <= x.P95Ms && x.P95Ms <= x.P99Ms) {
			t.Errorf("snapshot %d: p50/p90/p95/p99 = %v/%v/%v/%v ms; want 0 < p50 <= p90 <= p95 <= p99", i, x.P50Ms,
				x.P90Ms, x.P95Ms, x.P99Ms)
		}
		// Service time (from the actual send) never exceeds latency (from the intended start) by more than rounding.
		if !(x.ServiceP50Ms > 0 && x.ServiceP50Ms <= x.ServiceP90Ms && x.ServiceP90Ms <= x.ServiceP99Ms &&
			x.ServiceP99Ms <= x.P99Ms*1.01) {
			t.Errorf("snapshot %d: service p50/p90/p99 = %v/%v/%v ms (latency p99 %v); want 0 < p50 <= p90 <= p99 <= latency p99",
				i, x.ServiceP50Ms, x.ServiceP90Ms, x.ServiceP99Ms, x.P99Ms)
		}
		if !(x.HostMemPct > 0 && x.HostMemPct < 100 && x.HostCPUPct >= 0 && x.HostCPUPct <= 100) {
			t.Errorf("snapshot %d: host cpu %v%%, mem %v%%; want mem in (0,100) and cpu in [0,100]", i, x.HostCPUPct, x.HostMemPct)
		}
	}
	steps, err := st.StepResults(ctx, s.RunID)
	if err != nil || len(steps) != 1 {
		t.Fatalf("step results: %v, err %v; want 1", steps, err)
	}
	h, err := steps[0].Histogram()
	if err != nil || h.Count() != s.Steps[0].Requests {
		t.Errorf("stored histogram: err %v, count %d; want %d", err, h.Count(), s.Steps[0].Requests)
	}
	// The step's timing breakdown is stored beside it: every response waited for and received, the connections opened.
	if tm := steps[0].Timing; tm == nil || tm.Wait.Count != s.Steps[0].Requests || tm.Receive.Count != s.Steps[0].Requests ||
		tm.Connect.Count == 0 || tm.Connect.Count != s.Steps[0].TimingMS.Connect.Count || tm.Wait.P50Ms <= 0 {
		t.Errorf("stored timing = %+v; want wait and receive on all %d requests, connect as in the summary (%d)",
			tm, s.Steps[0].Requests, s.Steps[0].TimingMS.Connect.Count)
	}
}
