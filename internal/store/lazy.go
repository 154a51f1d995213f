package store

import (
	"context"
	"sync"
	"time"
)

// OpenLazy returns a Store for url that connects on first use and, after a
// failure, again on the next call: give it to a Writer so that a store that
// is down when the run starts is spooled to and caught up later, instead of
// failing the run. Every call fails with the connection error while the
// database cannot be reached.
func OpenLazy(url string) Store { return &lazy{url: url} }

type lazy struct {
	url string
	mu  sync.Mutex
	st  Store
}

var _ Store = (*lazy)(nil)

func (l *lazy) get(ctx context.Context) (Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil {
		return l.st, nil
	}
	st, err := Open(ctx, l.url)
	if err != nil {
		return nil, err
	}
	l.st = st
	return st, nil
}

func (l *lazy) Ping(ctx context.Context) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.Ping(ctx)
}

func (l *lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == nil {
		return nil
	}
	err := l.st.Close()
	l.st = nil
	return err
}

func (l *lazy) CreateRun(ctx context.Context, r *Run) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.CreateRun(ctx, r)
}

func (l *lazy) UpdateRun(ctx context.Context, r *Run) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.UpdateRun(ctx, r)
}

func (l *lazy) FinishRun(ctx context.Context, id string, f Finish) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.FinishRun(ctx, id, f)
}

func (l *lazy) Heartbeat(ctx context.Context, id string, at time.Time) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.Heartbeat(ctx, id, at)
}

func (l *lazy) GetRun(ctx context.Context, id string) (*Run, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.GetRun(ctx, id)
}

func (l *lazy) ListRuns(ctx context.Context, f Filter) ([]Run, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.ListRuns(ctx, f)
}

func (l *lazy) MarkInterrupted(ctx context.Context) ([]string, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.MarkInterrupted(ctx)
}

func (l *lazy) AddSnapshots(ctx context.Context, runID string, s []Snapshot) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.AddSnapshots(ctx, runID, s)
}

func (l *lazy) Snapshots(ctx context.Context, runID string) ([]Snapshot, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Snapshots(ctx, runID)
}

func (l *lazy) AddStepResults(ctx context.Context, runID string, s []StepResult) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.AddStepResults(ctx, runID, s)
}

func (l *lazy) StepResults(ctx context.Context, runID string) ([]StepResult, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.StepResults(ctx, runID)
}

func (l *lazy) AddBenchmarkResults(ctx context.Context, runID string, b []BenchmarkResult) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.AddBenchmarkResults(ctx, runID, b)
}

func (l *lazy) BenchmarkResults(ctx context.Context, runID string) ([]BenchmarkResult, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.BenchmarkResults(ctx, runID)
}

func (l *lazy) LatestBenchmark(ctx context.Context, plan, endpoint string) (*BenchmarkResult, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.LatestBenchmark(ctx, plan, endpoint)
}

func (l *lazy) AddStressResult(ctx context.Context, runID string, s StressResult) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.AddStressResult(ctx, runID, s)
}

func (l *lazy) StressResult(ctx context.Context, runID string) (*StressResult, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.StressResult(ctx, runID)
}

func (l *lazy) AddKneeResult(ctx context.Context, runID string, k KneeResult) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.AddKneeResult(ctx, runID, k)
}

func (l *lazy) KneeResult(ctx context.Context, runID string) (*KneeResult, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.KneeResult(ctx, runID)
}

func (l *lazy) PutSegment(ctx context.Context, s Segment) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.PutSegment(ctx, s)
}

func (l *lazy) Segments(ctx context.Context, runID string) ([]Segment, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Segments(ctx, runID)
}

func (l *lazy) SnapshotsSince(ctx context.Context, runID string, since time.Time) ([]Snapshot, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.SnapshotsSince(ctx, runID, since)
}
