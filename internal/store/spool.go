package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DefaultSpoolDir is where a Writer spools records while the store is down.
const DefaultSpoolDir = "data/spool"

// rejectedPrefix names the files of records the store refused (kept for a
// person to look at, never replayed).
const rejectedPrefix = "rejected-"

// spoolFile is one append-only JSON-lines file, locked while open so that a
// ReplaySpool in another process leaves it alone. Lines before offset have
// already been written to the store.
type spoolFile struct {
	path   string
	f      *os.File
	offset int64
	lines  int // lines not yet written to the store
}

func openSpool(path string) (*spoolFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if ok, err := tryLock(f); err != nil || !ok {
		f.Close()
		if err == nil {
			err = fmt.Errorf("spool file %s is locked by another process", path)
		}
		return nil, err
	}
	return &spoolFile{path: path, f: f}, nil
}

func (s *spoolFile) append(recs ...*record) error {
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("spool %s: %w", r.Op, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	s.lines += len(recs)
	return nil
}

// pending reads the lines not yet written, each with its length in bytes
// (newline included). A torn last line (crash mid-write) is skipped.
func (s *spoolFile) pending() ([]*record, []int, error) {
	st, err := s.f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data := make([]byte, st.Size()-s.offset)
	if _, err := s.f.ReadAt(data, s.offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return parseLines(data)
}

func parseLines(data []byte) ([]*record, []int, error) {
	var recs []*record
	var sizes []int
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // torn tail
		}
		line := data[:i]
		data = data[i+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			if len(sizes) > 0 {
				sizes[len(sizes)-1] += i + 1
			}
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return recs, sizes, fmt.Errorf("spool line %d: %w", len(recs)+1, err)
		}
		recs = append(recs, &r)
		sizes = append(sizes, i+1)
	}
	return recs, sizes, nil
}

// done marks n bytes (one record) as written.
func (s *spoolFile) done(n int) {
	s.offset += int64(n)
	s.lines--
}

// reset empties the file once everything in it has been written.
func (s *spoolFile) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.offset, s.lines = 0, 0
	return nil
}

// close keeps only the unwritten lines (or removes an empty file) and
// releases the lock.
func (s *spoolFile) close() (kept bool, err error) {
	defer s.f.Close()
	if s.lines <= 0 {
		return false, os.Remove(s.path)
	}
	if s.offset > 0 {
		st, err := s.f.Stat()
		if err != nil {
			return true, err
		}
		rest := make([]byte, st.Size()-s.offset)
		if _, err := s.f.ReadAt(rest, s.offset); err != nil && !errors.Is(err, io.EOF) {
			return true, err
		}
		if err := s.f.Truncate(0); err != nil {
			return true, err
		}
		if _, err := s.f.Write(rest); err != nil {
			return true, err
		}
	}
	return true, s.f.Sync()
}

// appendRejected adds records the store refused to dir/rejected-<name>.jsonl.
func appendRejected(path string, recs []*record, cause error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, r := range recs {
		c := *r
		c.Err, c.At = cause.Error(), time.Now().UTC()
		b, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// ReplayResult tells what ReplaySpool did.
type ReplayResult struct {
	Files    int // spool files fully written and removed
	Records  int // records written to the store
	Rejected int // records the store refused (moved to rejected-*.jsonl)
	Skipped  int // files locked by a live writer, left alone
}

// ReplaySpool writes the records left in dir's spool files by earlier
// processes (a store outage at the end of a run, or a crash) to st, in order,
// and removes each file once written. Files held by a live Writer are
// skipped. On a store error it stops, keeping the unwritten lines for the
// next attempt. A missing dir is not an error.
func ReplaySpool(ctx context.Context, st Store, dir string) (ReplayResult, error) {
	var res ReplayResult
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("replay spool %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".jsonl") && !strings.HasPrefix(n, rejectedPrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names) // writer IDs sort by creation time
	for _, n := range names {
		path := filepath.Join(dir, n)
		sf, err := openSpool(path)
		if err != nil {
			res.Skipped++
			continue
		}
		recs, sizes, perr := sf.pending()
		sf.lines = len(recs)
		for i, r := range recs {
			if err := r.apply(ctx, st); err != nil {
				if !permanent(err) {
					sf.close()
					return res, fmt.Errorf("replay spool %s: %w", path, err)
				}
				if rerr := appendRejected(filepath.Join(dir, rejectedPrefix+n), []*record{r}, err); rerr != nil {
					sf.close()
					return res, fmt.Errorf("replay spool %s: %w", path, rerr)
				}
				res.Rejected++
			} else {
				res.Records++
			}
			sf.done(sizes[i])
		}
		if perr != nil { // a corrupt line: keep it (and what follows) for a person to look at
			sf.lines = 1
			sf.close()
			return res, fmt.Errorf("replay spool %s: %w", path, perr)
		}
		sf.lines = 0
		if _, err := sf.close(); err != nil {
			return res, fmt.Errorf("replay spool %s: %w", path, err)
		}
		res.Files++
	}
	return res, nil
}
