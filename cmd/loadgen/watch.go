package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/control"
	"github.com/loadlab/loadlab/internal/live"
)

// Following a run's stream.
const (
	// watchRetries is how many times in a row runs watch tries to reconnect to a stream that broke (resuming
	// where it was, with Last-Event-ID), watchRetryWait apart, before it gives up.
	watchRetries   = 10
	watchRetryWait = time.Second
	// maxEventBytes bounds one event of the stream (the end event carries the summary and the report's text).
	maxEventBytes = 16 << 20
)

const watchUsage = `usage: loadgen runs watch [--server URL] [--token T] [--quiet] ID

Follows run ID of a loadgen serve from its live stream (GET /api/tests/runs/ID/events) with the progress display of
loadgen run, prints its report when it ends, and exits with its exit code: 0 passed, 3 thresholds failed (or a
rolling threshold aborted it, or a benchmark regression), 1 failed, cancelled or interrupted (or the stream was
lost), 2 a bad flag, an unknown run or a refused token.`

// runsWatch is `loadgen runs watch ID`: a client of serve's live stream, the CI gate after POST /api/tests/start.
func runsWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runs watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://"+control.DefaultAddr, "base URL of the loadgen serve that carries the run")
	token := fs.String("token", os.Getenv("LOADGEN_TOKEN"), "bearer token of that serve (env LOADGEN_TOKEN)")
	quiet := fs.Bool("quiet", false, "no progress while the run goes on (the report is still printed)")
	var verbose bool
	vFlag(fs, &verbose)
	fs.Usage = func() { fmt.Fprintln(stderr, watchUsage); fs.PrintDefaults() }
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "loadgen runs watch: want one run ID, got %d arguments\n%s\n", len(pos), watchUsage)
		return exitUsage
	}
	base, err := url.Parse(strings.TrimSuffix(*server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		fmt.Fprintf(stderr, "loadgen runs watch: --server %q: want http://HOST:PORT (or https://)\n", *server)
		return exitUsage
	}
	w := &watcher{id: pos[0], url: base.String() + "/api/tests/runs/" + url.PathEscape(pos[0]) + "/events",
		token: *token, stdout: stdout, stderr: stderr}
	if !*quiet {
		w.disp = live.For(stderr, os.Getenv)
		if t, ok := w.disp.(*live.Terminal); ok {
			w.stderr = t.Above(stderr)
		} else {
			w.plain = true
		}
	}
	return w.follow(ctx)
}

// watcher follows one run's stream.
type watcher struct {
	id, url, token string
	stdout, stderr io.Writer
	disp           live.Display
	plain          bool // disp prints a line per update: one a second
	lastID         uint64
	shown          [2]int // engine and whole second of the last snapshot shown by a plain display
}

// errFatal is a refusal that another try would get again.
type errFatal struct {
	code int
	msg  string
}

func (e *errFatal) Error() string { return e.msg }

func (w *watcher) follow(ctx context.Context) int {
	fmt.Fprintf(w.stderr, "loadgen runs watch: following run %s (%s)\n", w.id, strings.TrimSuffix(w.url, "/events"))
	fails := 0
	for {
		end, err := w.stream(ctx)
		var fatal *errFatal
		switch {
		case end != nil:
			return w.end(end)
		case ctx.Err() != nil:
			w.close()
			fmt.Fprintf(w.stderr, "loadgen runs watch: stopped following run %s (it goes on in serve)\n", w.id)
			return exitError
		case errors.As(err, &fatal):
			w.close()
			fmt.Fprintf(w.stderr, "loadgen runs watch: %s\n", fatal.msg)
			return fatal.code
		case err == nil: // the stream got events, then closed before the end
			fails = 0
			err = errors.New("the stream closed before the run's end")
		}
		if fails++; fails > watchRetries {
			w.close()
			fmt.Fprintf(w.stderr, "loadgen runs watch: lost run %s's stream: %v (gave up after %d tries)\n", w.id, err, watchRetries)
			return exitError
		}
		fmt.Fprintf(w.stderr, "loadgen runs watch: %v; resuming after event %d in %s\n", err, w.lastID, watchRetryWait)
		select {
		case <-ctx.Done():
		case <-time.After(watchRetryWait):
		}
	}
}

// stream reads the stream once, from the event after lastID, until the end event (returned), the stream's
// close or an error (nil when events came and the stream closed).
func (w *watcher) stream(ctx context.Context) (*control.End, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return nil, &errFatal{exitUsage, err.Error()}
	}
	req.Header.Set("Accept", "text/event-stream")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	if w.lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(w.lastID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &body) != nil || body.Error == "" {
			body.Error = strings.TrimSpace(string(b))
		}
		msg := fmt.Sprintf("%s: %s", resp.Status, body.Error)
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return nil, &errFatal{exitUsage, msg}
		case http.StatusConflict, http.StatusTooManyRequests:
			return nil, &errFatal{exitError, msg}
		}
		return nil, errors.New(msg)
	}
	var end *control.End
	err = readSSE(resp.Body, func(id uint64, typ string, data []byte) error {
		if id > 0 {
			w.lastID = id
		}
		switch typ {
		case live.TypeSnapshot:
			var s live.Snapshot
			if err := json.Unmarshal(data, &s); err != nil {
				return fmt.Errorf("snapshot event %d: %w", id, err)
			}
			w.show(s)
		case live.TypeThreshold:
			var f live.ThresholdFailure
			if err := json.Unmarshal(data, &f); err == nil {
				fmt.Fprintf(w.stderr, "loadgen: %s\n", f.Message)
			}
		case live.TypeEnd:
			end = &control.End{}
			if err := json.Unmarshal(data, end); err != nil {
				return &errFatal{exitError, fmt.Sprintf("end event %d: %v", id, err)}
			}
			return io.EOF
		}
		return nil
	})
	if end != nil {
		return end, nil
	}
	return nil, err
}

// show displays a snapshot: every one on a terminal (redrawn), one a second in a plain display, as loadgen run.
func (w *watcher) show(s live.Snapshot) {
	if w.disp == nil {
		return
	}
	if w.plain {
		k := [2]int{s.Engine, int(s.ElapsedS)}
		if k == w.shown {
			return
		}
		w.shown = k
	}
	w.disp.Update(s)
}

func (w *watcher) close() {
	if w.disp != nil {
		w.disp.Close()
	}
}

// end prints the end of the run (its report as loadgen run prints it) and returns its exit code.
func (w *watcher) end(e *control.End) int {
	w.close()
	if e.Text != "" {
		fmt.Fprintln(w.stdout)
		io.WriteString(w.stdout, e.Text)
	} else {
		line := fmt.Sprintf("run %s %s", e.RunID, e.Status)
		if e.Error != "" {
			line += ": " + e.Error
		}
		fmt.Fprintln(w.stdout, line)
	}
	return e.ExitCode
}

// readSSE reads Server-Sent Events from r and calls f with each (id 0 when it had none) until r ends (nil) or f
// returns an error (io.EOF: stop, nil).
func readSSE(r io.Reader, f func(id uint64, typ string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	var (
		id   uint64
		typ  string
		data bytes.Buffer
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() > 0 || typ != "" {
				if typ == "" {
					typ = "message"
				}
				err := f(id, typ, bytes.TrimSuffix(data.Bytes(), []byte("\n")))
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
			}
			id, typ = 0, ""
			data.Reset()
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id, _ = strconv.ParseUint(value, 10, 64)
		case "event":
			typ = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		}
	}
	return sc.Err()
}
