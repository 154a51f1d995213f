package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of everything the store keeps on disk: the SQLite database (and its
// -wal and -shm files), spool files and parked records. They hold plans and
// results, so they are private to the user who runs loadgen, whatever the
// umask.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// MkdirPrivate creates dir and its missing parents with DirMode, whatever the
// umask. Directories that exist are left as they are, except the ones
// loadgen creates by default (DefaultSpoolDir and DataDir above it, see
// tighten), which are set to DirMode.
func MkdirPrivate(dir string) error {
	if dir == "" || dir == "." {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
	case err == nil:
		if tighten(dir) && fi.Mode().Perm() != DirMode {
			_ = os.Chmod(dir, DirMode) // best effort: another user's directory stays as it is
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := MkdirPrivate(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, DirMode) // the umask may have taken bits away
}

// tighten reports whether an existing dir is one loadgen creates by default
// (so an older, world-readable one is made private): the default spool
// directory, the per-store ones in it (SpoolDirFor) and the data directory.
func tighten(dir string) bool {
	c := filepath.Clean(dir)
	spool := filepath.Clean(DefaultSpoolDir())
	return c == spool || filepath.Dir(c) == spool || c == filepath.Clean(DataDir())
}

// OpenPrivate opens path with flag (os.O_CREATE to create it), creating its
// directory with MkdirPrivate; the file gets FileMode whatever the umask,
// and an existing file is tightened to it (best effort: another user's file
// keeps its mode).
func OpenPrivate(path string, flag int) (*os.File, error) {
	if err := MkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, flag, FileMode)
	if err != nil {
		return nil, err
	}
	_ = TightenFile(f)
	return f, nil
}

// TightenFile sets f's mode to FileMode unless it is already.
func TightenFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == FileMode {
		return nil
	}
	return f.Chmod(FileMode)
}
