package sysmon

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestSampleFixtureGolden samples a fake proc root twice with a fake clock and compares the JSON of both Snapshots
// with testdata/snapshots.golden.json (run with -update to rewrite it).
func TestSampleFixtureGolden(t *testing.T) {
	if os.Getpagesize() != 4096 {
		t.Skipf("golden RSS assumes 4 KiB pages; this host has %d", os.Getpagesize())
	}
	pid := os.Getpid()
	root := writeFixture(t, pid)
	// The fixture process started at btime 1700000000 + 1000 ticks = 1700000010 s; sample 30 s later.
	clock := &fakeClock{t: time.Unix(1700000040, 0).UTC()}
	m := New(WithProcRoot(root), WithClock(clock.now), WithGeneratorCPUs(2), WithSelfPID(int32(pid)))
	m.Watch("target", int32(pid))
	s := m.NewSampler()

	first, err := s.Sample(context.Background())
	if err != nil {
		t.Fatalf("first Sample: %v", err)
	}
	// 10 s later: +3 s CPU for the process, +300 busy and +100 idle host ticks, +10000 rx and +5000 tx bytes.
	clock.t = clock.t.Add(10 * time.Second)
	p := strconv.Itoa(pid)
	rewrite(t, root, p+"/stat", p+" (target) S 1 "+p+" 1 0 -1 4194304 99 0 0 0 500 100 0 0 20 0 7 0 1000 3133440 256 "+
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	rewrite(t, root, "stat", "cpu  1300 100 500 8100 200 10 40 150 0 0\nbtime 1700000000\n")
	rewrite(t, root, "net/dev", "Inter-|   Receive                                                |  Transmit\n"+
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"+
		"  eth0:  16000     60    0    0    0     0          0         0    9000     40    0    0    0     0       0          0\n")
	second, err := s.Sample(context.Background())
	if err != nil {
		t.Fatalf("second Sample: %v", err)
	}

	checks := []struct {
		name      string
		got, want float64
	}{
		{"first generator cpu_percent (3 s over 30 s since start)", first.Generator.CPUPercent, 10},
		{"first generator cpu_saturation_ratio (of 2 CPUs)", first.Generator.CPUSaturationRatio, 0.05},
		{"second generator cpu_percent (3 s over 10 s)", second.Generator.CPUPercent, 30},
		{"second watched cpu_saturation_ratio (of 2 host CPUs)", second.Watched[0].CPUSaturationRatio, 0.15},
		{"second host cpu_usage_ratio", second.Host.CPUUsageRatio, 0.75},
		{"first network rx rate", first.Host.NetworkRxBytesPerSecond, 0},
		{"second network rx rate", second.Host.NetworkRxBytesPerSecond, 1000},
		{"second network tx rate", second.Host.NetworkTxBytesPerSecond, 500},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}

	// The pid is the test's own, so it is replaced by a constant in the golden file.
	first.Generator.PID, second.Generator.PID = 4242, 4242
	first.Watched[0].PID, second.Watched[0].PID = 4242, 4242
	got, err := json.MarshalIndent([]Snapshot{first, second}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testenv.Golden(t, filepath.Join("testdata", "snapshots.golden.json"), got, *update)
}

func rewrite(t *testing.T, root, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSampleRealSelf samples the real host, watching this test process.
func TestSampleRealSelf(t *testing.T) {
	m := New()
	m.Watch("self", int32(os.Getpid()))
	s := m.NewSampler()
	ctx := context.Background()
	if _, err := s.Sample(ctx); err != nil {
		t.Fatalf("first Sample: %v", err)
	}
	// Burn some CPU (bounded: at most 300 ms) so the second sample sees the generator busy.
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		for i := 0; i < 1e5; i++ {
			x += i
		}
	}
	snap, err := s.Sample(ctx)
	if err != nil {
		t.Fatalf("second Sample: %v (errors %v)", err, snap.Errors)
	}
	if len(snap.Errors) != 0 {
		t.Errorf("Snapshot.Errors = %v; want none", snap.Errors)
	}
	h := snap.Host
	if h.CPUs < 1 {
		t.Errorf("host cpus = %d; want >= 1", h.CPUs)
	}
	if !(h.MemoryTotalBytes > h.MemoryUsedBytes && h.MemoryUsedBytes > 0) {
		t.Errorf("memory total=%d used=%d; want total > used > 0", h.MemoryTotalBytes, h.MemoryUsedBytes)
	}
	if h.CPUUsageRatio < 0 || h.CPUUsageRatio > 1 {
		t.Errorf("host cpu_usage_ratio = %v; want within [0,1]", h.CPUUsageRatio)
	}
	if len(h.TCPConnections) != len(TCPStates) {
		t.Errorf("tcp_connections has %d states; want %d", len(h.TCPConnections), len(TCPStates))
	}
	g := snap.Generator
	if g.PID != int32(os.Getpid()) || g.RSSBytes == 0 || g.Threads < 1 || g.OpenFDs < 1 {
		t.Errorf("generator = %+v; want own pid, rss > 0, threads >= 1, fds >= 1", g)
	}
	// 300 ms of a busy loop over a short interval: well above 10% of a core, even on a busy box.
	if g.CPUPercent < 10 {
		t.Errorf("generator cpu_percent after a busy loop = %v; want >= 10", g.CPUPercent)
	}
	if len(snap.Watched) != 1 || snap.Watched[0].Name != "self" || snap.Watched[0].RSSBytes == 0 || snap.Watched[0].Threads < 1 {
		t.Errorf("watched = %+v; want one process \"self\" with rss > 0 and threads >= 1", snap.Watched)
	}
	_ = x
}

// TestSampleWatchedGone keeps the partial snapshot and reports the failed read.
func TestSampleWatchedGone(t *testing.T) {
	m := New()
	m.Watch("gone", 1<<30)
	snap, err := m.NewSampler().Sample(context.Background())
	if err == nil {
		t.Fatal("Sample with a vanished watched pid: nil error; want an error")
	}
	if len(snap.Errors) != 1 || snap.Host.MemoryTotalBytes == 0 || snap.Generator.RSSBytes == 0 {
		t.Errorf("partial Snapshot = errors %v, memory %d, generator rss %d; want 1 error and the rest filled",
			snap.Errors, snap.Host.MemoryTotalBytes, snap.Generator.RSSBytes)
	}
	if len(snap.Watched) != 0 {
		t.Errorf("watched = %+v; want empty", snap.Watched)
	}
}

func TestGeneratorSaturated(t *testing.T) {
	for _, tt := range []struct {
		ratio float64
		want  bool
	}{{0, false}, {0.9, false}, {0.91, true}, {1.4, true}} {
		s := Snapshot{Generator: Process{CPUSaturationRatio: tt.ratio}}
		if got := s.GeneratorSaturated(); got != tt.want {
			t.Errorf("GeneratorSaturated() with ratio %v = %v; want %v", tt.ratio, got, tt.want)
		}
	}
}

// TestConcurrentUse scrapes, samples and changes the watch list at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	m := New()
	s := m.NewSampler()
	done := make(chan struct{})
	for g := 0; g < 3; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 5; i++ {
				switch g {
				case 0:
					m.Watch("self", int32(os.Getpid()))
					m.Unwatch("self")
				case 1:
					if _, err := s.Sample(context.Background()); err != nil {
						t.Errorf("Sample: %v", err)
					}
				case 2:
					if n := testutil.CollectAndCount(m); n < 20 {
						t.Errorf("concurrent scrape: %d series; want >= 20", n)
					}
				}
			}
		}(g)
	}
	for g := 0; g < 3; g++ {
		<-done
	}
}
