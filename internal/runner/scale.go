package runner

import (
	"fmt"
	"math"
	"time"

	"github.com/loadlab/loadlab/internal/plan"
)

// MaxDurationScale bounds the factor of ScaleDurations (--duration-scale).
const MaxDurationScale = 100

// ScaleDurations multiplies the time p's run takes by f (--duration-scale; 0.1 for a quick trial of a long plan),
// whatever its type: a load run's phase durations; a stress search's probe_duration and cooldown; a knee
// search's warmup and step_duration; a benchmark's warm-up (a duration, or a number of requests) and its
// requests per endpoint, which size the measured window (counts are rounded, at least 1). Rates, concurrencies
// and thresholds are left alone.
func ScaleDurations(p *plan.Plan, f float64) error {
	if !(f > 0 && f <= MaxDurationScale) {
		return fmt.Errorf("duration scale %v: must be > 0 and <= %d", f, MaxDurationScale)
	}
	scale := func(d *time.Duration) { *d = time.Duration(float64(*d) * f) }
	count := func(n *int) {
		if *n > 0 {
			*n = max(1, int(math.Round(float64(*n)*f)))
		}
	}
	for i := range p.Load.Phases {
		scale(&p.Load.Phases[i].Duration.Duration)
	}
	if s := p.Stress; s != nil {
		scale(&s.ProbeDuration.Duration)
		scale(&s.Cooldown.Duration)
	}
	if k := p.Knee; k != nil {
		scale(&k.Warmup.Duration)
		scale(&k.StepDuration.Duration)
	}
	if b := p.Benchmark; b != nil {
		scale(&b.Warmup.Duration)
		count(&b.Warmup.Requests)
		count(&b.Requests)
	}
	return nil
}
