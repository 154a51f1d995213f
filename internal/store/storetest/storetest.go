// Package storetest is the conformance suite every store.Store must pass.
// Each implementation's test calls Run with a factory for fresh databases.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/store"
)

// Factory creates a new, empty database for one test and returns a function
// that opens it. The opener is called again to simulate a restart, so it must
// reach the same database each time. Run closes every store it opens.
type Factory func(t *testing.T) (open func() (store.Store, error))

// Run runs the conformance suite.
func Run(t *testing.T, newDB Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() (store.Store, error))
	}{
		{"CreateGet", testCreateGet},
		{"CreateErrors", testCreateErrors},
		{"UpdateRun", testUpdateRun},
		{"ListFilterPaging", testList},
		{"FinishRun", testFinish},
		{"Snapshots", testSnapshots},
		{"StepResultsHistogramRoundTrip", testSteps},
		{"BenchmarkLatest", testBenchmark},
		{"StressResult", testStress},
		{"KneeResult", testKnee},
		{"MarkInterrupted", testInterrupted},
		{"Restart", testRestart},
		{"TwoRunsAtOnce", testConcurrent},
		{"Segments", testSegments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newDB(t))
		})
	}
}

func mustOpen(t *testing.T, open func() (store.Store, error)) store.Store {
	t.Helper()
	st, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// base is a fixed instant with microsecond precision (what both stores keep).
var base = time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)

func sampleRun(id string, created time.Time) *store.Run {
	return &store.Run{
		ID: id, Name: "checkout smoke", Plan: "checkout", Type: store.TypeLoad, Status: store.StatusRunning,
		PlanYAML:  "name: checkout\nheaders:\n  Authorization: ***\n",
		CreatedAt: created, StartedAt: created.Add(time.Second),
	}
}

func testCreateGet(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	want := sampleRun("run-a", base)
	want.Owner = "elsewhere:42"
	want.HeartbeatAt = base.Add(2 * time.Second)
	want.Totals = store.Totals{Requests: 1000, Errors: 7, ErrorRate: 0.007, RPS: 199.5, P50Ms: 1.25, P95Ms: 8.5, P99Ms: 20.125, MaxMs: 130}
	want.SummaryJSON = json.RawMessage(`{"requests":1000,"steps":[{"name":"login"}]}`)
	want.SummaryText = "Summary\n  requests  1000\n  p99       20.1 ms\n"
	if err := st.CreateRun(ctx, want); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	got, err := st.GetRun(ctx, "run-a")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetRun = %+v\nwant %+v", got, want)
	}

	// Defaults: ID, CreatedAt and Owner are filled in.
	r := &store.Run{Type: store.TypeStress, Status: store.StatusQueued}
	if err := st.CreateRun(ctx, r); err != nil {
		t.Fatalf("CreateRun(defaults): %v", err)
	}
	if r.ID == "" || r.CreatedAt.IsZero() || r.Owner != store.Owner() {
		t.Errorf("CreateRun(defaults) left ID=%q CreatedAt=%v Owner=%q; want generated ID, now, %q", r.ID, r.CreatedAt, r.Owner, store.Owner())
	}
	got, err = st.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", r.ID, err)
	}
	if got.Status != store.StatusQueued || got.Type != store.TypeStress || !got.StartedAt.IsZero() || got.SummaryJSON != nil {
		t.Errorf("GetRun(%s) = %+v; want queued stress run, no start, no summary", r.ID, got)
	}
	if d := got.CreatedAt.Sub(r.CreatedAt); d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("CreatedAt = %v; want %v", got.CreatedAt, r.CreatedAt)
	}
}

func testCreateErrors(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	if err := st.CreateRun(ctx, sampleRun("dup", base)); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if err := st.CreateRun(ctx, sampleRun("dup", base)); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateRun(duplicate) = %v; want ErrExists", err)
	}
	if _, err := st.GetRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun(missing) = %v; want ErrNotFound", err)
	}
	bad := []*store.Run{
		{ID: "t", Type: "soak", Status: store.StatusQueued},
		{ID: "s", Type: store.TypeLoad, Status: "done"},
		{ID: "j", Type: store.TypeLoad, Status: store.StatusQueued, SummaryJSON: json.RawMessage(`{`)},
	}
	for _, r := range bad {
		if err := st.CreateRun(ctx, r); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateRun(%+v) = %v; want ErrInvalid", r, err)
		}
	}
	if err := st.FinishRun(ctx, "dup", store.Finish{Status: store.StatusRunning}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("FinishRun(status running) = %v; want ErrInvalid", err)
	}
}

