// Package stress finds a target's maximum sustainable request rate: a pure search over a Trial function that runs
// one open-model probe at a given rate and reports what it measured.
//
// The search starts at Config.StartRate and doubles the rate until a probe fails (error rate above
// Config.ErrorThreshold, or p99 above Config.P99SLO when set) or Config.MaxRate passes; then it bisects between the
// last good and the first bad rate until (bad-good)/good <= Config.Resolution. A probe the generator itself could not
// deliver (achieved rate short with few errors, schedule lag, generator CPU) counts as bad too, and when such a probe
// bounds the answer the Result says the ceiling is the generator's, not the target's.
//
// With a monotone target the answer is within Resolution of the true crossing rate R*, after at most
// floor(log2(R*/StartRate)) + 2 ramp probes and ceil(log2(1/Resolution)) bisection probes (10 in all for the default
// 5% when R* < 16 x StartRate).
package stress

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// State is the search's lifecycle state, as stored and served by the control API.
type State string

// States. A search goes QUEUED -> STRESS_BINARY_SEARCH -> COMPLETED, or ends in ERROR (the target is unreachable or
// fails at every rate tried, or a trial returned an error) or CANCELED (its context ended).
const (
	Queued    State = "QUEUED"
	Searching State = "STRESS_BINARY_SEARCH"
	Completed State = "COMPLETED"
	Errored   State = "ERROR"
	Canceled  State = "CANCELED"
)

// Limit says what bounds the answer.
type Limit string

// Limits.
const (
	LimitTarget    Limit = "target"    // the target broke at Breakdown
	LimitGenerator Limit = "generator" // the generator could not deliver Breakdown: the target's limit is higher
	LimitMaxRate   Limit = "max_rate"  // MaxRate passed: the breaking point was not reached
)

// Defaults, applied by Config.withDefaults to zero fields.
const (
	DefaultErrorThreshold   = 0.05
	DefaultResolution       = 0.05
	DefaultMaxProbes        = 20
	DefaultMaxRate          = 100000.0
	DefaultMinAchievedRatio = 0.95
	DefaultMaxLag99         = 10 * time.Millisecond
	DefaultMaxGeneratorCPU  = 0.9
	// DefaultUnreachableRatio is the share of connection failures in a probe that means the target is unreachable.
	DefaultUnreachableRatio = 0.99
	// DefaultMinRateFactor bounds the downward halving when the first probe fails: the search tries rates down to
	// StartRate x DefaultMinRateFactor before ending in ERROR.
	DefaultMinRateFactor = 1.0 / 16
)

// Probe is one trial at a rate: the trial fills the measurements, Search fills Phase, Pass, Limit and Reason.
type Probe struct {
	Rate     float64 `json:"rate"`     // asked rate, req/s
	Achieved float64 `json:"achieved"` // completed requests per second (successes and failures)
	// ErrorRate is the share (0-1) of requests that failed (status, timeout, connection...).
	ErrorRate float64 `json:"error_rate"`
	// ConnectErrorRate is the share (0-1) of requests that never reached the target (dns, connect, tls).
	ConnectErrorRate float64       `json:"connect_error_rate"`
	P99              time.Duration `json:"p99_ns"`
	// Lag99 is the p99 of the generator's schedule lag (actual start minus intended start).
	Lag99 time.Duration `json:"lag99_ns"`
	// GeneratorCPU is the generator's CPU saturation (0-1 of the CPUs it may use), e.g. sysmon's CPUSaturationRatio.
	GeneratorCPU float64 `json:"generator_cpu"`
	// Err is a problem the trial reports without ending the search (recorded in Error for storage).
	Err   error  `json:"-"`
	Error string `json:"error,omitempty"`

	Phase  string `json:"phase"` // "ramp" (doubling or halving) or "bisect"
	Pass   bool   `json:"pass"`
	Limit  Limit  `json:"limit,omitempty"` // for a failed probe: what failed, target or generator
	Reason string `json:"reason,omitempty"`
}

// Trial runs one probe at rate (req/s) and returns its measurements. A returned error ends the search in ERROR
// (or CANCELED when ctx ended).
type Trial func(ctx context.Context, rate float64) (Probe, error)

