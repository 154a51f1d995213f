package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// BenchmarkWriterAddSnapshots is the cost on the engine's side of handing a
// snapshot to the Writer (the store writes happen on the Writer's goroutine).
func BenchmarkWriterAddSnapshots(b *testing.B) {
	dir := b.TempDir()
	st, err := openBench(filepath.Join(dir, "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w := store.NewWriter(st, store.WithSpoolDir(filepath.Join(dir, "spool")), store.WithMaxBuffered(b.N+10))
	run := &store.Run{Type: store.TypeLoad, Status: store.StatusRunning}
	w.CreateRun(context.Background(), run)
	s := []store.Snapshot{{Phase: "steady", RPS: 100}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s[0].TS = time.Unix(0, int64(i)*int64(time.Millisecond))
		w.AddSnapshots(context.Background(), run.ID, s)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	stats, err := w.Close(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(stats.Written), "µs/store-write")
}

// BenchmarkStoreAddSnapshot is one synchronous snapshot insert into SQLite.
func BenchmarkStoreAddSnapshot(b *testing.B) {
	st, err := openBench(filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for i := range b.N {
		if err := st.AddSnapshots(ctx, "r", []store.Snapshot{{TS: time.Unix(0, int64(i)*int64(time.Millisecond))}}); err != nil {
			b.Fatal(err)
		}
	}
}

func openBench(path string) (store.Store, error) {
	return store.Open(context.Background(), "sqlite://"+path)
}