func testUpdateRun(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	r := sampleRun("upd", base)
	r.Status = store.StatusQueued
	r.StartedAt = time.Time{}
	if err := st.CreateRun(ctx, r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	r.Status, r.StartedAt, r.Name = store.StatusRunning, base.Add(5*time.Second), "renamed"
	if err := st.UpdateRun(ctx, r); err != nil {
		t.Fatalf("UpdateRun: %v", err)
	}
	// Updating with identical values still finds the row.
	if err := st.UpdateRun(ctx, r); err != nil {
		t.Fatalf("UpdateRun(same values): %v", err)
	}
	got, err := st.GetRun(ctx, "upd")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("after UpdateRun got %+v\nwant %+v", got, r)
	}
	if err := st.UpdateRun(ctx, sampleRun("missing", base)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRun(missing) = %v; want ErrNotFound", err)
	}
}

func testList(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	specs := []struct {
		typ    store.Type
		status store.Status
	}{
		{store.TypeLoad, store.StatusCompleted}, {store.TypeBenchmark, store.StatusCompleted}, {store.TypeLoad, store.StatusFailed},
		{store.TypeStress, store.StatusCompleted}, {store.TypeLoad, store.StatusCompleted}, {store.TypeKnee, store.StatusAborted},
		{store.TypeLoad, store.StatusCompleted},
	}
	var ids []string // oldest first
	for i, s := range specs {
		r := sampleRun(fmt.Sprintf("list-%02d", i), base.Add(time.Duration(i)*time.Minute))
		r.Type, r.Status = s.typ, s.status
		r.SummaryText = "big text"
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatalf("CreateRun: %v", err)
		}
		ids = append(ids, r.ID)
	}
	// Completed load runs 0 and 6 passed, 4 failed a threshold; the benchmark regressed.
	for i, v := range map[int]store.Verdict{0: store.VerdictPassed, 4: store.VerdictThresholdsFailed, 6: store.VerdictPassed,
		1: store.VerdictRegressed} {
		if err := st.FinishRun(ctx, ids[i], store.Finish{Status: specs[i].status, Verdict: v, EndedAt: base.Add(time.Hour)}); err != nil {
			t.Fatalf("FinishRun: %v", err)
		}
	}
	idsOf := func(rs []store.Run) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all newest first", store.Filter{}, []string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"limit", store.Filter{Limit: 2}, []string{ids[6], ids[5]}},
		{"page 2", store.Filter{Limit: 2, Offset: 2}, []string{ids[4], ids[3]}},
		{"past the end", store.Filter{Limit: 5, Offset: 7}, []string{}},
		{"type", store.Filter{Type: store.TypeLoad}, []string{ids[6], ids[4], ids[2], ids[0]}},
		{"status", store.Filter{Status: store.StatusCompleted, Limit: 3}, []string{ids[6], ids[4], ids[3]}},
		{"type and status", store.Filter{Type: store.TypeLoad, Status: store.StatusFailed}, []string{ids[2]}},
		{"plan", store.Filter{Plan: "other"}, []string{}},
		{"verdict", store.Filter{Verdict: store.VerdictPassed}, []string{ids[6], ids[0]}},
		{"verdict and type", store.Filter{Verdict: store.VerdictRegressed, Type: store.TypeBenchmark}, []string{ids[1]}},
		{"thresholds failed", store.Filter{Verdict: store.VerdictThresholdsFailed}, []string{ids[4]}},
	}
	for _, tt := range tests {
		got, err := st.ListRuns(ctx, tt.f)
		if err != nil {
			t.Fatalf("ListRuns(%s): %v", tt.name, err)
		}
		if g := idsOf(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("ListRuns(%s %+v) = %v; want %v", tt.name, tt.f, g, tt.want)
		}
		for _, r := range got {
			if r.SummaryText != "" || r.PlanYAML != "" || r.SummaryJSON != nil {
				t.Errorf("ListRuns(%s) returned blobs for %s; want them left out", tt.name, r.ID)
			}
			if r.Plan != "checkout" || r.CreatedAt.IsZero() {
				t.Errorf("ListRuns(%s) row %+v lacks plan or created_at", tt.name, r)
			}
		}
	}
}

