package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/loadlab/loadlab/internal/store"
)

// WriteJSON writes s as indented JSON (the `--out-json` format).
func WriteJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write summary json: %w", err)
	}
	return nil
}

// ReadJSON decodes a summary written by WriteJSON.
func ReadJSON(r io.Reader) (*Summary, error) {
	var s Summary
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("read summary json: %w", err)
	}
	return &s, nil
}

// Verdict is the one-word outcome of a run, as printed on the status line:
// PASSED, THRESHOLDS FAILED, FAILED, ABORTED or INTERRUPTED.
func (s *Summary) Verdict() string {
	switch s.Status {
	case store.StatusCompleted:
		if s.ThresholdsOK() {
			return "PASSED"
		}
		return "THRESHOLDS FAILED"
	case store.StatusFailed:
		return "FAILED"
	case store.StatusAborted:
		return "ABORTED"
	case store.StatusInterrupted:
		return "INTERRUPTED"
	case store.StatusPartial:
		return "PARTIAL"
	case store.StatusRunning:
		return "RUNNING"
	}
	return strings.ToUpper(string(s.Status))
}

// StatusLine is the last line of the text summary: the verdict and why.
func (s *Summary) StatusLine() string {
	failed := 0
	for _, t := range s.Thresholds {
		if !t.OK {
			failed++
		}
	}
	var why string
	switch {
	case s.Error != "":
		why = s.Error
	case s.Status == store.StatusCompleted && len(s.Thresholds) == 0:
		why = "completed, no thresholds"
	case s.Status == store.StatusCompleted && failed == 0:
		why = fmt.Sprintf("completed, all %d thresholds held", len(s.Thresholds))
	case s.Status == store.StatusCompleted:
		why = fmt.Sprintf("%d of %d thresholds failed", failed, len(s.Thresholds))
	default:
		why = string(s.Status)
	}
	if s.Status != store.StatusCompleted && s.Status != store.StatusFailed && failed > 0 && s.Error == "" {
		why += fmt.Sprintf("; %d of %d thresholds failed", failed, len(s.Thresholds))
	}
	return s.Verdict() + ": " + why
}

