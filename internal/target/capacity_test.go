package target

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/testenv"
)

// TestPool checks the pool's admission rules without timing: W workers, then
// Q waiters, then errOverloaded at once; a release admits the oldest waiter.
func TestPool(t *testing.T) {
	p := newPool(2, 1)
	ctx := context.Background()
	for i := range 2 {
		if err := p.acquire(ctx, false); err != nil {
			t.Fatalf("acquire %d with a free worker = %v; want nil", i, err)
		}
	}
	got := make(chan error, 1)
	go func() { got <- p.acquire(ctx, false) }()
	waitFor(t, "one waiter", func() bool { return p.waiting() == 1 })
	if err := p.acquire(ctx, false); !errors.Is(err, errOverloaded) {
		t.Fatalf("acquire with workers busy and queue full = %v; want errOverloaded", err)
	}
	p.release()
	if err := <-got; err != nil {
		t.Fatalf("queued acquire after a release = %v; want nil", err)
	}
	if p.inUse() != 2 || p.waiting() != 0 {
		t.Errorf("in use %d, waiting %d; want 2, 0", p.inUse(), p.waiting())
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- p.acquire(cctx, false) }()
	waitFor(t, "a waiter", func() bool { return p.waiting() == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled waiter = %v; want context.Canceled", err)
	}
	if p.waiting() != 0 {
		t.Errorf("waiting after cancel = %d; want 0", p.waiting())
	}

	// After a stall, requests wait without the queue's bound (here 1).
	go func() { got <- p.acquire(ctx, false) }()
	waitFor(t, "a bounded waiter", func() bool { return p.waiting() == 1 })
	for range 3 {
		go func() { got <- p.acquire(ctx, true) }()
	}
	waitFor(t, "three stall-released waiters", func() bool { return p.waiting() == 4 })
	if err := p.acquire(ctx, false); !errors.Is(err, errOverloaded) {
		t.Errorf("bounded acquire with the queue full = %v; want errOverloaded", err)
	}
	for range 4 {
		p.release()
		if err := <-got; err != nil {
			t.Errorf("waiter after release = %v; want nil", err)
		}
	}
	if p.inUse() != 2 || p.waiting() != 0 {
		t.Errorf("in use %d, waiting %d; want 2, 0", p.inUse(), p.waiting())
	}

	unbounded := newPool(0, 0)
	for range 1000 {
		if err := unbounded.acquire(ctx, false); err != nil {
			t.Fatalf("acquire without a pool = %v; want nil", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// paced sends n GETs to path at rate per second and returns the status counts,
// the slowest accepted latency's lower bound check and the wall time from the
// first send to the last response. With catchUp false a late send moves the
// schedule (no bursts); with it true the sender catches up.
func paced(t *testing.T, url string, n int, rate float64, catchUp bool) (codes map[int]int, minOK time.Duration, elapsed time.Duration) {
	t.Helper()
	client := &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n},
	}
	defer client.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) / rate)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	codes = map[int]int{}
	minOK = time.Hour
	start := time.Now()
	next := start
	for range n {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else if !catchUp {
			next = time.Now()
		}
		next = next.Add(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			code := -1
			resp, err := client.Get(url)
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			took := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == http.StatusOK {
				minOK = min(minOK, took)
			}
		}()
	}
	wg.Wait()
	return codes, minOK, time.Since(start)
}

// TestAccuracyCapacity drives a target of known capacity (4 workers, 20 ms
// fixed service time: 200 req/s) at twice and at half its capacity.
func TestAccuracyCapacity(t *testing.T) {
	testenv.SkipIfRace(t)
	const (
		workers = 4
		queue   = 16
		service = 20 * time.Millisecond
	)
	capacity := float64(workers) / service.Seconds()

	t.Run("twice capacity rejects some, serves the rest", func(t *testing.T) {
		srv, ts := newTestServer(t, FixedServiceConfig(workers, queue, service))
		const n = 400
		codes, _, elapsed := paced(t, ts.URL+"/api/teams", n, 2*capacity, true)
		t.Logf("codes %v in %v (capacity %.0f req/s)", codes, elapsed, capacity)
		ok, rejected := codes[200], codes[503]
		if ok+rejected != n {
			t.Errorf("codes = %v; want only 200 and 503 (every accepted request succeeds)", codes)
		}
		if rejected < n/10 {
			t.Errorf("503s = %d of %d at twice capacity; want at least %d", rejected, n, n/10)
		}
		// The pool cannot finish more than workers per service time.
		if most := int(capacity*elapsed.Seconds()) + workers; ok > most {
			t.Errorf("served %d in %v; the capacity model allows at most %d", ok, elapsed, most)
		}
		// Nothing is refused before workers+queue requests are in the system.
		if ok < workers+queue {
			t.Errorf("served %d; want at least workers+queue = %d", ok, workers+queue)
		}
		if got := testutil.ToFloat64(srv.metrics.rejected); int(got) != rejected {
			t.Errorf("target_rejected_requests_total = %v; want %d (the 503s seen)", got, rejected)
		}
	})

	t.Run("half capacity rejects none", func(t *testing.T) {
		srv, ts := newTestServer(t, FixedServiceConfig(workers, queue, service))
		const n = 100
		codes, minOK, elapsed := paced(t, ts.URL+"/api/teams", n, capacity/2, false)
		t.Logf("codes %v in %v, fastest %v", codes, elapsed, minOK)
		if codes[200] != n {
			t.Errorf("codes = %v; want all %d 200 at half capacity", codes, n)
		}
		if minOK < service {
			t.Errorf("fastest response %v; want >= the fixed service time %v", minOK, service)
		}
		if got := testutil.ToFloat64(srv.metrics.rejected); got != 0 {
			t.Errorf("target_rejected_requests_total = %v; want 0", got)
		}
	})
}

// TestOverloadedIs503 fills the pool and the queue and checks the next
// request is refused at once with a JSON 503 (no timing assumptions).
func TestOverloadedIs503(t *testing.T) {
	srv, ts := newTestServer(t, FixedServiceConfig(1, 1, 10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // one in service, one queued; canceled at the end
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/teams", nil)
			if resp, err := ts.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	defer wg.Wait()
	defer cancel()
	waitFor(t, "pool and queue full", func() bool { return srv.pool.inUse() == 1 && srv.pool.waiting() == 1 })
	r := do(t, ts, "GET", "/api/users/1", "", nil)
	if r.status != 503 || string(r.body) != `{"error":"overloaded: all 1 workers busy and the queue of 1 is full"}`+"\n" {
		t.Errorf("GET when overloaded = %d %s; want 503 overloaded", r.status, r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	if h := do(t, ts, "GET", "/api/health", "", nil); h.status != 200 {
		t.Errorf("health when overloaded = %d; want 200 (health bypasses the pool)", h.status)
	}
	if m := do(t, ts, "GET", "/metrics", "", nil); m.status != 200 {
		t.Errorf("/metrics when overloaded = %d; want 200", m.status)
	}
	if got := testutil.ToFloat64(srv.metrics.rejected); got != 1 {
		t.Errorf("target_rejected_requests_total = %v; want 1", got)
	}
}
