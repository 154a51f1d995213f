package executor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/httpclient"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu         sync.Mutex
	phases     []string // Phases
	begun      []string // Phase, in order
	steps      map[string]*stepRecorder
	iterations map[string]int
	gauges     []Gauges
	lags       int
	dropped    int
}

type scenarioRecorder struct {
	r    *recorder
	name string
}

type stepRecorder struct {
	r                *recorder
	codes            []int
	requests, errors int
	status           map[int]int
}

func (r *recorder) Scenario(name string) ScenarioObserver { return scenarioRecorder{r, name} }
func (r *recorder) Phases(names []string)                 { r.phases = names }
func (r *recorder) Phase(name string)                     { r.mu.Lock(); r.begun = append(r.begun, name); r.mu.Unlock() }
func (r *recorder) Gauges(g Gauges)                       { r.mu.Lock(); r.gauges = append(r.gauges, g); r.mu.Unlock() }
func (r *recorder) ScheduleLag(time.Duration)             { r.mu.Lock(); r.lags++; r.mu.Unlock() }
func (r *recorder) Dropped()                              { r.mu.Lock(); r.dropped++; r.mu.Unlock() }

func (s scenarioRecorder) Step(step, method string, codes []int) StepObserver {
	sr := &stepRecorder{r: s.r, codes: codes, status: map[int]int{}}
	if s.r.steps == nil {
		s.r.steps, s.r.iterations = map[string]*stepRecorder{}, map[string]int{}
	}
	s.r.steps[s.name+"/"+step+" "+method] = sr
	return sr
}

func (s scenarioRecorder) Iteration() { s.r.mu.Lock(); s.r.iterations[s.name]++; s.r.mu.Unlock() }

func (s *stepRecorder) Record(latency, service time.Duration, status int, reason Reason, tm *httpclient.Timing) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.requests++
	s.status[status]++
	if reason != ReasonNone {
		s.errors++
	}
}

// TestObserver: the observer hears of every step at New (with the codes
// the checks name), of every request, iteration, schedule lag and drop, of
// each phase as it begins, and of zeroed gauges once the run has ended.
func TestObserver(t *testing.T) {
	_, url := counterServer(t, 100*time.Millisecond)
	p := mustPlan(t, url, `
scenarios:
  - name: s
    steps:
      - {name: a, request: {path: /a}, check: {status: [200, 418]}}
      - {name: b, request: {method: POST, path: /b}, check: {status: [418]}}
load:
  max_in_flight: 4
  drop_policy: drop
  phases: [{name: one, duration: 500ms, rate: 20}, {name: two, duration: 500ms, rate: 60}]
`)
	r := &recorder{}
	e, err := New(p, WithObserver(r))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.phases) != "[one two]" || len(r.steps) != 2 || !slices.Contains(r.steps["s/a GET"].codes, 418) {
		t.Fatalf("after New: phases %v, steps %v; want [one two] and steps s/a GET (codes with 418), s/b POST", r.phases, r.steps)
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := e.Results()
	for i, c := range res.Steps {
		sr := r.steps[c.Scenario+"/"+c.Step+" "+c.Method]
		if sr == nil || uint64(sr.requests) != c.Requests || uint64(sr.errors) != c.Errors || uint64(sr.status[200]) != c.Status[200] {
			t.Errorf("step %d: observer heard %+v; want %d requests, %d errors, %d times 200", i, sr, c.Requests, c.Errors, c.Status[200])
		}
	}
	if res.Steps[1].Errors != res.Steps[1].Requests || res.Steps[1].Requests == 0 {
		t.Errorf("step b: %d errors of %d requests; want all failing (check wants 418)", res.Steps[1].Errors, res.Steps[1].Requests)
	}
	if uint64(r.iterations["s"]) != res.Iterations || uint64(r.lags) != res.Iterations {
		t.Errorf("observer heard %d iterations, %d schedule lags; want %d each", r.iterations["s"], r.lags, res.Iterations)
	}
	if r.dropped == 0 || uint64(r.dropped) != res.Dropped {
		t.Errorf("observer heard %d drops; want %d (> 0)", r.dropped, res.Dropped)
	}
	if fmt.Sprint(r.begun) != "[one two ]" {
		t.Errorf("phases begun = %q; want one, two, then \"\" at the end", r.begun)
	}
	if len(r.gauges) < 5 || r.gauges[len(r.gauges)-1] != (Gauges{}) {
		t.Fatalf("gauges = %v; want one every 100 ms and zeros last", r.gauges)
	}
	seen := Gauges{}
	for _, g := range r.gauges {
		seen.InFlight, seen.VUs, seen.TargetRate = max(seen.InFlight, g.InFlight), max(seen.VUs, g.VUs), max(seen.TargetRate, g.TargetRate)
	}
	if seen.InFlight == 0 || seen.InFlight > 4 || seen.VUs == 0 || seen.TargetRate != 60 {
		t.Errorf("gauges peaked at %+v; want in flight and VUs in 1-4 (max_in_flight), target rate 60", seen)
	}
}
