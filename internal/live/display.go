package live

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// Display shows a run's progress as it goes: Update about once a second, Close when the run ended (before its
// report is printed).
type Display interface {
	Update(s Snapshot)
	Close()
}

// For returns the display for w: a Terminal that redraws in place when IsTerminal(w, getenv), else Plain.
func For(w io.Writer, getenv func(string) string) Display {
	if !IsTerminal(w, getenv) {
		return NewPlain(w)
	}
	fd := int(w.(fder).Fd())
	return NewTerminal(w, func() int {
		cols, _, err := term.GetSize(fd)
		if err != nil {
			return 0
		}
		return cols
	})
}

type fder interface{ Fd() uintptr }

// IsTerminal reports whether progress written to w may be redrawn in place: w is a file open on a terminal, and
// the environment (read with getenv) asks for nothing plainer: NO_COLOR unset, TERM not "dumb", and no CI
// variable (set by CI services; "false" and "0" count as unset).
func IsTerminal(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(fder)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	switch getenv("CI") {
	case "", "false", "0":
		return true
	}
	return false
}

// Plain writes one progress line per update (Line): readable in a log, a pipe or CI.
type Plain struct{ w io.Writer }

// NewPlain returns a Plain display writing to w.
func NewPlain(w io.Writer) *Plain { return &Plain{w: w} }

// Update writes s's line.
func (p *Plain) Update(s Snapshot) { io.WriteString(p.w, Line(s)) }

// Close does nothing: the lines stay.
func (p *Plain) Close() {}

// Line is the plain progress line of s, ending with a newline: elapsed and planned time, phase, achieved rate
// (and the rate asked, open model), VUs (closed model), p99, requests, errors, in-flight requests, drops, and
// whether the target is unreachable.
func Line(s Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s/%s] ", FormatDuration(seconds(s.ElapsedS)), FormatDuration(seconds(s.TotalS)))
	if s.Phase != "" {
		fmt.Fprintf(&b, "phase %s  ", s.Phase)
	}
	fmt.Fprintf(&b, "rate %.1f req/s", s.AchievedRPS)
	if s.IntendedRate > 0 {
		b.WriteString(targetRate(s))
	}
	if s.Model == "closed" {
		fmt.Fprintf(&b, "  vus %d/%d", s.VUs, s.TargetVUs)
	}
	fmt.Fprintf(&b, "  p99 %s  requests %d  errors %d", FormatLatency(s.P99Ms), s.Requests, s.Errors)
	if s.Requests > 0 {
		fmt.Fprintf(&b, " (%.2f%%)", 100*float64(s.Errors)/float64(s.Requests))
	}
	fmt.Fprintf(&b, "  in-flight %d", s.InFlight)
	if s.Dropped > 0 {
		fmt.Fprintf(&b, "  dropped %d", s.Dropped)
	}
	if s.Unreachable {
		b.WriteString("  TARGET UNREACHABLE")
	}
	b.WriteByte('\n')
	return b.String()
}

