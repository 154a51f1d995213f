package plan

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/loadlab/loadlab/internal/tmpl"
)

// MaxPlanSize bounds the YAML accepted by Parse (1 MiB) and MaxDataRows the
// rows read from one CSV file.
const (
	MaxPlanSize = 1 << 20
	MaxDataRows = 1_000_000
)

// Option changes how a plan is loaded.
type Option func(*loadOptions)

type loadOptions struct {
	target string
	typ    string
	fsys   fs.FS
	noFS   bool
	env    map[string]string
	lookup func(name string) (string, error)
}

// WithTarget overrides the plan's target (--target, LOADGEN_TARGET) before validation.
func WithTarget(url string) Option { return func(o *loadOptions) { o.target = url } }

// WithType overrides the plan's type (the bench, stress and knee subcommands)
// before defaults and validation.
func WithType(t string) Option { return func(o *loadOptions) { o.typ = t } }

// WithFS resolves data files (csv:) inside fsys instead of the plan's directory
// on disk; nil forbids data files (plans sent over an API).
func WithFS(fsys fs.FS) Option {
	return func(o *loadOptions) { o.fsys, o.noFS = fsys, fsys == nil }
}

// WithEnv makes vars visible to ${env.NAME} in front of the environment
// lookup (a name in vars wins), e.g. values given on the command line.
func WithEnv(vars map[string]string) Option {
	return func(o *loadOptions) {
		if o.env == nil {
			o.env = map[string]string{}
		}
		maps.Copy(o.env, vars)
	}
}

// WithEnvLookup replaces the process environment as the source of
// ${env.NAME}. lookup returns the value, or an error saying why there is
// none, which the validation error quotes; nil allows no environment at all
// (every ${env.NAME} without a default is then an error). Values are read
// once, while the plan loads.
func WithEnvLookup(lookup func(name string) (string, error)) Option {
	return func(o *loadOptions) {
		if lookup == nil {
			lookup = tmpl.NoEnv
		}
		o.lookup = lookup
	}
}

// envLookup is the lookup the options describe.
func (o *loadOptions) envLookup() func(string) (string, error) {
	base := o.lookup
	if base == nil {
		base = tmpl.OSEnv
	}
	if len(o.env) == 0 {
		return base
	}
	vars := o.env
	return func(name string) (string, error) {
		if v, ok := vars[name]; ok {
			return v, nil
		}
		return base(name)
	}
}

// LoadFile reads, decodes, defaults and validates the plan at path. Data files
// are read relative to the plan's directory. Any problem comes back as Errors
// (errors.Is(err, ErrInvalid)); an unreadable file as a wrapped I/O error.
func LoadFile(path string, opts ...Option) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	defer f.Close()
	// At most one byte past MaxPlanSize, so that Parse reports the limit: a
	// device such as /dev/zero is not read forever (a pipe, <(cat plan.yaml),
	// still works).
	data, err := io.ReadAll(io.LimitReader(f, MaxPlanSize+1))
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	return Parse(path, data, opts...)
}

// Parse decodes, defaults and validates a plan. name labels errors (usually
// the file path); data files are resolved relative to filepath.Dir(name) on
// disk unless WithFS says otherwise; ${env.NAME} reads the process
// environment unless WithEnvLookup says otherwise. The returned plan is nil
// when err != nil.
func Parse(name string, data []byte, opts ...Option) (*Plan, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	p, errs := decode(name, data)
	if p == nil {
		return nil, errs
	}
	if o.typ != "" {
		p.Type = o.typ
	}
	if o.target != "" {
		p.Target = o.target
	}
	var fsys fs.FS
	base, searched := ".", ""
	switch {
	case o.noFS:
	case o.fsys != nil:
		fsys, base = o.fsys, path.Dir(filepath.ToSlash(name))
		searched = base
	default:
		fsys = os.DirFS(filepath.Dir(name))
		searched = filepath.Dir(name)
		if abs, err := filepath.Abs(searched); err == nil && searched == "." {
			searched = abs
		}
	}
	errs = append(errs, loadData(p, fsys, base, searched)...)
	dir := ""
	if !o.noFS && o.fsys == nil {
		dir = filepath.Dir(name)
	}
	errs = append(errs, loadFiles(p, fsys, base, dir)...)
	p.env = o.envLookup()
	applyDefaults(p)
	errs = merge(errs, Validate(p))
	errs = append(errs, p.unreportedBigInts(errs)...)
	for i := range errs {
		errs[i].File = name
	}
	errs.sort()
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// merge appends the validation errors not at or under a path that already
// has a decoding error (a value that failed to decode is reported once, not
// again as missing or invalid).
func merge(dec, val Errors) Errors {
	covered := func(path string) bool {
		for _, e := range dec {
			if e.Path != "" && (path == e.Path || strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[")) {
				return true
			}
		}
		return false
	}
	var out Errors
	for _, e := range val {
		if !covered(e.Path) {
			out = append(out, e)
		}
	}
	return append(dec, out...)
}

// decode parses the YAML and decodes it into a Plan (see decode.go). It
// returns a nil plan only when the YAML cannot be read at all (syntax error,
// empty document, not a mapping).
func decode(name string, data []byte) (*Plan, Errors) {
	if len(data) > MaxPlanSize {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("plan is %d bytes; the limit is %d", len(data), MaxPlanSize)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(name, err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].ShortTag() == "!!null" {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "empty plan"}}
	}
	top := root.Content[0]
	if top.Kind == yaml.AliasNode && top.Alias != nil {
		top = top.Alias
	}
	if top.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: top.Line, Col: top.Column, Msg: "a plan must be a mapping (name:, target:, scenarios:, ...), got " + kindName(top)}}
	}
	p := &Plan{Source: name, Raw: data}
	d := &decoder{pos: posIndex{"": {top.Line, top.Column}}, bigInts: map[string]float64{}, budget: maxAliased}
	d.fields(top, reflect.ValueOf(p).Elem(), "")
	p.pos, p.bigInts = d.pos, d.bigInts
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs = append(d.errs, FieldError{Line: extra.Line, Col: extra.Column, Msg: "a plan file holds one YAML document; found a second one"})
	} else if !errors.Is(err, io.EOF) {
		d.errs = append(d.errs, syntaxError(name, err))
	}
	return p, d.errs
}

