package target

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadlab/loadlab/internal/testenv"
)

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name    string
		f       Faults
		wantErr string
	}{
		{"zero", Faults{}, ""},
		{"all", Faults{ErrorRate: 1, StallEvery: 5 * time.Second, StallFor: time.Second, AddedLatency: time.Millisecond}, ""},
		{"negative rate", Faults{ErrorRate: -0.1}, "error rate -0.1: must be within 0-1"},
		{"rate above 1", Faults{ErrorRate: 1.01}, "error rate 1.01: must be within 0-1"},
		{"negative latency", Faults{AddedLatency: -1}, "durations must not be negative"},
		{"every only", Faults{StallEvery: time.Second}, "stall every and stall for must be set together"},
		{"for only", Faults{StallFor: time.Second}, "stall every and stall for must be set together"},
		{"for == every", Faults{StallEvery: time.Second, StallFor: time.Second}, "stall for 1s must be shorter than stall every 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Validate(%+v) = %q; want %q", tc.f, got, tc.wantErr)
			}
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{ErrorRate: 0.5, StallEvery: 5 * time.Second, StallFor: 1500 * time.Millisecond, AddedLatency: 20 * time.Millisecond}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"error_rate":0.5,"stall_every":"5s","stall_for":"1.5s","added_latency":"20ms"}`
	if string(b) != want {
		t.Errorf("Marshal = %s; want %s", b, want)
	}
	var back Faults
	if err := json.Unmarshal(b, &back); err != nil || back != f {
		t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", b, back, err, f)
	}
	if err := json.Unmarshal([]byte(`{"stall_for":"soon"}`), &back); err == nil {
		t.Errorf("Unmarshal with a bad duration: nil error")
	}
}

// TestStallEnd checks the stall schedule on a fixed clock.
func TestStallEnd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := &faultPhase{Faults: Faults{StallEvery: 5 * time.Second, StallFor: time.Second}, since: t0}
	tests := []struct {
		at      time.Duration
		want    bool
		wantEnd time.Duration
		begun   uint64
	}{
		{0, false, 0, 0},
		{4999 * time.Millisecond, false, 0, 0},
		{5 * time.Second, true, 6 * time.Second, 1},
		{5500 * time.Millisecond, true, 6 * time.Second, 1},
		{6 * time.Second, false, 0, 1},
		{9 * time.Second, false, 0, 1},
		{10200 * time.Millisecond, true, 11 * time.Second, 2},
		{61 * time.Second, false, 0, 12},
	}
	for _, tc := range tests {
		end, ok := p.stallEnd(t0.Add(tc.at))
		if ok != tc.want || (ok && !end.Equal(t0.Add(tc.wantEnd))) {
			t.Errorf("stallEnd(t0+%v) = %v, %v; want t0+%v, %v", tc.at, end.Sub(t0), ok, tc.wantEnd, tc.want)
		}
		if got := p.stallsBegun(t0.Add(tc.at)); got != tc.begun {
			t.Errorf("stallsBegun(t0+%v) = %d; want %d", tc.at, got, tc.begun)
		}
	}
	none := &faultPhase{since: t0}
	if _, ok := none.stallEnd(t0.Add(time.Hour)); ok {
		t.Errorf("stallEnd without stalls = true; want false")
	}
}

// TestStallsTotalAcrossChanges checks the stall counter stays monotonic when
// the faults change (a fake clock).
func TestStallsTotalAcrossChanges(t *testing.T) {
	now := time.Unix(0, 0)
	s := newFaultState(Faults{StallEvery: time.Second, StallFor: 100 * time.Millisecond}, func() time.Time { return now })
	now = now.Add(3500 * time.Millisecond)
	if got := s.stallsTotal(); got != 3 {
		t.Fatalf("stallsTotal after 3.5 s = %v; want 3", got)
	}
	s.set(Faults{})
	now = now.Add(time.Hour)
	if got := s.stallsTotal(); got != 3 {
		t.Errorf("stallsTotal after stalls off = %v; want 3", got)
	}
	s.set(Faults{StallEvery: 10 * time.Second, StallFor: time.Second})
	now = now.Add(25 * time.Second)
	if got := s.stallsTotal(); got != 5 {
		t.Errorf("stallsTotal = %v; want 5", got)
	}
}

// TestStall: a request arriving during a stall waits until the stall ends.
// Only lower bounds are exact; the upper bound is generous.
func TestStall(t *testing.T) {
	srv, ts := newTestServer(t, fastConfig())
	const every, stall = time.Second, 900 * time.Millisecond
	before := time.Now()
	if err := srv.SetFaults(Faults{StallEvery: every, StallFor: stall}); err != nil {
		t.Fatal(err)
	}
	// The first stall is [t0+1s, t0+1.9s) with t0 in [before, now]; arrive 50 ms into it.
	time.Sleep(time.Until(before.Add(every + 50*time.Millisecond)))
	sent := time.Now()
	r := do(t, ts, "GET", "/api/users/1", "", nil)
	done := time.Now()
	if r.status != 200 {
		t.Fatalf("GET during a stall = %d %s; want 200 after the stall", r.status, r.body)
	}
	if end := before.Add(every + stall); done.Before(end) {
		t.Errorf("request sent %v after the faults were set returned at %v; want not before the stall end %v",
			sent.Sub(before), done.Sub(before), every+stall)
	}
	if took := done.Sub(sent); took > stall+2*time.Second {
		t.Errorf("request during a stall took %v; want about the rest of the %v stall", took, stall)
	}
	if got := testutil.ToFloat64(srv.metrics.requests.WithLabelValues("/api/users/{id}", "GET", "200")); got != 1 {
		t.Errorf("target_http_requests_total{route=/api/users/{id}} = %v; want 1", got)
	}
	if got := srv.faults.stallsTotal(); got < 1 {
		t.Errorf("target_fault_stalls_total = %v; want >= 1", got)
	}
}

// TestAccuracyStallSparesHealth: health is a liveness probe and is not held
// by a stall: it answers well before the stall ends (a 1.75 s margin).
func TestAccuracyStallSparesHealth(t *testing.T) {
	testenv.SkipIfRace(t)
	srv, ts := newTestServer(t, fastConfig())
	const every, stall = 2 * time.Second, 1800 * time.Millisecond
	before := time.Now()
	if err := srv.SetFaults(Faults{StallEvery: every, StallFor: stall}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(before.Add(every + 50*time.Millisecond)))
	end, in := srv.faults.get().stallEnd(time.Now())
	if !in {
		t.Skip("the test was descheduled past the whole stall; nothing to check")
	}
	if r := do(t, ts, "GET", "/api/health", "", nil); r.status != 200 {
		t.Fatalf("health during a stall = %d; want 200", r.status)
	}
	if done := time.Now(); !done.Before(end) {
		t.Errorf("health during a stall answered %v after the stall ended; want it not held", done.Sub(end))
	}
}

func TestErrorRate(t *testing.T) {
	cfg := fastConfig()
	cfg.Faults.ErrorRate = 1
	srv, ts := newTestServer(t, cfg)
	for _, p := range []string{"/api/users", "/api/users/1", "/api/teams", "/api/teams/1", "/api/teams/1/members"} {
		if r := do(t, ts, "GET", p, "", nil); r.status != 500 || string(r.body) != `{"error":"injected fault"}`+"\n" {
			t.Errorf("GET %s at error rate 1 = %d %s; want 500 injected fault", p, r.status, r.body)
		}
	}
	if r := do(t, ts, "GET", "/api/health", "", nil); r.status != 200 {
		t.Errorf("health at error rate 1 = %d; want 200 (no faults on health)", r.status)
	}
	if got := srv.faults.get().ErrorRate; got != 1 {
		t.Errorf("error rate in force = %v; want 1", got)
	}

	if err := srv.SetFaults(Faults{ErrorRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	const n = 400
	errs := 0
	for range n {
		switch r := do(t, ts, "GET", "/api/users/1", "", nil); r.status {
		case 500:
			errs++
		case 200:
		default:
			t.Fatalf("status %d; want 200 or 500", r.status)
		}
	}
	// Binomial(400, 0.5): sd 10; 60 is six standard deviations.
	if errs < n/2-60 || errs > n/2+60 {
		t.Errorf("500s at error rate 0.5 = %d of %d; want about %d", errs, n, n/2)
	}
}

func TestAddedLatency(t *testing.T) {
	cfg := fastConfig()
	cfg.Faults.AddedLatency = 30 * time.Millisecond
	_, ts := newTestServer(t, cfg)
	for _, p := range []string{"/api/teams", "/api/users/1"} {
		start := time.Now()
		if r := do(t, ts, "GET", p, "", nil); r.status != 200 {
			t.Fatalf("GET %s = %d", p, r.status)
		}
		if took := time.Since(start); took < 30*time.Millisecond {
			t.Errorf("GET %s took %v with 30ms added latency (and latency scale 0); want >= 30ms", p, took)
		}
	}
}

// TestGracefulShutdown: canceling Serve's context lets an in-flight request finish.
func TestGracefulShutdown(t *testing.T) {
	srv, err := New(FixedServiceConfig(2, 2, 300*time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	type result struct {
		code int
		err  error
		at   time.Time
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/api/teams")
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode, at: time.Now()}
	}()
	waitFor(t, "the request to hold a worker", func() bool { return srv.pool.inUse() == 1 })
	cancel()
	var stoppedAt time.Time
	select {
	case err := <-served:
		stoppedAt = time.Now()
		if err != nil {
			t.Errorf("Serve after cancel = %v; want nil (clean shutdown)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	r := <-got
	if r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request during shutdown = %d, %v; want 200", r.code, r.err)
	}
	if stoppedAt.Before(r.at.Add(-50 * time.Millisecond)) {
		t.Errorf("Serve returned %v before the in-flight request completed", r.at.Sub(stoppedAt))
	}
	if _, err := http.Get(url + "/api/health"); err == nil {
		t.Errorf("GET after shutdown succeeded; want connection refused")
	}
}

// TestStallHerdNot503: requests held by a stall wait for a worker without the
// queue's bound when it ends, so a stall adds latency but no 503s, even with
// one worker and no queue.
func TestStallHerdNot503(t *testing.T) {
	srv, ts := newTestServer(t, FixedServiceConfig(1, 0, 5*time.Millisecond))
	const every, stall, n = time.Second, 900 * time.Millisecond, 10
	before := time.Now()
	if err := srv.SetFaults(Faults{StallEvery: every, StallFor: stall}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(before.Add(every + 50*time.Millisecond)))
	end, _ := srv.faults.get().stallEnd(time.Now())
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := ts.Client().Get(ts.URL + "/api/teams/1")
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for srv.faults.holding.Load() < n {
		if time.Now().After(end) {
			// Only a request that arrived during the stall is exempt from the queue bound.
			t.Skipf("the clients were descheduled past the stall end; only %d of %d arrived in it", srv.faults.holding.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("request held by a stall = %d; want 200 (a stall must not cause 503s)", c)
		}
	}
	// One worker, 5 ms each: the last cannot finish before stall end + n*5ms.
	if done, end := time.Now(), before.Add(every+stall+n*5*time.Millisecond); done.Before(end) {
		t.Errorf("herd finished %v before the capacity model allows", end.Sub(done))
	}
	if got := testutil.ToFloat64(srv.metrics.rejected); got != 0 {
		t.Errorf("target_rejected_requests_total = %v; want 0", got)
	}
}
