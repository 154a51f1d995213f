// Package hist is a lock-free, fixed-memory latency histogram with exponential
// buckets on the Prometheus native-histogram grid (schema 6: 64 buckets per
// power of two). Any quantile it reports is within 0.55% of the true sample
// value (relative), histograms merge exactly by adding bucket counts, and they
// serialise compactly so runs can be stored and compared later.
//
// Record is safe for concurrent use: every field is updated with atomics, so
// callers that shard histograms (one per worker group) never share a lock.
package hist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

const (
	// Schema is the native-histogram schema of the bucket grid: bucket i holds
	// values in (2^((i-1)/64), 2^(i/64)] seconds.
	Schema = 6
	// perOctave is the number of buckets per power of two (2^Schema).
	perOctave = 1 << Schema
	// minExp and maxExp bound the tracked range: 2^-20 s (~0.95 µs) to 2^12 s
	// (~68 min). Smaller values fall in the zero bucket, larger ones in the
	// last bucket; Min and Max stay exact either way.
	minExp = -20
	maxExp = 12
	// NumBuckets is the number of regular buckets.
	NumBuckets = (maxExp - minExp) * perOctave
	// firstIndex is the native-histogram index of bucket 0.
	firstIndex = minExp*perOctave + 1
)

// ZeroThreshold is the upper bound (inclusive) of the zero bucket, in seconds.
var ZeroThreshold = math.Ldexp(1, minExp)

// bounds[j] = 2^(j/64 - 1) for j in [0,64]: the fraction boundaries of one
// octave as returned by math.Frexp (frac in [0.5, 1)).
var bounds = func() [perOctave + 1]float64 {
	var b [perOctave + 1]float64
	for j := range b {
		b[j] = math.Exp2(float64(j)/perOctave - 1)
	}
	return b
}()

// Histogram records durations. The zero value is not usable; call New.
type Histogram struct {
	count   atomic.Uint64
	sumNs   atomic.Int64
	minNs   atomic.Int64 // math.MaxInt64 when empty
	maxNs   atomic.Int64
	zero    atomic.Uint64
	buckets [NumBuckets]atomic.Uint64
}

// New returns an empty histogram.
func New() *Histogram {
	h := &Histogram{}
	h.minNs.Store(math.MaxInt64)
	return h
}

// index returns the native-histogram bucket index of v seconds (v > 0):
// the smallest i with v <= 2^(i/64).
func index(v float64) int {
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5,1)
	// Find smallest j in [0,64] with frac <= bounds[j]; bounds[0] = 0.5.
	lo, hi := 0, perOctave
	for lo < hi {
		m := (lo + hi) / 2
		if frac <= bounds[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return (exp-1)*perOctave + lo
}

// Record adds one observation. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	h.count.Add(1)
	h.sumNs.Add(ns)
	for {
		cur := h.minNs.Load()
		if ns >= cur || h.minNs.CompareAndSwap(cur, ns) {
			break
		}
	}
	for {
		cur := h.maxNs.Load()
		if ns <= cur || h.maxNs.CompareAndSwap(cur, ns) {
			break
		}
	}
	v := float64(ns) / 1e9
	if v <= ZeroThreshold {
		h.zero.Add(1)
		return
	}
	i := index(v) - firstIndex
	if i >= NumBuckets {
		i = NumBuckets - 1
	}
	h.buckets[i].Add(1)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Sum returns the sum of all observations.
func (h *Histogram) Sum() time.Duration { return time.Duration(h.sumNs.Load()) }

// Min returns the smallest observation, or 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.minNs.Load())
}

// Max returns the largest observation, or 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxNs.Load()) }

// Mean returns the arithmetic mean, or 0 when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sumNs.Load() / int64(n))
}

// Quantile returns the q-quantile (0 <= q <= 1) as the geometric midpoint of
// the bucket holding the sample of rank ceil(q*count), clamped to [Min, Max].
// q = 1 returns Max exactly; an empty histogram returns 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max()
	}
	if q < 0 {
		q = 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	cum := h.zero.Load()
	if cum >= rank {
		return h.Min()
	}
	for i := range h.buckets {
		cum += h.buckets[i].Load()
		if cum >= rank {
			mid := math.Exp2((float64(i+firstIndex) - 0.5) / perOctave)
			return h.clamp(time.Duration(mid * 1e9))
		}
	}
	return h.Max()
}

func (h *Histogram) clamp(d time.Duration) time.Duration {
	if mn := h.Min(); d < mn {
		return mn
	}
	if mx := h.Max(); d > mx {
		return mx
	}
	return d
}

