// Package remotewrite pushes the metrics of a prometheus.Gatherer to a
// Prometheus remote-write endpoint (Remote Write 2.0,
// io.prometheus.write.v2.Request, through client_golang's exp/api/remote):
// counters, gauges, summaries and native histograms, every interval and once
// more with the final values on Close. It lets a short-lived process (a load
// generator pod) reach Prometheus even when it ends between two scrapes.
//
// Every push carries the gatherer's current cumulative values, so a push
// that fails loses a point in time, not a count: the next one carries the
// totals. Hence there is no queue: one push at a time, retried with backoff
// on a 5xx, a 429 or a network error until the next push is due, and
// dropped (counted and logged) on any other 4xx.
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

const (
	// DefaultInterval is how often the metrics are pushed.
	DefaultInterval = 5 * time.Second
	// DefaultCloseTimeout bounds the final push (retries included); callers
	// pass it to Close when they have no deadline of their own.
	DefaultCloseTimeout = 10 * time.Second
	// MinInterval is the shortest interval New accepts.
	MinInterval = 100 * time.Millisecond
	// MinPushTimeout is the least time a periodic push gets (retries
	// included) when the interval is shorter.
	MinPushTimeout = 5 * time.Second

	// Failure reasons of loadgen_remote_write_failures_total.
	ReasonRejected    = "rejected"    // a 4xx (other than 429): dropped without retrying
	ReasonUnavailable = "unavailable" // 5xx, 429 or network errors until the push's deadline
)

// errClosing cancels the periodic pushes when Close is called.
var errClosing = errors.New("remote write closing")

// Writer pushes a gatherer's metrics to one remote-write endpoint. Build it
// with New; stop it with Close.
type Writer struct {
	api      *remote.API
	url      string // redacted, for logs and errors
	gatherer prometheus.Gatherer
	interval time.Duration
	log      *slog.Logger
	m        *writerMetrics
	status   *statusTransport
	now      func() time.Time

	mu     sync.Mutex // one push at a time; guards b and lastTS
	b      *builder
	lastTS int64

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Option configures New.
type Option func(*config)

type config struct {
	reg     prometheus.Registerer
	client  *http.Client
	headers http.Header
	now     func() time.Time
}

// WithRegisterer registers the writer's own loadgen_remote_write_* metrics
// on reg (typically the registry that is pushed, so they are both served
// and pushed). Without it they live in a private registry that is pushed
// along with the gatherer.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithHTTPClient sends the requests with c (default: a client with a 10 s
// timeout per request). Its Transport is wrapped, not replaced.
func WithHTTPClient(c *http.Client) Option { return func(o *config) { o.client = c } }

// WithHeader adds a header to every request (e.g. an Authorization bearer
// token or a tenant ID). Basic auth can also come from the URL's user info.
func WithHeader(name, value string) Option {
	return func(c *config) {
		if c.headers == nil {
			c.headers = http.Header{}
		}
		c.headers.Add(name, value)
	}
}

// WithClock replaces time.Now for the samples' timestamps (tests).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// ParseURL checks a remote-write URL: http or https, with a host. The path
// is used as it is (Prometheus receives on /api/v1/write).
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("remote-write URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remote-write URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remote-write URL %q: no host", u.Redacted())
	}
	return u, nil
}

// Validate checks New's url, labels and interval (0 means DefaultInterval)
// without starting anything, so a CLI can reject bad flags up front.
func Validate(rawURL string, labels map[string]string, interval time.Duration) error {
	if _, err := ParseURL(rawURL); err != nil {
		return err
	}
	if _, err := checkLabels(labels); err != nil {
		return err
	}
	if interval != 0 && interval < MinInterval {
		return fmt.Errorf("remote-write interval %v: must be at least %v", interval, MinInterval)
	}
	return nil
}

// checkLabels validates the labels New adds to every series and returns
// them sorted by name.
func checkLabels(labels map[string]string) ([]label, error) {
	out := make([]label, 0, len(labels))
	for n, v := range labels {
		switch {
		case !model.LegacyValidation.IsValidLabelName(n):
			return nil, fmt.Errorf("remote-write label %q: not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", n)
		case strings.HasPrefix(n, "__"):
			return nil, fmt.Errorf("remote-write label %q: names starting with __ are reserved", n)
		case v == "":
			return nil, fmt.Errorf("remote-write label %q: empty value", n)
		}
		out = append(out, label{n, v})
	}
	slices.SortFunc(out, func(x, y label) int { return strings.Compare(x.name, y.name) })
	return out, nil
}

