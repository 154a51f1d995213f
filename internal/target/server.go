// Package target is loadlab's system under test: a small User & Team
// Management API with a known latency model, a known capacity (a pool of
// workers and a bounded queue) and injectable faults, instrumented with
// Prometheus native histograms.
//
// Use it in-process:
//
//	srv, err := target.New(target.FixedServiceConfig(8, 4, 20*time.Millisecond), nil)
//	ts := httptest.NewServer(srv.Handler()) // capacity 8/20ms = 400 req/s
package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var errUnknownRoute = errors.New("not a pooled route")

// unknownRoute explains a route key that is not in PooledRoutes.
func unknownRoute(key string) error {
	return fmt.Errorf("%q: %w; pooled routes: %s", key, errUnknownRoute, strings.Join(PooledRoutes, ", "))
}

// StatusClientClosed is the code recorded (nginx's 499) when a client goes away
// while its request is stalled, queued or in service.
const StatusClientClosed = 499

// Server is the target API. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pool     *pool
	faults   *faultState
	dir      *directory
	tokens   *tokens
	metrics  *metrics
	gatherer prometheus.Gatherer
	handler  http.Handler
}

// New builds a Server. Its metrics are registered on reg. If reg is nil, New
// makes its own registry holding the Go and process collectors too; /metrics
// serves reg when it is also a prometheus.Gatherer (a *prometheus.Registry is),
// and is absent otherwise.
func New(cfg Config, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("target config: %w", err)
	}
	cfg.Latency = maps.Clone(cfg.Latency) // the caller may reuse its map
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	s := &Server{
		cfg:    cfg,
		log:    logger,
		pool:   newPool(cfg.Workers, cfg.Queue),
		faults: newFaultState(cfg.Faults, time.Now),
		dir:    newDirectory(SeedUsers, SeedTeams),
		tokens: newTokens(cfg.MaxTokens),
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.gatherer = g
	}
	m, err := newMetrics(reg, s.pool, cfg.Queue, s.faults)
	if err != nil {
		return nil, fmt.Errorf("target metrics: %w", err)
	}
	s.metrics = m
	s.handler = s.routes()
	return s, nil
}

// Handler serves the API, /metrics and (if enabled) /admin/*.
func (s *Server) Handler() http.Handler { return s.handler }

// Config returns the configuration the server runs with (faults as at start).
func (s *Server) Config() Config { return s.cfg }

// Faults returns the faults in force.
func (s *Server) Faults() Faults { return s.faults.get().Faults }

// SetFaults replaces the faults in force; the stall clock restarts now, so
// the first stall begins StallEvery from now.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	s.faults.set(f)
	s.log.Info("faults set", "error_rate", f.ErrorRate, "stall_every", f.StallEvery, "stall_for", f.StallFor, "added_latency", f.AddedLatency)
	return nil
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (at most Config.ShutdownTimeout)
// and returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down, letting in-flight requests finish", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	return err
}

// routes builds the handler tree.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = s.instrument(RouteLabelUnknown, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	}))
	r.MethodNotAllowedHandler = s.instrument(RouteLabelUnknown, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}))

	s.plain(r, RouteHealth, s.health)
	s.api(r, RouteLogin, s.login)
	s.api(r, RouteLogout, s.logout)
	s.api(r, RouteUsers, s.listUsers)
	s.api(r, RouteUpdateMe, s.updateMe) // before {id}, which would also match "me"
	s.api(r, RouteUser, s.getUser)
	s.api(r, RouteTeams, s.listTeams)
	s.api(r, RouteTeam, s.getTeam)
	s.api(r, RouteTeamMembers, s.teamMembers)
	if s.gatherer != nil {
		r.Handle("/metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{
			EnableOpenMetrics: true,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		})).Methods(http.MethodGet)
	}
	if s.cfg.Admin {
		s.admin(r, "GET /admin/faults", s.getFaults)
		s.admin(r, "PUT /admin/faults", s.putFaults)
		s.admin(r, "GET /admin/config", s.getConfig)
	}
	return r
}

// apiFunc is a route's logic: it returns the status and the JSON body.
type apiFunc func(r *http.Request) (int, any)

