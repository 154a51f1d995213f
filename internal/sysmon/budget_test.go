package sysmon

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

func TestReadBudget(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{2 * time.Second, time.Second},
		{500 * time.Millisecond, 250 * time.Millisecond},
		{10 * time.Second, 5 * time.Second},
		{time.Minute, MaxReadBudget},
	} {
		if got := ReadBudget(tc.timeout); got != tc.want {
			t.Errorf("ReadBudget(%v) = %v; want %v", tc.timeout, got, tc.want)
		}
	}
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"2", 2 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"NaN", 0, false},
		{"soon", 0, false},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(ScrapeTimeoutHeader, tc.header)
		}
		got, ok := parseScrapeTimeout(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseScrapeTimeout(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

// hangFileNr replaces the fixture's sys/fs/file-nr with a FIFO nobody writes to: reading it blocks, as a /proc read
// on a hung kernel path or a stalled FUSE mount would. release writes to it, ending the blocked read.
func hangFileNr(t *testing.T, root string) (release func()) {
	t.Helper()
	p := filepath.Join(root, "sys/fs/file-nr")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0) // the blocked reader holds the other end open
		if err != nil {
			t.Error(err)
			return
		}
		f.WriteString("2048\t0\t9223372036854775807\n")
		f.Close()
	}
	t.Cleanup(release)
	return release
}

// TestCollectSlowRead: a read that hangs costs its collector only, within the budget; while it stays stuck it is
// not started again; once it returns, the collector reports again.
func TestCollectSlowRead(t *testing.T) {
	root := writeFixture(t, os.Getpid())
	release := hangFileNr(t, root)
	m := New(WithProcRoot(root), WithReadBudget(200*time.Millisecond))
	want := map[string]float64{"cpu": 1, "memory": 1, "load": 1, "filefd": 0, "tcp": 1, "network": 1, "process": 1}
	for i := range 2 { // the second scrape finds the first read still stuck
		start := time.Now()
		got := gatherByName(t, m)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("scrape %d took %v with a hung read; the budget is 200ms", i, d)
		}
		if s := collectorSuccess(got); !maps.Equal(s, want) {
			t.Errorf("scrape %d: loadgen_sysmon_collector_success = %v; want %v", i, s, want)
		}
		if v := gaugeValue(t, got, "loadgen_sysmon_scrape_success"); v != 0 {
			t.Errorf("scrape %d: loadgen_sysmon_scrape_success = %v; want 0", i, v)
		}
		if _, ok := got["loadgen_host_open_fds"]; ok {
			t.Errorf("scrape %d: loadgen_host_open_fds present while its read hangs", i)
		}
		if v := gaugeValue(t, got, "loadgen_host_cpus"); v != 2 {
			t.Errorf("scrape %d: loadgen_host_cpus = %v; want 2", i, v)
		}
	}
	release()
	deadline := time.Now().Add(10 * time.Second)
	for m.busy[2].Load() && time.Now().Before(deadline) { // collectors[2] is filefd
		time.Sleep(10 * time.Millisecond)
	}
	// The file is a FIFO again with no writer; a fresh fixture file lets the next read succeed.
	p := filepath.Join(root, "sys/fs/file-nr")
	os.Remove(p)
	if err := os.WriteFile(p, []byte("2048\t0\t9223372036854775807\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// On a busy box a single scrape can still miss its 200 ms budget; the collector must come back within a few.
	var got map[string]*dto.MetricFamily
	for range 20 {
		if got = gatherByName(t, m); got["loadgen_host_open_fds"] != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := gaugeValue(t, got, "loadgen_host_open_fds"); v != 2048 {
		t.Errorf("after the read returned: loadgen_host_open_fds = %v; want 2048", v)
	}
	if v := gaugeValue(t, got, "loadgen_sysmon_scrape_success"); v != 1 {
		t.Errorf("after the read returned: loadgen_sysmon_scrape_success = %v; want 1", v)
	}
}

// TestBoundScrapesHonoursHeader: the Monitor's own budget is long (20 s), but a scrape that says it times out
// after 1 s gets its answer, with the hung collector at 0, well before that.
func TestBoundScrapesHonoursHeader(t *testing.T) {
	root := writeFixture(t, os.Getpid())
	hangFileNr(t, root)
	m := New(WithProcRoot(root), WithReadBudget(20*time.Second))
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	ts := httptest.NewServer(m.BoundScrapes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set(ScrapeTimeoutHeader, "1")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("scrape with a 1 s timeout answered after %v; its read budget is 500ms", d)
	}
	for _, want := range []string{`loadgen_sysmon_collector_success{collector="filefd"} 0`, `loadgen_sysmon_collector_success{collector="cpu"} 1`, "loadgen_sysmon_scrape_success 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("scrape lacks %q:\n%s", want, b)
		}
	}
	m.mu.Lock()
	n := len(m.deadlines)
	m.mu.Unlock()
	if n != 0 {
		t.Errorf("%d scrape deadlines left registered after the scrape; want 0", n)
	}
}
