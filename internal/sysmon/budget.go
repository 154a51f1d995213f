package sysmon

import (
	"net/http"
	"strconv"
	"time"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends each scrape's timeout, in seconds.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// ReadBudget is the time the Monitor's reads may take in a scrape that times out after scrapeTimeout: half of it (the
// rest is for the other collectors, encoding and the transfer), at most MaxReadBudget.
func ReadBudget(scrapeTimeout time.Duration) time.Duration {
	return min(scrapeTimeout/2, MaxReadBudget)
}

// parseScrapeTimeout reads ScrapeTimeoutHeader; ok is false when it is missing or not a positive number of seconds.
func parseScrapeTimeout(h http.Header) (time.Duration, bool) {
	v := h.Get(ScrapeTimeoutHeader)
	if v == "" {
		return 0, false
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || !(s > 0) || s > 3600 {
		return 0, false
	}
	return time.Duration(s * float64(time.Second)), true
}

// BoundScrapes wraps the handler that serves the Monitor's metrics (/metrics). While a request that says its
// scrape timeout (ScrapeTimeoutHeader) is served, the Monitor's reads end by ReadBudget of that timeout after the
// request arrived, so a slow /proc read costs a failed collector, never the whole scrape (and with it the request
// metrics served beside the Monitor's). Requests without the header are passed through unchanged.
func (m *Monitor) BoundScrapes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := parseScrapeTimeout(r.Header)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key := new(int)
		m.mu.Lock()
		m.deadlines[key] = time.Now().Add(ReadBudget(d))
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			delete(m.deadlines, key)
			m.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// readDeadline is when the reads of a Collect starting now must end: the earliest read deadline of the scrapes in
// flight that has not passed (Collect does not know which request it serves, and the earliest is safe for all of
// them), or the Monitor's own budget from now when there is none.
func (m *Monitor) readDeadline() time.Time {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var dl time.Time
	for _, d := range m.deadlines {
		if d.After(now) && (dl.IsZero() || d.Before(dl)) {
			dl = d
		}
	}
	if dl.IsZero() {
		dl = now.Add(m.budget)
	}
	return dl
}
