// Package bench holds the benchmark mode's results and its baseline comparison: each endpoint measured in
// isolation (a warm-up left out, then N requests at concurrency C), and a statistical test that says whether a
// new measurement is slower than a stored baseline.
//
// The comparison (Compare) is a bootstrap on the stored latency histograms: each histogram is resampled many
// times (a multinomial draw over its bucket counts, with a fixed seed, so the verdict is reproducible), the
// quantile of interest is taken from every resample, and the ratio current/baseline of the two resampled
// quantiles gives a percentile confidence interval. A quantile regressed when the whole interval lies above
// 1 + tolerance: the change is beyond the tolerance AND statistically significant at the confidence level.
package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/hist"
)

// Result is one endpoint measured at one concurrency.
type Result struct {
	// Endpoint is the endpoint's name in the plan (the key a baseline is looked up by); for an unnamed step it is
	// "METHOD path", e.g. "GET /api/health".
	Endpoint string `json:"endpoint"`
	// Request is "METHOD path-template", e.g. "GET /api/users/${random_int(1,500)}".
	Request     string        `json:"request"`
	Method      string        `json:"method"`
	Concurrency int           `json:"concurrency"`
	Requests    uint64        `json:"requests"`
	Errors      uint64        `json:"errors"`
	Duration    time.Duration `json:"duration_ns"`
	RPS         float64       `json:"rps"`
	P50         time.Duration `json:"p50_ns"`
	P95         time.Duration `json:"p95_ns"`
	P99         time.Duration `json:"p99_ns"`
	P999        time.Duration `json:"p999_ns"`
	Max         time.Duration `json:"max_ns"`
	// Histogram holds every measured request's latency (warm-up excluded).
	Histogram *hist.Histogram `json:"-"`
	// ErrorsByReason counts the failures by reason label (timeout, status, check, ...).
	ErrorsByReason map[string]uint64 `json:"errors_by_reason,omitempty"`
}

// NewResult fills the figures of a Result from its histogram, counts and measured duration.
func NewResult(endpoint, method, request string, concurrency int, requests, errs uint64, elapsed time.Duration,
	h *hist.Histogram) Result {
	if h == nil {
		h = hist.New()
	}
	r := Result{Endpoint: endpoint, Method: method, Request: request, Concurrency: concurrency,
		Requests: requests, Errors: errs, Duration: elapsed, Histogram: h,
		P50: h.Quantile(0.50), P95: h.Quantile(0.95), P99: h.Quantile(0.99), P999: h.Quantile(0.999), Max: h.Max()}
	if elapsed > 0 {
		r.RPS = float64(requests) / elapsed.Seconds()
	}
	return r
}

// ErrorRate returns Errors/Requests (0 without requests).
func (r Result) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// StoreKey is the endpoint key a result is stored and its baseline looked up under: the endpoint's name at
// concurrency 1, "NAME c=N" at a concurrency N > 1 (the store keeps one row per run and endpoint key, and a
// baseline must match the concurrency; adding a concurrency to a plan keeps the baselines of the others).
func StoreKey(endpoint string, concurrency int) string {
	if concurrency <= 1 {
		return endpoint
	}
	return fmt.Sprintf("%s c=%d", endpoint, concurrency)
}

// Label is what the result line starts with: the request, then the endpoint's name when it differs, then the
// concurrency when above 1.
func (r Result) Label() string {
	l := r.Request
	if l == "" {
		l = r.Endpoint
	} else if r.Endpoint != "" && r.Endpoint != r.Request {
		l += " [" + r.Endpoint + "]"
	}
	if r.Concurrency > 1 {
		l += fmt.Sprintf(" c=%d", r.Concurrency)
	}
	return l
}

// String is the one-line summary, e.g. "GET /api/health p50=  5.2ms ... rps=312.1".
func (r Result) String() string { return r.Format(0) }

// Format is String with the label padded to width characters, to align the lines of several results.
func (r Result) Format(width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s p50=%s p95=%s p99=%s p99.9=%s max=%s rps=%.1f", width, r.Label(), FormatMs(r.P50),
		FormatMs(r.P95), FormatMs(r.P99), FormatMs(r.P999), FormatMs(r.Max), r.RPS)
	if r.Errors > 0 {
		fmt.Fprintf(&b, " errors=%d (%.1f%%)", r.Errors, 100*r.ErrorRate())
	}
	return b.String()
}

// FormatMs formats d in milliseconds, right-aligned to 5 digits: one decimal ("  5.2ms", "1234.5ms"), three
// under a millisecond ("0.045ms").
func FormatMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 1 {
		return fmt.Sprintf("%5.3fms", ms)
	}
	return fmt.Sprintf("%5.1fms", ms)
}
