package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// panickySink is a Sink whose snapshot (written on the run's monitoring) panics.
type panickySink struct {
	store.Sink
	finished chan store.Finish
}

func (panickySink) CreateRun(context.Context, *store.Run) error { return nil }
func (panickySink) AddSnapshots(context.Context, string, []store.Snapshot) error {
	panic("store exploded")
}
func (panickySink) AddStepResults(context.Context, string, []store.StepResult) error { return nil }
func (s panickySink) FinishRun(_ context.Context, _ string, f store.Finish) error {
	s.finished <- f
	return nil
}

// TestLoopPanicFailsTheRun: a panic on the run's monitoring stops the executor
// (the run ends long before its minute), and the run ends failed, recorded,
// with the panic in its error; Execute returns the summary and the panic.
func TestLoopPanicFailsTheRun(t *testing.T) {
	srv := okServer(t)
	p := openPlan(t, srv.URL, 50, time.Minute, 100)
	rec := panickySink{finished: make(chan store.Finish, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Execute(ctx, &Run{Plan: p, Sink: rec, ProgressInterval: 100 * time.Millisecond})
	if ctx.Err() != nil {
		t.Fatal("Execute did not stop the executor after the panic")
	}
	pe := panics.As(err)
	if pe == nil || pe.Where != "runner" || pe.Value != "store exploded" {
		t.Fatalf("Execute error = %v; want the runner's panic", err)
	}
	s, _ := rep.(*report.Summary)
	if s == nil || s.Status != store.StatusFailed || !strings.HasPrefix(s.Error, "panic in runner: store exploded") || s.Requests == 0 {
		t.Fatalf("summary = %+v; want failed, the panic in its error, the requests made", s)
	}
	select {
	case got := <-rec.finished:
		if got.Status != store.StatusFailed {
			t.Errorf("recorded status %s; want failed", got.Status)
		}
	default:
		t.Error("the run was not recorded")
	}
}
