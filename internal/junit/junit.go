// Package junit writes a run's verdicts as JUnit XML, the test-report format every CI system reads: a load run's
// status and thresholds (one test case per threshold, a failure carrying the measured value) and the regression
// gate's per-step, per-quantile verdicts.
//
//	junit.WriteFile("loadgen.xml", junit.Summary(summary))          // loadgen run --out-junit (a load run)
//	junit.WriteFile("loadgen.xml", junit.Status(&rep.Header))       // a stress or knee run
//	junit.WriteFile("gate.xml", junit.Gate(result))                  // loadgen runs compare --gate --out-junit
package junit

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/bench"
	"github.com/loadlab/loadlab/internal/gate"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// Suite is one <testsuite>.
type Suite struct {
	XMLName   xml.Name `xml:"testsuite"`
	Name      string   `xml:"name,attr"`
	Tests     int      `xml:"tests,attr"`
	Failures  int      `xml:"failures,attr"`
	Errors    int      `xml:"errors,attr"`
	Skipped   int      `xml:"skipped,attr"`
	Time      float64  `xml:"time,attr"`
	Timestamp string   `xml:"timestamp,attr,omitempty"`
	Cases     []Case   `xml:"testcase"`
}

// Case is one <testcase>: passed, failed (Failure) or skipped (Skipped).
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      float64  `xml:"time,attr"`
	Failure   *Failure `xml:"failure,omitempty"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Failure says why a case failed: Message is one line, Text the details.
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Skipped says why a case was not judged.
type Skipped struct {
	Message string `xml:"message,attr"`
}

func (s *Suite) add(c Case) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

// Status renders any run's status as a suite with one case "status", failed unless the run completed (what a
// stress or knee run gives, and what a benchmark run's verdicts are added to).
func Status(h *report.Header) Suite {
	d := h.EndedAt.Sub(h.StartedAt).Seconds()
	if h.StartedAt.IsZero() || h.EndedAt.IsZero() {
		d = 0
	}
	return status(h, d)
}

func status(h *report.Header, seconds float64) Suite {
	suite := Suite{Name: "loadgen " + h.Plan, Time: round(seconds)}
	if !h.StartedAt.IsZero() {
		suite.Timestamp = h.StartedAt.UTC().Format(time.RFC3339)
	}
	c := Case{Name: "status", Classname: "loadgen." + h.Plan, Time: round(seconds),
		SystemOut: fmt.Sprintf("run %s: %s", h.RunID, h.Status)}
	if h.Status != store.StatusCompleted {
		c.Failure = &Failure{Message: fmt.Sprintf("run %s", h.Status), Type: string(h.Status), Text: h.Error}
	}
	suite.add(c)
	return suite
}

// Summary renders a load run's verdict: a case "status" (failed unless the run completed) and one case per
// threshold, in plan order, named by its expression; a failed threshold's message gives the measured value.
func Summary(s *report.Summary) Suite {
	suite := status(&s.Header, s.DurationS)
	class := "loadgen." + s.Plan
	for _, t := range s.Thresholds {
		c := Case{Name: "threshold " + t.Expr, Classname: class}
		measured := "measured " + report.FormatValue(t.Value, t.Unit)
		if t.Window != "" {
			measured += " (worst " + t.Window + " window)"
		}
		c.SystemOut = measured
		if !t.OK {
			msg := t.Expr + " failed: " + measured
			if t.Note != "" {
				msg += "; " + t.Note
			}
			if t.Aborted {
				msg += "; it ended the run (abort_on_fail)"
			}
			c.Failure = &Failure{Message: msg, Type: "threshold", Text: msg}
		}
		suite.add(c)
	}
	return suite
}

// Gate renders the regression gate's verdict: one case per step and quantile (p50, p95, p99), failed on a
// regression with the ratio and its interval, skipped when not tested.
func Gate(r *gate.Result) Suite {
	return Verdicts("loadgen gate "+r.New.ID+" vs "+r.Base.ID, r.Steps)
}

// Verdicts renders per-step bench verdicts (a gate's, or a benchmark run's per endpoint) as a suite.
func Verdicts(name string, steps []gate.Step) Suite {
	suite := Suite{Name: name}
	for _, s := range steps {
		class := "loadgen.gate." + s.Scenario
		if s.Verdict == nil {
			suite.add(Case{Name: s.Step, Classname: class,
				Skipped: &Skipped{Message: "not in the " + s.Missing + " run"}})
			continue
		}
		for _, q := range s.Verdict.Quantiles {
			c := Case{Name: s.Step + " " + q.Name, Classname: class}
			fig := fmt.Sprintf("%s: base %s, new %s", q.Name, fmtMs(q.Base), fmtMs(q.Cur))
			switch q.Change {
			case bench.NotTested:
				c.Skipped = &Skipped{Message: "too few samples above " + q.Name}
			case bench.Regression:
				msg := fmt.Sprintf("%s x%.3f, interval [%.3f, %.3f] above %.3f (tolerance %.0f%%, confidence %.0f%%)",
					fig, q.Ratio, q.Lo, q.Hi, 1+s.Verdict.Tolerance, 100*s.Verdict.Tolerance, 100*s.Verdict.Confidence)
				c.Failure = &Failure{Message: "regression: " + msg, Type: "regression", Text: msg}
			default:
				c.SystemOut = fmt.Sprintf("%s x%.3f [%.3f, %.3f] %s", fig, q.Ratio, q.Lo, q.Hi, q.Change)
			}
			suite.add(c)
		}
	}
	return suite
}

// Write writes the suites as one <testsuites> document.
func Write(w io.Writer, suites ...Suite) error {
	doc := struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []Suite  `xml:"testsuite"`
	}{Suites: suites}
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// WriteFile writes the suites to path ("-" for stdout).
func WriteFile(path string, suites ...Suite) error {
	if path == "-" {
		return Write(os.Stdout, suites...)
	}
	var b bytes.Buffer
	if err := Write(&b, suites...); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("junit file: %w", err)
	}
	return nil
}

func fmtMs(d time.Duration) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(d)/1e6), "0"), ".") + " ms"
}

func round(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }
