package stress

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
	"testing/quick"
	"time"
)

// capacityTarget is a synthetic target with capacity c req/s: beyond it the excess is rejected, so the error rate
// is (r-c)/r and crosses the threshold thr at R* = c/(1-thr).
func capacityTarget(c float64) Trial {
	return func(_ context.Context, r float64) (Probe, error) {
		p := Probe{Achieved: r, P99: 20 * time.Millisecond, Lag99: time.Millisecond, GeneratorCPU: 0.2}
		if r > c {
			p.ErrorRate = (r - c) / r
		}
		return p, nil
	}
}

// counted wraps a trial and counts calls.
func counted(t Trial, n *int) Trial {
	return func(ctx context.Context, r float64) (Probe, error) { *n++; return t(ctx, r) }
}

func crossing(c, thr float64) float64 { return c / (1 - thr) }

func TestSearchCapacityTable(t *testing.T) {
	tests := []struct {
		name      string
		start     float64
		capacity  float64
		res       float64
		maxProbes int // the bound the doc comment promises
	}{
		{"issue example 400 rps from 50", 50, 400, 0.05, 10},
		{"R* just above start", 10, 10, 0.05, 10},
		{"R* just below a doubling", 10, 75.9, 0.05, 10},
		{"R* just above a doubling", 10, 76.1, 0.05, 10},
		{"R* 15x start", 100, 1425, 0.05, 10},
		{"high rates", 1000, 9000, 0.05, 10},
		{"fractional rates", 0.5, 3.3, 0.05, 10},
		{"fine resolution", 50, 400, 0.01, 12},
		{"coarse resolution", 50, 400, 0.2, 8},
		{"R* 100x start", 1, 100, 0.05, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			cfg := Config{StartRate: tt.start, MaxRate: 1e6, Resolution: tt.res}
			res, err := Search(context.Background(), cfg, counted(capacityTarget(tt.capacity), &n), nil)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			rstar := crossing(tt.capacity, DefaultErrorThreshold)
			if res.State != Completed || res.LimitedBy != LimitTarget {
				t.Errorf("state %s limited by %q; want COMPLETED, target", res.State, res.LimitedBy)
			}
			if !(res.MaxSustainable <= rstar && rstar < res.Breakdown) {
				t.Errorf("max %.3f, breakdown %.3f; want max <= R* %.3f < breakdown", res.MaxSustainable, res.Breakdown, rstar)
			}
			if rel := (rstar - res.MaxSustainable) / rstar; rel > tt.res {
				t.Errorf("max %.3f is %.1f%% below R* %.3f; want within %.0f%%", res.MaxSustainable, 100*rel, rstar, 100*tt.res)
			}
			if (res.Breakdown-res.MaxSustainable)/res.MaxSustainable > tt.res+1e-12 {
				t.Errorf("interval [%.3f, %.3f] wider than resolution %v", res.MaxSustainable, res.Breakdown, tt.res)
			}
			if n > tt.maxProbes || len(res.Probes) != n {
				t.Errorf("%d trials, %d probes recorded; want at most %d, all recorded", n, len(res.Probes), tt.maxProbes)
			}
		})
	}
}

// TestSearchWideRange sweeps R* from 1.1x to 15.9x the start rate: always within 5% and at most 10 probes.
func TestSearchWideRange(t *testing.T) {
	for k := 1.1; k < 16; k *= 1.07 {
		c := 100 * k * (1 - DefaultErrorThreshold) // so that R* = 100k
		n := 0
		res, err := Search(context.Background(), Config{StartRate: 100, MaxRate: 1e5}, counted(capacityTarget(c), &n), nil)
		if err != nil {
			t.Fatalf("R*=%.1f: %v", 100*k, err)
		}
		if rel := math.Abs(res.MaxSustainable-100*k) / (100 * k); rel > DefaultResolution || n > 10 {
			t.Errorf("R*=%.1f: max %.1f (%.1f%% off) in %d probes; want within 5%% in <= 10", 100*k, res.MaxSustainable, 100*rel, n)
		}
	}
}