// FormatDuration formats an elapsed time: "12.3s" under a minute, else "1m5s".
func FormatDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// FormatLatency formats a latency in milliseconds: "3.46ms", "45.2ms", "2.50s".
func FormatLatency(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// Terminal layout.
const (
	// BarWidth is the width of a phase's bar, in cells.
	BarWidth = 24
	// MaxPhaseLines bounds the phase lines of a frame; a longer schedule shows a window around the current phase.
	MaxPhaseLines = 8
)

// ANSI sequences the Terminal writes.
const (
	csi       = "\x1b["
	clearLine = csi + "K" // erase to the end of the line
	clearDown = csi + "J" // erase to the end of the screen
	bold      = csi + "1m"
	red       = csi + "31m"
	reset     = csi + "0m"
)

// Terminal redraws the progress in place on a terminal: a line per phase with a bar (time done of the phase's
// planned time; the current phase marked ▶), the rate achieved and asked, p99, in-flight requests or VUs, requests
// and errors by reason. Each Update replaces the previous frame (the cursor moves up over it); lines are cut to
// the terminal's width so that none wraps. Text written through Above appears above the frame. Close erases the
// frame, so that what follows (the report) prints where it was. A Terminal is safe for concurrent use.
type Terminal struct {
	w     io.Writer
	width func() int // columns, 0 when unknown

	mu     sync.Mutex
	lines  int // lines of the frame on the screen
	last   *Snapshot
	closed bool
}

// NewTerminal returns a Terminal writing to w; width returns the terminal's columns (0: unknown, lines are not cut).
func NewTerminal(w io.Writer, width func() int) *Terminal { return &Terminal{w: w, width: width} }

// Update draws s over the previous frame.
func (t *Terminal) Update(s Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.last = &s
	var b bytes.Buffer
	t.up(&b)
	t.frame(&b, s)
	b.WriteString(clearDown)
	t.w.Write(b.Bytes())
}

// Close erases the frame; later updates are ignored.
func (t *Terminal) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	var b bytes.Buffer
	t.up(&b)
	b.WriteString(clearDown)
	t.w.Write(b.Bytes())
}

// Above returns a writer whose lines appear above the frame (the frame is erased, the lines written to w, the
// frame drawn again below them). An incomplete last line waits for its newline. w is typically the terminal the
// frame is on (through another file: stdout when the frame is on stderr).
func (t *Terminal) Above(w io.Writer) io.Writer { return &above{t: t, w: w} }

type above struct {
	t       *Terminal
	w       io.Writer
	partial []byte
}

