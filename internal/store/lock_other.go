//go:build !unix

package store

import "os"

// tryLock: no advisory locks here; spool files are not shared between
// processes safely on this platform.
func tryLock(f *os.File) (bool, error) { return true, nil }

// lock: see tryLock.
func lock(f *os.File) error { return nil }
