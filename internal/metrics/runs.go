package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// runs keeps the run-level series of a process that carries out one run (the
// CLI) or several at once (loadgen serve):
//
//   - loadgen_run_info{run_id,plan,type} (always 1) names the runs in
//     progress, or the last one when none is (so a scrape during --linger or
//     after a serve run still names it); loadgen_run_active counts the runs in
//     progress; loadgen_run_start_timestamp_seconds is the latest start;
//   - each run has live gauges of its own (StartRun's view), and
//     loadgen_in_flight_requests, loadgen_virtual_users and
//     loadgen_target_rate_iterations_per_second are their sums over the runs
//     in progress, loadgen_phase{phase} the number of runs in each phase: with
//     one run they are that run's figures, and overlapping runs never
//     overwrite each other's;
//   - the per-step series of finished runs are forgotten when the next run
//     starts, unless a run in progress uses the same step, so the series
//     count stays bounded by the plans in use.
type runs struct {
	mu       sync.Mutex
	active   map[*Metrics]runEntry
	lastInfo []string         // run_info of the last finished run, while no run is in progress
	finished map[StepKey]bool // steps of runs that ended since the last start
	resting  []string         // phase names of ended runs, kept at 0 on m.Phase until the next start
}

type runEntry struct {
	info  []string
	steps []StepKey
}

// StartRun names a run (loadgen_run_info{run_id,plan,type}), counts it in
// loadgen_run_active, sets the start time and returns the metrics its engines
// record into: the same request series as m, with live gauges of its own
// (summed into m's, see runs). steps are the (scenario, step) label values the
// run records under; the steps of finished runs that no run in progress uses
// are forgotten now. Call EndRun with the returned metrics when the run ends.
func (m *Metrics) StartRun(runID, plan, typ string, at time.Time, steps []StepKey) *Metrics {
	r := &m.runs
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		r.active = map[*Metrics]runEntry{}
	}
	if r.lastInfo != nil {
		m.RunInfo.DeleteLabelValues(r.lastInfo...)
		r.lastInfo = nil
	}
	for _, n := range r.resting {
		m.Phase.DeleteLabelValues(n)
	}
	r.resting = nil
	inUse := map[StepKey]bool{}
	for _, e := range r.active {
		for _, k := range e.steps {
			inUse[k] = true
		}
	}
	for _, k := range steps {
		inUse[k] = true
	}
	var forget []StepKey
	for k := range r.finished {
		if !inUse[k] {
			forget = append(forget, k)
		}
	}
	clear(r.finished) // steps still in use come back when their run ends
	m.ForgetSteps(forget)

	v := &Metrics{RequestDuration: m.RequestDuration, ServiceTime: m.ServiceTime, Requests: m.Requests, Errors: m.Errors,
		HTTPPhase: m.HTTPPhase, ScheduleLag: m.ScheduleLag, Dropped: m.Dropped, Iterations: m.Iterations,
		RunInfo: m.RunInfo, RunActive: m.RunActive, RunStart: m.RunStart, BuildInfo: m.BuildInfo,
		steps: map[[3]string]*StepMetrics{}}
	v.liveGauges()
	info := []string{runID, plan, typ}
	r.active[v] = runEntry{info: info, steps: slices.Clone(steps)}
	m.RunInfo.WithLabelValues(info...).Set(1)
	m.RunActive.Set(float64(len(r.active)))
	m.RunStart.Set(float64(at.UnixNano()) / 1e9)
	return v
}

// EndRun ends the run whose metrics StartRun returned: it no longer counts in
// loadgen_run_active nor in the live gauges (its phases stay at 0 until the
// next start). Its run_info series stays while no other run is in progress,
// and goes at once otherwise.
func (m *Metrics) EndRun(run *Metrics) {
	r := &m.runs
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.active[run]
	if !ok {
		return
	}
	delete(r.active, run)
	m.RunActive.Set(float64(len(r.active)))
	if len(r.active) > 0 {
		m.RunInfo.DeleteLabelValues(e.info...)
	} else {
		r.lastInfo = e.info
	}
	if r.finished == nil {
		r.finished = map[StepKey]bool{}
	}
	for _, k := range e.steps {
		r.finished[k] = true
	}
	run.mu.Lock()
	for _, n := range run.phases {
		if !slices.Contains(r.resting, n) {
			r.resting = append(r.resting, n)
			m.Phase.WithLabelValues(n).Add(0)
		}
	}
	run.mu.Unlock()
}

// liveGauges makes m's own in-flight, virtual-user, target-rate and phase
// gauges. They are not registered: live exports their sums over m and the
// runs in progress.
func (m *Metrics) liveGauges() {
	m.InFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "in_flight_requests",
		Help: "Requests in flight now (summed over the runs in progress)."})
	m.VirtualUsers = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "virtual_users",
		Help: "Active virtual users (closed model) or busy iteration slots (open model), summed over the runs in progress."})
	m.TargetRate = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "target_rate_iterations_per_second",
		Help: "The schedules' intended iteration rate now (open model), summed over the runs in progress."})
	m.Phase = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "phase",
		Help: "State set of the load phases: the number of runs in each phase now (1 for the running phase of a single run, 0 for the others)."},
		[]string{"phase"})
}

// live exports the live gauges of m and of the runs in progress, summed.
type live struct{ m *Metrics }

func (l live) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.m.InFlight.Desc()
	ch <- l.m.VirtualUsers.Desc()
	ch <- l.m.TargetRate.Desc()
	l.m.Phase.Describe(ch)
}

func (l live) Collect(ch chan<- prometheus.Metric) {
	m := l.m
	m.runs.mu.Lock()
	all := []*Metrics{m}
	for v := range m.runs.active {
		all = append(all, v)
	}
	m.runs.mu.Unlock()
	var inFlight, vus, rate float64
	phases := map[string]float64{}
	var names []string
	var d dto.Metric
	for _, x := range all {
		inFlight += value(x.InFlight, &d)
		vus += value(x.VirtualUsers, &d)
		rate += value(x.TargetRate, &d)
		pc := make(chan prometheus.Metric, 16)
		go func() { x.Phase.Collect(pc); close(pc) }()
		for pm := range pc {
			v := value(pm, &d)
			n := d.GetLabel()[0].GetValue()
			if _, ok := phases[n]; !ok {
				names = append(names, n)
			}
			phases[n] += v
		}
	}
	ch <- prometheus.MustNewConstMetric(m.InFlight.Desc(), prometheus.GaugeValue, inFlight)
	ch <- prometheus.MustNewConstMetric(m.VirtualUsers.Desc(), prometheus.GaugeValue, vus)
	ch <- prometheus.MustNewConstMetric(m.TargetRate.Desc(), prometheus.GaugeValue, rate)
	pd := make(chan *prometheus.Desc, 1)
	m.Phase.Describe(pd)
	desc := <-pd
	for _, n := range names {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, phases[n], n)
	}
}

// value reads a gauge's value (and its labels into d).
func value(g prometheus.Metric, d *dto.Metric) float64 {
	d.Reset()
	if err := g.Write(d); err != nil {
		return 0
	}
	return d.GetGauge().GetValue()
}
