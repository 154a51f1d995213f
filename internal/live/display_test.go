package live

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/loadlab/loadlab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// snapshots is a fixed run as the runner shows it: three phases, errors by reason, a line printed above the frame
// in the middle, a target that goes away, the end.
func snapshots() []Snapshot {
	phases := []Phase{{"warm-up", 2}, {"steady", 6}, {"cool-down", 2}}
	base := Snapshot{Engine: 1, Running: true, TotalS: 10, Model: "open", Phases: phases}
	at := func(el float64, idx int, reqs, errs uint64, by map[string]uint64, rate, achieved, p99 float64) Snapshot {
		s := base
		s.ElapsedS, s.PhaseIndex, s.Requests, s.Errors, s.ErrorsByReason = el, idx, reqs, errs, by
		s.Phase = phases[idx].Name
		s.IntendedRate, s.AchievedRPS, s.P99Ms, s.InFlight = rate, achieved, p99, 3
		return s
	}
	out := []Snapshot{
		at(1, 0, 50, 0, nil, 50, 50, 3.2),
		at(3, 1, 300, 2, map[string]uint64{"status": 2}, 200, 198, 12.5),
		at(5.5, 1, 800, 40, map[string]uint64{"status": 30, "timeout": 8, "check": 1, "reset": 1}, 200, 190, 1250),
	}
	down := at(8.5, 2, 1100, 300, map[string]uint64{"connect": 260, "status": 40}, 50, 0, 0.9)
	down.Unreachable, down.Dropped = true, 12
	end := at(10, 2, 1150, 350, map[string]uint64{"connect": 310, "status": 40}, 0, 0, 0.9)
	end.Running, end.PhaseIndex, end.Phase = false, -1, ""
	return append(out, down, end)
}

// TestTerminalGolden: the ANSI output of the terminal view for a fixed sequence of snapshots, with a line printed
// above the frame and the frame erased at the end. testdata/terminal.golden holds the escapes as they are written.
func TestTerminalGolden(t *testing.T) {
	var b bytes.Buffer
	term := NewTerminal(&b, func() int { return 100 })
	above := term.Above(&b)
	for i, s := range snapshots() {
		term.Update(s)
		if i == 1 {
			fmt.Fprint(above, "a line printed while the run goes on")
			fmt.Fprint(above, " (in two writes)\n")
		}
	}
	term.Close()
	fmt.Fprintln(above, "the report, below")
	got := b.Bytes()
	testenv.Golden(t, "testdata/terminal.golden", got, *update)
	// Redraws move the cursor up over the previous frame; the frame is erased at the end.
	if n := bytes.Count(got, []byte("\x1b[")); n == 0 || !bytes.Contains(got, []byte("A\r")) {
		t.Errorf("no cursor movement in the terminal output")
	}
	if !bytes.HasSuffix(got, []byte("\x1b[J"+"the report, below\n")) {
		t.Errorf("the frame is not erased before what follows:\n%q", got[max(0, len(got)-120):])
	}
}

// TestTerminalCutsLines: no line of a frame is wider than the terminal (it would wrap, and the next redraw would
// move up too few lines).
func TestTerminalCutsLines(t *testing.T) {
	var b bytes.Buffer
	term := NewTerminal(&b, func() int { return 40 })
	s := snapshots()[2]
	s.Phases = append(s.Phases, Phase{Name: strings.Repeat("very-long-phase-name-", 5), DurationS: 1})
	term.Update(s)
	for _, l := range strings.Split(b.String(), "\n") {
		plain := l
		for _, esc := range []string{clearLine, clearDown, bold, red, reset} {
			plain = strings.ReplaceAll(plain, esc, "")
		}
		if n := len([]rune(plain)); n > 39 {
			t.Errorf("line of %d cells on a 40-column terminal: %q", n, plain)
		}
	}
}

// TestFrameWindow: a schedule of many phases shows at most MaxPhaseLines of them, around the current one.
func TestFrameWindow(t *testing.T) {
	var phases []Phase
	for i := range 20 {
		phases = append(phases, Phase{Name: fmt.Sprintf("p%02d", i), DurationS: 1})
	}
	s := Snapshot{Running: true, Phases: phases, PhaseIndex: 12, Phase: "p12", ElapsedS: 12.5, TotalS: 20}
	lines := Frame(s)
	var text []string
	cur := ""
	for _, l := range lines {
		text = append(text, l.Text)
		if l.Style == StyleCurrent {
			cur = l.Text
		}
	}
	all := strings.Join(text, "\n")
	if n := strings.Count(all, "█") + strings.Count(all, "░"); n != MaxPhaseLines*BarWidth {
		t.Errorf("%d bar cells; want %d phases of %d:\n%s", n, MaxPhaseLines, BarWidth, all)
	}
	if !strings.HasPrefix(cur, "▶ p12") || !strings.Contains(all, "phase(s) before") || !strings.Contains(all, "phase(s) after") {
		t.Errorf("frame around phase 12:\n%s", all)
	}
}

// TestPlainLine: Plain writes Line, once per update, and nothing at Close.
func TestPlainLine(t *testing.T) {
	var b bytes.Buffer
	p := NewPlain(&b)
	ss := snapshots()
	for _, s := range ss {
		p.Update(s)
	}
	p.Close()
	if got := strings.Count(b.String(), "\n"); got != len(ss) {
		t.Errorf("%d lines for %d updates:\n%s", got, len(ss), b.String())
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("escape sequences in the plain display")
	}
	want := "[5.5s/10.0s] phase steady  rate 190.0 req/s (target 200.0 it/s)  p99 1.25s  requests 800  errors 40 (5.00%)  in-flight 3\n"
	if l := Line(ss[2]); l != want {
		t.Errorf("Line = %q; want %q", l, want)
	}
	// A journey of three requests: the request rate asked beside the iterations/s.
	s3 := ss[2]
	s3.RequestsPerIteration = 3
	if l := Line(s3); !strings.Contains(l, "rate 190.0 req/s (target 200.0 it/s = 600.0 req/s)") {
		t.Errorf("Line with 3 requests per iteration = %q; want the target in req/s too", l)
	}
}

// TestIsTerminal: only a terminal, and only when the environment does not ask for plain output.
func TestIsTerminal(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if IsTerminal(&bytes.Buffer{}, env()) || IsTerminal(io.Discard, env()) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f, env()) {
		t.Error("a regular file is a terminal")
	}
	if _, ok := For(f, env("TERM", "xterm")).(*Plain); !ok {
		t.Error("For(file) is not Plain")
	}
	_, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty on this system: %v", err)
	}
	defer tty.Close()
	for _, c := range []struct {
		env  func(string) string
		want bool
	}{
		{env("TERM", "xterm"), true},
		{env(), true},
		{env("TERM", "xterm", "CI", "false"), true},
		{env("TERM", "xterm", "CI", "true"), false},
		{env("TERM", "xterm", "CI", "1"), false},
		{env("TERM", "xterm", "NO_COLOR", "1"), false},
		{env("TERM", "dumb"), false},
	} {
		if got := IsTerminal(tty, c.env); got != c.want {
			t.Errorf("IsTerminal(pty, TERM=%q CI=%q NO_COLOR=%q) = %v; want %v", c.env("TERM"), c.env("CI"), c.env("NO_COLOR"), got, c.want)
		}
	}
	if _, ok := For(tty, env("TERM", "xterm")).(*Terminal); !ok {
		t.Error("For(pty) is not a Terminal")
	}
}
