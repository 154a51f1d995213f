// Package knee finds where a system stops scaling: the knee of a throughput-versus-load curve, a Universal
// Scalability Law fit with its predicted peak, and the resource that saturated first.
//
// Steps come from a step-load run: a closed model at concurrency 1, 2, 4, 8, ... (Load = N) or open-model rate
// steps (Load = rate), each with a steady-window throughput and latency.
package knee

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Step is one load level of a step-load run.
type Step struct {
	Load       float64       `json:"load"`       // concurrency N (closed model) or asked rate (open model)
	Throughput float64       `json:"throughput"` // completed requests per second in the steady window
	P50        time.Duration `json:"p50_ns"`
	P95        time.Duration `json:"p95_ns"`
	P99        time.Duration `json:"p99_ns"`
	ErrorRate  float64       `json:"error_rate"`
	// Resources holds what was observed at this step, keyed by the Resource names below (e.g. "generator_cpu": 0.4,
	// "target_pool_in_use_ratio": 1.0, "target_queue": 5).
	Resources map[string]float64 `json:"resources,omitempty"`
}

// DefaultGainThreshold: a step whose throughput gain is under 10% of the ideal linear gain is past the knee.
const DefaultGainThreshold = 0.1

// Detect returns the index of the knee: the first step whose throughput gain over the previous step is below
// gainThreshold times the ideal linear gain (the gain if throughput grew in proportion to load,
// X[i-1]*(Load[i]/Load[i-1]-1)) while latency (p50 or p99) rises. A gainThreshold <= 0 means
// DefaultGainThreshold. ok is false when no step qualifies, or when loads are not strictly increasing and positive.
// Latency is ignored when the steps carry none (all zero).
func Detect(steps []Step, gainThreshold float64) (kneeIndex int, ok bool) {
	if gainThreshold <= 0 {
		gainThreshold = DefaultGainThreshold
	}
	for i := 1; i < len(steps); i++ {
		if !(steps[i-1].Load > 0) || !(steps[i].Load > steps[i-1].Load) {
			return 0, false
		}
	}
	for i := 1; i < len(steps); i++ {
		prev, cur := steps[i-1], steps[i]
		ideal := prev.Throughput * (cur.Load/prev.Load - 1)
		if ideal <= 0 {
			continue // no throughput yet: no gain to compare with
		}
		gain := (cur.Throughput - prev.Throughput) / ideal
		if gain < gainThreshold && latencyRises(prev, cur) {
			return i, true
		}
	}
	return 0, false
}

func latencyRises(prev, cur Step) bool {
	if prev.P50 == 0 && prev.P99 == 0 && cur.P50 == 0 && cur.P99 == 0 {
		return true // no latency measured: decide on throughput alone
	}
	return cur.P50 > prev.P50 || cur.P99 > prev.P99
}

// USL is a fitted Universal Scalability Law: X(N) = Lambda*N / (1 + Sigma*(N-1) + Kappa*N*(N-1)).
// Lambda is the throughput of one unit of load, Sigma the contention (serial share), Kappa the coherency (crosstalk)
// cost; R2 is the coefficient of determination of the fit on the measured throughputs.
type USL struct {
	Lambda float64 `json:"lambda"`
	Sigma  float64 `json:"sigma"`
	Kappa  float64 `json:"kappa"`
	R2     float64 `json:"r2"`
}

