// Package control is loadgen's HTTP control API (`loadgen serve`): start a
// run from a plan (YAML or JSON) or the reference platform's short form,
// watch it live, change its rate or virtual users while it runs, cancel it
// or every run at once, list stored runs, and read the resource monitor.
//
// The HTTP layer depends only on two narrow interfaces declared here: Runner
// (carries out one run and hands back its live engine) and RunStore (reads
// stored runs). EngineRunner is the real Runner over internal/runner and
// internal/modes; cmd/loadgen's serve command wires it with a store.
//
// Safety rails are on by default: a bearer token on every endpoint but
// health and /metrics (when configured), browser safety (Host and Origin
// checks, JSON or YAML bodies only: guard.go), a target allow-list
// (loopback only by default), global rate and VU caps, a 1 MiB body limit
// and a bound on concurrent runs.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/live"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// Defaults, exported so the CLI and docs agree.
const (
	DefaultAddr              = "127.0.0.1:8089"
	DefaultMaxRate           = 2000.0 // iterations per second, per run
	DefaultMaxVUs            = 500
	DefaultMaxInFlight       = 10_000 // requests in flight, per run (load.max_in_flight)
	DefaultMaxConcurrentRuns = 1
	// (DefaultMaxSubscribers, the live streams' cap per run, is in stream.go.)
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes = 1 << 20
	// KeepFinished is how many finished runs the server keeps in memory (their
	// views stay consistent while the store catches up); older ones are read
	// from the store.
	KeepFinished = 256
)

// DefaultAllowTargets is the target allow-list when none is configured:
// loopback only.
var DefaultAllowTargets = []string{"127.0.0.0/8", "::1", "localhost"}

// ErrShutdown is the cause of a run's context when the server shuts down;
// such runs end as interrupted.
var ErrShutdown = errors.New("loadgen serve is shutting down")

// Engine is the live side of a running engine: what GET, PATCH and the
// metrics need. *executor.Executor implements it.
type Engine interface {
	Snapshot() executor.Snapshot
	SetRate(r float64)
	SetVUs(n int)
}

var _ Engine = (*executor.Executor)(nil)

// Job is one run handed to a Runner.
type Job struct {
	ID   string
	Plan *plan.Plan
	// Attach must be called with the engine as soon as it runs (more than
	// once for modes that run one engine after another).
	Attach func(Engine)
	// Live receives the run's live events but the end (runner.Run.Live); the
	// server publishes the end event once Run returned.
	Live *live.Hub
	// AllowHost checks the host of every redirect a request follows
	// against the target allow-list (nil: no check).
	AllowHost func(host string) error
}

// Outcome is how a run ended.
type Outcome struct {
	Status  store.Status  // terminal: completed, failed, aborted or interrupted
	Verdict store.Verdict // as stored (runner.VerdictOf)
	Error   string
	// Summary is the full end-of-run summary (report.Summary for load runs,
	// the mode's report for benchmark, stress and knee runs).
	Summary json.RawMessage
	// Text is the report as printed (runner.Run.Text), for the end event.
	Text string
}

// Runner carries out runs. Run blocks until the run has ended; it records
// the run in the store itself. ctx is cancelled with cause ErrCanceled on
// cancel/stop-all and ErrShutdown when the server stops.
type Runner interface {
	Run(ctx context.Context, job Job) Outcome
}

// RunStore is what the API reads from the store.
type RunStore interface {
	GetRun(ctx context.Context, id string) (*store.Run, error)
	ListRuns(ctx context.Context, f store.Filter) ([]store.Run, error)
	MarkInterrupted(ctx context.Context) ([]string, error)
}

// Sampler reads the resource monitor (sysmon.Sampler implements it).
type Sampler interface {
	Sample(ctx context.Context) (sysmon.Snapshot, error)
}

// Config configures a Server. Zero caps mean "no cap"; use DefaultConfig
// for the safe defaults.
type Config struct {
	// Token, when set, is required as "Authorization: Bearer TOKEN" on every
	// endpoint but GET /api/health and GET /metrics.
	Token string
	// AllowedHosts are the Host header values accepted besides loopback
	// names and addresses and the address a request came in on (DNS
	// rebinding defence): host names, IPs, CIDRs, *.domain, or "*" (no Host
	// check). Ports are not compared.
	AllowedHosts []string
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the API cross-origin; "*" allows any (only with a Token). A
	// request carrying any other Origin than the server's own gets 403.
	CORSOrigins []string
	// AllowTargets are the target host patterns runs may aim at: CIDRs
	// ("10.0.0.0/8"), IPs, host names ("localhost") and wildcards
	// ("*.staging.example.com"). Empty means DefaultAllowTargets; "*" allows
	// any target.
	AllowTargets []string
	// MaxRate caps every open-model rate (phase rate and to, stress and knee
	// rates, PATCH rate); MaxVUs every VU count (phase vus and to, benchmark
	// concurrency, closed knee steps, PATCH vus); MaxInFlight the
	// load.max_in_flight of runs that use it (open-model load runs, stress,
	// open-model knee). 0 = no cap (the plan limits, plan.MaxRate and the
	// like, still apply).
	MaxRate     float64
	MaxVUs      int
	MaxInFlight int
	// MaxConcurrentRuns bounds runs queued or running at once; beyond it a
	// start gets 409 (no queue). 0 means DefaultMaxConcurrentRuns.
	MaxConcurrentRuns int
	// MaxSubscribers bounds the live streams (Server-Sent Events and WebSocket) of one run at once; beyond it a
	// subscriber gets 429. 0 means DefaultMaxSubscribers.
	MaxSubscribers int
	// WSPingInterval and WSPongTimeout: how often a WebSocket subscriber is pinged and how long its pong may take
	// before it is dropped (0: the package's WSPingInterval and WSPongTimeout).
	WSPingInterval, WSPongTimeout time.Duration
	// DefaultTarget, when set, is the target of plans that name none and of
	// short forms without target_url (serve's --target, LOADGEN_TARGET). Its
	// host is allowed in addition to AllowTargets: the operator chose it.
	DefaultTarget string
	// PlanEnv names the server's environment variables that plans sent over
	// the API may read with ${env.NAME} (serve's --plan-env). Any other
	// ${env.NAME} is refused: reading the server's environment on behalf
	// of a remote caller would hand out its secrets.
	PlanEnv []string
}