func testFinish(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	if err := st.CreateRun(ctx, sampleRun("fin", base)); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	f := store.Finish{Status: store.StatusFailed, Error: "thresholds failed: p99 > 250ms", EndedAt: base.Add(time.Minute),
		Totals:      store.Totals{Requests: 10, Errors: 1, ErrorRate: 0.1, RPS: 0.5, P50Ms: 1, P95Ms: 2, P99Ms: 3, MaxMs: 4},
		SummaryJSON: json.RawMessage(`{"ok":false}`), SummaryText: "FAILED\n"}
	for i := 0; i < 2; i++ { // idempotent
		if err := st.FinishRun(ctx, "fin", f); err != nil {
			t.Fatalf("FinishRun #%d: %v", i+1, err)
		}
	}
	got, err := st.GetRun(ctx, "fin")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if got.Status != f.Status || got.Error != f.Error || !got.EndedAt.Equal(f.EndedAt) || got.Totals != f.Totals ||
		string(got.SummaryJSON) != string(f.SummaryJSON) || got.SummaryText != f.SummaryText {
		t.Errorf("after FinishRun got %+v; want fields of %+v", got, f)
	}
	f.Verdict = store.VerdictThresholdsFailed
	if err := st.FinishRun(ctx, "fin", f); err != nil {
		t.Fatalf("FinishRun with a verdict: %v", err)
	}
	if got, err := st.GetRun(ctx, "fin"); err != nil || got.Verdict != store.VerdictThresholdsFailed {
		t.Errorf("GetRun after FinishRun with a verdict = %+v, %v; want verdict thresholds_failed", got, err)
	}
	if err := st.FinishRun(ctx, "fin", store.Finish{Status: store.StatusCompleted, Verdict: "great"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("FinishRun(verdict great) = %v; want ErrInvalid", err)
	}
	if err := st.FinishRun(ctx, "missing", f); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun(missing) = %v; want ErrNotFound", err)
	}
}

func snapshots(n int, start time.Time) []store.Snapshot {
	out := make([]store.Snapshot, n)
	for i := range out {
		out[i] = store.Snapshot{TS: start.Add(time.Duration(i) * 2 * time.Second), Phase: []string{"warmup", "ramp", "steady"}[i%3],
			RPS: 100 + float64(i), TargetRPS: 120, ErrorRate: float64(i) / 1000, P50Ms: 1.5, P95Ms: 7.25, P99Ms: 12.125 + float64(i),
			InFlight: int64(i), VUs: 50, Requests: int64(100 * (i + 1)), Errors: int64(i), CPUPct: 37.5, MemBytes: 64 << 20,
			HostCPUPct: 12.5 + float64(i), HostMemPct: 41.25, P90Ms: 5.5, ServiceP50Ms: 1.25, ServiceP90Ms: 4.5,
			ServiceP99Ms: 10.75 + float64(i)}
	}
	return out
}

