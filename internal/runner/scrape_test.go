package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestScrapeGaugesBounds: a scrape of knee.metrics_url follows no redirect, reads at most MaxScrapeBytes and
// ends at ScrapeTimeout, whatever the server does.
func TestScrapeGaugesBounds(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		fmt.Fprintln(w, "target_queue_length 7")
	}))
	t.Cleanup(other.Close)
	chunk := []byte(strings.Repeat("# padding padding padding padding padding padding padding padding\n", 1024))
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "target_queue_length 3") })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/metrics", http.StatusFound)
	})
	mux.HandleFunc("/claims-huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(MaxScrapeBytes+1))
		w.Write(chunk)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) { // chunked, never ends by itself
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		path, wantErr string
	}{
		{"/ok", ""},
		{"/redirect", `redirect to "` + other.URL + `/metrics" not followed`},
		{"/claims-huge", fmt.Sprintf("over the %d-byte limit", MaxScrapeBytes)},
		{"/endless", fmt.Sprintf("exposition over the %d-byte limit", MaxScrapeBytes)},
		{"/silent", "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := scrapeGauges(context.Background(), newScrapeClient(), srv.URL+tc.path, metricQueue)
			if tc.wantErr == "" {
				if err != nil || got[metricQueue] != 3 {
					t.Fatalf("scrapeGauges = %v, %v; want queue 3", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("scrapeGauges = %v, %v; want an error containing %q", got, err, tc.wantErr)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's destination got %d requests; want 0 (redirects are not followed)", n)
	}
}
