package runner

import (
	"context"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
)

// Recorder records a run as it goes: created as running at the start, a
// metric snapshot every DefaultSnapshotInterval, and at the end the step
// results, the summary (JSON and text) and the final status. Implementations
// must never block the run for long: Snapshot is called from the monitoring
// loop.
type Recorder interface {
	Start(ctx context.Context, r RunStart) error
	Snapshot(s executor.Snapshot, r Resources)
	// Finish stores the end of the run and says where (and whether it had
	// to spool); it is called once, after the summary is complete.
	Finish(ctx context.Context, s *report.Summary, res *executor.Results) *report.StoreInfo
}

// Resources are the resource figures sampled with each snapshot.
type Resources struct {
	CPUPct     float64 // the generator's own CPU, percent of one core
	RSSBytes   int64   // the generator's resident memory
	HostCPUPct float64 // host CPU busy share since the previous snapshot, percent of all CPUs (resource monitor)
	HostMemPct float64 // host memory in use, percent of total (resource monitor)
}

// RunStart describes a run being created.
type RunStart struct {
	ID        string
	Plan      *plan.Plan
	Type      string
	StartedAt time.Time
}