func TestSearchProbeSequence(t *testing.T) {
	var states []State
	res, err := Search(context.Background(), Config{StartRate: 50}, capacityTarget(400),
		func(s State, p Probe) { states = append(states, s) })
	if err != nil {
		t.Fatal(err)
	}
	var rates []float64
	var phases []string
	for _, p := range res.Probes {
		rates = append(rates, p.Rate)
		phases = append(phases, p.Phase)
	}
	// R* = 421.05: ramp 50..800, then bisect [400, 800].
	want := []float64{50, 100, 200, 400, 800, 600, 500, 450, 425, 412.5}
	if len(rates) != len(want) {
		t.Fatalf("probe rates %v; want %v", rates, want)
	}
	for i := range want {
		if rates[i] != want[i] {
			t.Fatalf("probe rates %v; want %v", rates, want)
		}
	}
	if strings.Join(phases, ",") != "ramp,ramp,ramp,ramp,ramp,bisect,bisect,bisect,bisect,bisect" {
		t.Errorf("phases %v", phases)
	}
	if len(states) != len(want) || states[0] != Searching {
		t.Errorf("observe states %v; want %d x %s", states, len(want), Searching)
	}
	if got, want := res.String(), "Max sustainable RPS = 412.5 | Breakdown at 425.0 RPS"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if !strings.Contains(res.Message, "error rate") || res.Probes[4].Pass || res.Probes[4].Limit != LimitTarget {
		t.Errorf("message %q, probe 800: %+v; want an error-rate failure of the target", res.Message, res.Probes[4])
	}
}