func (a *above) Write(p []byte) (int, error) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed { // no frame any more: straight through
		buf := append(a.partial, p...)
		a.partial = nil
		if _, err := a.w.Write(buf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	a.partial = append(a.partial, p...)
	i := bytes.LastIndexByte(a.partial, '\n')
	if i < 0 {
		return len(p), nil
	}
	if t.lines > 0 {
		var b bytes.Buffer
		t.up(&b)
		b.WriteString(clearDown)
		t.w.Write(b.Bytes())
		t.lines = 0
	}
	_, err := a.w.Write(a.partial[:i+1])
	a.partial = append(a.partial[:0], a.partial[i+1:]...)
	if t.last != nil {
		var b bytes.Buffer
		t.frame(&b, *t.last)
		b.WriteString(clearDown)
		t.w.Write(b.Bytes())
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// up moves the cursor to the first line of the frame on the screen.
func (t *Terminal) up(b *bytes.Buffer) {
	if t.lines > 0 {
		fmt.Fprintf(b, "%s%dA\r", csi, t.lines)
	}
	t.lines = 0
}

// frame writes the lines of s, each erasing what was left of the line before, and counts them.
func (t *Terminal) frame(b *bytes.Buffer, s Snapshot) {
	cols := 0
	if t.width != nil {
		cols = t.width()
	}
	for _, l := range Frame(s) {
		text := l.Text
		if cols > 1 && utf8.RuneCountInString(text) > cols-1 {
			text = string([]rune(text)[:cols-1])
		}
		switch l.Style {
		case StyleCurrent:
			text = bold + text + reset
		case StyleAlert:
			text = red + text + reset
		}
		b.WriteString(text)
		b.WriteString(clearLine + "\n")
		t.lines++
	}
}

// Line styles of a frame.
const (
	StylePlain = iota
	StyleCurrent
	StyleAlert
)

// FrameLine is one line of a terminal frame, without escapes.
type FrameLine struct {
	Text  string
	Style int
}

// Frame is the terminal view of s, line by line.
func Frame(s Snapshot) []FrameLine {
	var out []FrameLine
	cur := s.PhaseIndex
	if !s.Running {
		cur = -1
	}
	n := len(s.Phases)
	first, last := 0, n
	if n > MaxPhaseLines {
		c := max(cur, 0)
		if !s.Running && s.ElapsedS > 0 {
			c = n - 1
		}
		first = min(max(c-MaxPhaseLines/2+1, 0), n-MaxPhaseLines)
		last = first + MaxPhaseLines
	}
	nameW := 0
	for _, p := range s.Phases[first:last] {
		nameW = max(nameW, min(utf8.RuneCountInString(p.Name), 20))
	}
	if first > 0 {
		out = append(out, FrameLine{Text: fmt.Sprintf("  ... %d phase(s) before", first)})
	}
	start := 0.0
	for i, p := range s.Phases {
		if i >= first && i < last {
			done := math.Min(math.Max(s.ElapsedS-start, 0), p.DurationS)
			frac := 1.0
			if p.DurationS > 0 {
				frac = done / p.DurationS
			}
			fill := int(math.Round(frac * BarWidth))
			mark, style := "  ", StylePlain
			if i == cur {
				mark, style = "▶ ", StyleCurrent
			}
			name := p.Name
			if utf8.RuneCountInString(name) > 20 {
				name = string([]rune(name)[:19]) + "…"
			}
			out = append(out, FrameLine{Style: style, Text: fmt.Sprintf("%s%-*s %s%s %s/%s", mark, nameW, name,
				strings.Repeat("█", fill), strings.Repeat("░", BarWidth-fill),
				FormatDuration(seconds(done)), FormatDuration(seconds(p.DurationS)))})
		}
		start += p.DurationS
	}
	if last < n {
		out = append(out, FrameLine{Text: fmt.Sprintf("  ... %d phase(s) after", n-last)})
	}

	var b strings.Builder
	fmt.Fprintf(&b, "rate %.1f req/s", s.AchievedRPS)
	if s.IntendedRate > 0 {
		b.WriteString(targetRate(s))
	}
	fmt.Fprintf(&b, "  p99 %s", FormatLatency(s.P99Ms))
	if s.Model == "closed" {
		fmt.Fprintf(&b, "  vus %d/%d", s.VUs, s.TargetVUs)
	} else {
		fmt.Fprintf(&b, "  in-flight %d", s.InFlight)
	}
	out = append(out, FrameLine{Text: b.String()})

	b.Reset()
	fmt.Fprintf(&b, "requests %d  errors %d", s.Requests, s.Errors)
	if s.Requests > 0 {
		fmt.Fprintf(&b, " (%.2f%%", 100*float64(s.Errors)/float64(s.Requests))
		if reasons := topReasons(s.ErrorsByReason, 3); reasons != "" {
			b.WriteString(": " + reasons)
		}
		b.WriteByte(')')
	}
	if s.Dropped > 0 {
		fmt.Fprintf(&b, "  dropped %d", s.Dropped)
	}
	fmt.Fprintf(&b, "  [%s/%s]", FormatDuration(seconds(s.ElapsedS)), FormatDuration(seconds(s.TotalS)))
	out = append(out, FrameLine{Text: b.String()})
	if s.Unreachable {
		out = append(out, FrameLine{Style: StyleAlert,
			Text: "TARGET UNREACHABLE: every request of the last 2s got no response"})
	}
	return out
}

// topReasons is "status 10, timeout 2": the k commonest reasons, most first (ties by name).
func topReasons(m map[string]uint64, k int) string {
	type rc struct {
		r string
		n uint64
	}
	var rs []rc
	for r, n := range m {
		if n > 0 {
			rs = append(rs, rc{r, n})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n || rs[i].n == rs[j].n && rs[i].r < rs[j].r })
	var parts []string
	for i, x := range rs {
		if i == k {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.r, x.n))
	}
	return strings.Join(parts, ", ")
}

// targetRate is the rate asked, " (target 100.0 it/s)", with the request rate it means when an iteration is more
// than one request: " (target 100.0 it/s = 300.0 req/s)".
func targetRate(s Snapshot) string {
	if k := s.RequestsPerIteration; k > 0 && k != 1 {
		return fmt.Sprintf(" (target %.1f it/s = %.1f req/s)", s.IntendedRate, s.IntendedRate*k)
	}
	return fmt.Sprintf(" (target %.1f it/s)", s.IntendedRate)
}
