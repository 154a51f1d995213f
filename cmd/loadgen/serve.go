package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loadlab/loadlab/internal/control"
	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // mysql:// stores
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // sqlite:// stores
	"github.com/loadlab/loadlab/internal/sysmon"
)

func init() {
	register("serve", "serve the control API: start, watch, change and cancel runs over HTTP", serveCmd)
}

// serveShutdownWait bounds how long serve waits for active runs to stop and
// be recorded (as interrupted) on SIGINT/SIGTERM.
const serveShutdownWait = 15 * time.Second

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// splitNames returns the names of a repeatable flag whose values may also
// be comma-separated lists.
func splitNames(values []string) []string {
	var out []string
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// serveCmd is `loadgen serve`: flags in, control.Config out, then the HTTP
// server until ctx ends.
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := control.DefaultConfig()
	addr := fs.String("addr", control.DefaultAddr, "listen address; without --token it must be a loopback address")
	var storeURL string
	storeFlag(fs, &storeURL)
	token := fs.String("token", "", "bearer token required on every endpoint but /api/health and /metrics (env LOADGEN_TOKEN)")
	var allow, allowedHosts, corsOrigins stringList
	fs.Var(&allow, "allow-target", "target host pattern runs may aim at (and knee.metrics_url): CIDR, IP, host name or *.domain; repeatable; \"*\" allows any (default: 127.0.0.0/8, ::1, localhost)")
	fs.Var(&allowedHosts, "allowed-host", "Host header accepted besides loopback names, the address a request came in on and the --addr/--metrics-addr host (DNS-rebinding defence): host name, IP, CIDR or *.domain, no port; repeatable; \"*\" turns the check off")
	fs.Var(&corsOrigins, "cors-origin", "browser origin (scheme://host[:port]) allowed to call the API cross-origin, with CORS headers; repeatable; \"*\" allows any (needs --token); other origins get 403")
	var planEnv stringList
	fs.Var(&planEnv, "plan-env", "an environment variable of this server that plans sent over the API may read as ${env.NAME} (repeatable, or comma-separated); by default they may read none")
	fs.Float64Var(&cfg.MaxRate, "max-rate", cfg.MaxRate, "cap on any run's rate in iterations/s (phases, stress, knee, PATCH); 0 = no cap")
	fs.IntVar(&cfg.MaxVUs, "max-vus", cfg.MaxVUs, "cap on any run's virtual users (phases, benchmark concurrency, knee, PATCH); 0 = no cap")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "cap on any run's load.max_in_flight (open-model load, stress, open knee); 0 = no cap")
	fs.IntVar(&cfg.MaxConcurrentRuns, "max-concurrent-runs", cfg.MaxConcurrentRuns, "runs active at once; beyond it POST /api/tests/start answers 409")
	fs.IntVar(&cfg.MaxSubscribers, "max-subscribers", cfg.MaxSubscribers, "live streams (events, ws) of one run at once; beyond it a subscriber gets 429")
	fs.StringVar(&cfg.DefaultTarget, "target", os.Getenv("LOADGEN_TARGET"), "target of plans that name none and of short forms without target_url; its host is allowed (env LOADGEN_TARGET)")
	metricsAddr := fs.String("metrics-addr", "", "also serve /metrics on this address (it is always on the API address); empty = not")
	unsafeOpen := fs.Bool("unsafe-no-token", false, "allow a non-loopback --addr without a token (only where the port is not reachable from outside, e.g. a container published on 127.0.0.1)")
	var verbose bool
	vFlag(fs, &verbose)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen serve [--addr 127.0.0.1:8089] [--store URL] [--token T] [--allow-target PATTERN]... [--allowed-host HOST]... [--cors-origin ORIGIN]... [--max-rate N] [--max-vus N] [--max-in-flight N] [--max-concurrent-runs N] [--max-subscribers N] [--plan-env NAME]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen serve: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if cfg.MaxSubscribers < 1 {
		fmt.Fprintf(stderr, "loadgen serve: --max-subscribers must be at least 1, got %d\n", cfg.MaxSubscribers)
		return exitUsage
	}
	for name, a := range map[string]string{"--addr": *addr, "--metrics-addr": *metricsAddr} {
		if a != "" && !validAddr(a) {
			fmt.Fprintf(stderr, "loadgen serve: %s %q: want HOST:PORT\n", name, a)
			return exitUsage
		}
	}
	if *token == "" {
		*token = os.Getenv("LOADGEN_TOKEN")
	}
	cfg.Token = *token
	if len(allow) > 0 {
		cfg.AllowTargets = allow
	}
	cfg.AllowedHosts, cfg.CORSOrigins = allowedHosts, corsOrigins
	// The names serve listens on are its own (an IP is accepted as the
	// address a request came in on).
	for _, a := range []string{*addr, *metricsAddr} {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" && net.ParseIP(h) == nil && !strings.EqualFold(h, "localhost") {
			cfg.AllowedHosts = append(cfg.AllowedHosts, h)
		}
	}
	cfg.PlanEnv = splitNames(planEnv)
	if cfg.Token == "" && !*unsafeOpen && !control.IsLoopbackAddr(*addr) {
		fmt.Fprintf(stderr, "loadgen serve: refusing to listen on %s without a token: mutating endpoints would be open to the network; set --token (or LOADGEN_TOKEN), or use a loopback address such as %s\n", *addr, control.DefaultAddr)
		return exitUsage
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ost, err := openStore(storeURL, recordRuns, log)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
		return exitUsage
	}
	// Runs have ended (Shutdown below) when it closes; what the store has not taken yet stays in the spool
	// for the next start.
	defer ost.close(ctx, "loadgen serve", stderr)
	er := &control.EngineRunner{Log: log}
	var rs control.RunStore
	url := "off"
	if ost != nil {
		pctx, cancel := context.WithTimeout(ctx, serveStartTimeout)
		if err := ost.st.Ping(pctx); err != nil {
			log.Warn("store unreachable at start: serving anyway; runs are spooled to "+store.SpoolDirFor(ost.url)+
				" and written once it answers, stored runs are listed then", "store", store.Redacted(ost.url), "err", err)
		}
		cancel()
		er.Store, er.Sink, er.StoreURL, rs, url = ost.st, ost.w, ost.url, ost.st, ost.url
	}

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	mon := sysmon.New()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), mon)
	er.Metrics, er.Monitor = m, mon
	srv, err := control.New(cfg, er, rs, control.WithLogger(log), control.WithGatherer(reg),
		control.WithSampler(mon.NewSampler()), control.WithVersion(metrics.Version))
	if err != nil {
		fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
		return exitUsage
	}
	if ids, err := srv.Recover(ctx); err != nil {
		log.Warn("marking runs left running as interrupted failed", "err", err)
	} else if len(ids) > 0 {
		log.Info("runs left running by a previous process marked interrupted", "runs", strings.Join(ids, ","))
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
		return exitError
	}
	// BoundScrapes: the resource monitor's reads during a Prometheus scrape of /metrics end before its timeout.
	hs := &http.Server{Handler: mon.BoundScrapes(srv.Handler()), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "loadgen serve: control API on http://%s (store %s)\n", ln.Addr(), store.Redacted(url))
	switch {
	case cfg.Token == "" && !control.IsLoopbackAddr(*addr):
		fmt.Fprintf(stdout, "loadgen serve: WARNING: no --token and --unsafe-no-token: the API is open on %s\n", ln.Addr())
	case cfg.Token == "":
		fmt.Fprintf(stdout, "loadgen serve: no --token: the API is open to local clients, so serve listens on loopback only\n")
	default:
		fmt.Fprintf(stdout, "loadgen serve: every endpoint but /api/health and /metrics needs Authorization: Bearer <token>\n")
	}
	fmt.Fprintf(stdout, "loadgen serve: targets allowed: %s; caps: rate %s, vus %s, in flight %s, %d concurrent run(s)\n",
		strings.Join(cfg.AllowTargets, ", "), capString(cfg.MaxRate), capString(float64(cfg.MaxVUs)),
		capString(float64(cfg.MaxInFlight)), cfg.MaxConcurrentRuns)
	hosts, cors := "", "refused (--cors-origin)"
	if len(cfg.AllowedHosts) > 0 {
		hosts = " or " + strings.Join(cfg.AllowedHosts, ", ")
	}
	if len(cfg.CORSOrigins) > 0 {
		cors = "allowed from " + strings.Join(cfg.CORSOrigins, ", ")
	}
	fmt.Fprintf(stdout, "loadgen serve: Host must be a loopback name, the address dialled%s; cross-origin browser calls %s\n", hosts, cors)

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var ms *http.Server
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen serve: --metrics-addr: %v\n", err)
			_ = hs.Close()
			return exitError
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", mon.BoundScrapes(srv.Handler()))
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ms.Serve(mln) }()
		fmt.Fprintf(stdout, "loadgen serve: /metrics also on http://%s/metrics\n", mln.Addr())
	}
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
		return exitError
	case <-ctx.Done():
	}
	log.Info("shutting down: stopping active runs (recorded as interrupted)")
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownWait)
	defer cancel()
	code := exitOK
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("active runs did not stop in time", "err", err)
		code = exitError
	}
	for _, h := range []*http.Server{hs, ms} {
		if h != nil && h.Shutdown(sctx) != nil {
			_ = h.Close()
		}
	}
	return code
}

const serveStartTimeout = 15 * time.Second

func capString(v float64) string {
	if v <= 0 {
		return "none"
	}
	return fmt.Sprintf("%g", v)
}
