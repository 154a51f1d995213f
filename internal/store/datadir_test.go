package store_test

import (
	"path/filepath"
	"testing"

	"github.com/loadlab/loadlab/internal/store"
)

// TestDataDir: the default store and spool live in the user's data directory, whatever the working directory:
// $XDG_DATA_HOME/loadlab, else ~/.local/share/loadlab (a relative XDG_DATA_HOME is ignored, as the spec says).
func TestDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tc := range []struct{ xdg, want string }{
		{"/srv/xdg", "/srv/xdg/loadlab"},
		{"", filepath.Join(home, ".local/share/loadlab")},
		{"relative/dir", filepath.Join(home, ".local/share/loadlab")},
	} {
		t.Setenv("XDG_DATA_HOME", tc.xdg)
		if got := store.DataDir(); got != tc.want {
			t.Errorf("XDG_DATA_HOME=%q: DataDir() = %q; want %q", tc.xdg, got, tc.want)
		}
		if got, want := store.DefaultURL(), "sqlite://"+filepath.Join(tc.want, "loadgen.db"); got != want {
			t.Errorf("XDG_DATA_HOME=%q: DefaultURL() = %q; want %q", tc.xdg, got, want)
		}
		if got, want := store.DefaultSpoolDir(), filepath.Join(tc.want, "spool"); got != want {
			t.Errorf("XDG_DATA_HOME=%q: DefaultSpoolDir() = %q; want %q", tc.xdg, got, want)
		}
	}
	t.Setenv("XDG_DATA_HOME", "/srv/xdg")
	t.Setenv(store.EnvURL, "")
	if got := store.URLFromEnv(""); got != "sqlite:///srv/xdg/loadlab/loadgen.db" {
		t.Errorf("URLFromEnv(\"\") = %q; want the default store in the data directory", got)
	}
}