// syntaxError positions a YAML syntax error. yaml.v3 has no position in its
// syntax errors but in their text ("yaml: line 5: ..."), the only error text
// read here: when it reads otherwise, the error is placed at line 1.
func syntaxError(name string, err error) FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, text, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil && l > 0 {
				line, msg = l, text
			}
		}
	}
	return FieldError{File: name, Line: line, Col: 1, Msg: "yaml: " + msg}
}

// loadData reads every csv data source: a relative path is read in base of fsys, the plan's directory (searched
// names it in errors). Header names and values are trimmed of surrounding spaces.
func loadData(p *Plan, fsys fs.FS, base, searched string) Errors {
	var errs Errors
	names := make([]string, 0, len(p.Data))
	for n := range p.Data {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ds := p.Data[n]
		at := joinPath(joinPath("data", n), "csv")
		if ds.CSV == "" {
			continue
		}
		if fsys == nil {
			errs = append(errs, p.errAt(at, "csv files are not available here (plan not loaded from a file); give columns and rows inline"))
			continue
		}
		name := ds.CSV
		if base != "." {
			name = path.Join(base, filepath.ToSlash(ds.CSV))
		} else {
			name = path.Clean(filepath.ToSlash(ds.CSV))
		}
		if filepath.IsAbs(ds.CSV) {
			// absolute paths: read from disk directly when using the OS file system
			name = ""
		}
		var (
			data []byte
			err  error
		)
		if name == "" {
			data, err = readDataFile(osFS{}, ds.CSV)
		} else {
			data, err = readDataFile(fsys, name)
		}
		if err != nil {
			msg := fmt.Sprintf("cannot read %s: %v", ds.CSV, unwrapPathError(err))
			if !filepath.IsAbs(ds.CSV) && errors.Is(err, fs.ErrNotExist) {
				msg += fmt.Sprintf(" (a csv path is relative to the plan's directory: looked in %s)", searched)
			}
			errs = append(errs, p.errAt(at, msg))
			continue
		}
		records, err := readRecords(data)
		if err != nil {
			errs = append(errs, p.errAt(at, fmt.Sprintf("%s: %v", ds.CSV, err)))
			continue
		}
		if len(records) == 0 {
			errs = append(errs, p.errAt(at, fmt.Sprintf("%s is empty (want a header row, then data rows)", ds.CSV)))
			continue
		}
		if len(ds.Columns) > 0 || len(ds.Rows) > 0 {
			errs = append(errs, p.errAt(joinPath("data", n), "give either csv or columns and rows, not both"))
			continue
		}
		ds.Columns = records[0]
		for i := range ds.Columns {
			ds.Columns[i] = strings.TrimSpace(strings.TrimPrefix(ds.Columns[i], "\ufeff"))
		}
		ds.Rows = records[1:]
		for _, row := range ds.Rows {
			for i := range row {
				row[i] = strings.TrimSpace(row[i]) // as the header: "a, b" reads b, not " b"
			}
		}
		p.Data[n] = ds
	}
	return errs
}

// readDataFile reads a CSV data file: a regular file of at most MaxDataBytes.
// Anything else is refused before it is read: a named pipe or a device such
// as /dev/zero would be read forever.
func readDataFile(fsys fs.FS, name string) ([]byte, error) {
	return readFileLimited(fsys, name, MaxDataBytes)
}

// readFileLimited reads a regular file of at most limit bytes.
func readFileLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s); files a plan reads must be regular files", fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("must be <= %d bytes (got %d)", limit, fi.Size())
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have changed since Stat: read at most one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("must be <= %d bytes (got more)", limit)
	}
	return data, nil
}

// readRecords parses CSV data: a header and at most MaxDataRows rows.
func readRecords(data []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0
	var records [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return records, nil
		}
		if err != nil {
			return nil, err
		}
		if len(records) > MaxDataRows { // the header and MaxDataRows rows are in
			return nil, fmt.Errorf("must be <= %d rows (got more)", MaxDataRows)
		}
		records = append(records, rec)
	}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// osFS opens absolute paths on disk (fs.FS forbids rooted names).
type osFS struct{}

func (osFS) Open(name string) (fs.File, error)     { return os.Open(name) }
func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

func mimeType(file string) string { return mime.TypeByExtension(filepath.Ext(file)) }

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// errAt returns a FieldError at path, positioned at the closest written node.
func (p *Plan) errAt(path, msg string) FieldError {
	at := p.pos.lookup(path)
	return FieldError{File: p.Source, Path: path, Line: at.line, Col: at.col, Msg: msg}
}

// written reports whether path was written in the YAML.
func (p *Plan) written(path string) bool {
	_, ok := p.pos[path]
	return ok
}

// Written reports whether path (e.g. "load.max_in_flight") was written in
// the plan's YAML, rather than defaulted.
func (p *Plan) Written(path string) bool { return p.written(path) }