// Config parameterises a search. Zero fields take the Default values.
type Config struct {
	StartRate      float64       `json:"start_rate"`
	MaxRate        float64       `json:"max_rate"`
	ErrorThreshold float64       `json:"error_threshold"` // a probe fails when its error rate is above this
	P99SLO         time.Duration `json:"p99_slo_ns"`      // a probe fails when its p99 is above this; 0 = off
	Resolution     float64       `json:"resolution"`      // stop when (bad-good)/good <= Resolution
	MaxProbes      int           `json:"max_probes"`
	Cooldown       time.Duration `json:"cooldown_ns"` // pause between probes

	// The generator-limited rule: a probe is the generator's failure when it achieved less than MinAchievedRatio of
	// the asked rate with an error rate within the threshold, or its schedule lag p99 is above MaxLag99, or the
	// generator's CPU saturation is above MaxGeneratorCPU.
	MinAchievedRatio float64       `json:"min_achieved_ratio"`
	MaxLag99         time.Duration `json:"max_lag99_ns"`
	MaxGeneratorCPU  float64       `json:"max_generator_cpu"`
	// GeneratorLimit, when set, replaces the rule above: it says whether the generator limited the probe, and why.
	GeneratorLimit func(Probe) (bool, string) `json:"-"`
}

func (c Config) withDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ErrorThreshold, DefaultErrorThreshold)
	def(&c.Resolution, DefaultResolution)
	def(&c.MaxRate, DefaultMaxRate)
	def(&c.MinAchievedRatio, DefaultMinAchievedRatio)
	def(&c.MaxGeneratorCPU, DefaultMaxGeneratorCPU)
	if c.MaxProbes == 0 {
		c.MaxProbes = DefaultMaxProbes
	}
	if c.MaxLag99 == 0 {
		c.MaxLag99 = DefaultMaxLag99
	}
	return c
}

// Validate reports the first invalid field, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.StartRate > 0) || math.IsInf(c.StartRate, 0):
		return fmt.Errorf("start_rate %v: must be > 0", c.StartRate)
	case !(c.MaxRate >= c.StartRate) || math.IsInf(c.MaxRate, 0):
		return fmt.Errorf("max_rate %v: must be >= start_rate %v", c.MaxRate, c.StartRate)
	case !(c.ErrorThreshold > 0 && c.ErrorThreshold < 1):
		return fmt.Errorf("error_threshold %v: must be in (0, 1)", c.ErrorThreshold)
	case !(c.Resolution > 0 && c.Resolution < 1):
		return fmt.Errorf("resolution %v: must be in (0, 1)", c.Resolution)
	case c.MaxProbes < 2:
		return fmt.Errorf("max_probes %d: must be >= 2", c.MaxProbes)
	case c.P99SLO < 0, c.Cooldown < 0, c.MaxLag99 < 0:
		return errors.New("p99_slo, cooldown and max_lag99 must be >= 0")
	case !(c.MinAchievedRatio > 0 && c.MinAchievedRatio <= 1):
		return fmt.Errorf("min_achieved_ratio %v: must be in (0, 1]", c.MinAchievedRatio)
	case !(c.MaxGeneratorCPU > 0):
		return fmt.Errorf("max_generator_cpu %v: must be > 0", c.MaxGeneratorCPU)
	}
	return nil
}

// Judge classifies a probe: whether it passed, and if not, whether the generator or the target failed and why.
// The generator rule is checked first, so a probe the generator could not deliver never counts against the target.
func (c Config) Judge(p Probe) (pass bool, limit Limit, reason string) {
	c = c.withDefaults()
	if limited, why := c.generatorLimited(p); limited {
		return false, LimitGenerator, why
	}
	if p.ErrorRate > c.ErrorThreshold {
		return false, LimitTarget, fmt.Sprintf("error rate %.1f%% above %.1f%%", 100*p.ErrorRate, 100*c.ErrorThreshold)
	}
	if c.P99SLO > 0 && p.P99 > c.P99SLO {
		return false, LimitTarget, fmt.Sprintf("p99 %v above the SLO %v", p.P99, c.P99SLO)
	}
	return true, "", ""
}

func (c Config) generatorLimited(p Probe) (bool, string) {
	if c.GeneratorLimit != nil {
		return c.GeneratorLimit(p)
	}
	switch {
	case p.GeneratorCPU > c.MaxGeneratorCPU:
		return true, fmt.Sprintf("generator CPU %.0f%% above %.0f%%", 100*p.GeneratorCPU, 100*c.MaxGeneratorCPU)
	case p.Lag99 > c.MaxLag99:
		return true, fmt.Sprintf("generator schedule lag p99 %v above %v", p.Lag99, c.MaxLag99)
	case p.Achieved < c.MinAchievedRatio*p.Rate && p.ErrorRate <= c.ErrorThreshold:
		return true, fmt.Sprintf("generator achieved %.1f of %.1f req/s (under %.0f%%) with few errors",
			p.Achieved, p.Rate, 100*c.MinAchievedRatio)
	}
	return false, ""
}