// DefaultConfig returns the safe defaults.
func DefaultConfig() Config {
	return Config{AllowTargets: DefaultAllowTargets, MaxRate: DefaultMaxRate, MaxVUs: DefaultMaxVUs,
		MaxInFlight: DefaultMaxInFlight, MaxConcurrentRuns: DefaultMaxConcurrentRuns, MaxSubscribers: DefaultMaxSubscribers}
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithGatherer serves g on GET /metrics (default: none, 404).
func WithGatherer(g prometheus.Gatherer) Option { return func(s *Server) { s.gatherer = g } }

// WithSampler serves the resource monitor on GET /api/system/metrics
// (default: sysmon.New().NewSampler()).
func WithSampler(sm Sampler) Option { return func(s *Server) { s.sampler = sm } }

// WithNow sets the clock (default time.Now).
func WithNow(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithNewID sets the run ID generator (default store.NewID).
func WithNewID(f func() string) Option { return func(s *Server) { s.newID = f } }

// WithVersion names the build in GET /api/health.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// Server is the control API. Build it with New, serve Handler, and call
// Shutdown to stop every run.
type Server struct {
	cfg      Config
	allow    *allowList
	hosts    *allowList      // --allowed-host
	cors     map[string]bool // --cors-origin, normalised
	corsAny  bool            // --cors-origin *
	runner   Runner
	store    RunStore
	log      *slog.Logger
	gatherer prometheus.Gatherer
	sampler  Sampler
	now      func() time.Time
	newID    func() string
	version  string
	handler  http.Handler
	started  time.Time

	baseCtx    context.Context
	baseCancel context.CancelCauseFunc

	mu       sync.Mutex
	runs     map[string]*run // active and recently finished runs
	finished []string        // IDs of finished runs in runs, oldest first
	active   int             // runs queued or running
	closing  bool
	wg       sync.WaitGroup
}

// New builds a Server. st may be nil (nothing stored: only runs of this
// process are listed).
func New(cfg Config, r Runner, st RunStore, opts ...Option) (*Server, error) {
	if cfg.MaxConcurrentRuns <= 0 {
		cfg.MaxConcurrentRuns = DefaultMaxConcurrentRuns
	}
	if cfg.WSPingInterval <= 0 {
		cfg.WSPingInterval = WSPingInterval
	}
	if cfg.WSPongTimeout <= 0 {
		cfg.WSPongTimeout = WSPongTimeout
	}
	if cfg.MaxSubscribers <= 0 {
		cfg.MaxSubscribers = DefaultMaxSubscribers
	}
	if len(cfg.AllowTargets) == 0 {
		cfg.AllowTargets = DefaultAllowTargets
	}
	if !(cfg.MaxRate >= 0) || cfg.MaxVUs < 0 || cfg.MaxInFlight < 0 {
		return nil, errors.New("control: caps must be >= 0 (0 = no cap)")
	}
	hosts, err := parseHostPatterns("allowed-host", cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	cors, corsAny, err := parseOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	if corsAny && cfg.Token == "" {
		return nil, errors.New("cors-origin *: any web page could start runs; allow named origins, or set a token")
	}
	patterns := cfg.AllowTargets
	if cfg.DefaultTarget != "" {
		if err := plan.CheckTarget(cfg.DefaultTarget); err != nil {
			return nil, fmt.Errorf("control: default target: %w", err)
		}
		u, _ := url.Parse(cfg.DefaultTarget)
		patterns = append(slices.Clone(patterns), u.Hostname())
	}
	allow, err := parseAllowList(patterns)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, allow: allow, hosts: hosts, cors: cors, corsAny: corsAny, runner: r, store: st, log: slog.New(slog.DiscardHandler),
		now: time.Now, newID: store.NewID, version: "dev", runs: map[string]*run{}}
	for _, o := range opts {
		o(s)
	}
	if s.sampler == nil {
		s.sampler = sysmon.New().NewSampler()
	}
	s.started = s.now()
	s.baseCtx, s.baseCancel = context.WithCancelCause(context.Background())
	s.handler = s.guard(s.routes())
	return s, nil
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Recover marks the runs a previous serve process left running as
// interrupted (call it once at start) and returns their IDs.
func (s *Server) Recover(ctx context.Context) ([]string, error) {
	if s.store == nil {
		return nil, nil
	}
	return s.store.MarkInterrupted(ctx)
}

// Shutdown refuses new runs, cancels every active run (they end as
// interrupted) and waits for them to be recorded, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.baseCancel(ErrShutdown)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
