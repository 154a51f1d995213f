package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/target"
)

const panicKneePlan = `name: knee-panic
type: knee
scenarios: [{steps: [{request: {path: /api/teams}}]}]
knee: {steps: [1, 2], step_duration: 1s, warmup: 0s}
`

// TestModePanics: a panic in a mode's engine fails the run with its message
// (the mode's report and the store say so); a panic in the mode's own code
// comes back as an error, the run recorded as failed; nothing escapes.
func TestModePanics(t *testing.T) {
	_, url := startTarget(t, target.FixedServiceConfig(8, 64, time.Millisecond))
	p := parsePlan(t, panicKneePlan, url)
	st, _ := openStore(t)
	ctx := timeCtx(t, 30*time.Second)

	// In the engine (its housekeeping goroutine).
	rep, err := execute[*KneeReport](ctx, &Run{Plan: p, Store: st, Log: testLogger(t), ID: "engine-panic",
		ExecutorOptions: []executor.Option{executor.WithOnPhase(func(string) { panic("engine boom") })}})
	if rep == nil || rep.Status != store.StatusFailed || !strings.Contains(rep.Error, "panic in executor housekeeping: engine boom") {
		t.Fatalf("Knee = %+v, %v; want a failed report naming the panic", rep, err)
	}
	if panics.As(err) == nil {
		t.Errorf("Knee error = %v; want it to wrap the panic", err)
	}

	// In the mode's own code (here the OnEngine callback, after the run was created).
	rep, err = execute[*KneeReport](ctx, &Run{Plan: p, Store: st, Log: testLogger(t), ID: "mode-panic",
		OnEngine: func(*executor.Executor) { panic("mode boom") }})
	if pe := panics.As(err); rep != nil || pe == nil || pe.Where != "knee mode" || pe.Value != "mode boom" {
		t.Fatalf("Knee = %v, %v; want no report and the knee mode's panic", rep, err)
	}

	for id, want := range map[string]string{"engine-panic": "engine boom", "mode-panic": "panic in knee mode: mode boom"} {
		r, err := st.GetRun(context.Background(), id)
		if err != nil || r.Status != store.StatusFailed || !strings.Contains(r.Error, want) {
			t.Errorf("stored run %s = %v, %v; want failed with %q", id, r, err, want)
		}
	}
}
