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
	orDefault(p, "defaults.timeout", &p.Defaults.Timeout.Duration, DefaultTimeout)
	if !p.Defaults.MaxBody.IsSet() && !p.written("defaults.max_body") {
		p.Defaults.MaxBody.Bytes = DefaultMaxBody
	}
	defaultHTTP(p)
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
		orDefault(p, scenarioPath(i)+".weight", &sc.Weight, DefaultWeight)
		for j := range sc.Steps {
			defaultStep(&sc.Steps[j])
		}
	}
	if p.Load.Model == "" {
		p.Load.Model = ModelOpen
	}
	orDefault(p, "load.max_in_flight", &p.Load.MaxInFlight, DefaultMaxInFlight)
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
		orDefault(p, "benchmark.requests", &b.Requests, DefaultBenchRequests)
		if b.Warmup.Line == 0 && b.Warmup.Requests == 0 && b.Warmup.Duration == 0 {
			b.Warmup.Requests = DefaultBenchWarmup
		}
		if len(b.Concurrency) == 0 && !p.written("benchmark.concurrency") {
			b.Concurrency = []int{DefaultBenchConcurrent}
		}
		orDefault(p, "benchmark.tolerance", &b.Tolerance, DefaultTolerance)
		orDefault(p, "benchmark.confidence", &b.Confidence, DefaultConfidence)
	}
	if s := p.Stress; s != nil {
		orDefault(p, "stress.start_rate", &s.StartRate, DefaultStartRate)
		orDefault(p, "stress.error_threshold", &s.ErrorThreshold, DefaultErrorThreshold)
		orDefault(p, "stress.resolution", &s.Resolution, DefaultResolution)
		orDefault(p, "stress.probe_duration", &s.ProbeDuration.Duration, DefaultProbeDuration)
		orDefault(p, "stress.cooldown", &s.Cooldown.Duration, DefaultCooldown)
		orDefault(p, "stress.max_probes", &s.MaxProbes, DefaultMaxProbes)
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
		orDefault(p, "knee.step_duration", &k.StepDuration.Duration, DefaultKneeStep)
		orDefault(p, "knee.warmup", &k.Warmup.Duration, DefaultKneeWarmup)
		orDefault(p, "knee.gain_threshold", &k.GainThreshold, DefaultGainThreshold)
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

// orDefault sets *v to def when the plan left it out: zero, and its key not
// written (a 0 written in the plan is a value).
func orDefault[T comparable](p *Plan, path string, v *T, def T) {
	var zero T
	if *v == zero && !p.written(path) {
		*v = def
	}
}
