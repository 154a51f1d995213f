// Command target is loadlab's system under test: the User & Team Management
// API of internal/target, with a latency model, a capacity model (workers and
// a bounded queue) and fault knobs. See docs/target.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/common/promslog"

	"github.com/loadlab/loadlab/internal/target"
)

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runMain(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
}

// latencyFlags collects repeated --latency "ROUTE=SPEC" values.
type latencyFlags map[string]target.Latency

func (l latencyFlags) String() string { return "" }

func (l latencyFlags) Set(v string) error {
	route, spec, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ROUTE=SPEC such as 'GET /api/users=20ms-80ms'")
	}
	lat, err := target.ParseLatency(spec)
	if err != nil {
		return err
	}
	l[strings.TrimSpace(route)] = lat
	return nil
}

// runMain is the whole program; it returns the exit code. It serves until ctx is done.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg := target.DefaultConfig()
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: target [flags]\n\nThe loadlab demo API (system under test). Pooled routes: %s.\n\nFlags:\n",
			strings.Join(target.PooledRoutes, ", "))
		fs.PrintDefaults()
	}
	addr := target.DefaultAddr
	if v := getenv("TARGET_ADDR"); v != "" {
		addr = v
	}
	fs.StringVar(&addr, "addr", addr, "listen address (env TARGET_ADDR); port 0 picks a free port")
	latencyConfig := fs.String("latency-config", "", "YAML `file` with per-route latency (see docs/target.md)")
	perRoute := latencyFlags{}
	fs.Var(perRoute, "latency", "per-route service time `ROUTE=SPEC`, ROUTE as 'GET /api/users', SPEC 40ms | 20ms-80ms | 5ms-250ms~15ms (repeatable; over --latency-config)")
	fs.Float64Var(&cfg.LatencyScale, "latency-scale", cfg.LatencyScale, "multiply every service time; 0 turns latency off")
	fs.DurationVar(&cfg.ServiceTime, "service-time", 0, "if > 0, every pooled route takes exactly this (times --latency-scale); capacity = workers/service-time")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "worker pool size (requests served at once); 0 = no pool")
	fs.IntVar(&cfg.Queue, "queue", cfg.Queue, "requests that may wait for a worker; beyond it, 503 at once")
	fs.Float64Var(&cfg.Faults.ErrorRate, "error-rate", 0, "share (0-1) of pooled requests answered 500")
	fs.DurationVar(&cfg.Faults.StallEvery, "stall-every", 0, "start a stall this often (with --stall-for)")
	fs.DurationVar(&cfg.Faults.StallFor, "stall-for", 0, "stall length: requests arriving during a stall wait until it ends")
	fs.DurationVar(&cfg.Faults.AddedLatency, "added-latency", 0, "added to every pooled request's service time (not scaled)")
	fs.BoolVar(&cfg.Admin, "admin", cfg.Admin, "serve /admin/faults and /admin/config (to loopback clients only, unless --admin-token is set)")
	cfg.AdminToken = getenv("TARGET_ADMIN_TOKEN")
	fs.StringVar(&cfg.AdminToken, "admin-token", cfg.AdminToken, "require \"Authorization: Bearer TOKEN\" on /admin/* and accept it from any client (env TARGET_ADMIN_TOKEN, which keeps it out of the process list)")
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", target.DefaultReadHeaderTimeout, "time a client has to send a request's line and headers")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", target.DefaultReadTimeout, "time a client has to send a whole request, body included (stalls and service time do not count)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", target.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGINT/SIGTERM, wait this long for in-flight requests")
	logCfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: stderr}
	fs.Func("log.level", "log level: debug, info, warn, error (default info)", logCfg.Level.Set)
	fs.Func("log.format", "log format: logfmt, json (default logfmt)", logCfg.Format.Set)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "target: unexpected arguments: %v\n", fs.Args())
		return exitUsage
	}
	logger := promslog.New(logCfg)
	cfg.Logger = logger

	if *latencyConfig != "" {
		lat, err := target.LoadLatencyFile(*latencyConfig, cfg.Latency)
		if err != nil {
			fmt.Fprintf(stderr, "target: %v\n", err)
			return exitUsage
		}
		cfg.Latency = lat
	}
	for k, v := range perRoute {
		cfg.Latency[k] = v
	}

	srv, err := target.New(cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "target: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "target: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "target listening on %s\n", ln.Addr())
	admin := "off"
	switch {
	case cfg.Admin && cfg.AdminToken != "":
		admin = "token"
	case cfg.Admin:
		admin = "loopback"
	}
	logger.Info("target listening", "addr", ln.Addr().String(), "workers", cfg.Workers, "queue", cfg.Queue,
		"latency_scale", cfg.LatencyScale, "service_time", cfg.ServiceTime, "admin", admin)
	if err := srv.Serve(ctx, ln); err != nil {
		logger.Error("target stopped", "err", err)
		return exitError
	}
	logger.Info("target stopped")
	return exitOK
}
