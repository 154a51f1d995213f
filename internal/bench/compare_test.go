package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// lognormal returns a histogram of n latencies from a log-normal distribution with median med and shape sigma,
// scaled by scale. With seed 0 the samples are the distribution's quantiles at (i+0.5)/n (no sampling noise);
// otherwise they are random draws from a generator seeded with seed.
func lognormal(n int, med time.Duration, sigma, scale float64, seed uint64) *hist.Histogram {
	h := hist.New()
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range n {
		var z float64
		if seed == 0 {
			z = normQuantile((float64(i) + 0.5) / float64(n))
		} else {
			z = rng.NormFloat64()
		}
		h.Record(time.Duration(scale * float64(med) * math.Exp(sigma*z)))
	}
	return h
}

// normQuantile is the standard normal quantile function (bisection on Erf: plenty for test data).
func normQuantile(p float64) float64 {
	lo, hi := -10.0, 10.0
	for range 100 {
		m := (lo + hi) / 2
		if 0.5*(1+math.Erf(m/math.Sqrt2)) < p {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// tailSlower is like lognormal (seed 0) but multiplies only the values above the p90 by factor.
func tailSlower(n int, med time.Duration, sigma, factor float64) *hist.Histogram {
	h := hist.New()
	for i := range n {
		p := (float64(i) + 0.5) / float64(n)
		v := float64(med) * math.Exp(sigma*normQuantile(p))
		if p > 0.9 {
			v *= factor
		}
		h.Record(time.Duration(v))
	}
	return h
}

func TestCompare(t *testing.T) {
	const med = 20 * time.Millisecond
	tests := []struct {
		name       string
		base, cur  *hist.Histogram
		tolerance  float64
		want       Change
		wantByName map[string]Change
	}{
		{name: "identical histograms", base: lognormal(2000, med, 0.3, 1, 0), cur: lognormal(2000, med, 0.3, 1, 0),
			want: Unchanged, wantByName: map[string]Change{"p50": Unchanged, "p95": Unchanged, "p99": Unchanged}},
		{name: "same distribution, independent samples", base: lognormal(1000, med, 0.3, 1, 1),
			cur: lognormal(1000, med, 0.3, 1, 2), want: Unchanged},
		{name: "20% slower, many samples", base: lognormal(2000, med, 0.3, 1, 0), cur: lognormal(2000, med, 0.3, 1.2, 0),
			want: Regression, wantByName: map[string]Change{"p50": Regression, "p95": Regression}},
		{name: "20% slower, random samples", base: lognormal(1000, med, 0.3, 1, 3), cur: lognormal(1000, med, 0.3, 1.2, 4),
			want: Regression, wantByName: map[string]Change{"p50": Regression}},
		{name: "20% slower, 10 samples: not significant", base: lognormal(10, med, 0.3, 1, 5),
			cur: lognormal(10, med, 0.3, 1.2, 6), want: Unchanged,
			wantByName: map[string]Change{"p50": Unchanged, "p95": NotTested, "p99": NotTested}},
		{name: "20% slower, 10 quantile samples: not significant", base: lognormal(10, med, 0.3, 1, 0),
			cur: lognormal(10, med, 0.3, 1.2, 0), want: Unchanged},
		{name: "20% faster: improvement, not regression", base: lognormal(2000, med, 0.3, 1, 0),
			cur: lognormal(2000, med, 0.3, 0.8, 0), want: Improvement,
			wantByName: map[string]Change{"p50": Improvement, "p95": Improvement}},
		{name: "5% slower is within a 10% tolerance", base: lognormal(20000, med, 0.3, 1, 0),
			cur: lognormal(20000, med, 0.3, 1.05, 0), want: Unchanged,
			wantByName: map[string]Change{"p50": Unchanged, "p95": Unchanged, "p99": Unchanged}},
		{name: "5% slower beyond a 2% tolerance", base: lognormal(20000, med, 0.3, 1, 0),
			cur: lognormal(20000, med, 0.3, 1.05, 0), tolerance: 0.02, want: Regression},
		{name: "5% faster beyond a 2% tolerance: improvement", base: lognormal(20000, med, 0.3, 1, 0),
			cur: lognormal(20000, med, 0.3, 0.95, 0), tolerance: 0.02, want: Improvement},
		{name: "only the tail slower: p95 regression, median unchanged", base: lognormal(2000, med, 0.3, 1, 0),
			cur: tailSlower(2000, med, 0.3, 1.5), want: Regression,
			wantByName: map[string]Change{"p50": Unchanged, "p95": Regression, "p99": Regression}},
		{name: "p99 not tested under 500 samples", base: lognormal(300, med, 0.3, 1, 0),
			cur: lognormal(300, med, 0.3, 1, 0), want: Unchanged,
			wantByName: map[string]Change{"p50": Unchanged, "p95": Unchanged, "p99": NotTested}},
		{name: "60% slower but only 30µs: under the absolute floor", base: lognormal(5000, 50*time.Microsecond, 0.3, 1, 0),
			cur: lognormal(5000, 50*time.Microsecond, 0.3, 1.6, 0), want: Unchanged,
			wantByName: map[string]Change{"p50": Unchanged, "p95": Unchanged, "p99": Unchanged}},
		{name: "60% slower at 5ms: over the absolute floor", base: lognormal(5000, 5*time.Millisecond, 0.3, 1, 0),
			cur: lognormal(5000, 5*time.Millisecond, 0.3, 1.6, 0), want: Regression},
		{name: "too few samples", base: lognormal(5, med, 0.3, 1, 0), cur: lognormal(5, med, 0.3, 3, 0),
			want: NotTested},
		{name: "empty baseline", base: hist.New(), cur: lognormal(1000, med, 0.3, 1, 0), want: NotTested},
		{name: "twice as slow with 30 samples", base: lognormal(30, med, 0.3, 1, 0), cur: lognormal(30, med, 0.3, 2, 0),
			want: Regression, wantByName: map[string]Change{"p50": Regression}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := Result{Histogram: tt.base}
			cur := Result{Histogram: tt.cur}
			v := Compare(base, cur, tt.tolerance, 0.95)
			if v.Change != tt.want || v.Regression != (tt.want == Regression) {
				t.Errorf("Compare() = %s (regression %v); want %s\n%s\n%+v", v.Change, v.Regression, tt.want,
					v.Reason, v.Quantiles)
			}
			for _, q := range v.Quantiles {
				if want, ok := tt.wantByName[q.Name]; ok && q.Change != want {
					t.Errorf("%s: %s (ratio %.3f, interval %.3f-%.3f); want %s", q.Name, q.Change, q.Ratio, q.Lo,
						q.Hi, want)
				}
				if q.Change != NotTested && !(q.Lo <= q.Hi) {
					t.Errorf("%s: interval [%v, %v] not ordered", q.Name, q.Lo, q.Hi)
				}
			}
			t.Logf("%s: %s", v.Change, v)
			// Deterministic: the same inputs give the same verdict.
			if again := Compare(base, cur, tt.tolerance, 0.95); again.String() != v.String() {
				t.Errorf("second Compare() = %s; want %s", again, v)
			}
		})
	}
}

// TestCompareInterval checks that the bootstrap interval covers the true ratio and narrows with more samples.
func TestCompareInterval(t *testing.T) {
	const med = 10 * time.Millisecond
	var prevWidth float64 = math.Inf(1)
	for _, n := range []int{50, 500, 5000} {
		v := CompareHist(lognormal(n, med, 0.5, 1, 11), lognormal(n, med, 0.5, 1.3, 12), Criteria{Seed: 1})
		q := v.Quantiles[0] // p50
		if !(q.Lo < 1.3*1.03 && q.Hi > 1.3/1.03) {
			t.Errorf("n=%d: p50 ratio interval [%.3f, %.3f] misses the true 1.3", n, q.Lo, q.Hi)
		}
		w := q.Hi - q.Lo
		if !(w < prevWidth) {
			t.Errorf("n=%d: interval width %.3f not narrower than %.3f with fewer samples", n, w, prevWidth)
		}
		prevWidth = w
	}
}

// TestCompareNeverRegressesOnItself: a histogram compared with itself is never a regression.
func TestCompareNeverRegressesOnItself(t *testing.T) {
	f := func(seed uint64, n uint16, sigma8 uint8) bool {
		h := lognormal(int(n%3000)+1, 5*time.Millisecond, float64(sigma8%200)/100+0.01, 1, seed|1)
		v := CompareHist(h, h.Clone(), Criteria{Resamples: 200, Seed: seed, MinDelta: -1})
		return !v.Regression && v.Change != Improvement
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 60}); err != nil {
		t.Error(err)
	}
}

func TestBinomial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n uint64
		p float64
	}{{10, 0.5}, {100, 0.01}, {1000, 0.02}, {1000, 0.3}, {100000, 0.5}, {50, 0.97}, {1, 0.5}, {7, 0}, {7, 1}} {
		const draws = 20000
		var sum, sq float64
		for range draws {
			x := binomial(rng, tc.n, tc.p)
			if x > tc.n {
				t.Fatalf("binomial(%d, %v) = %d > n", tc.n, tc.p, x)
			}
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
		mean := sum / draws
		variance := sq/draws - mean*mean
		wantMean := float64(tc.n) * tc.p
		wantVar := wantMean * (1 - tc.p)
		// 5 standard errors of the mean; 10% on the variance.
		if se := math.Sqrt(wantVar / draws); math.Abs(mean-wantMean) > 5*se+1e-9 {
			t.Errorf("binomial(%d, %v): mean %.4f; want %.4f ± %.4f", tc.n, tc.p, mean, wantMean, 5*se)
		}
		if math.Abs(variance-wantVar) > 0.1*wantVar+1e-9 {
			t.Errorf("binomial(%d, %v): variance %.4f; want %.4f ± 10%%", tc.n, tc.p, variance, wantVar)
		}
	}
}

func TestResultString(t *testing.T) {
	h := hist.New()
	for range 100 {
		h.Record(5 * time.Millisecond)
	}
	r := NewResult("GET /api/health", "GET", "GET /api/health", 1, 100, 0, 2*time.Second, h)
	got := r.String()
	want := "GET /api/health p50=  5.0ms p95=  5.0ms p99=  5.0ms p99.9=  5.0ms max=  5.0ms rps=50.0"
	if got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	r = NewResult("health", "GET", "GET /api/health", 8, 100, 2, time.Second, h)
	if got, want := r.Label(), "GET /api/health [health] c=8"; got != want {
		t.Errorf("Label() = %q; want %q", got, want)
	}
}
