package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/creack/pty"

	"github.com/loadlab/loadlab/internal/testenv"
)

// TestRunRedrawsOnATerminal: loadgen run on a terminal (a pty) redraws its progress in place (cursor-up
// sequences, a bar per phase) and erases it before the summary; piped, it prints the plain line with no escape
// sequence. (CI, NO_COLOR and TERM=dumb on a terminal: internal/live's TestIsTerminal.)
func TestRunRedrawsOnATerminal(t *testing.T) {
	url := startTarget(t)
	planPath := writePlan(t, "") // 2 s at 50/s
	args := []string{"run", "--metrics-addr", "off", "--store", "off", "--target", url, planPath}

	onPTY := func(t *testing.T) string {
		t.Helper()
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty on this system: %v", err)
		}
		defer ptmx.Close()
		var out bytes.Buffer
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the terminal's side: read everything written to it
			defer wg.Done()
			io.Copy(&out, ptmx)
		}()
		var stdout testenv.SyncBuffer
		if code := run(args, &stdout, tty); code != exitOK {
			t.Errorf("loadgen run on a pty = exit %d; want 0\n%s", code, stdout.String())
		}
		tty.Close()
		ptmx.Close()
		wg.Wait()
		if !strings.Contains(stdout.String(), "PASSED") {
			t.Errorf("no summary on stdout:\n%s", stdout.String())
		}
		return out.String()
	}

	t.Run("terminal", func(t *testing.T) {
		t.Setenv("CI", "")
		t.Setenv("NO_COLOR", "")
		t.Setenv("TERM", "xterm")
		out := onPTY(t)
		if !strings.Contains(out, "\x1b[") || !strings.Contains(out, "A\r") {
			t.Errorf("no cursor-up redraw on the terminal:\n%q", out)
		}
		if !strings.Contains(out, "▶ steady") || !strings.Contains(out, "█") {
			t.Errorf("no phase bar on the terminal:\n%q", out)
		}
		if !strings.HasSuffix(out, "\x1b[J") {
			t.Errorf("the frame is not erased at the end:\n%q", out[max(0, len(out)-200):])
		}
	})
	t.Run("piped", func(t *testing.T) {
		t.Setenv("CI", "")
		var stdout, stderr testenv.SyncBuffer
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		if out := stderr.String(); strings.Contains(out, "\x1b[") || !strings.Contains(out, "] phase steady  rate ") {
			t.Errorf("want the plain progress line, no escapes:\n%q", out)
		}
	})
}
