package mysqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/mysqlstore"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/storetest"
	"github.com/loadlab/loadlab/internal/testenv/mysqltest"
)

// newDatabase creates loadgen_test_<rand> on the test server, drops it in
// t.Cleanup, and returns its DSN (no scheme).
func newDatabase(t *testing.T) *mysql.Config {
	t.Helper()
	return mysqltest.NewDatabase(t, "loadgen_test_")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() (store.Store, error) {
		dsn := newDatabase(t).FormatDSN()
		return func() (store.Store, error) { return mysqlstore.Open(context.Background(), dsn) }
	})
}

func TestOpenByURL(t *testing.T) {
	cfg := newDatabase(t)
	ctx := context.Background()
	st, err := store.Open(ctx, "mysql://"+cfg.FormatDSN())
	if err != nil {
		t.Fatalf("store.Open(mysql://…): %v", err)
	}
	defer st.Close()
	// Migrations are recorded once each and opening again applies nothing.
	st2, err := store.Open(ctx, "mysql://"+cfg.FormatDSN())
	if err != nil {
		t.Fatalf("second store.Open: %v", err)
	}
	st2.Close()
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, distinct int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if want := migrationFiles(t); n != want || distinct != want {
		t.Errorf("schema_migrations has %d rows (%d distinct); want %d", n, distinct, want)
	}
	// Grafana reads typed columns: check a few types.
	for _, c := range []struct{ table, col, typ string }{
		{"test_runs", "p99_ms", "double"}, {"test_metrics", "ts", "datetime"}, {"test_metrics", "cpu_pct", "double"},
		{"benchmark_results", "p999_ms", "double"}, {"stress_results", "max_sustainable_rps", "double"},
	} {
		var typ string
		err := db.QueryRow(`SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=DATABASE() AND TABLE_NAME=? AND COLUMN_NAME=?`,
			c.table, c.col).Scan(&typ)
		if err != nil || typ != c.typ {
			t.Errorf("%s.%s type = %q, %v; want %s", c.table, c.col, typ, err, c.typ)
		}
	}
}

// TestSameLogicalSchema: the MySQL and SQLite migrations create the same
// tables with the same columns in the same order.
func TestSameLogicalSchema(t *testing.T) {
	cfg := newDatabase(t)
	ctx := context.Background()
	my, err := mysqlstore.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	lite, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	mysqlCols := map[string][]string{}
	rows, err := my.SQL().QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		mysqlCols[tbl] = append(mysqlCols[tbl], col)
	}
	rows.Close()

	sqliteCols := map[string][]string{}
	var tables []string
	rows, err = lite.SQL().QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tbl := range tables {
		rows, err := lite.SQL().QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			rows.Scan(&c)
			sqliteCols[tbl] = append(sqliteCols[tbl], c)
		}
		rows.Close()
	}
	if !reflect.DeepEqual(mysqlCols, sqliteCols) {
		t.Errorf("schemas differ:\nmysql  %v\nsqlite %v", mysqlCols, sqliteCols)
	}
	for _, want := range []string{"test_runs", "test_metrics", "step_results", "benchmark_results", "stress_results", "stress_probes", "knee_results", "schema_migrations"} {
		if _, ok := mysqlCols[want]; !ok {
			t.Errorf("table %s missing", want)
		}
	}
}

// A crash between a migration's DDL and its schema_migrations row (MySQL DDL
// is not transactional) must not stop the next start.
func TestMigrateAfterCrash(t *testing.T) {
	cfg := newDatabase(t)
	ctx := context.Background()
	st, err := mysqlstore.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	// 0002 and 0003 are CREATE INDEX, which MySQL cannot make idempotent.
	if _, err := st.SQL().Exec(`DELETE FROM schema_migrations WHERE version >= 2`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = mysqlstore.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatalf("reopen after lost migration records: %v", err)
	}
	defer st.Close()
	var n int
	st.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if want := migrationFiles(t); n != want {
		t.Errorf("schema_migrations rows = %d; want %d", n, want)
	}
}

// Several processes starting at once on a new database migrate it once.
func TestConcurrentOpen(t *testing.T) {
	dsn := newDatabase(t).FormatDSN()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := mysqlstore.Open(context.Background(), dsn)
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
	st, err := mysqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	st.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if want := migrationFiles(t); n != want {
		t.Errorf("schema_migrations rows = %d; want %d", n, want)
	}
}

// migrationFiles counts the migrations the store embeds (one row each in schema_migrations once applied).
func migrationFiles(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) < 11 {
		t.Fatalf("migrations/*.sql = %d files, %v; want the embedded migrations (at least 11)", len(files), err)
	}
	return len(files)
}