// Merge adds every observation of o into h. o may be recorded into
// concurrently; the merge then reflects some consistent-enough prefix.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Count() == 0 {
		return
	}
	h.count.Add(o.count.Load())
	h.sumNs.Add(o.sumNs.Load())
	h.zero.Add(o.zero.Load())
	for i := range o.buckets {
		if c := o.buckets[i].Load(); c != 0 {
			h.buckets[i].Add(c)
		}
	}
	for {
		cur, v := h.minNs.Load(), o.minNs.Load()
		if v >= cur || h.minNs.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur, v := h.maxNs.Load(), o.maxNs.Load()
		if v <= cur || h.maxNs.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Subtract removes from h the observations of o, an earlier copy of the same
// cumulative histogram (a mark taken before), leaving what was recorded in
// between: bucket counts and the sum are subtracted (a bucket never goes below
// zero) and the count is recomputed from the buckets. Min and Max stay h's:
// they bound the difference, so its quantiles keep their 0.55% accuracy. It
// is not atomic with respect to concurrent Records: use it on a copy.
func (h *Histogram) Subtract(o *Histogram) {
	if o == nil || o.Count() == 0 {
		return
	}
	sub := func(a, b uint64) uint64 {
		if b >= a {
			return 0
		}
		return a - b
	}
	n := sub(h.zero.Load(), o.zero.Load())
	h.zero.Store(n)
	for i := range h.buckets {
		if c := o.buckets[i].Load(); c != 0 {
			h.buckets[i].Store(sub(h.buckets[i].Load(), c))
		}
		n += h.buckets[i].Load()
	}
	h.count.Store(n)
	h.sumNs.Store(max(h.sumNs.Load()-o.sumNs.Load(), 0))
	if n == 0 {
		h.minNs.Store(math.MaxInt64)
		h.maxNs.Store(0)
	}
}

// Clone returns a copy of h.
func (h *Histogram) Clone() *Histogram {
	c := New()
	c.Merge(h)
	return c
}

// Bucket is one non-empty bucket: Index on the native-histogram grid of
// schema 6, its upper bound in seconds, and its count.
type Bucket struct {
	Index int
	Upper float64
	Count uint64
}

// Buckets returns the non-empty regular buckets in ascending order, and the
// zero-bucket count. It lets callers export or compare the distribution.
func (h *Histogram) Buckets() (zero uint64, out []Bucket) {
	for i := range h.buckets {
		if c := h.buckets[i].Load(); c != 0 {
			idx := i + firstIndex
			out = append(out, Bucket{Index: idx, Upper: math.Exp2(float64(idx) / perOctave), Count: c})
		}
	}
	return h.zero.Load(), out
}

const encVersion = 1

// MarshalBinary encodes h compactly: a version byte, count, sum, min, max,
// zero count, then (index delta, count) pairs of non-empty buckets, all as
// varints.
func (h *Histogram) MarshalBinary() ([]byte, error) {
	zero, bs := h.Buckets()
	buf := make([]byte, 0, 64+len(bs)*4)
	buf = append(buf, encVersion)
	buf = binary.AppendUvarint(buf, h.Count())
	buf = binary.AppendVarint(buf, h.sumNs.Load())
	buf = binary.AppendVarint(buf, int64(h.Min()))
	buf = binary.AppendVarint(buf, int64(h.Max()))
	buf = binary.AppendUvarint(buf, zero)
	buf = binary.AppendUvarint(buf, uint64(len(bs)))
	prev := firstIndex
	for _, b := range bs {
		buf = binary.AppendUvarint(buf, uint64(b.Index-prev))
		buf = binary.AppendUvarint(buf, b.Count)
		prev = b.Index
	}
	return buf, nil
}

// ErrCorrupt reports an encoded histogram that cannot be decoded.
var ErrCorrupt = errors.New("hist: corrupt encoding")

// UnmarshalBinary replaces h's contents with the decoded histogram.
func (h *Histogram) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != encVersion {
		return fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	r := data[1:]
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			return 0, ErrCorrupt
		}
		r = r[n:]
		return v, nil
	}
	sv := func() (int64, error) {
		v, n := binary.Varint(r)
		if n <= 0 {
			return 0, ErrCorrupt
		}
		r = r[n:]
		return v, nil
	}
	count, err := uv()
	if err != nil {
		return err
	}
	sum, err := sv()
	if err != nil {
		return err
	}
	mn, err := sv()
	if err != nil {
		return err
	}
	mx, err := sv()
	if err != nil {
		return err
	}
	zero, err := uv()
	if err != nil {
		return err
	}
	nb, err := uv()
	if err != nil {
		return err
	}
	fresh := New()
	fresh.count.Store(count)
	fresh.sumNs.Store(sum)
	if count > 0 {
		fresh.minNs.Store(mn)
	}
	fresh.maxNs.Store(mx)
	fresh.zero.Store(zero)
	idx := firstIndex
	total := zero
	for k := uint64(0); k < nb; k++ {
		d, err := uv()
		if err != nil {
			return err
		}
		c, err := uv()
		if err != nil {
			return err
		}
		idx += int(d)
		i := idx - firstIndex
		if i < 0 || i >= NumBuckets {
			return fmt.Errorf("%w: bucket index %d out of range", ErrCorrupt, idx)
		}
		fresh.buckets[i].Store(c)
		total += c
	}
	if total != count {
		return fmt.Errorf("%w: bucket counts sum to %d, want %d", ErrCorrupt, total, count)
	}
	h.Reset()
	h.Merge(fresh)
	if count == 0 {
		h.minNs.Store(math.MaxInt64)
	}
	return nil
}

// Reset empties h. It is not atomic with respect to concurrent Records.
func (h *Histogram) Reset() {
	h.count.Store(0)
	h.sumNs.Store(0)
	h.minNs.Store(math.MaxInt64)
	h.maxNs.Store(0)
	h.zero.Store(0)
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
}
