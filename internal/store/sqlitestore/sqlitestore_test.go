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