// Result is the outcome of a search.
type Result struct {
	State State `json:"state"`
	// MaxSustainable is the highest rate that passed; Breakdown the lowest that failed (0 when none failed).
	MaxSustainable float64 `json:"max_sustainable"`
	Breakdown      float64 `json:"breakdown"`
	LimitedBy      Limit   `json:"limited_by,omitempty"`
	Message        string  `json:"message"`
	Probes         []Probe `json:"probes"`
	// The search's rates are iterations per second (one iteration is a scenario's journey of steps).
	// RequestsPerIteration (set by InRequests; 0 means 1) turns them into requests per second:
	// MaxSustainableRPS and BreakdownRPS.
	RequestsPerIteration float64 `json:"requests_per_iteration"`
	MaxSustainableRPS    float64 `json:"max_sustainable_rps"`
	BreakdownRPS         float64 `json:"breakdown_rps"`
}

// InRequests sets RequestsPerIteration to k (the mean number of requests of
// one iteration) and the answer in requests per second from it.
func (r *Result) InRequests(k float64) {
	if k <= 0 {
		k = 1
	}
	r.RequestsPerIteration = k
	r.MaxSustainableRPS, r.BreakdownRPS = r.MaxSustainable*k, r.Breakdown*k
}

// rps returns the answer in requests per second, and whether it differs from
// the iterations per second (an iteration of more than one request).
func (r Result) rps() (max, breakdown float64, differs bool) {
	if r.RequestsPerIteration == 0 || r.RequestsPerIteration == 1 {
		return r.MaxSustainable, r.Breakdown, false
	}
	return r.MaxSustainable * r.RequestsPerIteration, r.Breakdown * r.RequestsPerIteration, true
}

// String prints the one-line answer in requests per second, e.g. "Max
// sustainable RPS = 64.0 | Breakdown at 76.0 RPS"; when an iteration is more
// than one request, the iterations per second follow each figure: "Max
// sustainable RPS = 100.0 (50.0 iterations/s) | Breakdown at 110.0 RPS (55.0
// iterations/s)".
func (r Result) String() string {
	max, bd, differs := r.rps()
	its := func(v float64) string {
		if !differs {
			return ""
		}
		return fmt.Sprintf(" (%.1f iterations/s)", v)
	}
	switch {
	case r.State == Errored || r.State == Canceled:
		return fmt.Sprintf("%s: %s", r.State, r.Message)
	case r.LimitedBy == LimitMaxRate:
		return fmt.Sprintf("Max sustainable RPS = %.1f%s | Breakdown not reached (max_rate)", max, its(r.MaxSustainable))
	case r.LimitedBy == LimitGenerator:
		return fmt.Sprintf("Max sustainable RPS = %.1f%s | Breakdown at %.1f RPS%s (generator limit, not the target's)",
			max, its(r.MaxSustainable), bd, its(r.Breakdown))
	}
	return fmt.Sprintf("Max sustainable RPS = %.1f%s | Breakdown at %.1f RPS%s", max, its(r.MaxSustainable), bd, its(r.Breakdown))
}