func testSnapshots(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	want := snapshots(10, base)
	if err := st.AddSnapshots(ctx, "snap", want[:6]); err != nil {
		t.Fatalf("AddSnapshots: %v", err)
	}
	// A retry overlapping what was written must not duplicate.
	if err := st.AddSnapshots(ctx, "snap", want[4:]); err != nil {
		t.Fatalf("AddSnapshots(overlap): %v", err)
	}
	if err := st.AddSnapshots(ctx, "other", want[:2]); err != nil {
		t.Fatalf("AddSnapshots(other run): %v", err)
	}
	got, err := st.Snapshots(ctx, "snap")
	if err != nil {
		t.Fatalf("Snapshots: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshots = %d rows %+v\nwant %d rows %+v", len(got), got, len(want), want)
	}
	if err := st.AddSnapshots(ctx, "snap", []store.Snapshot{{RPS: 1}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("AddSnapshots(no ts) = %v; want ErrInvalid", err)
	}
	if got, err := st.Snapshots(ctx, "none"); err != nil || len(got) != 0 {
		t.Errorf("Snapshots(none) = %v, %v; want empty", got, err)
	}
	since, err := st.SnapshotsSince(ctx, "snap", want[7].TS)
	if err != nil || !reflect.DeepEqual(since, want[7:]) {
		t.Errorf("SnapshotsSince(%v) = %d rows, %v; want the last 3", want[7].TS, len(since), err)
	}
}

// Histogram returns a histogram with n deterministic samples around mid.
func Histogram(seed uint64, n int, mid time.Duration) *hist.Histogram {
	h := hist.New()
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := 0; i < n; i++ {
		h.Record(time.Duration(float64(mid) * r.ExpFloat64()))
	}
	return h
}

func testSteps(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	h1, h2 := Histogram(1, 5000, 3*time.Millisecond), Histogram(2, 2000, 40*time.Millisecond)
	s1, err := store.NewStepResult("journey", "login", 5000, 12, h1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := store.NewStepResult("journey", "update profile", 2000, 0, h2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s1.Timing = &store.Timing{DNS: store.PhaseOf(Histogram(3, 10, time.Millisecond)), Connect: store.PhaseOf(h1),
		Wait: store.PhaseOf(h2), Receive: store.Phase{Count: 5000, P50Ms: 0.012, P99Ms: 0.5}}
	empty := store.StepResult{Scenario: "admin", Step: "noop"}
	if err := st.AddStepResults(ctx, "steps", []store.StepResult{s2, s1, empty}); err != nil {
		t.Fatalf("AddStepResults: %v", err)
	}
	got, err := st.StepResults(ctx, "steps")
	if err != nil {
		t.Fatalf("StepResults: %v", err)
	}
	want := []store.StepResult{empty, s1, s2} // ordered by scenario, step
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StepResults = %+v\nwant %+v", got, want)
	}
	for i, src := range []*hist.Histogram{h1, h2} {
		dec, err := got[i+1].Histogram()
		if err != nil {
			t.Fatalf("Histogram(): %v", err)
		}
		if dec.Count() != src.Count() || dec.Sum() != src.Sum() || dec.Max() != src.Max() {
			t.Errorf("step %d histogram count/sum/max = %d/%v/%v; want %d/%v/%v", i, dec.Count(), dec.Sum(), dec.Max(), src.Count(), src.Sum(), src.Max())
		}
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			if a, b := dec.Quantile(q), src.Quantile(q); a != b {
				t.Errorf("step %d q%.3f = %v; want %v", i, q, a, b)
			}
		}
	}
	// Storing a step again overwrites it.
	s1.Requests, s1.Errors = 6000, 13
	if err := st.AddStepResults(ctx, "steps", []store.StepResult{s1}); err != nil {
		t.Fatalf("AddStepResults(again): %v", err)
	}
	got, _ = st.StepResults(ctx, "steps")
	if len(got) != 3 || got[1].Requests != 6000 || got[1].Errors != 13 {
		t.Errorf("after re-adding login: %+v; want 3 steps, login with 6000 requests", got)
	}
}

func testBenchmark(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	if _, err := st.LatestBenchmark(ctx, "bench", "GET /api/teams"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestBenchmark(empty) = %v; want ErrNotFound", err)
	}
	mk := func(run string, at time.Time, status store.Status, p99 float64) store.BenchmarkResult {
		r := sampleRun(run, at)
		r.Type, r.Plan = store.TypeBenchmark, "bench"
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatalf("CreateRun: %v", err)
		}
		h := Histogram(uint64(at.Unix()), 1000, time.Duration(p99*float64(time.Millisecond)/5))
		b := store.BenchmarkResult{Plan: "bench", Endpoint: "GET /api/teams", Method: "GET", Concurrency: 8, DurationS: 10,
			Requests: 1000, Errors: 1, ErrorRate: 0.001, RPS: 100, CreatedAt: at.Add(10 * time.Second), Latency: store.LatencyOf(h)}
		b.Hist, _ = h.MarshalBinary()
		other := b
		other.Endpoint, other.Hist = "POST /api/login", nil
		if err := st.AddBenchmarkResults(ctx, run, []store.BenchmarkResult{b, other}); err != nil {
			t.Fatalf("AddBenchmarkResults: %v", err)
		}
		if err := st.FinishRun(ctx, run, store.Finish{Status: status, EndedAt: at.Add(time.Minute)}); err != nil {
			t.Fatalf("FinishRun: %v", err)
		}
		b.RunID = run
		return b
	}
	mk("b1", base, store.StatusCompleted, 10)
	want := mk("b2", base.Add(time.Hour), store.StatusCompleted, 20)
	mk("b3", base.Add(2*time.Hour), store.StatusFailed, 30) // newest, but not a valid baseline
	got, err := st.LatestBenchmark(ctx, "bench", "GET /api/teams")
	if err != nil {
		t.Fatalf("LatestBenchmark: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("LatestBenchmark = %+v\nwant %+v", *got, want)
	}
	all, err := st.BenchmarkResults(ctx, "b2")
	if err != nil || len(all) != 2 || all[0].Endpoint != "GET /api/teams" || all[1].Endpoint != "POST /api/login" || all[1].Hist != nil {
		t.Errorf("BenchmarkResults(b2) = %+v, %v; want the 2 endpoints ordered by name", all, err)
	}
	if _, err := st.LatestBenchmark(ctx, "bench", "GET /nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestBenchmark(unknown endpoint) = %v; want ErrNotFound", err)
	}
}

func testStress(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	if _, err := st.StressResult(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StressResult(missing) = %v; want ErrNotFound", err)
	}
	want := store.StressResult{State: "COMPLETED", MaxSustainableRPS: 64, BreakdownRPS: 76, Threshold: 0.05, SLOP99Ms: 250, RequestsPerIteration: 2,
		CreatedAt: base, Probes: []store.StressProbe{
			{Seq: 1, Phase: "double", TargetRPS: 16, AchievedRPS: 16, Requests: 160, ErrorRate: 0, P99Ms: 5, OK: true},
			{Seq: 2, Phase: "double", TargetRPS: 32, AchievedRPS: 31.9, Requests: 320, P99Ms: 6, OK: true},
			{Seq: 3, Phase: "double", TargetRPS: 64, AchievedRPS: 63.5, Requests: 640, P99Ms: 9, OK: true},
			{Seq: 4, Phase: "double", TargetRPS: 128, AchievedRPS: 80, Requests: 1280, Errors: 300, ErrorRate: 0.234, P99Ms: 900},
			{Seq: 5, Phase: "binary_search", TargetRPS: 96, AchievedRPS: 78, Requests: 960, Errors: 90, ErrorRate: 0.09375, P99Ms: 700},
			{Seq: 6, Phase: "binary_search", TargetRPS: 76, AchievedRPS: 75, Requests: 760, Errors: 40, ErrorRate: 0.0526, P50Ms: 3, P95Ms: 200, P99Ms: 400},
		}}
	if err := st.AddStressResult(ctx, "s", want); err != nil {
		t.Fatalf("AddStressResult: %v", err)
	}
	got, err := st.StressResult(ctx, "s")
	if err != nil {
		t.Fatalf("StressResult: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("StressResult = %+v\nwant %+v", *got, want)
	}
	// Stored again (e.g. a replayed spool) it replaces the probes, never duplicates them.
	want.Probes = want.Probes[:2]
	want.State, want.Error = "ERROR", "target unreachable"
	if err := st.AddStressResult(ctx, "s", want); err != nil {
		t.Fatalf("AddStressResult(again): %v", err)
	}
	got, _ = st.StressResult(ctx, "s")
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("StressResult after overwrite = %+v\nwant %+v", *got, want)
	}
}

func testKnee(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	want := store.KneeResult{KneeRPS: 450, KneeP99Ms: 35.5, MaxThroughputRPS: 480, CreatedAt: base,
		Points: []store.KneePoint{
			{TargetRPS: 100, ThroughputRPS: 100, P99Ms: 5}, {TargetRPS: 200, ThroughputRPS: 199, P99Ms: 6},
			{TargetRPS: 400, ThroughputRPS: 396, P99Ms: 12}, {TargetRPS: 800, ThroughputRPS: 480, P99Ms: 400, ErrorRate: 0.01}}}
	if err := st.AddKneeResult(ctx, "k", want); err != nil {
		t.Fatalf("AddKneeResult: %v", err)
	}
	if err := st.AddKneeResult(ctx, "k", want); err != nil {
		t.Fatalf("AddKneeResult(again): %v", err)
	}
	got, err := st.KneeResult(ctx, "k")
	if err != nil {
		t.Fatalf("KneeResult: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("KneeResult = %+v\nwant %+v", *got, want)
	}
	if _, err := st.KneeResult(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KneeResult(missing) = %v; want ErrNotFound", err)
	}
}

// DeadOwner returns "host:pid" of a process of this host that has exited.
func DeadOwner(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("start short-lived process: %v", err)
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, cmd.Process.Pid)
}

