package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/remotewrite"
)

// remoteWriteFlags are the --out-remote-write flags of every command that carries out a run.
type remoteWriteFlags struct {
	url      string
	interval time.Duration
	labels   labelsFlag
}

func (f *remoteWriteFlags) set(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "out-remote-write", "", "also push the metrics to this Prometheus remote-write URL (Remote Write 2.0, e.g. http://prometheus:9090/api/v1/write) every --remote-write-interval and once more at the end")
	fs.DurationVar(&f.interval, "remote-write-interval", remotewrite.DefaultInterval, "how often --out-remote-write pushes")
	fs.Var(&f.labels, "remote-write-label", "NAME=VALUE added to every pushed series; repeatable (default job=loadgen, instance=HOSTNAME:PORT of --metrics-addr)")
}

// check validates the flags and fills in the default labels: job loadgen,
// and an instance that differs between workers on one host (the metrics
// port, which they cannot share) and between hosts.
func (f *remoteWriteFlags) check(metricsAddr string) error {
	if f.url == "" {
		if len(f.labels) > 0 {
			return fmt.Errorf("--remote-write-label needs --out-remote-write")
		}
		return nil
	}
	if f.labels == nil {
		f.labels = labelsFlag{}
	}
	if _, ok := f.labels["job"]; !ok {
		f.labels["job"] = "loadgen"
	}
	if _, ok := f.labels["instance"]; !ok {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		if _, port, err := net.SplitHostPort(metricsAddr); err == nil && port != "" && port != "0" {
			host = net.JoinHostPort(host, port)
		}
		f.labels["instance"] = host
	}
	return remotewrite.Validate(f.url, f.labels, f.interval)
}

// start returns the runner's StartPush hook (nil without --out-remote-write).
// The final push gets remotewrite.DefaultCloseTimeout, even after Ctrl-C;
// its failure is reported on stderr and does not change the exit code.
func (f *remoteWriteFlags) start(log *slog.Logger, stderr io.Writer) func(*prometheus.Registry) (func(), error) {
	if f.url == "" {
		return nil
	}
	return func(reg *prometheus.Registry) (func(), error) {
		w, err := remotewrite.New(f.url, reg, f.labels, f.interval, log, remotewrite.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), remotewrite.DefaultCloseTimeout)
			defer cancel()
			if err := w.Close(ctx); err != nil {
				fmt.Fprintf(stderr, "loadgen: the final push of the metrics failed: %v\n", err)
			}
		}, nil
	}
}

// labelsFlag is a repeatable NAME=VALUE flag.
type labelsFlag map[string]string

func (l labelsFlag) String() string {
	var out []string
	for k, v := range l {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (l *labelsFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	if *l == nil {
		*l = labelsFlag{}
	}
	if _, dup := (*l)[name]; dup {
		return fmt.Errorf("label %q given twice", name)
	}
	(*l)[name] = value
	return nil
}
