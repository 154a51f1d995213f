package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// Defaults of the comparison.
const (
	DefaultTolerance  = 0.10
	DefaultConfidence = 0.95
	// DefaultResamples is the number of bootstrap resamples of each histogram.
	DefaultResamples = 1000
	// DefaultSeed seeds the resampling, so the same two histograms always give the same verdict.
	DefaultSeed = 20261126
	// DefaultMinDelta is the smallest absolute change of a quantile that can count as a regression or an
	// improvement: on a sub-millisecond endpoint a statistically clear +30% is a few tens of microseconds, which
	// the generator's host (its load, its scheduler) moves between any two runs, and no user notices.
	DefaultMinDelta = 500 * time.Microsecond
	// MinTail is the fewest observations that must lie above a quantile (n x (1-q)) in both samples for it to be
	// tested: below that, the bootstrap cannot see the tail and the quantile is reported as not tested.
	MinTail = 5
)

// Quantiles are the quantiles Compare tests, in order. A regression of any of them is a regression: the median
// and p95 always count (given enough samples, see MinTail); p99 counts once each sample has MinTail observations
// above it (500 requests).
var Quantiles = []Quantile{{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}}

// Quantile names a quantile, e.g. {"p95", 0.95}.
type Quantile struct {
	Name string
	Q    float64
}

// Change is the verdict on one quantile or a whole comparison.
type Change string

// Changes.
const (
	Unchanged   Change = "unchanged"   // no significant change beyond the tolerance
	Regression  Change = "regression"  // significantly slower, beyond the tolerance
	Improvement Change = "improvement" // significantly faster, beyond the tolerance
	NotTested   Change = "not_tested"  // too few samples for this quantile
)

