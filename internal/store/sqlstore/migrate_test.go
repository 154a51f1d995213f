package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/sqlstore"
)

func TestMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []string
		wantErr string
	}{
		{"ordered numerically", fstest.MapFS{
			"migrations/0010_c.sql": file("CREATE TABLE c (x INT);"),
			"migrations/0002_b.sql": file("-- a comment; with a semicolon\nCREATE TABLE b (x INT)"),
			"migrations/0001_a.sql": file("CREATE TABLE a (x INT)\n"),
		}, []string{"0001_a", "0002_b", "0010_c"}, ""},
		{"two statements", fstest.MapFS{"migrations/0001_a.sql": file("CREATE TABLE a (x INT); CREATE TABLE b (x INT)")}, nil, "one statement per file"},
		{"duplicate version", fstest.MapFS{"migrations/0001_a.sql": file("SELECT 1"), "migrations/0001_b.sql": file("SELECT 1")}, nil, "already used"},
		{"bad name", fstest.MapFS{"migrations/init.sql": file("SELECT 1")}, nil, "NNNN_name.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := sqlstore.Migrations(tt.fs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Migrations() error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Migrations() = %v; want %v", got, tt.want)
			}
		})
	}
}

// A crash between a migration's DDL and its schema_migrations row must not
// stop the next start.
func TestMigrateAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SQL().Exec(`DELETE FROM schema_migrations WHERE version >= 5`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after a lost migration record: %v", err)
	}
	defer st.Close()
	var n int
	st.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	all, _ := sqlstore.Migrations(sqlitestore.Dialect.Migrations)
	if n != len(all) {
		t.Errorf("schema_migrations rows = %d; want %d", n, len(all))
	}
}