// Search runs the breaking-point search. observe, if not nil, is called after every probe with the state then.
// The returned error is non-nil only when the result is ERROR or CANCELED; the Result is always filled.
func Search(ctx context.Context, cfg Config, trial Trial, observe func(State, Probe)) (Result, error) {
	res := Result{State: Queued, Probes: []Probe{}}
	if err := cfg.Validate(); err != nil {
		res.State, res.Message = Errored, "invalid config: "+err.Error()
		return res, fmt.Errorf("stress config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &search{cfg: cfg, trial: trial, observe: observe, res: &res}
	res.State = Searching
	err := s.run(ctx)
	return res, err
}

type search struct {
	cfg     Config
	trial   Trial
	observe func(State, Probe)
	res     *Result
}

// errStop ends the search with the Result already filled.
var errStop = errors.New("stop")

// probe runs one trial, judges it and records it. It returns errStop (with res filled) when the search must end.
func (s *search) probe(ctx context.Context, rate float64, phase string) (Probe, error) {
	if n := len(s.res.Probes); n > 0 && s.cfg.Cooldown > 0 {
		t := time.NewTimer(s.cfg.Cooldown)
		select {
		case <-ctx.Done():
			t.Stop()
			return Probe{}, s.cancel(ctx.Err())
		case <-t.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return Probe{}, s.cancel(err)
	}
	p, err := s.trial(ctx, rate)
	if err != nil {
		if ctx.Err() != nil {
			return Probe{}, s.cancel(ctx.Err())
		}
		s.res.State = Errored
		s.res.Message = fmt.Sprintf("probe at %.1f req/s: %v", rate, err)
		return Probe{}, fmt.Errorf("stress probe at %.1f req/s: %w", rate, err)
	}
	p.Rate, p.Phase = rate, phase
	if p.Err != nil {
		p.Error = p.Err.Error()
	}
	p.Pass, p.Limit, p.Reason = s.cfg.Judge(p)
	s.res.Probes = append(s.res.Probes, p)
	if s.observe != nil {
		s.observe(Searching, p)
	}
	if p.ConnectErrorRate >= DefaultUnreachableRatio {
		s.res.State = Errored
		if len(s.res.Probes) == 1 {
			s.res.Message = fmt.Sprintf("target unreachable: %.0f%% of the requests of the first probe (%.1f req/s) "+
				"failed to connect; is it running, and is the URL right?", 100*p.ConnectErrorRate, rate)
		} else {
			s.res.Message = fmt.Sprintf("target became unreachable at %.1f req/s (%.0f%% connection failures) "+
				"after passing %.1f req/s; it may have crashed", rate, 100*p.ConnectErrorRate, s.res.MaxSustainable)
		}
		return p, errors.New(s.res.Message)
	}
	if p.Pass && rate > s.res.MaxSustainable {
		s.res.MaxSustainable = rate
	}
	return p, nil
}

func (s *search) cancel(err error) error {
	s.res.State = Canceled
	s.res.Message = fmt.Sprintf("canceled after %d probes", len(s.res.Probes))
	return fmt.Errorf("stress search: %w", err)
}

func (s *search) budgetLeft() bool { return len(s.res.Probes) < s.cfg.MaxProbes }

func (s *search) run(ctx context.Context) error {
	cfg := s.cfg
	var good, bad float64
	var badProbe Probe

	// Ramp: double from StartRate until a probe fails or MaxRate passes.
	rate := cfg.StartRate
	for {
		p, err := s.probe(ctx, rate, "ramp")
		if err != nil {
			return err
		}
		if !p.Pass {
			bad, badProbe = rate, p
			break
		}
		good = rate
		if rate >= cfg.MaxRate {
			s.res.State, s.res.LimitedBy = Completed, LimitMaxRate
			s.res.Message = fmt.Sprintf("breaking point not reached: max_rate %.1f req/s passed", cfg.MaxRate)
			return nil
		}
		if !s.budgetLeft() {
			s.res.State, s.res.LimitedBy = Completed, LimitMaxRate
			s.res.Message = fmt.Sprintf("breaking point not reached within max_probes %d: %.1f req/s passed",
				cfg.MaxProbes, rate)
			return nil
		}
		rate = math.Min(2*rate, cfg.MaxRate)
	}

	// The first probe failed: halve down until one passes, so a slow target gets a real ceiling, never 0.
	if good == 0 {
		floor := cfg.StartRate * DefaultMinRateFactor
		for good == 0 {
			next := bad / 2
			if next < floor || !s.budgetLeft() {
				s.res.State = Errored
				s.res.Message = fmt.Sprintf("target fails at every rate tried, down to %.2f req/s (%s): "+
					"no sustainable rate found", bad, badProbe.Reason)
				return errors.New(s.res.Message)
			}
			p, err := s.probe(ctx, next, "ramp")
			if err != nil {
				return err
			}
			if p.Pass {
				good = next
			} else {
				bad, badProbe = next, p
			}
		}
	}

	// Bisect between the last good and the first bad rate.
	for bad-good > cfg.Resolution*good*(1+1e-9) { // tolerance: 2^-n resolutions must not cost a probe to rounding
		if !s.budgetLeft() {
			s.finish(good, bad, badProbe)
			s.res.Message += fmt.Sprintf(" (max_probes %d reached before the resolution %.0f%%)",
				cfg.MaxProbes, 100*cfg.Resolution)
			return nil
		}
		mid := (good + bad) / 2
		p, err := s.probe(ctx, mid, "bisect")
		if err != nil {
			return err
		}
		if p.Pass {
			good = mid
		} else {
			bad, badProbe = mid, p
		}
	}
	s.finish(good, bad, badProbe)
	return nil
}

// finish fills a COMPLETED result bounded by good and bad.
func (s *search) finish(good, bad float64, badProbe Probe) {
	r := s.res
	r.State, r.MaxSustainable, r.Breakdown, r.LimitedBy = Completed, good, bad, badProbe.Limit
	if badProbe.Limit == LimitGenerator {
		r.Message = fmt.Sprintf("the generator's ceiling, not the target's: at %.1f req/s %s; the target sustained "+
			"%.1f req/s and its own limit is higher (use a bigger or second generator)", bad, badProbe.Reason, good)
		return
	}
	r.Message = fmt.Sprintf("target breaks at %.1f req/s: %s", bad, badProbe.Reason)
}
