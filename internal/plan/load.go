package plan

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
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
			lookup = NoEnv
		}
		o.lookup = lookup
	}
}

// OSEnv is the default source of ${env.NAME}: the process environment.
func OSEnv(name string) (string, error) {
	if v, ok := os.LookupEnv(name); ok {
		return v, nil
	}
	return "", fmt.Errorf("environment variable %s is not set (export it, or give a default: ${env.%s:-VALUE})", name, name)
}

// NoEnv is a source of ${env.NAME} that has no variables.
func NoEnv(name string) (string, error) {
	return "", fmt.Errorf("environment variables are not available here")
}

// envLookup is the lookup the options describe.
func (o *loadOptions) envLookup() func(string) (string, error) {
	base := o.lookup
	if base == nil {
		base = OSEnv
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
	p, errs, covers := decode(name, data)
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
	base := "."
	switch {
	case o.noFS:
	case o.fsys != nil:
		fsys, base = o.fsys, path.Dir(filepath.ToSlash(name))
	default:
		fsys = os.DirFS(filepath.Dir(name))
	}
	errs = append(errs, loadData(p, fsys, base)...)
	p.env = o.envLookup()
	applyDefaults(p)
	errs = merge(errs, Validate(p), covers)
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
// covers lists further paths whose subtrees failed to decode as a whole ("" =
// the whole plan).
func merge(dec, val Errors, covers []string) Errors {
	under := func(path, root string) bool {
		return root == "" || path == root || strings.HasPrefix(path, root+".") || strings.HasPrefix(path, root+"[")
	}
	covered := func(path string) bool {
		for _, c := range covers {
			if under(path, c) {
				return true
			}
		}
		for _, e := range dec {
			if e.Path != "" && under(path, e.Path) {
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

// decode runs the strict decoder. It returns a nil plan only when the YAML
// cannot be read at all (syntax error, empty document).
func decode(name string, data []byte) (*Plan, Errors, []string) {
	if len(data) > MaxPlanSize {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("plan is %d bytes; the limit is %d", len(data), MaxPlanSize)}}, nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxError(name, err)}, nil
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].ShortTag() == "!!null" {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "empty plan"}}, nil
	}
	if top := root.Content[0]; top.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: top.Line, Col: top.Column, Msg: "a plan must be a mapping (name:, target:, scenarios:, ...), got " + kindName(top)}}, nil
	}
	p := &Plan{Source: name, Raw: data, pos: buildIndex(&root), bigInts: map[string]float64{}}
	errs := checkInts(&root, reflect.TypeFor[Plan](), p.bigInts)
	ownInts := map[string]bool{} // integer fields checkInts reported or recorded: yaml.v3's messages on them are dropped
	for path := range p.bigInts {
		ownInts[path] = true
	}
	for _, e := range errs {
		ownInts[e.Path] = true
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	msgs, err := collect(func() error { return dec.Decode(p) })
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		msgs = append(msgs, te.Errors...)
	case err != nil:
		return nil, Errors{syntaxError(name, err)}, nil
	}
	var covers []string
	for _, msg := range msgs {
		e := typeError(&root, msg)
		if reDuplicate.MatchString(msg) {
			covers = append(covers, parentPath(e.Path))
		}
		if ownInts[e.Path] && reUnmarshal.MatchString(msg) {
			continue
		}
		errs = append(errs, e)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs = append(errs, FieldError{Line: extra.Line, Col: extra.Column, Msg: "a plan file holds one YAML document; found a second one"})
	} else if !errors.Is(err, io.EOF) {
		errs = append(errs, syntaxError(name, err))
	}
	return p, errs, covers
}

var (
	reLineCol    = regexp.MustCompile(`^line (\d+):(\d+): (.*)$`)
	reNotFound   = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
	reUnmarshal  = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	reDuplicate  = regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
	reAlreadySet = regexp.MustCompile(`^line (\d+): field (.+) already set in type (\S+)$`)
	reLine       = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

func syntaxError(name string, err error) FieldError {
	msg := err.Error()
	if m := reLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return FieldError{File: name, Line: line, Col: 1, Msg: "yaml: " + m[2]}
	}
	return FieldError{File: name, Line: 1, Col: 1, Msg: msg}
}

// nodeAt finds the path of the node written at line (and col, when > 0); key
// selects mapping keys instead of values; match, when set, must accept the
// node's value.
func nodeAt(root *yaml.Node, line, col int, key bool, match func(string) bool) (string, pos, bool) {
	return nodeAtKind(root, line, col, key, match, 0)
}

