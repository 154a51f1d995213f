package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// DefaultSpoolDir is where a Writer spools records while the store is down:
// spool in DataDir.
func DefaultSpoolDir() string { return filepath.Join(DataDir(), "spool") }

// SpoolDirFor is the spool directory of the store url: a directory of its own below DefaultSpoolDir, named by
// the store's scheme and a hash of its URL without credentials, so that records spooled for one store are written
// only into that store (a command that opens another store leaves them alone).
func SpoolDirFor(url string) string {
	scheme, _, _ := strings.Cut(url, "://")
	sum := sha256.Sum256([]byte(Redacted(url)))
	return filepath.Join(DefaultSpoolDir(), scheme+"-"+hex.EncodeToString(sum[:6]))
}

// rejectedPrefix names the files of parked records: records the store
// refused. ReplaySpool retries them at each start until the store takes them
// or has refused them MaxParkedAttempts times in all; then they stay, with
// the last reason, for a person to look at.
const rejectedPrefix = "rejected-"

// MaxParkedAttempts bounds how often a refused record is offered to the
// store, the first refusal included, before it stays parked for good.
const MaxParkedAttempts = 5

// maxCorruptReported bounds ReplayResult.CorruptAt.
const maxCorruptReported = 20

// spoolFile is one append-only JSON-lines file, locked while open so that a
// ReplaySpool in another process leaves it alone. Lines before offset have
// already been written to the store.
type spoolFile struct {
	path   string
	f      *os.File
	offset int64
	lineNo int // lines before offset
	lines  int // records not yet written to the store
}

func openSpool(path string) (*spoolFile, error) {
	f, err := OpenPrivate(path, os.O_CREATE|os.O_RDWR|os.O_APPEND)
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

// spoolLine is one line of a spool or parked-records file.
type spoolLine struct {
	rec  *record // nil for a blank, torn or corrupt line
	raw  []byte  // the line as read, without its newline
	size int     // bytes, newline included
	line int     // 1-based line number in the file
	bad  string  // why a line that is not blank has no record
}

// pending reads the lines not yet written.
func (s *spoolFile) pending() ([]spoolLine, error) {
	st, err := s.f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size()-s.offset)
	if _, err := s.f.ReadAt(data, s.offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return parseLines(data, s.lineNo+1), nil
}

// parseLines splits a file's text into lines, numbered from first. A last
// line without its newline (a crash mid-write) is torn; a line that is not a
// JSON record is corrupt. Neither stops the lines after it.
func parseLines(data []byte, first int) []spoolLine {
	var out []spoolLine
	for n := first; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, spoolLine{raw: data, size: len(data), line: n,
				bad: "torn line (no newline at the end: the writer stopped mid-write)"})
			break
		}
		l := spoolLine{raw: data[:i], size: i + 1, line: n}
		data = data[i+1:]
		if len(bytes.TrimSpace(l.raw)) > 0 {
			var r record
			switch err := json.Unmarshal(l.raw, &r); {
			case err != nil:
				l.bad = "corrupt line: " + err.Error()
			case r.Op == "":
				l.bad = "corrupt line: not a spool record (no op)"
			default:
				l.rec = &r
			}
		}
		out = append(out, l)
	}
	return out
}

// done marks one line as handled (written, parked or skipped).
func (s *spoolFile) done(l spoolLine) {
	s.offset += int64(l.size)
	s.lineNo++
	if l.rec != nil {
		s.lines--
	}
}

// reset empties the file once everything in it has been written.
func (s *spoolFile) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.offset, s.lineNo, s.lines = 0, 0, 0
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

