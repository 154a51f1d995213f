// Package sqlitestore is the embedded store.Store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo), WAL mode. It is the default (loadgen.db in
// store.DataDir, see store.DefaultURL); import it for its side effect to make
// store.Open accept "sqlite://path".
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultPath is the database file used for "sqlite://" with no path: the
// default store's file (loadgen.db in store.DataDir).
func DefaultPath() string { return filepath.Join(store.DataDir(), "loadgen.db") }

// BusyTimeoutMs is how long a writer waits for another connection's (or
// process's) write lock before failing with SQLITE_BUSY.
const BusyTimeoutMs = 10000

func init() {
	store.Register("sqlite", func(ctx context.Context, path string) (store.Store, error) { return Open(ctx, path) })
}

// Dialect is the SQLite dialect of the shared SQL implementation.
var Dialect = sqlstore.Dialect{
	Name:       "sqlite",
	Migrations: migrations,
	MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER  NOT NULL PRIMARY KEY,
		name       TEXT     NOT NULL,
		applied_at DATETIME NOT NULL
	)`,
	Upsert: func(conflict, update []string) string {
		s := " ON CONFLICT(" + strings.Join(conflict, ", ") + ") DO "
		if len(update) == 0 {
			return s + "NOTHING"
		}
		set := make([]string, len(update))
		for i, c := range update {
			set[i] = c + "=excluded." + c
		}
		return s + "UPDATE SET " + strings.Join(set, ", ")
	},
	IsDuplicate: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
		}
		return false
	},
	AlreadyApplied: func(err error) bool {
		return strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "duplicate column name")
	},
}

// DSN returns the modernc.org/sqlite data source for a database file.
func DSN(path string) string {
	return "file:" + path + fmt.Sprintf("?_pragma=busy_timeout(%d)", BusyTimeoutMs) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_time_format=sqlite&_txlock=immediate"
}

// Open opens (creating it and its directory if needed) the SQLite database at
// path, applies migrations and marks abandoned runs interrupted. The file is
// private (store.FileMode, in a store.DirMode directory when Open creates
// it); SQLite gives its -wal and -shm files the database's mode.
func Open(ctx context.Context, path string, opts ...sqlstore.Option) (*sqlstore.DB, error) {
	if path == "" {
		path = DefaultPath()
	}
	if strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite path %q: want a file path without ? or #", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, Dialect, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file (and its directory) with
// store.FileMode before SQLite opens it, whatever the umask, and tightens an
// existing database and its -wal and -shm files.
func createPrivate(path string) error {
	f, err := store.OpenPrivate(path, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if f, err := os.OpenFile(side, os.O_RDWR, 0); err == nil {
			_ = store.TightenFile(f)
			f.Close()
		}
	}
	return nil
}
