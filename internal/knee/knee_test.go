package knee

import (
	"errors"
	"math"
	"math/rand"
	"testing"
	"time"
)

// uslSteps samples a known USL at loads ns, with multiplicative noise of +-noise (seeded).
func uslSteps(u USL, ns []float64, noise float64, seed int64) []Step {
	rng := rand.New(rand.NewSource(seed))
	var steps []Step
	for _, n := range ns {
		x := u.Throughput(n) * (1 + noise*(2*rng.Float64()-1))
		steps = append(steps, Step{Load: n, Throughput: x, P99: time.Duration(float64(time.Second) * n / x)})
	}
	return steps
}

// poolSteps models a target with w workers and service time s under a closed model at concurrency N:
// X(N) = min(N, w)/s, latency N/X (Little's law), with +-noise and the target's pool and queue gauges.
func poolSteps(w int, s time.Duration, ns []float64, noise float64, seed int64) []Step {
	rng := rand.New(rand.NewSource(seed))
	var steps []Step
	for _, n := range ns {
		busy := math.Min(n, float64(w))
		x := busy / s.Seconds() * (1 + noise*(2*rng.Float64()-1))
		lat := time.Duration(float64(time.Second) * n / x)
		steps = append(steps, Step{Load: n, Throughput: x, P50: lat, P99: lat * 3 / 2, Resources: map[string]float64{
			TargetPoolInUseRatio: busy / float64(w),
			TargetQueue:          math.Max(0, n-float64(w)),
			GeneratorCPU:         0.02 * x / 100,
		}})
	}
	return steps
}

func pow2(lo, hi int) []float64 {
	var out []float64
	for n := lo; n <= hi; n *= 2 {
		out = append(out, float64(n))
	}
	return out
}

func linear(lo, hi, step int) []float64 {
	var out []float64
	for n := lo; n <= hi; n += step {
		out = append(out, float64(n))
	}
	return out
}

func TestFitUSLRecoversKnownModel(t *testing.T) {
	truth := USL{Lambda: 100, Sigma: 0.05, Kappa: 0.001}
	tests := []struct {
		name  string
		ns    []float64
		noise float64
		tol   float64 // relative tolerance on sigma, kappa and peak
	}{
		{"exact, powers of two", pow2(1, 128), 0, 0.001},
		{"exact, linear steps", linear(1, 80, 4), 0, 0.001},
		{"1% noise, linear steps", linear(1, 80, 2), 0.01, 0.05},
		{"2% noise, powers of two", pow2(1, 128), 0.02, 0.15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FitUSL(uslSteps(truth, tt.ns, tt.noise, 1))
			if err != nil {
				t.Fatalf("FitUSL: %v", err)
			}
			check := func(what string, g, w float64) {
				if rel := math.Abs(g-w) / w; rel > tt.tol {
					t.Errorf("%s = %.6g; want %.6g within %.1f%% (off by %.2f%%)", what, g, w, 100*tt.tol, 100*rel)
				}
			}
			check("lambda", got.Lambda, truth.Lambda)
			check("peak N", got.PeakN(), truth.PeakN())
			check("peak throughput", got.PeakThroughput(), truth.PeakThroughput())
			if tt.noise == 0 {
				check("sigma", got.Sigma, truth.Sigma)
				check("kappa", got.Kappa, truth.Kappa)
			}
			if got.R2 < 0.95 {
				t.Errorf("R2 = %.4f; want >= 0.95", got.R2)
			}
			t.Logf("%s (truth N*=%.1f peak=%.1f)", got, truth.PeakN(), truth.PeakThroughput())
		})
	}
}

// TestFitUSLLinearStartOnly checks the linearised start alone is already close on exact data with X(1).
func TestFitUSLLinearStart(t *testing.T) {
	truth := USL{Lambda: 50, Sigma: 0.1, Kappa: 0.0005}
	var n, x []float64
	for _, s := range uslSteps(truth, pow2(1, 64), 0, 1) {
		n, x = append(n, s.Load), append(x, s.Throughput)
	}
	u := linearStart(n, x)
	if math.Abs(u.Sigma-0.1) > 1e-9 || math.Abs(u.Kappa-0.0005) > 1e-12 || u.Lambda != 50 {
		t.Errorf("linearStart = %+v; want lambda 50 sigma 0.1 kappa 0.0005", u)
	}
}