// plain registers an operational route (health, admin) that bypasses the
// pool and the faults, and the request metrics too: health checks and
// operators are not load, and counting them would pull the server-side
// latency down (like /metrics, which Prometheus scrapes every 2 s).
func (s *Server) plain(r *mux.Router, key string, fn apiFunc) {
	method, tmpl, _ := strings.Cut(key, " ")
	r.Handle(tmpl, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Body = http.MaxBytesReader(w, req.Body, MaxBodyBytes)
		status, body := fn(req)
		writeJSON(w, status, body)
	})).Methods(method)
}

// admin registers a plain route for the operator: loopback clients only,
// unless Config.AdminToken is set, then every client with the token.
func (s *Server) admin(r *mux.Router, key string, fn apiFunc) {
	var want [sha256.Size]byte
	if s.cfg.AdminToken != "" {
		want = sha256.Sum256([]byte(s.cfg.AdminToken))
	}
	s.plain(r, key, func(req *http.Request) (int, any) {
		if s.cfg.AdminToken == "" {
			if !loopbackClient(req) {
				return fail(http.StatusForbidden, "admin endpoints answer loopback clients only; start the target with --admin-token (env TARGET_ADMIN_TOKEN) to allow others")
			}
			return fn(req)
		}
		scheme, tok, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok))) // equal lengths: the compare takes the same time for any token
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return http.StatusUnauthorized, errorBody{Error: "admin endpoints need Authorization: Bearer <the target's --admin-token>"}
		}
		return fn(req)
	})
}

// loopbackClient reports whether the request came from a loopback address.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// readBody reads a request body whole, at most MaxBodyBytes, before the
// request waits for a stall or takes a worker, so that a slow or huge upload
// never holds the pool. Config.ReadTimeout bounds this read; once the body
// is read net/http lifts the connection's read deadline, so it never cuts a
// long stall or service time. It returns the status and message to answer
// on failure.
func readBody(w http.ResponseWriter, req *http.Request) (int, string, bool) {
	if req.ContentLength > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errTooLarge, false
	}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
		var tooLarge *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooLarge):
			return http.StatusRequestEntityTooLarge, errTooLarge, false
		case errors.As(err, &ne) && ne.Timeout():
			return http.StatusRequestTimeout, "request body not received within the read timeout", false
		case err != nil:
			return http.StatusBadRequest, "cannot read the request body: " + err.Error(), false
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return 0, "", true
}

// api registers a pooled route: the body read, then stall, then a worker
// (or 503), then the service time and the injected error rate, then fn.
func (s *Server) api(r *mux.Router, key string, fn apiFunc) {
	method, tmpl, _ := strings.Cut(key, " ")
	lat := s.cfg.ServiceLatency(key)
	scale := s.cfg.LatencyScale
	r.Handle(tmpl, s.instrument(tmpl, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if status, msg, ok := readBody(w, req); !ok {
			if status == http.StatusRequestTimeout {
				w.Header().Set("Connection", "close")
			}
			writeError(w, status, msg)
			return
		}
		ctx := req.Context()
		phase := s.faults.get()
		stalled, err := s.faults.waitStall(ctx)
		if err != nil {
			writeError(w, StatusClientClosed, "client closed request")
			return
		}
		if err := s.pool.acquire(ctx, stalled); err != nil {
			if errors.Is(err, errOverloaded) {
				s.metrics.rejected.Inc()
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("overloaded: all %d workers busy and the queue of %d is full", s.pool.workers(), s.pool.queue))
				return
			}
			writeError(w, StatusClientClosed, "client closed request")
			return
		}
		defer s.pool.release()
		d := time.Duration(float64(lat.Sample())*scale) + phase.AddedLatency
		if err := sleep(ctx, d); err != nil {
			writeError(w, StatusClientClosed, "client closed request")
			return
		}
		if phase.ErrorRate > 0 && rand.Float64() < phase.ErrorRate {
			writeError(w, http.StatusInternalServerError, "injected fault")
			return
		}
		status, body := fn(req)
		writeJSON(w, status, body)
	}))).Methods(method)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// instrument records duration and count under a fixed route label, and
// counts the request in flight. Only the API and unmatched requests are
// instrumented, never /metrics, /api/health or /admin/*.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		lv := []string{route, methodLabel(r.Method), strconv.Itoa(code)}
		s.metrics.duration.WithLabelValues(lv...).Observe(time.Since(start).Seconds())
		s.metrics.requests.WithLabelValues(lv...).Inc()
	})
}

// methodLabel bounds the method label: unknown methods become "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
