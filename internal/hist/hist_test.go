package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestQuantileRelativeError(t *testing.T) {
	dists := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 20-80ms", func(r *rand.Rand) time.Duration {
			return 20*time.Millisecond + time.Duration(r.Int64N(int64(60*time.Millisecond)))
		}},
		{"exponential 5ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * 5e6) }},
		{"lognormal", func(r *rand.Rand) time.Duration { return time.Duration(math.Exp(r.NormFloat64()*2) * 1e6) }},
	}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := New()
			var samples []time.Duration
			for range 100000 {
				v := d.gen(r)
				samples = append(samples, v)
				h.Record(v)
			}
			slices.Sort(samples)
			for _, q := range []float64{0.001, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				if want < 2*time.Microsecond {
					continue // below the tracked range's resolution
				}
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.0055 {
					t.Errorf("Quantile(%v) = %v; want %v (rel err %.4f > 0.0055)", q, got, want, rel)
				}
			}
			if h.Count() != uint64(len(samples)) {
				t.Errorf("Count() = %d; want %d", h.Count(), len(samples))
			}
			if h.Min() != samples[0] || h.Max() != samples[len(samples)-1] {
				t.Errorf("Min,Max = %v,%v; want %v,%v", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
			}
		})
	}
}

func TestIndexMatchesNativeBoundaries(t *testing.T) {
	for i := firstIndex; i < firstIndex+NumBuckets; i += 37 {
		upper := math.Exp2(float64(i) / perOctave)
		if got := index(upper * (1 - 1e-12)); got != i {
			t.Errorf("index(just below 2^(%d/64)) = %d; want %d", i, got, i)
		}
		if got := index(upper * (1 + 1e-12)); got != i+1 {
			t.Errorf("index(just above 2^(%d/64)) = %d; want %d", i, got, i+1)
		}
	}
}

func TestMergeAndMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b, all := New(), New(), New()
	for k := range 20000 {
		v := time.Duration(r.Int64N(int64(2 * time.Second)))
		if k%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	m := a.Clone()
	m.Merge(b)
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got := New()
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	want, _ := all.MarshalBinary()
	if string(enc) != string(want) {
		t.Errorf("merged encoding differs from single-histogram encoding")
	}
	for _, q := range []float64{0.5, 0.99, 1} {
		if got.Quantile(q) != all.Quantile(q) {
			t.Errorf("decoded Quantile(%v) = %v; want %v", q, got.Quantile(q), all.Quantile(q))
		}
	}
	if err := got.UnmarshalBinary(enc[:len(enc)-1]); err == nil {
		t.Errorf("UnmarshalBinary(truncated) = nil; want error")
	}
}

func TestEmptyAndConcurrent(t *testing.T) {
	h := New()
	if h.Quantile(0.99) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram reports non-zero values")
	}
	enc, _ := h.MarshalBinary()
	if err := New().UnmarshalBinary(enc); err != nil {
		t.Fatalf("round trip of empty: %v", err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 1000 {
				h.Record(time.Duration(g*1000+k) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 || h.Min() != 0 || h.Max() != 7999*time.Microsecond {
		t.Errorf("concurrent: count=%d min=%v max=%v", h.Count(), h.Min(), h.Max())
	}
}

func BenchmarkRecord(b *testing.B) {
	h := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 37 * time.Millisecond
		for pb.Next() {
			h.Record(d)
			d += 1013
		}
	})
}

// Subtracting an earlier mark of a cumulative histogram leaves the distribution of what came after it.
func TestSubtractMark(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	cum := New()
	for range 5000 { // the first part: fast
		cum.Record(time.Duration(1+r.IntN(5)) * time.Millisecond)
	}
	mark := cum.Clone()
	var later []time.Duration
	for range 3000 { // the second part: slow
		d := 50*time.Millisecond + time.Duration(r.Int64N(int64(50*time.Millisecond)))
		later = append(later, d)
		cum.Record(d)
	}
	diff := cum.Clone()
	diff.Subtract(mark)
	if diff.Count() != 3000 {
		t.Fatalf("Count after Subtract = %d; want 3000", diff.Count())
	}
	slices.Sort(later)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99} {
		got, want := diff.Quantile(q), exactQuantile(later, q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.0055 {
			t.Errorf("Quantile(%v) = %v; want %v (rel error %.4f)", q, got, want, rel)
		}
	}
	diff.Subtract(diff.Clone())
	if diff.Count() != 0 || diff.Quantile(0.5) != 0 {
		t.Errorf("h - h: count %d, p50 %v; want empty", diff.Count(), diff.Quantile(0.5))
	}
}