// QuantileVerdict is the comparison of one quantile.
type QuantileVerdict struct {
	Name string        `json:"name"`
	Q    float64       `json:"q"`
	Base time.Duration `json:"base_ns"`
	Cur  time.Duration `json:"cur_ns"`
	// Ratio is Cur/Base; Lo and Hi bound its bootstrap confidence interval.
	Ratio  float64 `json:"ratio"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	Change Change  `json:"change"`
}

// Verdict is the outcome of Compare.
type Verdict struct {
	Change     Change            `json:"change"`
	Regression bool              `json:"regression"`
	Tolerance  float64           `json:"tolerance"`
	Confidence float64           `json:"confidence"`
	MinDelta   time.Duration     `json:"min_delta_ns"`
	Resamples  int               `json:"resamples"`
	BaseN      uint64            `json:"base_n"`
	CurN       uint64            `json:"cur_n"`
	Quantiles  []QuantileVerdict `json:"quantiles"`
	// Reason says, in one phrase, what decided the verdict.
	Reason string `json:"reason"`
}

// String renders the verdict for the result line, e.g. "REGRESSION p50 x1.21 [1.18, 1.24]".
func (v Verdict) String() string {
	var parts []string
	for _, q := range v.Quantiles {
		if q.Change == NotTested {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s x%.2f [%.2f, %.2f]", q.Name, q.Ratio, q.Lo, q.Hi))
	}
	return fmt.Sprintf("%s vs baseline: %s", strings.ToUpper(string(v.Change)), strings.Join(parts, ", "))
}

// Criteria parameterise a comparison. Zero fields take the defaults.
type Criteria struct {
	Tolerance  float64       // relative change beyond which a quantile may regress (DefaultTolerance)
	Confidence float64       // of the bootstrap interval, in (0, 1) (DefaultConfidence)
	MinDelta   time.Duration // smallest absolute change that counts (DefaultMinDelta; < 0 for none)
	Resamples  int           // bootstrap resamples (DefaultResamples)
	Seed       uint64        // of the resampling (DefaultSeed)
}

func (c Criteria) withDefaults() Criteria {
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	if !(c.Confidence > 0 && c.Confidence < 1) {
		c.Confidence = DefaultConfidence
	}
	if c.MinDelta == 0 {
		c.MinDelta = DefaultMinDelta
	}
	if c.MinDelta < 0 {
		c.MinDelta = 0
	}
	if c.Resamples < 10 {
		c.Resamples = DefaultResamples
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	return c
}

// Compare tests whether cur is slower than base (see CompareHist), with the default MinDelta, resamples and
// seed. tolerance <= 0 means DefaultTolerance, confidence outside (0, 1) DefaultConfidence.
func Compare(base, cur Result, tolerance, confidence float64) Verdict {
	return CompareHist(base.Histogram, cur.Histogram, Criteria{Tolerance: tolerance, Confidence: confidence})
}

// CompareHist compares two latency histograms.
//
// For every quantile q of Quantiles tested (both samples have at least MinTail observations above it), each
// histogram is resampled `resamples` times: a multinomial draw of n observations over its buckets with the
// bucket counts as weights (the nonparametric bootstrap, done on the histogram instead of the raw samples,
// which the histogram holds to 0.55%). The q-quantile of each resample is paired with the q-quantile of a
// resample of the other histogram, and the ratios cur/base give a two-sided percentile interval [Lo, Hi] at the
// confidence level. The quantile regressed when Lo > 1 + tolerance, improved when Hi < 1/(1 + tolerance)
// (symmetric on a log scale), and is unchanged otherwise. The verdict is a regression when any quantile
// regressed; an improvement when none regressed and one improved. Either also needs the change at the interval's
// bound to be at least MinDelta in absolute terms ((Lo-1) x base >= MinDelta for a regression).
func CompareHist(base, cur *hist.Histogram, c Criteria) Verdict {
	c = c.withDefaults()
	tolerance, confidence, resamples, seed := c.Tolerance, c.Confidence, c.Resamples, c.Seed
	minDelta := c.MinDelta.Seconds()
	if base == nil {
		base = hist.New()
	}
	if cur == nil {
		cur = hist.New()
	}
	v := Verdict{Change: Unchanged, Tolerance: tolerance, Confidence: confidence, MinDelta: c.MinDelta,
		Resamples: resamples,
		BaseN:     base.Count(), CurN: cur.Count(), Quantiles: []QuantileVerdict{}}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bs, cs := newSampler(base), newSampler(cur)

	var tested []Quantile
	for _, q := range Quantiles {
		qv := QuantileVerdict{Name: q.Name, Q: q.Q, Base: base.Quantile(q.Q), Cur: cur.Quantile(q.Q), Change: NotTested}
		if qv.Base > 0 {
			qv.Ratio = float64(qv.Cur) / float64(qv.Base)
		}
		if enoughTail(v.BaseN, q.Q) && enoughTail(v.CurN, q.Q) && qv.Base > 0 {
			tested = append(tested, q)
		}
		v.Quantiles = append(v.Quantiles, qv)
	}
	if len(tested) == 0 {
		v.Change = NotTested
		v.Reason = fmt.Sprintf("too few samples to test (baseline %d, current %d; the median needs %d each)",
			v.BaseN, v.CurN, int(math.Ceil(MinTail/0.5)))
		return v
	}

	qs := make([]float64, len(tested))
	for i, q := range tested {
		qs[i] = q.Q
	}
	ratios := make([][]float64, len(tested))
	bq, cq := make([]float64, len(tested)), make([]float64, len(tested))
	for range resamples {
		bs.resampleQuantiles(rng, qs, bq)
		cs.resampleQuantiles(rng, qs, cq)
		for i := range tested {
			ratios[i] = append(ratios[i], cq[i]/bq[i])
		}
	}
	alpha := (1 - confidence) / 2
	upper, lower := 1+tolerance, 1/(1+tolerance)
	var regressed, improved []string
	for i, q := range tested {
		r := ratios[i]
		sort.Float64s(r)
		lo, hi := percentile(r, alpha), percentile(r, 1-alpha)
		for j := range v.Quantiles {
			qv := &v.Quantiles[j]
			if qv.Name != q.Name {
				continue
			}
			qv.Lo, qv.Hi = lo, hi
			b := qv.Base.Seconds()
			switch {
			case lo > upper && (lo-1)*b >= minDelta:
				qv.Change = Regression
				regressed = append(regressed, fmt.Sprintf("%s x%.2f (interval %.2f-%.2f above %.2f)", q.Name,
					qv.Ratio, lo, hi, upper))
			case hi < lower && (1-hi)*b >= minDelta:
				qv.Change = Improvement
				improved = append(improved, fmt.Sprintf("%s x%.2f", q.Name, qv.Ratio))
			default:
				qv.Change = Unchanged
			}
		}
	}
	switch {
	case len(regressed) > 0:
		v.Change, v.Regression = Regression, true
		v.Reason = "slower: " + strings.Join(regressed, ", ")
	case len(improved) > 0:
		v.Change = Improvement
		v.Reason = "faster: " + strings.Join(improved, ", ")
	default:
		v.Reason = fmt.Sprintf("no significant change beyond %.0f%% (and %v) at %.0f%% confidence", 100*tolerance,
			c.MinDelta, 100*confidence)
	}
	return v
}

func enoughTail(n uint64, q float64) bool { return float64(n)*(1-q) >= MinTail-1e-9 }

// percentile returns the p-quantile (0-1) of sorted values, by the nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// sampler resamples a histogram: its buckets' representative values and counts.
type sampler struct {
	n      uint64
	values []float64 // seconds, ascending: the zero bucket (Min) first, then each bucket's geometric midpoint
	cum    []uint64  // cum[i] = counts of buckets [0, i)
	ranks  []uint64  // scratch
}

func newSampler(h *hist.Histogram) *sampler {
	s := &sampler{n: h.Count(), cum: []uint64{0}}
	mn, mx := h.Min().Seconds(), h.Max().Seconds()
	zero, buckets := h.Buckets()
	if zero > 0 {
		s.values = append(s.values, mn)
		s.cum = append(s.cum, zero)
	}
	for _, b := range buckets {
		// The geometric midpoint of (Upper/2^(1/64), Upper], clamped to [Min, Max] as hist.Quantile does.
		mid := b.Upper * math.Exp2(-0.5/float64(1<<hist.Schema))
		s.values = append(s.values, math.Min(math.Max(mid, mn), mx))
		s.cum = append(s.cum, s.cum[len(s.cum)-1]+b.Count)
	}
	return s
}

// resampleQuantiles draws one multinomial resample of n observations over the buckets and writes its
// qs-quantiles (ascending qs) to out. The q-quantile is the value of the bucket holding the observation of rank
// ceil(q*n), as in hist.Quantile.
//
// The multinomial is drawn by recursive halving: the m observations of a range of buckets split between its two
// halves as Binomial(m, weight of the left half / weight of the range), which is exactly the multinomial's
// marginal. Only the halves holding a wanted rank are drawn further, so a resample costs O(log buckets) binomial
// draws per quantile instead of one per bucket.
func (s *sampler) resampleQuantiles(rng *rand.Rand, qs, out []float64) {
	s.ranks = s.ranks[:0]
	for _, q := range qs {
		s.ranks = append(s.ranks, max(uint64(math.Ceil(q*float64(s.n))), 1))
	}
	s.descend(rng, 0, len(s.values), s.n, s.ranks, out)
}

// descend places the m observations of buckets [lo, hi) and writes the value of each of ranks (ascending,
// 1-based within the range) to the matching out slot.
func (s *sampler) descend(rng *rand.Rand, lo, hi int, m uint64, ranks []uint64, out []float64) {
	if len(ranks) == 0 {
		return
	}
	if hi-lo == 1 {
		for i := range ranks {
			out[i] = s.values[lo]
		}
		return
	}
	mid := (lo + hi) / 2
	wl, w := s.cum[mid]-s.cum[lo], s.cum[hi]-s.cum[lo]
	left := binomial(rng, m, float64(wl)/float64(w))
	k := 0 // ranks[:k] fall in the left half
	for k < len(ranks) && ranks[k] <= left {
		k++
	}
	s.descend(rng, lo, mid, left, ranks[:k], out[:k])
	right := make([]uint64, len(ranks)-k) // at most len(Quantiles): small
	for i, r := range ranks[k:] {
		right[i] = r - left
	}
	s.descend(rng, mid, hi, m-left, right, out[k:])
}

// binomial draws from Binomial(n, p): by inversion (counting successes through geometric waiting times) when
// the mean of the rarer outcome is small, else by the rejection method of Numerical Recipes (Lorentzian
// comparison function, exact).
func binomial(rng *rand.Rand, n uint64, p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(rng, n, 1-p)
	}
	nf := float64(n)
	if mean := nf * p; mean < 25 {
		// Waiting times: the number of trials to the next success is geometric.
		lq := math.Log1p(-p)
		var x, trials uint64
		for {
			g := math.Floor(math.Log(1-rng.Float64())/lq) + 1 // trials up to and including the next success
			if float64(trials)+g > nf {
				return x
			}
			trials += uint64(g)
			x++
		}
	}
	mean := nf * p
	sq := math.Sqrt(2 * mean * (1 - p))
	g := lgamma(nf + 1)
	plog, pclog := math.Log(p), math.Log1p(-p)
	for {
		var y, em float64
		for {
			y = math.Tan(math.Pi * rng.Float64())
			em = sq*y + mean
			if em >= 0 && em < nf+1 {
				break
			}
		}
		em = math.Floor(em)
		t := 1.2 * sq * (1 + y*y) * math.Exp(g-lgamma(em+1)-lgamma(nf-em+1)+em*plog+(nf-em)*pclog)
		if rng.Float64() <= t {
			return uint64(em)
		}
	}
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
