// Package mysqltest gives tests a database of their own on the test
// MySQL/MariaDB server. It lives apart from testenv so that only the tests
// that use MySQL link the driver.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/loadlab/loadlab/internal/testenv"
)

// DefaultDSN is the MariaDB the tests use unless LOADGEN_TEST_MYSQL_DSN is set.
const DefaultDSN = "root@tcp(127.0.0.1:3306)/test?parseTime=true"

// serverConfig returns the test server's DSN (LOADGEN_TEST_MYSQL_DSN or
// DefaultDSN) with a 3 s dial timeout.
func serverConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := os.Getenv("LOADGEN_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = DefaultDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("LOADGEN_TEST_MYSQL_DSN: %v", err)
	}
	cfg.Timeout = 3 * time.Second
	return cfg
}

// NewDatabase creates the database <prefix><random> on the test server, drops
// it in t.Cleanup, and returns its DSN. An unreachable server is reported
// with testenv.Unavailable (a failure under CI=true, a loud skip elsewhere).
func NewDatabase(t testing.TB, prefix string) *mysql.Config {
	t.Helper()
	cfg := serverConfig(t)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		testenv.Unavailable(t, "MySQL/MariaDB at %s: %v (set LOADGEN_TEST_MYSQL_DSN)", cfg.Addr, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	return c
}
