package runner

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// progressCase is one progress line's input: the engine's plan (its model and planned total), a snapshot, and
// whether the target counts as unreachable.
type progressCase struct {
	model string
	total time.Duration
	s     executor.Snapshot
	down  bool
}

// progressCases cover every field of the plain progress line: open and closed models, before the first phase and
// in one, every latency format, errors, drops, an unreachable target, and elapsed times past a minute.
var progressCases = []progressCase{
	{plan.ModelOpen, 30 * time.Second, executor.Snapshot{Running: true, PhaseIndex: -1}, false},
	{plan.ModelOpen, 30 * time.Second, executor.Snapshot{Running: true, Elapsed: 1 * time.Second, Phase: "warm-up", PhaseIndex: 0,
		IntendedRate: 50, AchievedRPS: 48, Requests: 48, InFlight: 2, P99: 3456 * time.Microsecond}, false},
	{plan.ModelOpen, 30 * time.Second, executor.Snapshot{Running: true, Elapsed: 12 * time.Second, Phase: "steady", PhaseIndex: 1,
		IntendedRate: 200, AchievedRPS: 199, Requests: 2388, Errors: 3, InFlight: 9, P99: 45200 * time.Microsecond}, false},
	{plan.ModelOpen, 30 * time.Second, executor.Snapshot{Running: true, Elapsed: 13 * time.Second, Phase: "steady", PhaseIndex: 1,
		IntendedRate: 200, AchievedRPS: 150, Requests: 2538, Errors: 60, Dropped: 12, InFlight: 1000, P99: 2500 * time.Millisecond}, false},
	{plan.ModelOpen, 30 * time.Second, executor.Snapshot{Running: true, Elapsed: 14 * time.Second, Phase: "steady", PhaseIndex: 1,
		IntendedRate: 200, AchievedRPS: 0, Requests: 2600, Errors: 122, InFlight: 0, P99: 1200 * time.Microsecond}, true},
	{plan.ModelClosed, 90 * time.Minute, executor.Snapshot{Running: true, Elapsed: 61*time.Second + 400*time.Millisecond,
		Phase: "ramp", PhaseIndex: 0, TargetVUs: 20, VUs: 17, AchievedRPS: 310.5, Requests: 15000, Errors: 0, InFlight: 17,
		P99: 999 * time.Microsecond}, false},
	{plan.ModelClosed, 90 * time.Minute, executor.Snapshot{Running: false, Elapsed: 90 * time.Minute, PhaseIndex: -1,
		TargetVUs: 20, VUs: 0, AchievedRPS: 0, Requests: 1800000, Errors: 1}, false},
}

// TestProgressLineGolden: the plain progress line, printed once a second when the output is not a terminal (or in
// CI), for a fixed sequence of snapshots. The golden file is the line as it has always been printed: it must not
// change.
func TestProgressLineGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range progressCases {
		b.WriteString(progressLine(c))
	}
	testenv.Golden(t, "testdata/progress-plain.golden", []byte(b.String()), *update)
}

func progressLine(c progressCase) string {
	// The phases the snapshots name: warm-up then steady (open), ramp (closed).
	phases := []plan.Phase{{Name: "warm-up", Duration: plan.D(10 * time.Second)}, {Name: "steady", Duration: plan.D(c.total - 10*time.Second)}}
	if c.model == plan.ModelClosed {
		phases = []plan.Phase{{Name: "ramp", Duration: plan.D(c.total)}}
	}
	p := &plan.Plan{Load: plan.Load{Model: c.model, Phases: phases}}
	x := &engine{r: &Run{}, plan: p, view: newEngineView(1, p, func(s string) string { return s })}
	x.unreach.Store(c.down)
	var b strings.Builder
	live.NewPlain(&b).Update(x.live(c.s))
	return b.String()
}