// nodeAtKind is nodeAt restricted to nodes of one kind (0 = any).
func nodeAtKind(root *yaml.Node, line, col int, key bool, match func(string) bool, kind yaml.Kind) (string, pos, bool) {
	var (
		found   bool
		outPath string
		outPos  pos
	)
	var walk func(path string, n *yaml.Node, depth int)
	walk = func(path string, n *yaml.Node, depth int) {
		if found || depth > 64 {
			return
		}
		if n.Kind == yaml.AliasNode {
			return
		}
		ok := func(k *yaml.Node) bool {
			return k.Line == line && (col <= 0 || k.Column == col) && (match == nil || match(k.Value))
		}
		if kind != 0 && n.Kind != kind && n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode && n.Kind != yaml.DocumentNode {
			return
		}
		if !key && n.Kind == yaml.ScalarNode && ok(n) {
			found, outPath, outPos = true, path, pos{n.Line, n.Column}
			return
		}
		if !key && n.Kind != yaml.ScalarNode && n.Kind != yaml.DocumentNode && (kind == 0 || n.Kind == kind) && path != "" && n.Line == line && (col <= 0 || n.Column == col) && match == nil {
			found, outPath, outPos = true, path, pos{n.Line, n.Column}
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(path, c, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				child := joinPath(path, k.Value)
				if key && ok(k) {
					found, outPath, outPos = true, child, pos{k.Line, k.Column}
					return
				}
				walk(child, v, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(path+"["+strconv.Itoa(i)+"]", c, depth+1)
			}
		}
	}
	walk("", root, 0)
	return outPath, outPos, found
}

// typeError converts one yaml.v3 TypeError message into a FieldError with a
// path and column, rewording it without Go type names.
func typeError(root *yaml.Node, msg string) FieldError {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if m := reLineCol.FindStringSubmatch(msg); m != nil {
		line, col := atoi(m[1]), atoi(m[2])
		path, _, _ := nodeAt(root, line, col, false, nil)
		if path == "" {
			path, _, _ = nodeAt(root, line, col, true, nil) // an unknown key inside think/threshold
		}
		return FieldError{Path: path, Line: line, Col: col, Msg: m[3]}
	}
	if m := reNotFound.FindStringSubmatch(msg); m != nil {
		line, field, typ := atoi(m[1]), m[2], m[3]
		path, p, _ := nodeAt(root, line, 0, true, func(v string) bool { return v == field })
		text := fmt.Sprintf("unknown field %q", field)
		if fields := knownFields[typ]; len(fields) > 0 {
			if s := suggest(field, fields); s != "" {
				text += fmt.Sprintf(" (did you mean %s?)", s)
			} else {
				text += " (known: " + strings.Join(fields, ", ") + ")"
			}
		}
		return FieldError{Path: path, Line: line, Col: p.col, Msg: text}
	}
	if m := reUnmarshal.FindStringSubmatch(msg); m != nil {
		line, tag, val, into := atoi(m[1]), m[2], m[3], m[4]
		var match func(string) bool
		if val != "" {
			match = func(v string) bool {
				if strings.HasSuffix(val, "...") {
					return strings.HasPrefix(v, strings.TrimSuffix(val, "..."))
				}
				return v == val
			}
		}
		kind := yaml.ScalarNode
		switch tag {
		case "!!seq":
			kind = yaml.SequenceNode
		case "!!map":
			kind = yaml.MappingNode
		}
		path, p, ok := nodeAtKind(root, line, 0, false, match, kind)
		if !ok {
			p = pos{line, 1}
		}
		got := map[string]string{"!!str": "a string", "!!int": "an integer", "!!float": "a number", "!!bool": "a boolean",
			"!!map": "a mapping", "!!seq": "a list", "!!null": "null", "!!binary": "binary data", "!!timestamp": "a timestamp"}[tag]
		if got == "" {
			got = tag
		}
		if val != "" {
			got += " " + strconv.Quote(val)
		}
		return FieldError{Path: path, Line: p.line, Col: p.col, Msg: fmt.Sprintf("must be %s, got %s", goTypeName(into), got)}
	}
	if m := reDuplicate.FindStringSubmatch(msg); m != nil {
		line, k, first := atoi(m[1]), m[2], m[3]
		path, p, _ := nodeAt(root, line, 0, true, func(v string) bool { return v == k })
		if p.line == 0 {
			p = pos{line, 1}
		}
		return FieldError{Path: path, Line: p.line, Col: p.col, Msg: fmt.Sprintf("duplicate key %q (first at line %s)", k, first)}
	}
	if m := reAlreadySet.FindStringSubmatch(msg); m != nil {
		line, field := atoi(m[1]), m[2]
		path, p, _ := nodeAt(root, line, 0, true, func(v string) bool { return v == field })
		if p.line == 0 {
			p = pos{line, 1}
		}
		return FieldError{Path: path, Line: p.line, Col: p.col, Msg: fmt.Sprintf("duplicate key %q", field)}
	}
	if m := reLine.FindStringSubmatch(msg); m != nil {
		return FieldError{Line: atoi(m[1]), Col: 1, Msg: m[2]}
	}
	return FieldError{Msg: msg}
}

// goTypeName describes a Go type from a yaml.v3 message in plan terms.
func goTypeName(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "plan."):
		return "a mapping"
	}
	return t
}

// knownFields lists the YAML keys of each decoded struct, by the type name
// yaml.v3 puts in its messages.
var knownFields = func() map[string][]string {
	m := map[string][]string{}
	for _, v := range []any{Plan{}, Defaults{}, DataSource{}, Scenario{}, Step{}, Request{}, Check{}, Load{},
		phaseYAML{}, stressYAML{}, benchmarkYAML{}, kneeYAML{}} {
		t := reflect.TypeOf(v)
		var names []string
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag != "" && tag != "-" {
				names = append(names, tag)
			}
		}
		sort.Strings(names)
		m[t.String()] = names
	}
	return m
}()

// suggest returns the known name closest to s, if it is close.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// loadData reads every csv data source.
func loadData(p *Plan, fsys fs.FS, base string) Errors {
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
			errs = append(errs, p.errAt(at, fmt.Sprintf("cannot read %s: %v", ds.CSV, unwrapPathError(err))))
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
		p.Data[n] = ds
	}
	return errs
}

// readDataFile reads a CSV data file: a regular file of at most MaxDataBytes.
// Anything else is refused before it is read: a named pipe or a device such
// as /dev/zero would be read forever.
func readDataFile(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s); data files must be regular files", fileKind(fi.Mode()))
	}
	if fi.Size() > MaxDataBytes {
		return nil, fmt.Errorf("must be <= %d bytes (got %d)", MaxDataBytes, fi.Size())
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have changed since Stat: read at most one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxDataBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDataBytes {
		return nil, fmt.Errorf("must be <= %d bytes (got more)", MaxDataBytes)
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
