package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The target's gauges the knee mode reads (docs/metrics.md).
const (
	metricPoolInUse   = "target_pool_in_use"
	metricPoolWorkers = "target_pool_workers"
	metricQueue       = "target_queue_length"
	metricInFlight    = "target_http_requests_in_flight"
)

// Bounds on a scrape of knee.metrics_url: the whole request (connect to last byte) takes at most ScrapeTimeout,
// the exposition at most MaxScrapeBytes (a bigger one is a failed scrape, read no further), and a redirect is
// not followed (a failed scrape naming where it pointed), so a target cannot send loadgen elsewhere.
const (
	ScrapeTimeout  = time.Second
	MaxScrapeBytes = 4 << 20
)

// newScrapeClient returns the HTTP client of the scrapes: ScrapeTimeout, no redirects.
func newScrapeClient() *http.Client {
	return &http.Client{Timeout: ScrapeTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// scrapeGauges fetches url (a Prometheus text exposition) and returns the value of each wanted gauge, summed
// over its series. A gauge missing from the exposition is missing from the map.
func scrapeGauges(ctx context.Context, c *http.Client, url string, wanted ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, fmt.Errorf("scrape %s: status %s: redirect to %q not followed (give the final URL)", url, resp.Status, loc)
		}
		return nil, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	if resp.ContentLength > MaxScrapeBytes {
		return nil, fmt.Errorf("scrape %s: exposition of %d bytes is over the %d-byte limit", url, resp.ContentLength, MaxScrapeBytes)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxScrapeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if len(b) > MaxScrapeBytes {
		return nil, fmt.Errorf("scrape %s: exposition over the %d-byte limit", url, MaxScrapeBytes)
	}
	return parseGauges(bytes.NewReader(b), wanted...)
}

// parseGauges reads a text exposition and sums each wanted gauge (or untyped/counter value) over its series.
func parseGauges(r io.Reader, wanted ...string) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse exposition: %w", err)
	}
	out := map[string]float64{}
	for _, name := range wanted {
		f, ok := fams[name]
		if !ok {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			sum += value(f.GetType(), m)
		}
		out[name] = sum
	}
	return out, nil
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

// gaugePoller scrapes the target's gauges every interval until stopped and averages each gauge over the
// successful scrapes.
type gaugePoller struct {
	mu      sync.Mutex
	sums    map[string]float64
	counts  map[string]int
	errs    int
	lastErr error
	stop    chan struct{}
	done    chan struct{}
}

func startPoller(ctx context.Context, r *Run, url string, interval time.Duration) *gaugePoller {
	g := &gaugePoller{sums: map[string]float64{}, counts: map[string]int{}, stop: make(chan struct{}),
		done: make(chan struct{})}
	c := newScrapeClient()
	r.goSafe("metrics poller", func() {
		defer close(g.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			vals, err := scrapeGauges(ctx, c, url, metricPoolInUse, metricPoolWorkers, metricQueue, metricInFlight)
			g.mu.Lock()
			if err != nil {
				g.errs++
				g.lastErr = err
			}
			for k, v := range vals {
				g.sums[k] += v
				g.counts[k]++
			}
			g.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-g.stop:
				return
			case <-t.C:
			}
		}
	})
	return g
}

// finish stops the poller and returns the mean of each gauge, the number of failed scrapes and the last error.
func (g *gaugePoller) finish() (map[string]float64, int, error) {
	close(g.stop)
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]float64, len(g.sums))
	for k, s := range g.sums {
		out[k] = s / float64(g.counts[k])
	}
	return out, g.errs, g.lastErr
}
