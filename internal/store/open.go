package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// DefaultURL is the store used when neither --store nor LOADGEN_STORE is set:
// the SQLite file loadgen.db in DataDir, whatever directory the command runs in.
func DefaultURL() string { return "sqlite://" + filepath.Join(DataDir(), "loadgen.db") }

// DefaultURLDoc is DefaultURL as help texts write it.
const DefaultURLDoc = "sqlite://$XDG_DATA_HOME/loadlab/loadgen.db, else sqlite://~/.local/share/loadlab/loadgen.db"

// DataDir is the user's data directory of loadlab, where the default store and
// spool live: $XDG_DATA_HOME/loadlab when XDG_DATA_HOME is an absolute path,
// else ~/.local/share/loadlab (the XDG base-directory defaults), else "data"
// in the current directory when the home directory is unknown.
func DataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "loadlab")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".local", "share", "loadlab")
	}
	return "data"
}

// EnvURL is the environment variable naming the store URL.
const EnvURL = "LOADGEN_STORE"

// OpenFunc opens a store from the part of the URL after "scheme://".
type OpenFunc func(ctx context.Context, rest string) (Store, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]OpenFunc{}
)

// Register makes a store implementation available to Open under scheme.
// mysqlstore registers "mysql" and sqlitestore "sqlite" in their init, so a
// program imports the ones it wants (usually both, for their side effect).
func Register(scheme string, open OpenFunc) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[scheme]; dup {
		panic("store: Register called twice for scheme " + scheme)
	}
	drivers[scheme] = open
}

// URLFromEnv returns flagValue if set, else $LOADGEN_STORE, else DefaultURL.
func URLFromEnv(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(EnvURL); v != "" {
		return v
	}
	return DefaultURL()
}

// Open opens the store named by url, "mysql://user:pass@tcp(host:3306)/db"
// or "sqlite://path", applies pending migrations and marks runs abandoned by
// dead processes as interrupted.
func Open(ctx context.Context, url string) (Store, error) {
	open, rest, err := driver(url)
	if err != nil {
		return nil, err
	}
	st, err := open(ctx, rest)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redacted(url), err)
	}
	return st, nil
}

// CheckURL reports a store URL that names no registered implementation
// (no scheme, or an unknown one) without connecting: a mistake in --store.
func CheckURL(url string) error {
	_, _, err := driver(url)
	return err
}

func driver(url string) (OpenFunc, string, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, "", fmt.Errorf("store url %q: want scheme://..., e.g. %s", Redacted(url), DefaultURL())
	}
	driversMu.RLock()
	open := drivers[scheme]
	known := make([]string, 0, len(drivers))
	for k := range drivers {
		known = append(known, k)
	}
	driversMu.RUnlock()
	if open == nil {
		sort.Strings(known)
		return nil, "", fmt.Errorf("store url %q: unknown scheme %q (registered: %s)", Redacted(url), scheme, strings.Join(known, ", "))
	}
	return open, rest, nil
}

// Redacted masks the password in a store URL or DSN ("user:pass@" becomes
// "user:***@"), for logs and error messages.
func Redacted(url string) string {
	at := strings.LastIndex(url, "@")
	if at < 0 {
		return url
	}
	start := 0
	if i := strings.Index(url, "://"); i >= 0 && i < at {
		start = i + 3
	}
	userinfo := url[start:at]
	if c := strings.IndexByte(userinfo, ':'); c >= 0 {
		return url[:start] + userinfo[:c] + ":***" + url[at:]
	}
	return url
}