// Throughput is the model's prediction at load n.
func (u USL) Throughput(n float64) float64 {
	return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// PeakN is the load of peak throughput, N* = sqrt((1-Sigma)/Kappa): +Inf when Kappa = 0 (throughput only levels off,
// towards Lambda/Sigma), 1 when Sigma >= 1.
func (u USL) PeakN() float64 {
	if u.Sigma >= 1 {
		return 1
	}
	if u.Kappa <= 0 {
		return math.Inf(1)
	}
	return math.Sqrt((1 - u.Sigma) / u.Kappa)
}

// PeakThroughput is X(N*): the highest throughput the model predicts (Lambda/Sigma when Kappa = 0, +Inf when both
// are 0: linear scaling).
func (u USL) PeakThroughput() float64 {
	n := u.PeakN()
	if math.IsInf(n, 1) {
		if u.Sigma <= 0 {
			return math.Inf(1)
		}
		return u.Lambda / u.Sigma
	}
	return u.Throughput(n)
}

// String prints the fit, e.g. "USL lambda=100.0 sigma=0.0500 kappa=0.001000 N*=30.8 peak=1507.5/s R2=0.998".
func (u USL) String() string {
	return fmt.Sprintf("USL lambda=%.1f sigma=%.4f kappa=%.6f N*=%.1f peak=%.1f/s R2=%.3f",
		u.Lambda, u.Sigma, u.Kappa, u.PeakN(), u.PeakThroughput(), u.R2)
}

// ErrTooFewSteps is returned by FitUSL for fewer than three usable steps.
var ErrTooFewSteps = errors.New("usl fit needs at least 3 steps with load >= 1 and throughput > 0")

// FitUSL fits the USL to the steps by least squares on throughput, with Sigma and Kappa constrained to >= 0.
//
// Start: Lambda from the step at load 1 (else the best per-unit throughput of the lowest load), then the
// linearised form N/(X/Lambda) - 1 = Sigma*(N-1) + Kappa*N*(N-1) solved as a two-variable non-negative least
// squares. Then Levenberg-Marquardt refines Lambda, Sigma and Kappa together on the throughput residuals, projecting
// Sigma and Kappa back to >= 0. Steps with load < 1 or no throughput are skipped.
func FitUSL(steps []Step) (USL, error) {
	var n, x []float64
	for _, s := range steps {
		if s.Load >= 1 && s.Throughput > 0 && !math.IsInf(s.Load, 0) && !math.IsInf(s.Throughput, 0) {
			n = append(n, s.Load)
			x = append(x, s.Throughput)
		}
	}
	if len(n) < 3 {
		return USL{}, ErrTooFewSteps
	}
	u := linearStart(n, x)
	u = refine(u, n, x)
	u.R2 = rSquared(u, n, x)
	return u, nil
}

// linearStart estimates Lambda, then Sigma and Kappa by non-negative least squares on the linearised USL.
func linearStart(n, x []float64) USL {
	lambda := 0.0
	minN := math.Inf(1)
	for i := range n {
		if n[i] < minN {
			minN = n[i]
		}
	}
	for i := range n {
		if n[i] == minN {
			lambda = math.Max(lambda, x[i]/n[i])
		}
	}
	// y = N*lambda/X - 1 = sigma*a + kappa*b, a = N-1, b = N(N-1).
	var saa, sab, sbb, say, sby float64
	for i := range n {
		a, b := n[i]-1, n[i]*(n[i]-1)
		y := n[i]*lambda/x[i] - 1
		saa += a * a
		sab += a * b
		sbb += b * b
		say += a * y
		sby += b * y
	}
	best := USL{Lambda: lambda}
	bestErr := math.Inf(1)
	try := func(s, k float64) {
		if s < 0 || k < 0 || math.IsNaN(s) || math.IsNaN(k) {
			return
		}
		u := USL{Lambda: lambda, Sigma: s, Kappa: k}
		if e := sse(u, n, x); e < bestErr {
			best, bestErr = u, e
		}
	}
	if det := saa*sbb - sab*sab; det != 0 {
		try((say*sbb-sby*sab)/det, (saa*sby-sab*say)/det)
	}
	if saa > 0 {
		try(say/saa, 0)
	}
	if sbb > 0 {
		try(0, sby/sbb)
	}
	try(0, 0)
	return best
}

func sse(u USL, n, x []float64) float64 {
	var s float64
	for i := range n {
		r := x[i] - u.Throughput(n[i])
		s += r * r
	}
	return s
}

func rSquared(u USL, n, x []float64) float64 {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var tot float64
	for _, v := range x {
		tot += (v - mean) * (v - mean)
	}
	if tot == 0 {
		if sse(u, n, x) == 0 {
			return 1
		}
		return 0
	}
	return 1 - sse(u, n, x)/tot
}

// refine runs projected Levenberg-Marquardt on (Lambda, Sigma, Kappa).
func refine(u USL, n, x []float64) USL {
	p := [3]float64{u.Lambda, u.Sigma, u.Kappa}
	model := func(p [3]float64) USL { return USL{Lambda: p[0], Sigma: p[1], Kappa: p[2]} }
	cur := sse(u, n, x)
	mu := 1e-3
	for iter := 0; iter < 500; iter++ {
		var jtj [3][3]float64
		var jtr [3]float64
		for i := range n {
			N := n[i]
			d := 1 + p[1]*(N-1) + p[2]*N*(N-1)
			f := p[0] * N / d
			j := [3]float64{N / d, -p[0] * N * (N - 1) / (d * d), -p[0] * N * N * (N - 1) / (d * d)}
			r := x[i] - f
			for a := 0; a < 3; a++ {
				jtr[a] += j[a] * r
				for b := 0; b < 3; b++ {
					jtj[a][b] += j[a] * j[b]
				}
			}
		}
		improved := false
		for try := 0; try < 30; try++ {
			var m [3][3]float64
			for a := 0; a < 3; a++ {
				m[a] = jtj[a]
				m[a][a] += mu * math.Max(jtj[a][a], 1e-300)
			}
			delta, ok := solve3(m, jtr)
			if !ok {
				mu *= 10
				continue
			}
			next := [3]float64{p[0] + delta[0], math.Max(0, p[1]+delta[1]), math.Max(0, p[2]+delta[2])}
			if next[0] <= 0 {
				mu *= 10
				continue
			}
			if e := sse(model(next), n, x); e < cur {
				rel := (cur - e) / math.Max(cur, 1e-300)
				p, cur = next, e
				mu = math.Max(mu/10, 1e-12)
				improved = true
				if rel < 1e-12 {
					return model(p)
				}
				break
			}
			mu *= 10
		}
		if !improved {
			break
		}
	}
	return model(p)
}

// solve3 solves m*v = b by Gaussian elimination with partial pivoting.
func solve3(m [3][3]float64, b [3]float64) ([3]float64, bool) {
	for c := 0; c < 3; c++ {
		piv := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[piv][c]) {
				piv = r
			}
		}
		if m[piv][c] == 0 || math.IsNaN(m[piv][c]) {
			return [3]float64{}, false
		}
		m[c], m[piv] = m[piv], m[c]
		b[c], b[piv] = b[piv], b[c]
		for r := c + 1; r < 3; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k < 3; k++ {
				m[r][k] -= f * m[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var v [3]float64
	for c := 2; c >= 0; c-- {
		s := b[c]
		for k := c + 1; k < 3; k++ {
			s -= m[c][k] * v[k]
		}
		v[c] = s / m[c][c]
	}
	return v, true
}

// Resource names: keys of Step.Resources, and what Saturated returns.
const (
	// TargetPoolInUseRatio is the target's pool in use / pool size (target_pool_in_use / target_pool_workers).
	TargetPoolInUseRatio = "target_pool_in_use_ratio"
	// TargetQueue is the target's queue length (target_queue_length): requests waiting for a worker.
	TargetQueue = "target_queue"
	// GeneratorCPU is the generator's CPU saturation, 0-1 of the CPUs it may use (sysmon CPUSaturationRatio).
	GeneratorCPU = "generator_cpu"
	// HostCPU is the host's CPU busy share, 0-1 (sysmon Host.CPUUsageRatio).
	HostCPU = "host_cpu"
	// HostMemory is the host's memory in use, 0-1 of the total.
	HostMemory = "host_memory"
	// FDsRatio is open file descriptors over their limit (process or host), 0-1.
	FDsRatio = "fds_ratio"
	// ConnectionsRatio is the generator's connections in use over its connection cap, 0-1.
	ConnectionsRatio = "connections_ratio"
)

// limits are the saturation thresholds, one per resource; a ratio resource not listed uses DefaultRatioLimit.
var (
	limits = map[string]float64{
		TargetPoolInUseRatio: 0.95,
		TargetQueue:          1,
		GeneratorCPU:         0.9,
		HostCPU:              0.9,
		HostMemory:           0.9,
		FDsRatio:             0.9,
		ConnectionsRatio:     0.95,
	}
	priority = []string{TargetPoolInUseRatio, TargetQueue, GeneratorCPU, HostCPU, HostMemory, FDsRatio, ConnectionsRatio}
)

// Priority is the order in which Saturated checks resources: the target's own gauges first (direct evidence of
// its bottleneck), then the generator (its saturation makes the figures suspect), then the shared host.
func Priority() []string { return append([]string(nil), priority...) }

// Limit is the value at or above which Saturated calls resource saturated.
func Limit(resource string) float64 {
	if v, ok := limits[resource]; ok {
		return v
	}
	return DefaultRatioLimit
}

// DefaultRatioLimit applies to any other resource named "*_ratio" in Step.Resources.
const DefaultRatioLimit = 0.95

// Saturated names the resource that saturated first at step (usually the knee step): the first resource in Priority
// at or above its Limit, then any other "*_ratio" resource at or above DefaultRatioLimit (by name). It
// returns "" and 0 when nothing observed is saturated.
func Saturated(step Step) (resource string, value float64) {
	for _, name := range priority {
		if v, ok := step.Resources[name]; ok && v >= limits[name] {
			return name, v
		}
	}
	var others []string
	for name := range step.Resources {
		if _, known := limits[name]; !known && strings.HasSuffix(name, "_ratio") {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	for _, name := range others {
		if v := step.Resources[name]; v >= DefaultRatioLimit {
			return name, v
		}
	}
	return "", 0
}

// Analysis is the result of Analyze.
type Analysis struct {
	// Knee is the index of the knee step (see Detect), -1 when none was found.
	Knee     int     `json:"knee"`
	KneeLoad float64 `json:"knee_load,omitempty"`
	// USL is fitted to the first FitSteps steps (see Analyze); FitErr says why there is no fit.
	USL      USL    `json:"usl"`
	FitSteps int    `json:"fit_steps"`
	FitErr   string `json:"fit_error,omitempty"`
	// Saturated is the resource that saturated first at the knee (at the last step when no knee), "" if none.
	Saturated      string  `json:"saturated,omitempty"`
	SaturatedValue float64 `json:"saturated_value,omitempty"`
}

// Analyze detects the knee, fits the USL and names the saturated resource.
//
// The fit window: with a knee at step k, the USL is fitted to the steps whose load is at most twice the load of
// step k-1 (always through step k); without a knee, to all steps. A hard capacity cap (a pool of W workers) makes a
// flat plateau the USL cannot follow, and a long plateau pulls the fitted peak above it (+9% measured on
// X(N) = min(N, 8)/20ms sampled to N = 64, against +3% with the window); the window keeps as much plateau as rising
// part, which is enough for Kappa to see a real retrograde decline.
func Analyze(steps []Step, gainThreshold float64) Analysis {
	a := Analysis{Knee: -1}
	if len(steps) == 0 {
		a.FitErr = ErrTooFewSteps.Error()
		return a
	}
	fit := steps
	at := steps[len(steps)-1]
	if k, ok := Detect(steps, gainThreshold); ok {
		a.Knee, a.KneeLoad, at = k, steps[k].Load, steps[k]
		limit := 2 * steps[k-1].Load
		j := k + 1
		for j < len(steps) && steps[j].Load <= limit {
			j++
		}
		fit = steps[:j]
	}
	a.FitSteps = len(fit)
	if u, err := FitUSL(fit); err != nil {
		a.FitErr = err.Error()
	} else {
		a.USL = u
	}
	a.Saturated, a.SaturatedValue = Saturated(at)
	return a
}
