package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loadlab/loadlab/internal/panics"
)

// op names a record kind in the spool file.
type op string

const (
	opCreateRun  op = "create_run"
	opUpdateRun  op = "update_run"
	opFinishRun  op = "finish_run"
	opSnapshots  op = "snapshots"
	opSteps      op = "steps"
	opBenchmarks op = "benchmarks"
	opStress     op = "stress"
	opKnee       op = "knee"
)

// record is one write, as queued in memory and as one JSON line in a spool
// file. Every record is idempotent, so replaying one twice is harmless.
type record struct {
	Op         op                `json:"op"`
	RunID      string            `json:"run_id"`
	Run        *Run              `json:"run,omitempty"`
	Finish     *Finish           `json:"finish,omitempty"`
	Snapshots  []Snapshot        `json:"snapshots,omitempty"`
	Steps      []StepResult      `json:"steps,omitempty"`
	Benchmarks []BenchmarkResult `json:"benchmarks,omitempty"`
	Stress     *StressResult     `json:"stress,omitempty"`
	Knee       *KneeResult       `json:"knee,omitempty"`
	// Err, At and Attempts are set only in a parked-records file
	// (rejected-*.jsonl): the store's last refusal, when, and how many in all.
	Err      string    `json:"error,omitempty"`
	At       time.Time `json:"rejected_at,omitzero"`
	Attempts int       `json:"attempts,omitempty"`
}

// apply writes r to st. A create of a run that already exists counts as done
// (an earlier attempt succeeded but its answer was lost). A panic in the
// store comes back as a *panics.Error, a permanent error: the record is
// refused (kept in the rejected-records file with the panic's message), and
// the writer, and the process holding other runs, go on.
func (r *record) apply(ctx context.Context, st Store) (err error) {
	defer panics.Recover("store "+string(r.Op), func(pe *panics.Error) { err = pe })
	switch r.Op {
	case opCreateRun:
		run := *r.Run
		err = st.CreateRun(ctx, &run)
		if errors.Is(err, ErrExists) {
			err = nil
		}
	case opUpdateRun:
		run := *r.Run
		err = st.UpdateRun(ctx, &run)
	case opFinishRun:
		err = st.FinishRun(ctx, r.RunID, *r.Finish)
	case opSnapshots:
		err = st.AddSnapshots(ctx, r.RunID, r.Snapshots)
	case opSteps:
		err = st.AddStepResults(ctx, r.RunID, r.Steps)
	case opBenchmarks:
		err = st.AddBenchmarkResults(ctx, r.RunID, r.Benchmarks)
	case opStress:
		err = st.AddStressResult(ctx, r.RunID, *r.Stress)
	case opKnee:
		err = st.AddKneeResult(ctx, r.RunID, *r.Knee)
	default:
		err = fmt.Errorf("%w: unknown spool record %q", ErrInvalid, r.Op)
	}
	return err
}

// size is the record's weight against the writer's buffer bound: the rows
// it carries (at least 1).
func (r *record) size() int {
	return max(1, len(r.Snapshots)+len(r.Steps)+len(r.Benchmarks))
}

// permanent reports an error that retrying cannot fix.
func permanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || panics.As(err) != nil
}
