// Package mysqlstore is the MySQL/MariaDB store.Store (production): import it
// for its side effect to make store.Open accept
// "mysql://user:pass@tcp(host:3306)/db?parseTime=true".
package mysqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults applied to a DSN that does not set them.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

func init() {
	store.Register("mysql", func(ctx context.Context, dsn string) (store.Store, error) { return Open(ctx, dsn) })
}

// Dialect is the MySQL/MariaDB dialect of the shared SQL implementation.
var Dialect = sqlstore.Dialect{
	Name:       "mysql",
	Migrations: migrations,
	MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INT          NOT NULL PRIMARY KEY,
		name       VARCHAR(255) NOT NULL,
		applied_at DATETIME(6)  NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	Upsert: func(conflict, update []string) string {
		if len(update) == 0 {
			return " ON DUPLICATE KEY UPDATE " + conflict[0] + "=" + conflict[0]
		}
		set := make([]string, len(update))
		for i, c := range update {
			set[i] = c + "=VALUES(" + c + ")"
		}
		return " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
	},
	IsDuplicate:    func(err error) bool { return errNumber(err) == 1062 },
	AlreadyApplied: func(err error) bool { n := errNumber(err); return n == 1050 || n == 1060 || n == 1061 },
	Lock: func(ctx context.Context, c *sql.Conn) (func(), error) {
		const name = "CONCAT('loadgen_migrate:', MD5(DATABASE()))" // lock names are limited to 64 characters
		var got sql.NullInt64
		if err := c.QueryRowContext(ctx, "SELECT GET_LOCK("+name+", 60)").Scan(&got); err != nil {
			return nil, err
		}
		if got.Int64 != 1 {
			return nil, errors.New("timed out waiting for another process's migration lock")
		}
		return func() { c.ExecContext(context.Background(), "DO RELEASE_LOCK("+name+")") }, nil
	},
}

func errNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// Config parses a go-sql-driver DSN ("user:pass@tcp(host:3306)/db?...",
// without the mysql:// scheme) and sets what the store relies on: parseTime,
// UTC, client-found-rows, no driver logging, and dial/read/write timeouts
// unless given.
func Config(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("mysql dsn: no database name (…/dbname)")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	cfg.MultiStatements = false
	// The driver logs every dropped connection to stderr; the store's
	// callers report failures themselves (the Writer counts outages).
	cfg.Logger = &mysql.NopLogger{}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultDialTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	return cfg, nil
}

// Open connects to MySQL/MariaDB with dsn (no scheme), applies migrations and
// marks abandoned runs interrupted.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.DB, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetConnMaxLifetime(3 * time.Minute)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s@%s/%s: %w", cfg.User, cfg.Addr, cfg.DBName, err)
	}
	s, err := sqlstore.New(ctx, db, Dialect, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s/%s: %w", cfg.Addr, cfg.DBName, err)
	}
	return s, nil
}