// New starts pushing g's metrics to rawURL every interval (DefaultInterval
// when 0), the first push right away. labels are added to every series; give
// each process distinct ones (job and instance, as a scrape would set them),
// since two writers pushing the same series overwrite each other. A metric's
// own label of the same name is kept as exported_NAME. log receives one line
// per failed push (nil: discarded). Call Close to push the final values and
// stop.
func New(rawURL string, g prometheus.Gatherer, labels map[string]string, interval time.Duration, log *slog.Logger, opts ...Option) (*Writer, error) {
	if err := Validate(rawURL, labels, interval); err != nil {
		return nil, err
	}
	u, _ := ParseURL(rawURL)
	ext, _ := checkLabels(labels)
	if interval == 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if c.client != nil {
		cc := *c.client
		client = &cc
	}
	st := &statusTransport{next: client.Transport, headers: c.headers}
	if st.next == nil {
		st.next = http.DefaultTransport
	}
	client.Transport = st

	w := &Writer{
		url:      u.Redacted(),
		gatherer: g,
		interval: interval,
		log:      log.With("remote_write_url", u.Redacted()),
		status:   st,
		b:        newBuilder(ext),
	}
	w.m = newWriterMetrics()
	if c.reg != nil {
		if err := w.m.register(c.reg); err != nil {
			return nil, fmt.Errorf("remote write: register metrics: %w", err)
		}
	} else {
		own := prometheus.NewRegistry()
		if err := w.m.register(own); err != nil {
			return nil, err
		}
		w.gatherer = prometheus.Gatherers{g, own}
	}
	// Path "" keeps the URL's own path: users give the full endpoint URL.
	// Retries back off from 100 ms to 2 s and stop at the push's deadline
	// (MaxRetries 0): the next push carries newer totals anyway.
	var err error
	w.api, err = remote.NewAPI(u.String(), remote.WithAPIHTTPClient(client), remote.WithAPIPath(""),
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 100 * time.Millisecond, Max: 2 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("remote write: %w", err)
	}
	w.now = c.now

	ctx, cancel := context.WithCancelCause(context.Background())
	w.cancel = func() { cancel(errClosing) }
	w.done = make(chan struct{})
	go w.loop(ctx)
	return w, nil
}

// loop pushes right away (so the series start near zero and rate() sees the
// whole run) and then every interval. A push retries until the next one is
// due (MinPushTimeout at least); a slow one delays the next instead of
// queueing behind it.
func (w *Writer) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	timeout := max(w.interval, MinPushTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		_ = w.push(pctx) // counted and logged by push
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the periodic pushes (cutting short one that is retrying) and
// pushes the final values, retrying until ctx ends. It returns that push's
// error; later calls return the same.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.cancel()
		<-w.done
		w.closeErr = w.push(ctx)
	})
	return w.closeErr
}

// push gathers and sends once. A gather error is logged and what could be
// gathered is still sent.
func (w *Writer) push(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	mfs, gerr := w.gatherer.Gather()
	if gerr != nil {
		w.log.Warn("remote write: gathering metrics", "err", gerr)
	}
	ts := w.now().UnixMilli()
	if ts <= w.lastTS {
		ts = w.lastTS + 1 // a receiver rejects a second sample at the same time
	}
	w.lastTS = ts
	req, n := w.b.build(mfs, ts)
	if n.floats+n.histograms == 0 {
		return nil
	}

	var lastRetry error
	w.status.last.Store(0)
	_, err := w.api.Write(ctx, remote.WriteV2MessageType, req, remote.WithWriteRetryCallback(func(err error) {
		w.m.retries.Inc()
		lastRetry = err
	}))
	if err == nil {
		w.m.floats.Add(float64(n.floats))
		w.m.histograms.Add(float64(n.histograms))
		w.m.lastSuccess.Set(float64(w.now().UnixNano()) / 1e9)
		return nil
	}
	if errors.Is(context.Cause(ctx), errClosing) {
		return err // cut short by Close, which pushes the final values next
	}
	code := int(w.status.last.Load())
	reason := ReasonUnavailable
	if code != 0 && code/100 != 5 && code != http.StatusTooManyRequests {
		reason = ReasonRejected
	}
	if lastRetry != nil && errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (last attempt: %w)", err, lastRetry)
	}
	err = fmt.Errorf("remote write to %s: %s: %w%s", w.url, reason, err, hint(code))
	w.m.failures.WithLabelValues(reason).Inc()
	w.log.Warn("remote write: push dropped", "reason", reason, "status", code,
		"samples", n.floats, "histograms", n.histograms, "err", err)
	return err
}

// hint explains the statuses a misconfigured Prometheus answers with.
func hint(code int) string {
	switch code {
	case http.StatusNotFound:
		return " (is the receiver enabled? Prometheus needs --web.enable-remote-write-receiver, and the URL ends in /api/v1/write)"
	case http.StatusUnsupportedMediaType:
		return " (the endpoint does not accept Remote Write 2.0, io.prometheus.write.v2.Request; Prometheus 3 accepts it unless --web.remote-write-receiver.accepted-protobuf-messages leaves it out)"
	}
	return ""
}

// statusTransport remembers the status of the last response (one push runs
// at a time) and adds the configured headers.
type statusTransport struct {
	next    http.RoundTripper
	headers http.Header
	last    atomic.Int32
}

func (t *statusTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.headers) > 0 {
		r = r.Clone(r.Context())
		for k, vs := range t.headers {
			r.Header[k] = append(r.Header[k], vs...)
		}
	}
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.last.Store(int32(resp.StatusCode))
	}
	return resp, err
}
