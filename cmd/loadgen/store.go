package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore"  // registers mysql://
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // registers sqlite://
)

// openedStore is the store a command records runs in or reads them from.
type openedStore struct {
	st  store.Store
	w   *store.Writer // the records' way in: never waits on the database, spools while it is away
	url string
	tmp string // a temporary store's directory, removed at close
}

// How a command uses the store.
type storeUse int

const (
	recordRuns       storeUse = iota // records runs through a Writer; "off": none
	recordRunsOrTemp                 // records runs; "off": in a temporary store (--out-html)
	readRuns                         // reads runs; "off" is an error
)

// openStore opens the store named by --store, else LOADGEN_STORE, else the default: the one place every command
// opens it. It connects lazily (on first use, and again after a failure), so a database that is down at the start
// or goes away mid-run never stops a run: the Writer spools the records (spool/<store>/ in the data directory: one directory per store) and writes them
// once that store answers. "off" opens nothing (nil) for recordRuns, a temporary SQLite store removed at close for
// recordRunsOrTemp. A URL that names no store (no scheme, an unknown one), or "off" for readRuns, is an error:
// exit code 2 in every command.
func openStore(flagURL string, use storeUse, log *slog.Logger) (*openedStore, error) {
	o := &openedStore{url: store.URLFromEnv(flagURL)}
	var opts []store.WriterOption
	switch {
	case o.url == "off" && use == readRuns:
		return nil, fmt.Errorf("--store off: this command reads the stored runs; name a store")
	case o.url == "off" && use == recordRuns:
		return nil, nil
	case o.url == "off":
		dir, err := os.MkdirTemp("", "loadgen-store-")
		if err != nil {
			return nil, fmt.Errorf("temporary store: %w", err)
		}
		o.tmp, o.url = dir, "sqlite://"+filepath.Join(dir, "loadgen.db")
		opts = append(opts, store.WithSpoolDir(filepath.Join(dir, "spool")), store.WithReplayOnStart(false))
	case store.CheckURL(o.url) != nil:
		return nil, fmt.Errorf("--store: %w", store.CheckURL(o.url))
	default:
		opts = append(opts, store.WithSpoolDir(store.SpoolDirFor(o.url)))
	}
	o.st = store.OpenLazy(o.url)
	if use != readRuns {
		o.w = store.NewWriter(o.st, append(opts, store.WithLogger(log))...)
	}
	return o, nil
}

// close flushes the writer and closes the store, reporting problems on stderr as prog. While the store is away,
// it waits only briefly: the spool file keeps the rest for the next start.
func (o *openedStore) close(ctx context.Context, prog string, stderr io.Writer) {
	if o == nil {
		return
	}
	if o.w != nil {
		wait := store.DefaultFlushTimeout
		if s := o.w.Stats(); s.Down || s.Pending > 0 {
			wait = time.Second
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
		defer cancel()
		if _, err := o.w.Close(cctx); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		}
	}
	if err := o.st.Close(); err != nil {
		fmt.Fprintf(stderr, "%s: close store: %v\n", prog, err)
	}
	if o.tmp != "" {
		os.RemoveAll(o.tmp)
	}
}