// WriteText writes the human-readable summary: header, per-step and
// per-phase tables, errors by reason, thresholds, generator health, store
// and the status line.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	p := ew.printf

	model := s.Model
	if model == "" {
		model = "?"
	}
	p("run %s  plan %s  (%s, %s model)\n", s.RunID, s.Plan, orDash(s.Type), model)
	if s.Target != "" {
		p("target %s\n", s.Target)
	}
	p("started %s  ended %s  duration %s\n",
		fmtTime(s.StartedAt), fmtTime(s.EndedAt), fmtSeconds(s.DurationS))
	p("requests %d  errors %d (%s)  %s req/s  iterations %d",
		s.Requests, s.Errors, fmtPct(100*s.ErrorRate), fmtRate(s.RPS), s.Iterations)
	if s.Dropped > 0 {
		p("  dropped %d", s.Dropped)
	}
	p("\n")
	p("latency (ms, from intended start)  p50 %s  p90 %s  p95 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
		fmtMS(s.LatencyMS.P50), fmtMS(s.LatencyMS.P90), fmtMS(s.LatencyMS.P95), fmtMS(s.LatencyMS.P99),
		fmtMS(s.LatencyMS.P999), fmtMS(s.LatencyMS.Max), fmtMS(s.LatencyMS.Mean))
	if s.ServiceMS != (Latency{}) {
		p("service time (ms, from actual send) p50 %s  p90 %s  p95 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
			fmtMS(s.ServiceMS.P50), fmtMS(s.ServiceMS.P90), fmtMS(s.ServiceMS.P95), fmtMS(s.ServiceMS.P99),
			fmtMS(s.ServiceMS.P999), fmtMS(s.ServiceMS.Max), fmtMS(s.ServiceMS.Mean))
	}
	s.writeLatencyApart(ew)

	if len(s.Steps) > 0 {
		p("\nSTEPS (latency in ms)\n")
		wn := stepWidth(s.Steps)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\t%s\n", wn, "scenario/step", "method\trequests\terrors\terr%\treq/s\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
		for _, st := range s.Steps {
			fmt.Fprintf(tw, "%-*s\t%s\t%d\t%d\t%s\t%s\t%s\t\n",
				wn, st.Scenario+"/"+st.Step, orDash(st.Method), st.Requests, st.Errors,
				fmtPct(100*st.ErrorRate), fmtRate(st.RPS), latencyCols(st.LatencyMS))
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%d\t%d\t%s\t%s\t%s\t\n", wn, "TOTAL", "", s.Requests, s.Errors,
			fmtPct(100*s.ErrorRate), fmtRate(s.RPS), latencyCols(s.LatencyMS))
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	if timed(s.Steps) {
		p("\nTIMING (ms, p50 / p99; dns, connect and tls of new connections only; redirect hops count)\n")
		wn := stepWidth(s.Steps)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\t%s\n", wn, "scenario/step", "dns\tconnect\ttls\twait\treceive\tnew conns\tredirects\t")
		for _, st := range s.Steps {
			t := st.TimingMS
			fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", wn, st.Scenario+"/"+st.Step,
				pair(t.DNS), pair(t.Connect), pair(t.TLS), pair(t.TTFB), pair(t.Receive), t.Connect.Count, st.Redirects)
		}
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	if len(s.Phases) > 0 {
		p("\nPHASES (latency in ms)\n")
		names := []string{"phase"}
		for _, ph := range s.Phases {
			names = append(names, ph.Name)
		}
		wn := width(names)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\t%s\n", wn, "phase", "duration\trequests\terrors\terr%\treq/s\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
		for _, ph := range s.Phases {
			fmt.Fprintf(tw, "%-*s\t%s\t%d\t%d\t%s\t%s\t%s\t\n", wn, ph.Name, fmtSeconds(ph.DurationS),
				ph.Requests, ph.Errors, fmtPct(100*ph.ErrorRate), fmtRate(ph.RPS), latencyCols(ph.LatencyMS))
		}
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	if len(s.ErrorsByReason) > 0 {
		p("\nERRORS BY REASON\n")
		reasons := make([]string, 0, len(s.ErrorsByReason))
		for r := range s.ErrorsByReason {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := s.ErrorsByReason[reasons[i]], s.ErrorsByReason[reasons[j]]
			if a != b {
				return a > b
			}
			return reasons[i] < reasons[j]
		})
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, r := range reasons {
			fmt.Fprintf(tw, "  %s\t%d\n", r, s.ErrorsByReason[r])
		}
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	s.writeFailures(ew)
	s.writeChecks(ew)

	if len(s.Thresholds) > 0 {
		p("\nTHRESHOLDS\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, t := range s.Thresholds {
			mark := "✓"
			if !t.OK {
				mark = "✗"
			}
			var extra []string
			if t.Window != "" {
				extra = append(extra, "window "+t.Window)
			}
			if t.Aborted {
				extra = append(extra, "ended the run")
			}
			if t.Note != "" {
				extra = append(extra, t.Note)
			}
			val := FormatValue(t.Value, t.Unit)
			if len(extra) > 0 {
				val += "  (" + strings.Join(extra, ", ") + ")"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\n", mark, t.Expr, val)
		}
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	if len(s.Workers) > 0 {
		p("\nWORKERS (segments of a distributed run)\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "segment\tstatus\tstart skew ms\trequests\terrors\treq/s\tlag p99 ms\tCPU max\thealth\t\n")
		for _, wk := range s.Workers {
			if wk.Status == "" {
				fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", wk.Segment, "never reported")
				continue
			}
			health := "reliable"
			if !wk.Reliable {
				health = "UNRELIABLE"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", wk.Segment, wk.Status, fmtMS(wk.StartSkewMS), wk.Requests,
				wk.Errors, fmtRate(wk.RPS), fmtMS(wk.LagP99MS), fmtPct(wk.CPUMaxPct), health)
		}
		if err := tw.Flush(); err != nil {
			ew.err = err
		}
	}

	p("\n")
	h := s.Health
	cpu := "not measured"
	if h.CPUMeasured {
		cpu = fmtPct(h.CPUMaxPct)
	}
	if h.Reliable {
		p("HEALTH  reliable: schedule lag p99 %s ms, generator CPU max %s\n", fmtMS(h.LagP99MS), cpu)
	} else {
		p("HEALTH  UNRELIABLE results: schedule lag p99 %s ms, generator CPU max %s\n", fmtMS(h.LagP99MS), cpu)
		for _, r := range h.Reasons {
			p("  - %s\n", r)
		}
	}
	p("%s%s\n", s.StoreLine(), s.StatusLine())
	return ew.err
}

// FormatValue renders a threshold value in its unit: "45.2 ms", "2.10%",
// "120 req/s", "12".
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmtMS(v) + " ms"
	case "ratio":
		return fmtPct(100 * v)
	case "req/s":
		return fmtRate(v) + " req/s"
	case "count":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64) + " " + unit
}

// width returns the widest string's length in runes.
// stepWidth is the width of the step tables' first column: "scenario/step" and every step's name (wider than
// "TOTAL").
func stepWidth(steps []Step) int {
	names := []string{"scenario/step"}
	for _, st := range steps {
		names = append(names, st.Scenario+"/"+st.Step)
	}
	return width(names)
}

func width(ss []string) int {
	w := 0
	for _, s := range ss {
		w = max(w, utf8.RuneCountInString(s))
	}
	return w
}

func latencyCols(l Latency) string {
	return strings.Join([]string{fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P95), fmtMS(l.P99), fmtMS(l.P999), fmtMS(l.Max)}, "\t")
}

// fmtMS prints milliseconds with three significant figures or so: 0.123,
// 4.56, 45.6, 456, 4560.
func fmtMS(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case a < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func fmtPct(pct float64) string {
	if pct == 0 {
		return "0%"
	}
	if math.Abs(pct) < 10 {
		return strconv.FormatFloat(pct, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
}

func fmtRate(r float64) string {
	if r < 100 {
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

func fmtSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', 1, 64) + "s"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so the renderer can stay linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// timed reports whether any step has a timing breakdown (a response came).
func timed(steps []Step) bool {
	for _, st := range steps {
		if st.TimingMS.TTFB.Count > 0 || st.TimingMS.Connect.Count > 0 {
			return true
		}
	}
	return false
}

// pair renders a phase's p50 / p99, or "-" when no request went through it.
func pair(q Quantiles) string {
	if q.Count == 0 {
		return "-"
	}
	return fmtMS(q.P50) + " / " + fmtMS(q.P99)
}
