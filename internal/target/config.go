package target

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Route keys: "METHOD template", the same template that labels the metrics.
const (
	RouteHealth       = "GET /api/health"
	RouteLogin        = "POST /api/auth/login"
	RouteLogout       = "POST /api/auth/logout"
	RouteUsers        = "GET /api/users"
	RouteUser         = "GET /api/users/{id}"
	RouteUpdateMe     = "PUT /api/users/me"
	RouteTeams        = "GET /api/teams"
	RouteTeam         = "GET /api/teams/{id}"
	RouteTeamMembers  = "GET /api/teams/{id}/members"
	RouteLabelUnknown = "unmatched" // route label of requests no route matched (404, 405)
)

// PooledRoutes are the routes that take a pool worker for their service time
// and see injected faults. Health, /metrics and /admin/* do not: they stay
// responsive when the API is overloaded or stalled.
var PooledRoutes = []string{RouteLogin, RouteLogout, RouteUsers, RouteUser, RouteUpdateMe, RouteTeams, RouteTeam, RouteTeamMembers}

// Defaults. Every default is exported so callers and docs agree.
const (
	DefaultAddr            = "127.0.0.1:8117"
	DefaultWorkers         = 32
	DefaultQueue           = 64
	DefaultLatencyScale    = 1.0
	DefaultShutdownTimeout = 30 * time.Second
	MaxBodyBytes           = 1 << 20 // request bodies above 1 MiB get 413
	SeedUsers              = 500
	SeedTeams              = 50
	SeedPassword           = "secret" // password of every seeded user (user1@example.com … user500@example.com)
	DefaultMaxTokens       = 1 << 17  // live tokens kept; the oldest are evicted beyond this

	// Connection timeouts (see Config). None of them bounds how long a
	// request may be served: stalls, queueing and service time are the
	// target's job, so there is no write timeout.
	DefaultReadHeaderTimeout = 10 * time.Second // request line and headers
	DefaultReadTimeout       = 30 * time.Second // headers and body; not the time spent serving
	DefaultIdleTimeout       = 2 * time.Minute  // a keep-alive connection between requests
)

// DefaultLatency is the per-route service-time model (before --latency-scale).
func DefaultLatency() map[string]Latency {
	return map[string]Latency{
		RouteLogin:       Uniform(30*time.Millisecond, 60*time.Millisecond), // bcrypt-like
		RouteLogout:      Uniform(2*time.Millisecond, 5*time.Millisecond),
		RouteUsers:       Uniform(20*time.Millisecond, 80*time.Millisecond),
		RouteUser:        Uniform(5*time.Millisecond, 15*time.Millisecond),
		RouteUpdateMe:    Uniform(10*time.Millisecond, 25*time.Millisecond),
		RouteTeams:       Uniform(10*time.Millisecond, 30*time.Millisecond),
		RouteTeam:        Uniform(10*time.Millisecond, 30*time.Millisecond),
		RouteTeamMembers: Uniform(10*time.Millisecond, 30*time.Millisecond),
	}
}

// Config configures a Server. The zero value is not usable; start from
// DefaultConfig and change what you need.
type Config struct {
	// Latency is the service time per pooled route (keys from PooledRoutes).
	// Routes missing from the map have no service time.
	Latency map[string]Latency
	// ServiceTime, when > 0, replaces Latency: every pooled route takes exactly
	// this long (times LatencyScale). Capacity is then Workers/ServiceTime.
	ServiceTime time.Duration
	// LatencyScale multiplies every sampled service time; 0 turns latency off.
	LatencyScale float64
	// Workers is the pool size (think database connections); 0 means no pool
	// (unbounded concurrency, no 503s).
	Workers int
	// Queue is how many requests may wait for a worker; beyond it, 503 at once.
	Queue int
	// Faults are the injected faults at start; change them with SetFaults or
	// PUT /admin/faults.
	Faults Faults
	// Admin serves GET/PUT /admin/faults and GET /admin/config. Without
	// AdminToken they answer loopback clients only (403 otherwise); with it,
	// every client must send "Authorization: Bearer AdminToken" (401
	// otherwise), loopback included.
	Admin      bool
	AdminToken string
	// ReadHeaderTimeout bounds reading a request's line and headers,
	// ReadTimeout reading the whole request (headers and body) and
	// IdleTimeout a keep-alive connection's wait for its next request. A
	// pooled route reads the body before it waits for a stall or a worker,
	// and the read deadline ends with the body, so neither cuts a long stall
	// or service time. Zero means the Default* value.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// MaxTokens bounds the live login tokens (oldest evicted first).
	MaxTokens int
	// ShutdownTimeout bounds how long Serve waits for in-flight requests.
	ShutdownTimeout time.Duration
	// Logger receives fault changes and shutdown; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration cmd/target starts from.
func DefaultConfig() Config {
	return Config{
		Latency:         DefaultLatency(),
		LatencyScale:    DefaultLatencyScale,
		Workers:         DefaultWorkers,
		Queue:           DefaultQueue,
		Admin:           true,
		MaxTokens:       DefaultMaxTokens,
		ShutdownTimeout: DefaultShutdownTimeout,
	}
}

// FixedServiceConfig is DefaultConfig with a pool of workers, a queue of queue
// and every pooled route taking exactly serviceTime: a target whose capacity
// is exactly workers/serviceTime requests per second.
func FixedServiceConfig(workers, queue int, serviceTime time.Duration) Config {
	c := DefaultConfig()
	c.Workers, c.Queue, c.ServiceTime = workers, queue, serviceTime
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Workers < 0:
		return fmt.Errorf("workers %d: must be >= 0", c.Workers)
	case c.Queue < 0:
		return fmt.Errorf("queue %d: must be >= 0", c.Queue)
	case c.LatencyScale < 0:
		return fmt.Errorf("latency scale %v: must be >= 0", c.LatencyScale)
	case c.ServiceTime < 0:
		return fmt.Errorf("service time %v: must be >= 0", c.ServiceTime)
	case c.MaxTokens < 0:
		return fmt.Errorf("max tokens %d: must be >= 0", c.MaxTokens)
	case c.ReadHeaderTimeout < 0 || c.ReadTimeout < 0 || c.IdleTimeout < 0:
		return fmt.Errorf("timeouts must be >= 0 (read header %v, read %v, idle %v)", c.ReadHeaderTimeout, c.ReadTimeout, c.IdleTimeout)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Latency)) {
		if !slices.Contains(PooledRoutes, k) {
			return fmt.Errorf("latency for %w", unknownRoute(k))
		}
		if err := c.Latency[k].Validate(); err != nil {
			return fmt.Errorf("latency for %q: %w", k, err)
		}
	}
	if err := c.Faults.Validate(); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	return nil
}

// ServiceLatency is the (unscaled) service-time model of a pooled route.
func (c Config) ServiceLatency(route string) Latency {
	if c.ServiceTime > 0 {
		return Fixed(c.ServiceTime)
	}
	return c.Latency[route]
}

// MeanServiceTime is the expected time a request to route holds a worker,
// scaled, excluding injected faults.
func (c Config) MeanServiceTime(route string) time.Duration {
	return time.Duration(float64(c.ServiceLatency(route).Expected()) * c.LatencyScale)
}

// Capacity is the most requests per second route can sustain alone:
// Workers / MeanServiceTime(route). It is +Inf without a pool or service time.
func (c Config) Capacity(route string) float64 {
	st := c.MeanServiceTime(route)
	if c.Workers == 0 || st <= 0 {
		return inf
	}
	return float64(c.Workers) / st.Seconds()
}