// TestPoolModel: W workers, service time s. Through Analyze, the knee lands within one step of W, the fitted peak
// throughput within 10% of W/s, and the pool is named as the saturated resource. Fine (non-doubling) steps need step
// gains well above the noise, hence 0.5% noise for them.
func TestPoolModel(t *testing.T) {
	tests := []struct {
		w     int
		s     time.Duration
		ns    []float64
		noise float64
	}{
		{8, 20 * time.Millisecond, pow2(1, 64), 0},
		{8, 20 * time.Millisecond, pow2(1, 64), 0.03},
		{8, 20 * time.Millisecond, pow2(1, 16), 0.03},
		{4, 50 * time.Millisecond, pow2(1, 32), 0.03},
		{6, 20 * time.Millisecond, pow2(1, 64), 0.03},
		{12, 20 * time.Millisecond, pow2(1, 64), 0.03},
		{16, 10 * time.Millisecond, pow2(1, 128), 0.03},
		{10, 20 * time.Millisecond, linear(2, 30, 2), 0.005},
		{32, 5 * time.Millisecond, []float64{1, 2, 4, 8, 16, 24, 32, 48, 64, 96}, 0.03},
	}
	for _, tt := range tests {
		worst := 0.0
		for seed := int64(1); seed <= 50; seed++ {
			steps := poolSteps(tt.w, tt.s, tt.ns, tt.noise, seed)
			a := Analyze(steps, DefaultGainThreshold)
			if a.Knee < 0 || a.FitErr != "" {
				t.Fatalf("W=%d s=%v seed %d: Analyze = %+v; want a knee and a fit", tt.w, tt.s, seed, a)
			}
			wIdx := -1 // the first step at or past W
			for i, st := range steps {
				if st.Load >= float64(tt.w) {
					wIdx = i
					break
				}
			}
			if d := a.Knee - wIdx; d < -1 || d > 1 {
				t.Errorf("W=%d s=%v seed %d: knee at step %d (load %v); want within one step of W (step %d)",
					tt.w, tt.s, seed, a.Knee, a.KneeLoad, wIdx)
			}
			want := float64(tt.w) / tt.s.Seconds()
			rel := (a.USL.PeakThroughput() - want) / want
			if math.Abs(rel) > 0.10 {
				t.Errorf("W=%d s=%v seed %d: peak throughput %.1f; want within 10%% of W/s = %.1f (%s)",
					tt.w, tt.s, seed, a.USL.PeakThroughput(), want, a.USL)
			}
			if math.Abs(rel) > math.Abs(worst) {
				worst = rel
			}
			if a.Saturated != TargetPoolInUseRatio || a.SaturatedValue < 0.95 {
				t.Errorf("W=%d seed %d: saturated %q %v; want %s >= 0.95", tt.w, seed, a.Saturated, a.SaturatedValue, TargetPoolInUseRatio)
			}
			if seed == 1 {
				t.Logf("W=%d s=%v noise %.1f%%: knee at load %v, fit on %d steps: %s", tt.w, tt.s, 100*tt.noise, a.KneeLoad, a.FitSteps, a.USL)
			}
		}
		t.Logf("W=%d: worst peak error over 50 seeds %+.1f%%", tt.w, 100*worst)
	}
}

func TestAnalyzeEdges(t *testing.T) {
	if a := Analyze(nil, 0); a.Knee != -1 || a.FitErr == "" {
		t.Errorf("Analyze(nil) = %+v; want no knee and a fit error", a)
	}
	// No knee: the fit uses every step, saturation is read at the last step.
	steps := uslSteps(USL{Lambda: 10}, pow2(1, 16), 0, 1)
	steps[len(steps)-1].Resources = map[string]float64{HostCPU: 0.95}
	a := Analyze(steps, 0)
	if a.Knee != -1 || a.FitSteps != len(steps) || a.Saturated != HostCPU || math.Abs(a.USL.Lambda-10) > 1e-6 {
		t.Errorf("Analyze(linear) = %+v; want no knee, all steps fitted, host_cpu", a)
	}
}

