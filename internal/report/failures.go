package report

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/loadlab/loadlab/internal/executor"
)

// This file holds why requests failed: each step's top failure reasons with
// samples, the pass rate of each check, the latency of failed requests and
// the requests the run itself cancelled. It is kept apart from the rest of
// the summary (FromResults and WriteText call it in one place each).

// MaxTopReasons and MaxReasonSamples bound a step's Failures: its most
// frequent reasons, each with its first samples.
const (
	MaxTopReasons    = 3
	MaxReasonSamples = 2
)

// ReasonCount is one failure reason of a step: how many requests failed for it
// and examples of them.
type ReasonCount struct {
	Reason  string        `json:"reason"`
	Count   uint64        `json:"count"`
	Samples []ErrorSample `json:"samples,omitempty"`
}

// CheckResult is one explicit check of a step (status, max_latency,
// body_contains, one per json path) and how many responses passed it. Every
// check is applied to every response, so each has its own pass rate.
type CheckResult struct {
	Scenario string  `json:"scenario"`
	Step     string  `json:"step"`
	Name     string  `json:"name"`      // "status in [200]", "json $.token exists"
	Checked  uint64  `json:"checked"`   // responses judged (requests that got a response)
	Passed   uint64  `json:"passed"`    //
	PassRate float64 `json:"pass_rate"` // 0-1; 1 when nothing was judged
}

// fillFailures adds the failure figures of res to s: canceled requests,
// failed requests' latency, per-step top reasons with samples, check pass
// rates and which requests the latency figures cover.
func fillFailures(s *Summary, res *executor.Results, latencyOf string) {
	if latencyOf == "" {
		latencyOf = "successful"
	}
	s.LatencyOf = latencyOf
	if t := res.Total; t != nil {
		s.Canceled = t.Canceled
		if t.FailedLatency != nil && t.FailedLatency.Count() > 0 {
			l := LatencyOf(t.FailedLatency)
			s.FailedLatencyMS = &l
		}
	}
	for i, c := range res.Steps {
		if i >= len(s.Steps) {
			break
		}
		st := &s.Steps[i]
		st.Canceled, st.Skipped = c.Canceled, c.Skipped
		if c.FailedLatency != nil && c.FailedLatency.Count() > 0 {
			l := LatencyOf(c.FailedLatency)
			st.FailedLatencyMS = &l
		}
		st.Failures = topFailures(c, s.ErrorSamples)
		for _, ck := range c.Checks {
			cr := CheckResult{Scenario: c.Scenario, Step: c.Step, Name: ck.Name, Checked: ck.Checked,
				Passed: ck.Checked - min(ck.Failed, ck.Checked), PassRate: 1}
			if ck.Checked > 0 {
				cr.PassRate = float64(cr.Passed) / float64(cr.Checked)
			}
			s.Checks = append(s.Checks, cr)
		}
	}
}

// topFailures returns c's most frequent failure reasons (at most
// MaxTopReasons), each with its first samples among samples.
func topFailures(c *executor.Cell, samples []ErrorSample) []ReasonCount {
	var out []ReasonCount
	for r, n := range c.ErrorsByReason {
		if n > 0 {
			out = append(out, ReasonCount{Reason: executor.Reason(r).String(), Count: n})
		}
	}
	slices.SortStableFunc(out, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	if len(out) > MaxTopReasons {
		out = out[:MaxTopReasons]
	}
	for i := range out {
		for _, es := range samples {
			if es.Scenario == c.Scenario && es.Step == c.Step && es.Reason == out[i].Reason &&
				len(out[i].Samples) < MaxReasonSamples {
				out[i].Samples = append(out[i].Samples, es)
			}
		}
	}
	return out
}

// writeLatencyApart writes what the latency lines leave out: failed
// requests' latency (when the figures are of successful requests) and the
// requests the run cancelled.
func (s *Summary) writeLatencyApart(ew *errWriter) {
	if l := s.FailedLatencyMS; l != nil {
		what := "not in the figures above"
		if s.LatencyOf == "all" {
			what = "also in the figures above: latency_of all"
		}
		ew.printf("failed requests (ms, %s) p50 %s  p90 %s  p99 %s  max %s  mean %s\n", what,
			fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max), fmtMS(l.Mean))
	}
	if s.Canceled > 0 {
		ew.printf("canceled %d (cut short by the run's end: neither requests nor errors)\n", s.Canceled)
	}
}

// writeFailures writes the FAILURES section: for each step with failures,
// its top reasons and a few samples of each (the check that failed, the
// status, the message).
func (s *Summary) writeFailures(ew *errWriter) {
	any := false
	for _, st := range s.Steps {
		if len(st.Failures) > 0 || st.Skipped > 0 {
			any = true
		}
	}
	if !any {
		return
	}
	ew.printf("\nFAILURES (top reasons per step, with samples)\n")
	for _, st := range s.Steps {
		if st.Skipped > 0 {
			ew.printf("  %s/%s  not sent in %d iteration(s): an earlier step failed (on_failure)\n", st.Scenario, st.Step, st.Skipped)
		}
		if len(st.Failures) == 0 {
			continue
		}
		ew.printf("  %s/%s  %d of %d failed (%s)\n", st.Scenario, st.Step, st.Errors, st.Requests, fmtPct(100*st.ErrorRate))
		for _, f := range st.Failures {
			ew.printf("    %-8s %d\n", f.Reason, f.Count)
			for _, es := range f.Samples {
				ew.printf("      e.g. %s\n", es.describe())
			}
		}
	}
}

// describe is one sample as FAILURES prints it: `status 500, check [status
// in [200]]: status 500 not in [200] (×800, first at 1.2s in sustained)`.
func (es ErrorSample) describe() string {
	var b strings.Builder
	if es.Status != 0 {
		fmt.Fprintf(&b, "status %d", es.Status)
	} else {
		b.WriteString("no response")
	}
	if es.Check != "" {
		b.WriteString(", check [" + es.Check + "]")
	}
	fmt.Fprintf(&b, ": %s (×%d, first at %ss", es.Message, es.Count, fmtFloat(es.AtS))
	if es.Phase != "" {
		b.WriteString(" in " + es.Phase)
	}
	b.WriteString(")")
	return b.String()
}

// writeChecks writes the CHECKS section: every explicit check of every step
// with its pass rate, as k6 users expect ("✓ status in [200]  99.2%").
func (s *Summary) writeChecks(ew *errWriter) {
	if len(s.Checks) == 0 {
		return
	}
	ew.printf("\nCHECKS (passed of responses judged)\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, c := range s.Checks {
		mark := "✓"
		if c.Passed < c.Checked {
			mark = "✗"
		}
		fmt.Fprintf(tw, "  %s %s/%s\t%s\t%s\t%d / %d\n", mark, c.Scenario, c.Step, c.Name, fmtPct(100*c.PassRate), c.Passed, c.Checked)
	}
	if err := tw.Flush(); err != nil {
		ew.err = err
	}
}

func fmtFloat(v float64) string { return fmt.Sprintf("%.1f", v) }
