package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLimitsInclusive: every limit is itself accepted, and one past it is
// refused with a message naming it.
func TestLimitsInclusive(t *testing.T) {
	open := func(mif, rate, to string, dur string) string {
		return fmt.Sprintf(`name: x
target: http://127.0.0.1:1
defaults: {timeout: %s}
scenarios: [{name: s, weight: %d, think: %s, steps: [{request: {path: /}}]}]
load: {model: open, max_in_flight: %s, phases: [{name: a, duration: %s, rate: %s, to: %s}]}
`, MaxTimeout, MaxWeight, MaxThink, mif, dur, rate, to)
	}
	closed := func(vus, to string) string {
		return fmt.Sprintf(`name: x
target: http://127.0.0.1:1
scenarios: [{steps: [{request: {path: /}}]}]
load: {model: closed, phases: [{name: a, duration: 1s, vus: %s, to: %s}]}
`, vus, to)
	}
	at := func(x float64) string { return fmtNum(x) }
	for _, c := range []struct {
		name, yaml, err string // err "" = valid
	}{
		{"open at the limits", open(at(MaxInFlight), at(MaxRate), at(MaxRate), MaxDuration.String()), ""},
		{"rate per minute at the limit", open("1", `"60000000/m"`, "0", "1s"), ""},
		{"rate per minute past it", open("1", `"60000060/m"`, "0", "1s"), "load.phases[0].rate: must be <= 1000000 (got 1000001)"},
		{"max_in_flight past it", open(at(MaxInFlight+1), "1", "1", "1s"), "load.max_in_flight: must be <= 100000 (got 100001)"},
		{"duration past it", open("1", "1", "1", (MaxDuration + time.Second).String()), "load.phases[0].duration: must be <= 168h0m0s (got 168h0m1s)"},
		{"negative rate", open("1", "-1", "1", "1s"), "load.phases[0].rate: must be >= 0"},
		{"NaN rate", open("1", ".nan", "1", "1s"), "load.phases[0].rate: must be a number (got .nan)"},
		{"NaN rate string", open("1", `"NaN/s"`, "1", "1s"), `load.phases[0].rate: invalid rate "NaN"`},
		{"Inf rate string", open("1", `"Inf/m"`, "1", "1s"), "load.phases[0].rate: must be <= 1000000 (got +Inf)"},
		{"closed at the limits", closed(at(MaxVUs), at(MaxVUs)), ""},
		{"closed integral float", closed("1e3", "2e3"), ""},
		{"vus past it", closed(at(MaxVUs+1), "0"), "load.phases[0].vus: must be <= 100000 (got 100001)"},
		{"vus hex", closed("0x10", "0"), ""},
		{"to past it", closed("1", at(MaxVUs+1)), "load.phases[0].to: must be <= 100000 (got 100001)"},
		{"to NaN", closed("1", ".nan"), "load.phases[0].to: must be a number (got .nan)"},
		{"timeout past it", strings.Replace(open("1", "1", "1", "1s"), "timeout: 10m0s", "timeout: 10m1s", 1),
			"defaults.timeout: must be <= 10m0s (got 10m1s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.yaml), WithFS(nil))
			switch {
			case c.err == "" && err != nil:
				t.Errorf("Parse = %v; want valid\n%s", err, c.yaml)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("Parse = %v; want an error containing %q\n%s", err, c.err, c.yaml)
			}
		})
	}
}

// TestDataFileLimits: a CSV data file must be a regular file of at most
// MaxDataBytes bytes and MaxDataRows rows; a named pipe or /dev/zero is
// refused without being read (Parse would otherwise never return).
func TestDataFileLimits(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.csv")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxDataBytes+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	var rows strings.Builder
	rows.WriteString("n\n")
	for range MaxDataRows + 1 {
		rows.WriteString("1\n")
	}
	tall := filepath.Join(dir, "tall.csv")
	if err := os.WriteFile(tall, []byte(rows.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ csv, err string }{
		{fifo, "not a regular file (a named pipe)"},
		{"pipe.csv", "not a regular file (a named pipe)"}, // relative to the plan
		{"/dev/zero", "not a regular file (a character device)"},
		{dir, "not a regular file (a directory)"},
		{big, fmt.Sprintf("must be <= %d bytes (got %d)", MaxDataBytes, MaxDataBytes+1)},
		{tall, fmt.Sprintf("must be <= %d rows (got more)", MaxDataRows)},
	} {
		t.Run(filepath.Base(c.csv), func(t *testing.T) {
			yaml := fmt.Sprintf("name: x\ntarget: http://127.0.0.1:1\ndata: {d: {csv: %q}}\n"+
				"scenarios: [{steps: [{request: {path: /}}]}]\nload: {phases: [{name: a, duration: 1s, rate: 1}]}\n", c.csv)
			done := make(chan error, 1)
			go func() {
				_, err := Parse(filepath.Join(dir, "plan.yaml"), []byte(yaml))
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "data.d.csv: ") || !strings.Contains(err.Error(), c.err) {
					t.Errorf("Parse = %v; want data.d.csv: ...: %s", err, c.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Parse is still reading %s", c.csv)
			}
		})
	}
}

// TestLoadFileBounded: a plan path that is a device is read only up to the
// plan size limit.
func TestLoadFileBounded(t *testing.T) {
	_, err := LoadFile("/dev/zero")
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), fmt.Sprintf("the limit is %d", MaxPlanSize)) {
		t.Fatalf("LoadFile(/dev/zero) = %v; want the plan size limit", err)
	}
}

// TestIntsThroughAliases: a number reached through an alias is checked like
// one written in place, and aliases repeated into a huge tree are not walked
// for ever.
func TestIntsThroughAliases(t *testing.T) {
	y := `name: x
target: http://127.0.0.1:1
scenarios:
  - {name: a, weight: &w 1.5, steps: [{request: {path: /}}]}
  - {name: b, weight: *w, steps: [{request: {path: /}}]}
load: {phases: [{name: a, duration: 1s, rate: 1}]}
`
	_, err := Parse("x.yaml", []byte(y), WithFS(nil))
	for _, want := range []string{"scenarios[0].weight: must be a whole number (got 1.5)", "scenarios[1].weight: must be a whole number (got 1.5)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v; want %q", err, want)
		}
	}

	var b strings.Builder
	b.WriteString("name: x\ntarget: http://127.0.0.1:1\nscenarios:\n  - steps:\n    - &s {request: {path: /}, check: {status: &l [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("200")
	}
	b.WriteString("]}}\n")
	for range 2000 {
		b.WriteString("    - {request: {path: /}, check: {status: *l}}\n")
	}
	start := time.Now()
	_, err = Parse("x.yaml", []byte(b.String()), WithFS(nil))
	if err == nil {
		t.Error("Parse accepted 2000 x 2000 aliased status codes")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Parse took %v on an alias bomb", took)
	}
}
