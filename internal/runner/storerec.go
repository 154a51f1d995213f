package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// RunStore is the part of store.Store (or of its asynchronous Writer) that
// recording a run needs.
type RunStore interface {
	CreateRun(ctx context.Context, r *store.Run) error
	Heartbeat(ctx context.Context, id string, at time.Time) error
	AddSnapshots(ctx context.Context, runID string, s []store.Snapshot) error
	AddStepResults(ctx context.Context, runID string, s []store.StepResult) error
	FinishRun(ctx context.Context, id string, f store.Finish) error
}

// StoreRecorder records a run in a RunStore: the run is created as running
// at the start, a snapshot (with a heartbeat) is added every
// DefaultSnapshotInterval, and at the end the step results with their
// serialised histograms, the totals, the summary JSON and text and the final
// status are written. A write error never stops the run: the first one is
// kept and reported in the summary's store message.
type StoreRecorder struct {
	st  RunStore
	url string // redacted, for the summary
	log *slog.Logger
	// Spooled, when set, reports whether writes went to a local spool
	// (the store's Writer knows); Message adds its explanation.
	Spooled func() (bool, string)

	mu     sync.Mutex
	runID  string
	start  time.Time
	prev   executor.Snapshot
	failed error
}

// NewStoreRecorder records into st; url names it in the summary (its
// password is masked).
func NewStoreRecorder(st RunStore, url string, log *slog.Logger) *StoreRecorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StoreRecorder{st: st, url: store.Redacted(url), log: log}
}

var _ Recorder = (*StoreRecorder)(nil)

func (r *StoreRecorder) fail(what string, err error) {
	if err == nil {
		return
	}
	r.log.Warn("store: "+what+" failed", "err", err)
	if r.failed == nil {
		r.failed = err
	}
}

// Start creates the run with status running.
func (r *StoreRecorder) Start(ctx context.Context, rs RunStart) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runID, r.start = rs.ID, rs.StartedAt
	r.log = rs.Plan.Redactor().Logger(r.log) // a store error may quote what it refused
	run := &store.Run{
		ID: rs.ID, Name: rs.Plan.Name, Plan: rs.Plan.Name, Type: store.Type(rs.Type), Status: store.StatusRunning,
		PlanYAML: rs.Plan.StoredYAML(), Owner: store.Owner(),
		CreatedAt: rs.StartedAt, StartedAt: rs.StartedAt, HeartbeatAt: rs.StartedAt,
	}
	err := r.st.CreateRun(ctx, run)
	r.fail("create run", err)
	if sink, ok := r.st.(store.Sink); ok {
		store.SettleStart(ctx, sink) // the record must outlive a SIGKILL of this process
	}
	return err
}

// Snapshot adds one metric snapshot and a heartbeat.
func (r *StoreRecorder) Snapshot(s executor.Snapshot, res Resources) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runID == "" {
		return
	}
	now := r.start.Add(s.Elapsed)
	// Error rate over the interval since the previous snapshot.
	dreq, derr := s.Requests-r.prev.Requests, s.Errors-r.prev.Errors
	var er float64
	if dreq > 0 {
		er = float64(derr) / float64(dreq)
	}
	r.prev = s
	snap := store.Snapshot{
		TS: now.Truncate(time.Millisecond), Phase: s.Phase, RPS: s.AchievedRPS, TargetRPS: s.IntendedRate,
		ErrorRate: er, P50Ms: store.Ms(s.P50), P95Ms: store.Ms(s.P95), P99Ms: store.Ms(s.P99), InFlight: s.InFlight,
		VUs: s.VUs, Requests: int64(s.Requests), Errors: int64(s.Errors), CPUPct: res.CPUPct, MemBytes: res.RSSBytes,
		HostCPUPct: res.HostCPUPct, HostMemPct: res.HostMemPct, P90Ms: store.Ms(s.P90),
		ServiceP50Ms: store.Ms(s.ServiceP50), ServiceP90Ms: store.Ms(s.ServiceP90), ServiceP99Ms: store.Ms(s.ServiceP99),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.fail("add snapshot", r.st.AddSnapshots(ctx, r.runID, []store.Snapshot{snap}))
	r.fail("heartbeat", r.st.Heartbeat(ctx, r.runID, now))
}

// Finish writes the step results, totals, summary and status.
func (r *StoreRecorder) Finish(ctx context.Context, s *report.Summary, res *executor.Results) *report.StoreInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := &report.StoreInfo{URL: r.url}
	if r.runID == "" {
		info.Message = "not recorded: the run was never created in the store"
		return info
	}
	elapsed := res.Duration()
	steps := make([]store.StepResult, 0, len(res.Steps))
	for _, c := range res.Steps {
		sr, err := store.NewStepResult(c.Scenario, c.Step, int64(c.Requests), int64(c.Errors), c.Latency, elapsed)
		if err != nil {
			r.fail("encode step result", err)
			continue
		}
		steps = append(steps, sr)
	}
	r.fail("add step results", r.st.AddStepResults(ctx, r.runID, steps))

	// The stored summary names the store too (as known before the final flush).
	s.Store = info
	var js, text bytes.Buffer
	r.fail("render summary", report.WriteJSON(&js, s))
	r.fail("render summary", report.WriteText(&text, s))
	var total = res.Total
	f := store.Finish{
		Status: store.Status(s.Status), Error: s.Error, EndedAt: s.EndedAt,
		SummaryJSON: json.RawMessage(bytes.TrimSpace(js.Bytes())), SummaryText: text.String(),
	}
	if total != nil {
		f.Totals = store.TotalsOf(int64(total.Requests), int64(total.Errors), total.Latency, elapsed)
	}
	if f.EndedAt.IsZero() {
		f.EndedAt = time.Now()
	}
	r.fail("finish run", r.st.FinishRun(ctx, r.runID, f))

	if r.Spooled != nil {
		info.Spooled, info.Message = r.Spooled()
	}
	if r.failed != nil && info.Message == "" {
		info.Message = "not fully recorded: " + oneLine(r.failed.Error())
	}
	return info
}
