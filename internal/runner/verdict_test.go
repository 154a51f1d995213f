package runner

import (
	"testing"

	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// TestVerdictOf: the verdict stored and listed beside a run's status.
func TestVerdictOf(t *testing.T) {
	summary := func(status store.Status, ok ...bool) *report.Summary {
		s := &report.Summary{Header: report.Header{Status: status}}
		for _, o := range ok {
			s.Thresholds = append(s.Thresholds, report.Threshold{OK: o})
		}
		return s
	}
	bench := func(status store.Status, regressed bool) *BenchReport {
		return &BenchReport{Header: report.Header{Status: status}, Regression: regressed}
	}
	for _, tc := range []struct {
		name string
		rep  Report
		want store.Verdict
	}{
		{"load passed", summary(store.StatusCompleted, true), store.VerdictPassed},
		{"load no thresholds", summary(store.StatusCompleted), store.VerdictPassed},
		{"load threshold failed", summary(store.StatusCompleted, true, false), store.VerdictThresholdsFailed},
		{"aborted by a threshold", summary(store.StatusAborted, false), store.VerdictThresholdsFailed},
		{"target down", summary(store.StatusFailed, true), store.VerdictNone},
		{"interrupted", summary(store.StatusInterrupted), store.VerdictNone},
		{"benchmark regressed", bench(store.StatusCompleted, true), store.VerdictRegressed},
		{"benchmark unchanged", bench(store.StatusCompleted, false), store.VerdictPassed},
		{"benchmark failed", bench(store.StatusFailed, false), store.VerdictNone},
		{"stress completed", &StressReport{Header: report.Header{Status: store.StatusCompleted}}, store.VerdictPassed},
	} {
		if got := VerdictOf(tc.rep); got != tc.want {
			t.Errorf("%s: VerdictOf = %q; want %q", tc.name, got, tc.want)
		}
	}
}