// lockPath opens path (creating it privately) and takes its lock, waiting
// for it; it makes sure the file it locked is still the one at path (a
// retry may have replaced it meanwhile).
func lockPath(path string) (*os.File, error) {
	for range 100 {
		f, err := OpenPrivate(path, os.O_CREATE|os.O_RDWR|os.O_APPEND)
		if err != nil {
			return nil, err
		}
		if err := lock(f); err != nil {
			f.Close()
			return nil, err
		}
		if same(f, path) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: the file keeps being replaced", path)
}

// same reports whether f is the file now at path.
func same(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// appendParked adds records the store refused to a parked-records file (f
// locked by the caller), each with the reason and the number of refusals.
func appendParked(f *os.File, cause error, recs ...*record) error {
	var buf bytes.Buffer
	for _, r := range recs {
		c := *r
		c.Err, c.At = cause.Error(), time.Now().UTC()
		c.Attempts = max(c.Attempts, 0) + 1
		b, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return err
	}
	return f.Sync()
}

// parkAt appends refused records to the parked-records file at path.
func parkAt(path string, cause error, recs ...*record) error {
	f, err := lockPath(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return appendParked(f, cause, recs...)
}

// ReplayResult tells what ReplaySpool did.
type ReplayResult struct {
	Files    int // spool files fully written and removed
	Records  int // records written to the store (parked ones included)
	Rejected int // records the store refused (parked in rejected-*.jsonl)
	Skipped  int // files locked by a live writer, left alone
	// Corrupt counts torn or corrupt spool lines skipped; CorruptAt says
	// where ("file:line: why"), for the first 20.
	Corrupt   int
	CorruptAt []string
	Unparked  int // parked records the store took when retried
	Parked    int // records still parked afterwards
	GaveUp    int // of Parked, those refused MaxParkedAttempts times: no longer retried
}

func (r *ReplayResult) corrupt(path string, l spoolLine) {
	r.Corrupt++
	if len(r.CorruptAt) < maxCorruptReported {
		r.CorruptAt = append(r.CorruptAt, fmt.Sprintf("%s:%d: %s", path, l.line, l.bad))
	}
}

// ReplaySpool writes the records left in dir's spool files by earlier
// processes (a store outage at the end of a run, or a crash) to st, in order,
// and removes each file once written; a torn or corrupt line is skipped
// (counted in Corrupt, located in CorruptAt) and the lines after it are
// written. Files held by a live Writer are skipped. Then it offers the
// parked records (rejected-*.jsonl) to the store again (see
// MaxParkedAttempts). On a store error it stops, keeping the unwritten
// lines for the next attempt. A missing dir is not an error.
func ReplaySpool(ctx context.Context, st Store, dir string) (ReplayResult, error) {
	var res ReplayResult
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("replay spool %s: %w", dir, err)
	}
	var names, parked []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir() || !strings.HasSuffix(n, ".jsonl"):
		case strings.HasPrefix(n, rejectedPrefix):
			parked = append(parked, n)
		default:
			names = append(names, n)
		}
	}
	sort.Strings(names) // writer IDs sort by creation time
	for _, n := range names {
		if err := replayFile(ctx, st, dir, n, &res); err != nil {
			return res, err
		}
	}
	sort.Strings(parked)
	for _, n := range parked {
		if err := retryParked(ctx, st, filepath.Join(dir, n), &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// replayFile writes one spool file of an earlier process.
func replayFile(ctx context.Context, st Store, dir, name string, res *ReplayResult) error {
	path := filepath.Join(dir, name)
	sf, err := openSpool(path)
	if err != nil {
		res.Skipped++
		return nil
	}
	lines, err := sf.pending()
	if err != nil {
		sf.close()
		return fmt.Errorf("replay spool %s: %w", path, err)
	}
	for _, l := range lines {
		if l.rec != nil {
			sf.lines++
		}
	}
	for _, l := range lines {
		switch {
		case l.rec != nil:
			if err := l.rec.apply(ctx, st); err != nil {
				if !permanent(err) {
					sf.close()
					return fmt.Errorf("replay spool %s: %w", path, err)
				}
				if perr := parkAt(filepath.Join(dir, rejectedPrefix+name), err, l.rec); perr != nil {
					sf.close()
					return fmt.Errorf("replay spool %s: %w", path, perr)
				}
				res.Rejected++
			} else {
				res.Records++
			}
		case l.bad != "":
			res.corrupt(path, l)
		}
		sf.done(l)
	}
	sf.lines = 0
	if _, err := sf.close(); err != nil {
		return fmt.Errorf("replay spool %s: %w", path, err)
	}
	res.Files++
	return nil
}

// retryParked offers a parked-records file's records to the store again:
// the ones it takes leave the file, the ones it refuses again count one more
// attempt. Records refused MaxParkedAttempts times, and lines that are not
// records, stay as they are. A file held by a live Writer is left alone.
func retryParked(ctx context.Context, st Store, path string, res *ReplayResult) error {
	f, err := OpenPrivate(path, os.O_RDWR)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("retry parked records %s: %w", path, err)
	}
	defer f.Close()
	if ok, err := tryLock(f); err != nil || !ok || !same(f, path) {
		res.Skipped++
		return nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("retry parked records %s: %w", path, err)
	}
	var (
		keep    bytes.Buffer
		changed bool
		stop    error
	)
	for _, l := range parseLines(data, 1) {
		r := l.rec
		if r != nil && r.Attempts < 1 {
			r.Attempts = 1 // parked before attempts were counted
		}
		if r == nil || stop != nil || r.Attempts >= MaxParkedAttempts {
			if len(bytes.TrimSpace(l.raw)) > 0 {
				keep.Write(l.raw)
				keep.WriteByte('\n')
			}
			if r != nil {
				res.Parked++
				if r.Attempts >= MaxParkedAttempts {
					res.GaveUp++
				}
			}
			continue
		}
		err := r.apply(ctx, st)
		switch {
		case err == nil:
			res.Records++
			res.Unparked++
			changed = true
		case permanent(err):
			r.Attempts++
			r.Err, r.At = err.Error(), time.Now().UTC()
			b, merr := json.Marshal(r)
			if merr != nil {
				b = l.raw
			}
			keep.Write(b)
			keep.WriteByte('\n')
			res.Parked++
			if r.Attempts >= MaxParkedAttempts {
				res.GaveUp++
			}
			changed = true
		default: // the store went away: keep this one and the rest as they are
			stop = err
			keep.Write(l.raw)
			keep.WriteByte('\n')
			res.Parked++
		}
	}
	if changed {
		if err := rewrite(path, keep.Bytes()); err != nil {
			return fmt.Errorf("retry parked records %s: %w", path, err)
		}
	}
	if stop != nil {
		return fmt.Errorf("retry parked records %s: %w", path, stop)
	}
	return nil
}

// rewrite replaces the file at path with data (removes it when data is
// empty) through a private temporary file, so a crash leaves the old or the
// new content, never a half.
func rewrite(path string, data []byte) error {
	if len(data) == 0 {
		return os.Remove(path)
	}
	tmp := path + ".tmp"
	f, err := OpenPrivate(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// Parked describes the records parked in a spool directory.
type Parked struct {
	Records int      // records parked (being retried or given up)
	GaveUp  int      // of Records, those refused MaxParkedAttempts times
	Files   []string // the rejected-*.jsonl files holding them
}

// ParkedRecords counts the records parked in dir's rejected-*.jsonl files.
// A missing dir has none.
func ParkedRecords(dir string) (Parked, error) {
	var p Parked
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, rejectedPrefix) || !strings.HasSuffix(n, ".jsonl") {
			continue
		}
		path := filepath.Join(dir, n)
		data, err := os.ReadFile(path)
		if err != nil {
			return p, err
		}
		found := 0
		for _, l := range parseLines(data, 1) {
			if l.rec == nil {
				continue
			}
			found++
			if l.rec.Attempts >= MaxParkedAttempts {
				p.GaveUp++
			}
		}
		if found > 0 {
			p.Records += found
			p.Files = append(p.Files, path)
		}
	}
	return p, nil
}
