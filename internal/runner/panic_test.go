package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/report"
)

// panickyRecorder is a Recorder whose snapshot (a store callback on the
// runner's loop) panics.
type panickyRecorder struct{ finished chan *report.Summary }

func (panickyRecorder) Start(context.Context, RunStart) error { return nil }
func (panickyRecorder) Snapshot(executor.Snapshot, Resources) { panic("store exploded") }
func (r panickyRecorder) Finish(_ context.Context, s *report.Summary, _ *executor.Results) *report.StoreInfo {
	r.finished <- s
	return &report.StoreInfo{}
}

// TestLoopPanicFailsTheRun: a panic on the runner's loop stops the executor
// (the run ends long before its minute), and the run ends failed, recorded,
// with the panic in its error; Run returns the summary and the panic.
func TestLoopPanicFailsTheRun(t *testing.T) {
	srv := okServer(t)
	p := openPlan(t, srv.URL, 50, time.Minute, 100)
	rec := panickyRecorder{finished: make(chan *report.Summary, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Run(ctx, p, Options{MetricsAddr: MetricsOff, Recorder: rec, ProgressInterval: 100 * time.Millisecond})
	if ctx.Err() != nil {
		t.Fatal("Run did not stop the executor after the panic")
	}
	pe := panics.As(err)
	if pe == nil || pe.Where != "runner" || pe.Value != "store exploded" {
		t.Fatalf("Run error = %v; want the runner's panic", err)
	}
	if s == nil || s.Status != report.StatusFailed || !strings.HasPrefix(s.Error, "panic in runner: store exploded") || s.Requests == 0 {
		t.Fatalf("summary = %+v; want failed, the panic in its error, the requests made", s)
	}
	select {
	case got := <-rec.finished:
		if got.Status != report.StatusFailed {
			t.Errorf("recorded status %s; want failed", got.Status)
		}
	default:
		t.Error("the run was not recorded")
	}
}
