package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// recordStore is where a command records its run: a lazily connecting Store behind the asynchronous Writer, so a
// database that is down at the start or goes away mid-run never stops the run; records are spooled (data/spool)
// and written when it answers again.
type recordStore struct {
	st        store.Store
	w         *store.Writer
	closeWait time.Duration // how long close may wait for the store; shortened once it is known down
}

// openRecordStore opens the store at url (already resolved from --store and LOADGEN_STORE, never "off").
func openRecordStore(url string, log *slog.Logger) (*recordStore, error) {
	if _, _, ok := strings.Cut(url, "://"); !ok {
		return nil, fmt.Errorf("--store %q: want sqlite://PATH, mysql://DSN or off", store.Redacted(url))
	}
	st := store.OpenLazy(url)
	return &recordStore{st: st, w: store.NewWriter(st, store.WithLogger(log)), closeWait: store.DefaultFlushTimeout}, nil
}

// settle waits up to 5 s for the store to take everything written so far, for the summary to say where the records
// are. When the store is still down afterwards, close waits only briefly: the spool file keeps the rest.
func (r *recordStore) settle(ctx context.Context) store.Stats {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	stats, _ := r.w.Flush(fctx)
	if stats.Pending > 0 {
		r.closeWait = time.Second
	}
	return stats
}

// close flushes the writer and closes the store, reporting problems on stderr as prog.
func (r *recordStore) close(ctx context.Context, prog string, stderr io.Writer) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.closeWait)
	defer cancel()
	if _, err := r.w.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	if err := r.st.Close(); err != nil {
		fmt.Fprintf(stderr, "%s: close store: %v\n", prog, err)
	}
}