func TestDetect(t *testing.T) {
	ms := time.Millisecond
	st := func(load, x float64, p99 time.Duration) Step { return Step{Load: load, Throughput: x, P99: p99} }
	tests := []struct {
		name      string
		steps     []Step
		threshold float64
		want      int
		ok        bool
	}{
		{"linear, no knee", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 40, ms), st(8, 80, ms)}, 0, 0, false},
		{"flat after 4", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 40, ms), st(8, 41, 2*ms), st(16, 41, 4*ms)}, 0, 3, true},
		{"retrograde", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 30, 2*ms), st(8, 25, 5*ms)}, 0, 3, true},
		{"flat but latency not rising", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 20, ms), st(8, 20, 3*ms)}, 0, 3, true},
		{"threshold 0.6 catches a half gain", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 30, 2*ms), st(8, 40, 4*ms)}, 0.6, 2, true},
		{"default threshold ignores a half gain", []Step{st(1, 10, ms), st(2, 20, ms), st(4, 30, 2*ms), st(8, 40, 4*ms)}, 0, 0, false},
		{"open model rate steps", []Step{st(100, 100, ms), st(200, 200, ms), st(300, 300, 2*ms), st(400, 305, 50*ms)}, 0, 3, true},
		{"no latency data", []Step{st(1, 10, 0), st(2, 20, 0), st(4, 21, 0)}, 0, 2, true},
		{"zero throughput first", []Step{st(1, 0, ms), st(2, 20, ms), st(4, 20, 2*ms)}, 0, 2, true},
		{"loads not increasing", []Step{st(2, 10, ms), st(1, 5, ms), st(4, 5, 2*ms)}, 0, 0, false},
		{"zero load", []Step{st(0, 10, ms), st(1, 5, ms), st(4, 5, 2*ms)}, 0, 0, false},
		{"one step", []Step{st(1, 10, ms)}, 0, 0, false},
		{"empty", nil, 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := Detect(tt.steps, tt.threshold)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: Detect = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUSLPeaks(t *testing.T) {
	tests := []struct {
		u    USL
		n, x float64
		nInf bool
		xInf bool
	}{
		{u: USL{Lambda: 100, Sigma: 0.05, Kappa: 0.001}, n: math.Sqrt(0.95 / 0.001), x: 100 * math.Sqrt(950) / (1 + 0.05*(math.Sqrt(950)-1) + 0.001*math.Sqrt(950)*(math.Sqrt(950)-1))},
		{u: USL{Lambda: 100, Sigma: 0.1}, nInf: true, x: 1000},
		{u: USL{Lambda: 100}, nInf: true, xInf: true},
		{u: USL{Lambda: 100, Sigma: 1.2, Kappa: 0.01}, n: 1, x: 100},
	}
	for _, tt := range tests {
		n, x := tt.u.PeakN(), tt.u.PeakThroughput()
		if tt.nInf != math.IsInf(n, 1) || (!tt.nInf && math.Abs(n-tt.n) > 1e-9) {
			t.Errorf("%+v PeakN() = %v; want %v (inf %v)", tt.u, n, tt.n, tt.nInf)
		}
		if tt.xInf != math.IsInf(x, 1) || (!tt.xInf && math.Abs(x-tt.x) > 1e-9) {
			t.Errorf("%+v PeakThroughput() = %v; want %v (inf %v)", tt.u, x, tt.x, tt.xInf)
		}
	}
	if got, want := (USL{Lambda: 100, Sigma: 0.05, Kappa: 0.001, R2: 0.998}).String(),
		"USL lambda=100.0 sigma=0.0500 kappa=0.001000 N*=30.8 peak=903.8/s R2=0.998"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

func TestFitUSLErrorsAndEdges(t *testing.T) {
	if _, err := FitUSL([]Step{{Load: 1, Throughput: 1}, {Load: 2, Throughput: 2}}); !errors.Is(err, ErrTooFewSteps) {
		t.Errorf("FitUSL(2 steps) error = %v; want ErrTooFewSteps", err)
	}
	if _, err := FitUSL([]Step{{Load: 1, Throughput: 0}, {Load: 2}, {Load: 0.5, Throughput: 3}, {Load: 4, Throughput: 1}}); !errors.Is(err, ErrTooFewSteps) {
		t.Errorf("FitUSL(unusable steps) error = %v; want ErrTooFewSteps", err)
	}
	// Perfectly linear: sigma = kappa = 0, R2 = 1.
	u, err := FitUSL([]Step{{Load: 1, Throughput: 10}, {Load: 2, Throughput: 20}, {Load: 4, Throughput: 40}, {Load: 8, Throughput: 80}})
	if err != nil || u.Sigma > 1e-9 || u.Kappa > 1e-12 || math.Abs(u.Lambda-10) > 1e-9 || math.Abs(u.R2-1) > 1e-9 {
		t.Errorf("FitUSL(linear) = %+v, %v; want lambda 10, sigma 0, kappa 0, R2 1", u, err)
	}
	// Without a load-1 step (start at 2): still close.
	truth := USL{Lambda: 100, Sigma: 0.05, Kappa: 0.001}
	u, err = FitUSL(uslSteps(truth, pow2(2, 128), 0, 1))
	if err != nil || math.Abs(u.PeakThroughput()-truth.PeakThroughput())/truth.PeakThroughput() > 0.01 {
		t.Errorf("FitUSL(no N=1) = %s, %v; want peak within 1%% of %.1f", u, err, truth.PeakThroughput())
	}
	// Sigma and kappa never go negative, even on super-linear data.
	u, err = FitUSL([]Step{{Load: 1, Throughput: 10}, {Load: 2, Throughput: 25}, {Load: 4, Throughput: 60}, {Load: 8, Throughput: 150}})
	if err != nil || u.Sigma < 0 || u.Kappa < 0 {
		t.Errorf("FitUSL(super-linear) = %+v, %v; want sigma, kappa >= 0", u, err)
	}
}

func TestSaturated(t *testing.T) {
	tests := []struct {
		name string
		res  map[string]float64
		want string
		val  float64
	}{
		{"nothing observed", nil, "", 0},
		{"nothing saturated", map[string]float64{TargetPoolInUseRatio: 0.5, GeneratorCPU: 0.3, HostCPU: 0.5}, "", 0},
		{"pool full", map[string]float64{TargetPoolInUseRatio: 1, GeneratorCPU: 0.3}, TargetPoolInUseRatio, 1},
		{"pool at 95%", map[string]float64{TargetPoolInUseRatio: 0.95}, TargetPoolInUseRatio, 0.95},
		{"pool wins over generator", map[string]float64{TargetPoolInUseRatio: 1, GeneratorCPU: 0.99, HostCPU: 1}, TargetPoolInUseRatio, 1},
		{"queue without pool gauge", map[string]float64{TargetQueue: 5, GeneratorCPU: 0.95}, TargetQueue, 5},
		{"empty queue is not saturation", map[string]float64{TargetQueue: 0.5}, "", 0},
		{"generator cpu", map[string]float64{TargetPoolInUseRatio: 0.6, GeneratorCPU: 0.92, HostCPU: 0.95}, GeneratorCPU, 0.92},
		{"host cpu", map[string]float64{GeneratorCPU: 0.5, HostCPU: 0.97}, HostCPU, 0.97},
		{"fds", map[string]float64{FDsRatio: 0.99, ConnectionsRatio: 1}, FDsRatio, 0.99},
		{"connections", map[string]float64{ConnectionsRatio: 1}, ConnectionsRatio, 1},
		{"other ratio, by name", map[string]float64{"z_ratio": 0.99, "a_ratio": 0.96, "b_count": 1e9}, "a_ratio", 0.96},
	}
	for _, tt := range tests {
		got, v := Saturated(Step{Resources: tt.res})
		if got != tt.want || v != tt.val {
			t.Errorf("%s: Saturated = %q, %v; want %q, %v", tt.name, got, v, tt.want, tt.val)
		}
	}
	if p := Priority(); p[0] != TargetPoolInUseRatio || len(p) != 7 || Limit(HostCPU) != 0.9 || Limit("x_ratio") != DefaultRatioLimit {
		t.Errorf("Priority() = %v, Limit(host_cpu) = %v", p, Limit(HostCPU))
	}
}