func TestSearchOutcomes(t *testing.T) {
	unreachable := func(_ context.Context, r float64) (Probe, error) {
		return Probe{Achieved: r, ErrorRate: 1, ConnectErrorRate: 1}, nil
	}
	alwaysFailing := func(_ context.Context, r float64) (Probe, error) {
		return Probe{Achieved: r, ErrorRate: 0.5}, nil
	}
	// Generator can deliver only 300 req/s; the target could take 1000.
	generatorBound := func(_ context.Context, r float64) (Probe, error) {
		p := Probe{Achieved: math.Min(r, 300)}
		if r > 1000 {
			p.ErrorRate = (r - 1000) / r
		}
		return p, nil
	}
	lagBound := func(_ context.Context, r float64) (Probe, error) {
		p := Probe{Achieved: r, Lag99: time.Millisecond}
		if r > 250 {
			p.Lag99 = 40 * time.Millisecond
		}
		return p, nil
	}
	cpuBound := func(_ context.Context, r float64) (Probe, error) {
		return Probe{Achieved: r, GeneratorCPU: r / 500}, nil // 90% at 450
	}
	// Latency p99 = 10ms / (1 - r/1000): crosses a 50 ms SLO at 800 req/s, no errors.
	latency := func(_ context.Context, r float64) (Probe, error) {
		u := math.Min(r/1000, 0.999)
		return Probe{Achieved: r, P99: time.Duration(float64(10*time.Millisecond) / (1 - u))}, nil
	}
	// Capacity 30 but starting at 200: the first probe fails, the search halves down, then bisects.
	crashes := func(_ context.Context, r float64) (Probe, error) {
		if r > 300 {
			return Probe{Achieved: r, ErrorRate: 1, ConnectErrorRate: 1}, nil
		}
		return Probe{Achieved: r}, nil
	}
	trialErr := func(_ context.Context, r float64) (Probe, error) {
		if r > 100 {
			return Probe{}, errors.New("engine exploded")
		}
		return Probe{Achieved: r}, nil
	}

	tests := []struct {
		name      string
		cfg       Config
		trial     Trial
		state     State
		limit     Limit
		minMax    float64 // MaxSustainable within [minMax, maxMax]
		maxMax    float64
		msg       string // substring of Message
		str       string // substring of String()
		wantErr   bool
		maxProbes int
	}{
		{name: "unreachable", cfg: Config{StartRate: 50}, trial: unreachable, state: Errored,
			msg: "target unreachable", str: "ERROR: target unreachable", wantErr: true, maxProbes: 1},
		{name: "fails at every rate", cfg: Config{StartRate: 50}, trial: alwaysFailing, state: Errored,
			msg: "fails at every rate", wantErr: true, maxProbes: 5},
		{name: "generator limited by achieved rate", cfg: Config{StartRate: 50}, trial: generatorBound,
			state: Completed, limit: LimitGenerator, minMax: 300 / 0.95 / 1.05, maxMax: 300 / 0.95,
			msg: "generator's ceiling", str: "generator limit, not the target's"},
		{name: "generator limited by lag", cfg: Config{StartRate: 50}, trial: lagBound,
			state: Completed, limit: LimitGenerator, minMax: 250 / 1.05, maxMax: 250, msg: "schedule lag"},
		{name: "generator limited by cpu", cfg: Config{StartRate: 50}, trial: cpuBound,
			state: Completed, limit: LimitGenerator, minMax: 450 / 1.05, maxMax: 450, msg: "generator CPU"},
		{name: "max rate not reached", cfg: Config{StartRate: 50, MaxRate: 300}, trial: capacityTarget(1000),
			state: Completed, limit: LimitMaxRate, minMax: 300, maxMax: 300, msg: "not reached",
			str: "Breakdown not reached", maxProbes: 4},
		{name: "start equals max rate", cfg: Config{StartRate: 300, MaxRate: 300}, trial: capacityTarget(1000),
			state: Completed, limit: LimitMaxRate, minMax: 300, maxMax: 300, maxProbes: 1},
		{name: "max rate itself fails", cfg: Config{StartRate: 100, MaxRate: 500}, trial: capacityTarget(380),
			state: Completed, limit: LimitTarget, minMax: 400 / 1.05, maxMax: 400},
		{name: "p99 SLO", cfg: Config{StartRate: 50, P99SLO: 50 * time.Millisecond}, trial: latency,
			state: Completed, limit: LimitTarget, minMax: 800 / 1.05, maxMax: 800, msg: "p99"},
		{name: "p99 SLO off", cfg: Config{StartRate: 50, MaxRate: 3200}, trial: latency,
			state: Completed, limit: LimitMaxRate, minMax: 3200, maxMax: 3200},
		{name: "first probe fails: halve down", cfg: Config{StartRate: 200}, trial: capacityTarget(30),
			state: Completed, limit: LimitTarget, minMax: 31.58 / 1.05, maxMax: 31.58},
		{name: "target crashes mid-search", cfg: Config{StartRate: 100}, trial: crashes, state: Errored,
			minMax: 200, maxMax: 200, msg: "became unreachable", wantErr: true},
		{name: "trial error", cfg: Config{StartRate: 100}, trial: trialErr, state: Errored,
			minMax: 100, maxMax: 100, msg: "engine exploded", wantErr: true},
		{name: "max probes", cfg: Config{StartRate: 50, MaxProbes: 6}, trial: capacityTarget(400),
			state: Completed, limit: LimitTarget, minMax: 400, maxMax: 400, msg: "max_probes 6 reached", maxProbes: 6},
		{name: "invalid config", cfg: Config{StartRate: 0}, trial: capacityTarget(1), state: Errored,
			msg: "start_rate", wantErr: true},
		{name: "custom generator rule", cfg: Config{StartRate: 50, GeneratorLimit: func(p Probe) (bool, string) {
			return p.Rate > 120, "custom rule"
		}}, trial: capacityTarget(1000), state: Completed, limit: LimitGenerator, minMax: 120 / 1.05, maxMax: 120,
			msg: "custom rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Search(context.Background(), tt.cfg, tt.trial, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Search error = %v; want error %v", err, tt.wantErr)
			}
			if res.State != tt.state || res.LimitedBy != tt.limit {
				t.Errorf("state %s limited by %q; want %s %q (message %q)", res.State, res.LimitedBy, tt.state, tt.limit, res.Message)
			}
			if res.MaxSustainable < tt.minMax-1e-9 || res.MaxSustainable > tt.maxMax+1e-9 {
				t.Errorf("max sustainable %.3f; want within [%.3f, %.3f]", res.MaxSustainable, tt.minMax, tt.maxMax)
			}
			if tt.state != Errored && res.MaxSustainable <= 0 {
				t.Errorf("max sustainable %v: a completed search never reports 0", res.MaxSustainable)
			}
			if !strings.Contains(res.Message, tt.msg) {
				t.Errorf("message %q; want it to contain %q", res.Message, tt.msg)
			}
			if !strings.Contains(res.String(), tt.str) {
				t.Errorf("String() %q; want it to contain %q", res.String(), tt.str)
			}
			if tt.maxProbes > 0 && len(res.Probes) > tt.maxProbes {
				t.Errorf("%d probes; want at most %d", len(res.Probes), tt.maxProbes)
			}
		})
	}
}

