package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() (store.Store, error) {
		path := filepath.Join(t.TempDir(), "sub", "loadgen.db")
		return func() (store.Store, error) { return sqlitestore.Open(context.Background(), path) }
	})
}

// Several processes starting at once on a new file migrate it once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := sqlitestore.Open(context.Background(), path)
			if err == nil {
				st.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func TestOpenByURL(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "a", "b", "loadgen.db"))
	if err != nil {
		t.Fatalf("store.Open(sqlite://…): %v", err)
	}
	st.Close()
	for _, url := range []string{"sqlite://" + dir + "/x.db?mode=ro", "sqlite://:memory:", "nosuch://x", "data/loadgen.db"} {
		if st, err := store.Open(ctx, url); err == nil {
			st.Close()
			t.Errorf("store.Open(%q) succeeded; want an error", url)
		}
	}
}
