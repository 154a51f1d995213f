package runner

import (
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// Exit codes of a run's end: what loadgen run|bench|stress|knee and loadgen runs watch exit with (2, a bad plan or
// flags, is the commands' own).
const (
	ExitPassed  = 0
	ExitFailed  = 1
	ExitVerdict = 3
)

// ExitCode maps how a run ended to its exit code, the one mapping of every command: ExitPassed when it completed
// and its verdict held; ExitVerdict when it completed but its verdict failed (a threshold, a benchmark regression)
// or a rolling threshold aborted it (abort_on_fail); ExitFailed for anything else: failed, interrupted, or aborted
// by a cancel (over the control API).
func ExitCode(status store.Status, verdictHeld, thresholdAborted bool) int {
	switch {
	case status == store.StatusCompleted && verdictHeld:
		return ExitPassed
	case status == store.StatusCompleted, status == store.StatusAborted && thresholdAborted:
		return ExitVerdict
	}
	return ExitFailed
}

// ExitCodeOf is the ExitCode of a run's report.
func ExitCodeOf(rep Report) int {
	aborted := false
	if s, ok := rep.(*report.Summary); ok {
		for _, t := range s.Thresholds {
			aborted = aborted || t.Aborted
		}
	}
	return ExitCode(rep.Head().Status, rep.Passed(), aborted)
}

// VerdictOf is the verdict a run's report is stored and listed with: thresholds_failed when a threshold failed
// (whatever the status: an abort_on_fail threshold aborts the run), regressed when a completed benchmark regressed,
// passed when it completed and its verdict held, none otherwise (the status says why).
func VerdictOf(rep Report) store.Verdict {
	if s, ok := rep.(*report.Summary); ok && !s.ThresholdsOK() {
		return store.VerdictThresholdsFailed
	}
	if rep.Head().Status != store.StatusCompleted {
		return store.VerdictNone
	}
	if rep.Passed() {
		return store.VerdictPassed
	}
	if b, ok := rep.(*BenchReport); ok && b.Regression {
		return store.VerdictRegressed
	}
	return store.VerdictNone
}