func TestSearchCancel(t *testing.T) {
	// Canceled during a probe whose trial ignores ctx: the search stops before the next probe.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	trial := func(ctx context.Context, r float64) (Probe, error) {
		n++
		if n == 3 {
			cancel()
		}
		return capacityTarget(1000)(ctx, r)
	}
	res, err := Search(ctx, Config{StartRate: 10}, trial, nil)
	if !errors.Is(err, context.Canceled) || res.State != Canceled || len(res.Probes) != 3 || n != 3 {
		t.Fatalf("Search after cancel = %s, %v, %d probes, %d trials; want CANCELED, context.Canceled, 3, 3",
			res.State, err, len(res.Probes), n)
	}
	if !strings.Contains(res.String(), "CANCELED: canceled after 3 probes") {
		t.Errorf("String() = %q", res.String())
	}

	// Cancel during a cooldown: returns at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	start := time.Now()
	res, err = Search(ctx2, Config{StartRate: 10, Cooldown: time.Minute}, capacityTarget(1000), nil)
	if !errors.Is(err, context.Canceled) || res.State != Canceled || len(res.Probes) != 1 {
		t.Errorf("cancel in cooldown = %s, %v, %d probes; want CANCELED, context.Canceled, 1 probe", res.State, err, len(res.Probes))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel in cooldown took %v; want immediate", d)
	}

	// A trial that notices the cancellation and returns ctx.Err().
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	res, err = Search(ctx3, Config{StartRate: 10}, func(ctx context.Context, _ float64) (Probe, error) {
		return Probe{}, ctx.Err()
	}, nil)
	if !errors.Is(err, context.Canceled) || res.State != Canceled {
		t.Errorf("pre-canceled = %s, %v; want CANCELED", res.State, err)
	}
}

// TestSearchInvariants checks, for random monotone targets: good < bad, good >= bad/(1+res), good <= R* < bad, and
// the probe bound.
func TestSearchInvariants(t *testing.T) {
	f := func(startSeed, ratioSeed, resSeed uint16) bool {
		start := 0.1 + float64(startSeed%10000)/10            // 0.1 .. 1000
		rstar := start * (1.01 + float64(ratioSeed%5000)/100) // 1.01x .. 51x
		res := 0.005 + float64(resSeed%100)/400               // 0.5% .. 25.25%
		c := rstar * (1 - DefaultErrorThreshold)
		r, err := Search(context.Background(), Config{StartRate: start, MaxRate: 1e9, Resolution: res, MaxProbes: 100},
			capacityTarget(c), nil)
		if err != nil {
			t.Logf("start %v R* %v res %v: %v", start, rstar, res, err)
			return false
		}
		good, bad := r.MaxSustainable, r.Breakdown
		bound := math.Floor(math.Log2(rstar/start)) + 2 + math.Ceil(math.Log2(1/res))
		ok := good < bad && good >= bad/(1+res)-1e-9 && good <= rstar*(1+1e-9) && rstar < bad*(1+1e-9) &&
			float64(len(r.Probes)) <= bound
		if !ok {
			t.Logf("start %v R* %v res %v: good %v bad %v probes %d (bound %v)", start, rstar, res, good, bad, len(r.Probes), bound)
		}
		return ok
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000, Rand: rand.New(rand.NewSource(1))}); err != nil {
		t.Error(err)
	}
}

// TestSearchNoisy adds ±1% seeded noise to the error rate around the crossing: still within 2x the resolution.
func TestSearchNoisy(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 200; i++ {
		c := 100 + rng.Float64()*900
		trial := func(_ context.Context, r float64) (Probe, error) {
			p, _ := capacityTarget(c)(context.Background(), r)
			p.ErrorRate = math.Max(0, p.ErrorRate+(rng.Float64()-0.5)*0.02)
			return p, nil
		}
		res, err := Search(context.Background(), Config{StartRate: 50}, trial, nil)
		if err != nil {
			t.Fatal(err)
		}
		rstar := crossing(c, DefaultErrorThreshold)
		if rel := math.Abs(res.MaxSustainable-rstar) / rstar; rel > 2*DefaultResolution {
			t.Errorf("capacity %.1f: max %.1f is %.1f%% from R* %.1f; want within 10%%", c, res.MaxSustainable, 100*rel, rstar)
		}
	}
}

