package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadlab/loadlab/internal/metrics"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/sysmon"
)

// Metrics server defaults.
const (
	// DefaultMetricsAddr is where a command serves /metrics unless told otherwise.
	DefaultMetricsAddr = "127.0.0.1:9646"
	// MetricsOff as ExposeOptions.Addr serves no /metrics.
	MetricsOff = "off"
)

// ExposeOptions configure Expose.
type ExposeOptions struct {
	// Addr is the /metrics listen address; "" means DefaultMetricsAddr, or a free port on 127.0.0.1 when that one
	// is taken (another loadgen on the host); MetricsOff serves nothing. Listener, when set, is used instead.
	Addr     string
	Listener net.Listener
	// Watch names processes whose CPU, memory, fds and threads are exported as
	// loadgen_watched_process_*{process=NAME} (label -> pid; the names must be a bounded set, e.g. "target").
	Watch map[string]int32
	// StartPush, when set, is called with the registry once /metrics is set up (to gather from and to register
	// the pusher's own metrics on); the func it returns pushes the final values and stops (a Prometheus remote
	// write, --out-remote-write).
	StartPush func(*prometheus.Registry) (stop func(), err error)
	Log       *slog.Logger
}

// Exposed is a command's own /metrics: a registry with the loadgen_* metrics, the Go and process collectors and
// the resource monitor's host (and watched process) metrics, served while the command runs, pushed by remote
// write when asked. Give Metrics to the runs (Run.Metrics); End it once they are over.
type Exposed struct {
	Metrics  *metrics.Metrics
	Registry *prometheus.Registry
	// Addr is where /metrics listens ("" when not served); Taken is the default address when it was taken.
	Addr, Taken string
	srv         *http.Server
	done        chan struct{}
	push        func()
}

// Expose builds the registry and serves it. A taken address given explicitly is an error; the default one falls
// back to a free port.
func Expose(o ExposeOptions) (*Exposed, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	x := &Exposed{Registry: reg, Metrics: metrics.New(reg)}
	mon := sysmon.New()
	for name, pid := range o.Watch {
		mon.Watch(name, pid)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), mon)
	ln := o.Listener
	if ln == nil && o.Addr != MetricsOff {
		var err error
		switch ln, err = net.Listen("tcp", cmp.Or(o.Addr, DefaultMetricsAddr)); {
		case err != nil && o.Addr == "" && errors.Is(err, syscall.EADDRINUSE):
			x.Taken = DefaultMetricsAddr
			ln, err = net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("serve /metrics: %w", err)
			}
		case err != nil:
			return nil, fmt.Errorf("serve /metrics: %w (choose another --metrics-addr, or %q)", err, MetricsOff)
		}
	}
	if ln != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", mon.BoundScrapes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})))
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintln(w, "loadgen: metrics at /metrics")
		})
		x.Addr = ln.Addr().String()
		x.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		x.done = make(chan struct{})
		go func() {
			defer close(x.done)
			defer panics.Recover("metrics server", func(pe *panics.Error) { o.Log.Error("metrics server stopped", "err", pe.Error()) })
			_ = x.srv.Serve(ln) // returns http.ErrServerClosed on close
		}()
	}
	if o.StartPush != nil {
		stop, err := o.StartPush(reg)
		if err != nil {
			x.close()
			return nil, err
		}
		x.push = stop
	}
	return x, nil
}

// End pushes the final values (once), keeps /metrics up for linger (a final scrape) unless ctx ends first, and
// stops serving.
func (x *Exposed) End(ctx context.Context, linger time.Duration) {
	x.endPush()
	if x.srv != nil && linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	x.close()
}

func (x *Exposed) endPush() {
	if x.push != nil {
		x.push()
		x.push = nil
	}
}

func (x *Exposed) close() {
	x.endPush()
	if x.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := x.srv.Shutdown(ctx); err != nil {
		_ = x.srv.Close()
	}
	<-x.done
	x.srv = nil
}
