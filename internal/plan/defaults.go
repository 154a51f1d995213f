package plan

import (
	"path/filepath"
	"strings"
	"time"
)

// applyDefaults fills what the YAML left out. A field counts as "left out"
// when its key was not written (for plans built in Go: when it is zero).
func applyDefaults(p *Plan) {
	if p.Name == "" && p.Source != "" {
		base := filepath.Base(p.Source)
		p.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if p.Type == "" {
		p.Type = TypeLoad
	}
	if p.Defaults.Timeout.Duration == 0 && !p.written("defaults.timeout") {
		p.Defaults.Timeout.Duration = DefaultTimeout
	}
	if !p.Defaults.MaxBody.IsSet() && !p.written("defaults.max_body") {
		p.Defaults.MaxBody.Bytes = DefaultMaxBody
	}
	for name, ds := range p.Data {
		if ds.Order == "" {
			ds.Order = OrderSequential
		}
		ds.Keys = make([]string, len(ds.Columns))
		for i, c := range ds.Columns {
			ds.Keys[i] = name + "." + c
		}
		p.Data[name] = ds
	}
	if len(p.Scenarios) == 1 && p.Scenarios[0].Name == "" {
		p.Scenarios[0].Name = "default"
	}
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		if sc.Weight == 0 && !p.written(scenarioPath(i)+".weight") {
			sc.Weight = DefaultWeight
		}
		for j := range sc.Steps {
			defaultStep(&sc.Steps[j])
		}
	}
	if p.Load.Model == "" {
		p.Load.Model = ModelOpen
	}
	if p.Load.MaxInFlight == 0 && !p.written("load.max_in_flight") {
		p.Load.MaxInFlight = DefaultMaxInFlight
	}
	switch p.Type {
	case TypeBenchmark:
		if p.Benchmark == nil {
			p.Benchmark = &Benchmark{}
		}
	case TypeStress:
		if p.Stress == nil {
			p.Stress = &Stress{}
		}
	case TypeKnee:
		if p.Knee == nil {
			p.Knee = &Knee{}
		}
	}
	if b := p.Benchmark; b != nil {
		for j := range b.Endpoints {
			defaultStep(&b.Endpoints[j])
		}
		if b.Requests == 0 && !p.written("benchmark.requests") {
			b.Requests = DefaultBenchRequests
		}
		if b.Warmup.Line == 0 && b.Warmup.Requests == 0 && b.Warmup.Duration == 0 {
			b.Warmup.Requests = DefaultBenchWarmup
		}
		if len(b.Concurrency) == 0 && !p.written("benchmark.concurrency") {
			b.Concurrency = []int{DefaultBenchConcurrent}
		}
		if b.Tolerance == 0 && !p.written("benchmark.tolerance") {
			b.Tolerance = DefaultTolerance
		}
		if b.Confidence == 0 && !p.written("benchmark.confidence") {
			b.Confidence = DefaultConfidence
		}
	}
	if s := p.Stress; s != nil {
		if s.StartRate == 0 && !p.written("stress.start_rate") {
			s.StartRate = DefaultStartRate
		}
		if s.ErrorThreshold == 0 && !p.written("stress.error_threshold") {
			s.ErrorThreshold = DefaultErrorThreshold
		}
		if s.Resolution == 0 && !p.written("stress.resolution") {
			s.Resolution = DefaultResolution
		}
		if s.ProbeDuration.Duration == 0 && !p.written("stress.probe_duration") {
			s.ProbeDuration.Duration = DefaultProbeDuration
		}
		if s.Cooldown.Duration == 0 && !p.written("stress.cooldown") {
			s.Cooldown.Duration = DefaultCooldown
		}
		if s.MaxProbes == 0 && !p.written("stress.max_probes") {
			s.MaxProbes = DefaultMaxProbes
		}
	}
	if k := p.Knee; k != nil {
		if k.Model == "" {
			k.Model = ModelClosed
		}
		if k.MaxSteps == 0 && !p.written("knee.max_steps") {
			k.MaxSteps = DefaultKneeMaxSteps
			if len(k.Steps) > k.MaxSteps {
				k.MaxSteps = len(k.Steps)
			}
		}
		if len(k.Steps) == 0 && !p.written("knee.steps") && k.MaxSteps > 0 && k.MaxSteps <= 30 {
			for i := range k.MaxSteps {
				k.Steps = append(k.Steps, float64(int(1)<<i))
			}
		}
		if k.StepDuration.Duration == 0 && !p.written("knee.step_duration") {
			k.StepDuration.Duration = DefaultKneeStep
		}
		if k.Warmup.Duration == 0 && !p.written("knee.warmup") {
			k.Warmup.Duration = DefaultKneeWarmup
		}
		if k.GainThreshold == 0 && !p.written("knee.gain_threshold") {
			k.GainThreshold = DefaultGainThreshold
		}
	}
}

func defaultStep(s *Step) {
	s.Request.Method = strings.ToUpper(strings.TrimSpace(s.Request.Method))
	if s.Request.Method == "" {
		s.Request.Method = DefaultMethod
	}
	if s.Name == "" {
		s.Name = s.Request.Method + " " + s.Request.Path
	}
}

// EffectiveTimeout returns the request's timeout, else the plan default, else DefaultTimeout.
func (r Request) EffectiveTimeout(d Defaults) time.Duration {
	if r.Timeout.Duration > 0 {
		return r.Timeout.Duration
	}
	if d.Timeout.Duration > 0 {
		return d.Timeout.Duration
	}
	return DefaultTimeout
}

// EffectiveMaxBody returns the request's max_body, else the plan default,
// else DefaultMaxBody.
func (r Request) EffectiveMaxBody(d Defaults) int64 {
	if r.MaxBody.IsSet() {
		return r.MaxBody.Bytes
	}
	if d.MaxBody.IsSet() {
		return d.MaxBody.Bytes
	}
	return DefaultMaxBody
}

func scenarioPath(i int) string { return "scenarios[" + itoa(i) + "]" }