func testInterrupted(t *testing.T, open func() (store.Store, error)) {
	ctx, st := ctxT(t), mustOpen(t, open)
	now := time.Now().UTC().Truncate(time.Microsecond)
	runs := []struct {
		id, owner string
		heartbeat time.Time
		status    store.Status
		want      store.Status
	}{
		{"killed", DeadOwner(t), now.Add(-90 * time.Second), store.StatusRunning, store.StatusInterrupted},
		{"alive-here", store.Owner(), now.Add(-time.Hour), store.StatusRunning, store.StatusRunning},
		{"other-host-stale", "elsewhere:1", now.Add(-time.Hour), store.StatusRunning, store.StatusInterrupted},
		{"other-host-fresh", "elsewhere:1", now, store.StatusRunning, store.StatusRunning},
		{"done", DeadOwner(t), now, store.StatusCompleted, store.StatusCompleted},
	}
	for _, r := range runs {
		run := sampleRun(r.id, now.Add(-2*time.Hour))
		run.Owner, run.HeartbeatAt, run.Status = r.owner, r.heartbeat, r.status
		if err := st.CreateRun(ctx, run); err != nil {
			t.Fatalf("CreateRun: %v", err)
		}
	}
	if err := st.AddSnapshots(ctx, "killed", snapshots(3, now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	ids, err := st.MarkInterrupted(ctx)
	if err != nil {
		t.Fatalf("MarkInterrupted: %v", err)
	}
	if want := []string{"killed", "other-host-stale"}; !sameSet(ids, want) {
		t.Errorf("MarkInterrupted = %v; want %v", ids, want)
	}
	for _, r := range runs {
		got, err := st.GetRun(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != r.want {
			t.Errorf("run %s status = %s; want %s", r.id, got.Status, r.want)
		}
		if r.want == store.StatusInterrupted && (got.Error == "" || got.EndedAt.IsZero()) {
			t.Errorf("interrupted run %s: error %q, ended %v; want a reason and an end time", r.id, got.Error, got.EndedAt)
		}
	}
	if got, _ := st.GetRun(ctx, "killed"); !got.EndedAt.Equal(now.Add(-time.Minute + 4*time.Second)) {
		t.Errorf("killed run ended_at = %v; want its last snapshot %v", got.EndedAt, now.Add(-time.Minute+4*time.Second))
	}
	// Second pass: nothing more to mark.
	if ids, err := st.MarkInterrupted(ctx); err != nil || len(ids) != 0 {
		t.Errorf("MarkInterrupted again = %v, %v; want none", ids, err)
	}
	// A run marked while merely cut off comes back with its next heartbeat.
	if err := st.Heartbeat(ctx, "other-host-stale", time.Now()); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if got, _ := st.GetRun(ctx, "other-host-stale"); got.Status != store.StatusRunning || got.Error != "" || !got.EndedAt.IsZero() {
		t.Errorf("after Heartbeat run = %+v; want running again, no error, no end", got)
	}
	if err := st.Heartbeat(ctx, "nope", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Heartbeat(missing) = %v; want ErrNotFound", err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func testRestart(t *testing.T, open func() (store.Store, error)) {
	ctx := ctxT(t)
	st, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	run := sampleRun("restart", base)
	run.Totals = store.Totals{Requests: 42, P99Ms: 3.5}
	run.SummaryText = "as printed\n"
	snaps := snapshots(4, base)
	h := Histogram(7, 100, time.Millisecond)
	step, _ := store.NewStepResult("s", "t", 100, 0, h, time.Second)
	stress := store.StressResult{State: "COMPLETED", MaxSustainableRPS: 64, BreakdownRPS: 76, Threshold: 0.05, RequestsPerIteration: 1, CreatedAt: base,
		Probes: []store.StressProbe{{Seq: 1, Phase: "double", TargetRPS: 64, OK: true}}}
	for _, err := range []error{st.CreateRun(ctx, run), st.AddSnapshots(ctx, run.ID, snaps),
		st.AddStepResults(ctx, run.ID, []store.StepResult{step}), st.AddStressResult(ctx, run.ID, stress)} {
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st2 := mustOpen(t, open) // migrations run again: must be a no-op
	got, err := st2.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatalf("GetRun after reopen: %v", err)
	}
	if !reflect.DeepEqual(got, run) { // owner is this live process: still running
		t.Errorf("after reopen run = %+v\nwant %+v", got, run)
	}
	if gs, err := st2.Snapshots(ctx, run.ID); err != nil || !reflect.DeepEqual(gs, snaps) {
		t.Errorf("after reopen snapshots = %+v, %v; want %+v", gs, err, snaps)
	}
	if gs, err := st2.StepResults(ctx, run.ID); err != nil || !reflect.DeepEqual(gs, []store.StepResult{step}) {
		t.Errorf("after reopen steps = %+v, %v; want %+v", gs, err, step)
	}
	if gs, err := st2.StressResult(ctx, run.ID); err != nil || !reflect.DeepEqual(*gs, stress) {
		t.Errorf("after reopen stress = %+v, %v; want %+v", gs, err, stress)
	}
}

// testConcurrent writes two runs at once through two store handles on the
// same database (two loadgen processes).
func testConcurrent(t *testing.T, open func() (store.Store, error)) {
	ctx := ctxT(t)
	stores := []store.Store{mustOpen(t, open), mustOpen(t, open)}
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*n+10)
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("conc-%d", i)
			if err := st.CreateRun(ctx, sampleRun(id, base.Add(time.Duration(i)*time.Second))); err != nil {
				errs <- err
				return
			}
			for j := 0; j < n; j++ {
				if err := st.AddSnapshots(ctx, id, []store.Snapshot{{TS: base.Add(time.Duration(j) * time.Second), RPS: float64(j)}}); err != nil {
					errs <- err
				}
				if j%10 == 0 {
					if err := st.Heartbeat(ctx, id, time.Now()); err != nil {
						errs <- err
					}
				}
			}
			step, _ := store.NewStepResult("s", fmt.Sprint(i), n, 0, Histogram(uint64(i), 50, time.Millisecond), time.Second)
			if err := st.AddStepResults(ctx, id, []store.StepResult{step}); err != nil {
				errs <- err
			}
			if err := st.FinishRun(ctx, id, store.Finish{Status: store.StatusCompleted, EndedAt: base.Add(time.Hour)}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	for i := range stores {
		id := fmt.Sprintf("conc-%d", i)
		snaps, err := stores[1-i].Snapshots(ctx, id)
		if err != nil || len(snaps) != n {
			t.Errorf("Snapshots(%s) = %d rows, %v; want %d", id, len(snaps), err, n)
		}
		r, err := stores[1-i].GetRun(ctx, id)
		if err != nil || r.Status != store.StatusCompleted {
			t.Errorf("GetRun(%s) = %+v, %v; want completed", id, r, err)
		}
	}
}

func testSegments(t *testing.T, open func() (store.Store, error)) {
	st, ctx := mustOpen(t, open), ctxT(t)
	if got, err := st.Segments(ctx, "none"); err != nil || len(got) != 0 {
		t.Fatalf("Segments of an unknown run = %v, %v; want none", got, err)
	}
	s1 := store.Segment{RunID: "dist", Index: 1, Of: 3, WorkerRun: "dist-s1of3", Owner: "h:2", Status: store.StatusRunning,
		StartedAt: base}
	s0 := store.Segment{RunID: "dist", Index: 0, Of: 3, WorkerRun: "dist-s0of3", Owner: "h:1", Status: store.StatusRunning,
		StartedAt: base}
	for _, x := range []store.Segment{s1, s0} {
		if err := st.PutSegment(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	// A segment stored again (its end) is overwritten.
	s1.Status, s1.Error, s1.EndedAt, s1.Results = store.StatusCompleted, "", base.Add(time.Minute), []byte{1, 2, 3}
	if err := st.PutSegment(ctx, s1); err != nil {
		t.Fatal(err)
	}
	got, err := st.Segments(ctx, "dist")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Segment{s0, s1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Segments =\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []store.Segment{
		{RunID: "dist", Index: 3, Of: 3, Status: store.StatusRunning},
		{RunID: "", Index: 0, Of: 1, Status: store.StatusRunning},
		{RunID: "dist", Index: 0, Of: 1, Status: "odd"},
	} {
		if err := st.PutSegment(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutSegment(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}