func TestJudge(t *testing.T) {
	cfg := Config{StartRate: 1, P99SLO: 100 * time.Millisecond}
	tests := []struct {
		name  string
		p     Probe
		pass  bool
		limit Limit
	}{
		{"clean", Probe{Rate: 100, Achieved: 99}, true, ""},
		{"errors at threshold pass", Probe{Rate: 100, Achieved: 100, ErrorRate: 0.05}, true, ""},
		{"errors above threshold", Probe{Rate: 100, Achieved: 100, ErrorRate: 0.0501}, false, LimitTarget},
		{"short with many errors is the target", Probe{Rate: 100, Achieved: 50, ErrorRate: 0.5}, false, LimitTarget},
		{"short with few errors is the generator", Probe{Rate: 100, Achieved: 94, ErrorRate: 0.01}, false, LimitGenerator},
		{"95% achieved passes", Probe{Rate: 100, Achieved: 95}, true, ""},
		{"lag 10ms passes", Probe{Rate: 100, Achieved: 100, Lag99: 10 * time.Millisecond}, true, ""},
		{"lag over 10ms", Probe{Rate: 100, Achieved: 100, Lag99: 11 * time.Millisecond}, false, LimitGenerator},
		{"cpu 90% passes", Probe{Rate: 100, Achieved: 100, GeneratorCPU: 0.9}, true, ""},
		{"cpu over 90%", Probe{Rate: 100, Achieved: 100, GeneratorCPU: 0.95}, false, LimitGenerator},
		{"generator wins over errors", Probe{Rate: 100, Achieved: 100, ErrorRate: 0.5, GeneratorCPU: 1}, false, LimitGenerator},
		{"p99 above SLO", Probe{Rate: 100, Achieved: 100, P99: 101 * time.Millisecond}, false, LimitTarget},
	}
	for _, tt := range tests {
		pass, limit, reason := cfg.Judge(tt.p)
		if pass != tt.pass || limit != tt.limit || (pass != (reason == "")) {
			t.Errorf("%s: Judge(%+v) = %v, %q, %q; want %v, %q", tt.name, tt.p, pass, limit, reason, tt.pass, tt.limit)
		}
	}
}

func TestInRequests(t *testing.T) {
	r := Result{MaxSustainable: 50, Breakdown: 55}
	r.InRequests(2)
	if r.RequestsPerIteration != 2 || r.MaxSustainableRPS != 100 || r.BreakdownRPS != 110 {
		t.Errorf("InRequests(2) = %+v; want 2 requests per iteration, 100 and 110 RPS", r)
	}
	r.InRequests(0)
	if r.RequestsPerIteration != 1 || r.MaxSustainableRPS != 50 {
		t.Errorf("InRequests(0) = %+v; want 1 request per iteration", r)
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{State: Completed, MaxSustainable: 64, Breakdown: 76, LimitedBy: LimitTarget},
			"Max sustainable RPS = 64.0 | Breakdown at 76.0 RPS"},
		{Result{State: Completed, MaxSustainable: 1000, LimitedBy: LimitMaxRate},
			"Max sustainable RPS = 1000.0 | Breakdown not reached (max_rate)"},
		{Result{State: Completed, MaxSustainable: 300, Breakdown: 312.5, LimitedBy: LimitGenerator},
			"Max sustainable RPS = 300.0 | Breakdown at 312.5 RPS (generator limit, not the target's)"},
		{Result{State: Errored, Message: "target unreachable: x"}, "ERROR: target unreachable: x"},
		// A two-step journey: the search ran in iterations/s; the answer is in requests/s, iterations/s beside it.
		{Result{State: Completed, MaxSustainable: 50, Breakdown: 55, LimitedBy: LimitTarget, RequestsPerIteration: 2},
			"Max sustainable RPS = 100.0 (50.0 iterations/s) | Breakdown at 110.0 RPS (55.0 iterations/s)"},
		{Result{State: Completed, MaxSustainable: 50, LimitedBy: LimitMaxRate, RequestsPerIteration: 3},
			"Max sustainable RPS = 150.0 (50.0 iterations/s) | Breakdown not reached (max_rate)"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}
