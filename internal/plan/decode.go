package plan

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The plan is decoded by walking yaml.v3's node tree into the plan's Go
// types, not by yaml.v3's reflection decoder: so every problem comes from
// the node that has it, with its line and column (none is read back out of
// an error string), every problem is reported rather than the first of each
// subtree, and strictness holds everywhere (unknown and duplicate keys, type
// mismatches, fractions in integer fields). A struct field is decoded from
// the key its yaml tag names; float64 fields are rates (200, "200/s") unless
// tagged decode:"ratio" (0.05, "5%"). Types whose YAML has several shapes
// (Duration, ByteSize, Think, Threshold, Variable, Warmup) implement
// nodeDecoder and record where they were written.

// maxAliased bounds the values decoded through aliases: a few aliases
// repeated could expand to billions. (The values written in place are
// bounded by MaxPlanSize.)
const maxAliased = 100_000

// maxDepth bounds the nesting of free-form values (request.json).
const maxDepth = 100

// decoder decodes one plan, collecting its problems and where each path was
// written.
type decoder struct {
	errs    Errors
	pos     posIndex           // path -> position of its value
	bigInts map[string]float64 // integer fields written too large for an int (see Plan.bigInts)
	aliased int                // > 0 while decoding through an alias
	budget  int                // values left to decode through aliases
}

// nodeDecoder is a type that decodes itself from a node, reporting problems
// with d.fail.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// spend counts a value decoded through an alias; it reports false, once
// with an error, when there have been too many.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	if d.aliased == 0 && n.Kind != yaml.AliasNode {
		return true
	}
	if d.budget--; d.budget == -1 {
		d.fail(n, path, "aliases expand to more than %d values", maxAliased)
	}
	return d.budget >= 0
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Path: path, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// decode decodes n into v (addressable), written at path; hint is the
// field's decode tag.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path, hint string) {
	if !d.spend(n, path) {
		return
	}
	d.pos[path] = pos{n.Line, n.Column}
	if n.Kind == yaml.AliasNode {
		if n = n.Alias; n == nil {
			return
		}
		d.aliased++
		defer func() { d.aliased-- }()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero() // null is absent, as in yaml.v3
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
		nd.decodeNode(d, n, path)
		return
	}
	want := yaml.ScalarNode
	switch v.Kind() {
	case reflect.Struct, reflect.Map:
		want = yaml.MappingNode
	case reflect.Slice:
		want = yaml.SequenceNode
	case reflect.Interface:
		want = 0 // anything
	}
	if want != 0 && n.Kind != want {
		d.fail(n, path, "must be %s, got %s", kindWanted(v.Type(), hint), describe(n))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.fields(n, v, path)
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, kv := range d.entries(n, path) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(kv[1], e, joinPath(path, kv[0].Value), hint)
			v.SetMapIndex(reflect.ValueOf(kv[0].Value), e)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), path+"["+strconv.Itoa(i)+"]", hint)
		}
		v.Set(s)
	case reflect.Interface:
		if x := d.anyValue(n, path, 0); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.ShortTag() != "!!bool" || err != nil {
			d.fail(n, path, "must be true or false, got %s", describe(n))
		}
		v.SetBool(b)
	case reflect.Int:
		d.integer(n, v, path)
	case reflect.Float64:
		x, err := parseNumber(n, hint)
		if err != nil {
			d.fail(n, path, "%v", err)
		}
		v.SetFloat(x)
	default:
		panic("plan: cannot decode into " + v.Type().String())
	}
}

// fields decodes mapping n into struct v: each key into the field its yaml
// tag names; any other key is an error naming the known ones.
func (d *decoder) fields(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	for _, kv := range d.entries(n, path) {
		k := kv[0]
		kp := joinPath(path, k.Value)
		if f, ok := field(t, k.Value); ok {
			d.decode(kv[1], v.FieldByIndex(f.Index), kp, f.Tag.Get("decode"))
			continue
		}
		var known []string
		for i := range t.NumField() {
			if name := yamlName(t.Field(i)); name != "" {
				known = append(known, name)
			}
		}
		sort.Strings(known)
		if s := suggest(k.Value, known); s != "" {
			d.fail(k, kp, "unknown field %q (did you mean %s?)", k.Value, s)
		} else {
			d.fail(k, kp, "unknown field %q (known: %s)", k.Value, strings.Join(known, ", "))
		}
	}
}

// field finds the field of struct t decoded from key.
func field(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlName is the key a struct field is decoded from ("" for none).
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	return name
}

// entries returns the key/value pairs of mapping n with merge keys (<<:
// *anchor, or a list of anchors) expanded, the keys written in n winning;
// a key written twice is an error, and only its first value is kept.
func (d *decoder) entries(n *yaml.Node, path string) [][2]*yaml.Node {
	var out, merged [][2]*yaml.Node
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge":
			merged = append(merged, d.merged(v, path)...)
		case k.Kind != yaml.ScalarNode:
			d.fail(k, path, "a key must be a string, got %s", describe(k))
		case first[k.Value] != nil:
			d.fail(k, joinPath(path, k.Value), "duplicate key %q (first at line %d)", k.Value, first[k.Value].Line)
		default:
			first[k.Value] = k
			out = append(out, [2]*yaml.Node{k, v})
		}
	}
	for _, kv := range merged {
		if first[kv[0].Value] == nil {
			first[kv[0].Value] = kv[0]
			out = append(out, kv)
		}
	}
	return out
}

// merged returns the entries a merge key brings: those of a mapping, or of
// each mapping of a list (the first one listed winning).
func (d *decoder) merged(v *yaml.Node, path string) [][2]*yaml.Node {
	if !d.spend(v, path) {
		return nil
	}
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.entries(v, path)
	case yaml.SequenceNode:
		var out [][2]*yaml.Node
		for _, m := range v.Content {
			out = append(out, d.merged(m, path)...)
		}
		return out
	}
	d.fail(v, path, "<< merges a mapping or a list of mappings, got %s", describe(v))
	return nil
}

// anyValue decodes a free-form value (request.json, check.json values):
// mappings as map[string]any, lists as []any, scalars as yaml.v3 resolves
// them (int, float64, bool, string, nil, ...).
func (d *decoder) anyValue(n *yaml.Node, path string, depth int) any {
	if depth > maxDepth {
		d.fail(n, path, "nested more than %d levels deep", maxDepth)
		return nil
	}
	if !d.spend(n, path) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias != nil {
			d.aliased++
			defer func() { d.aliased-- }()
			return d.anyValue(n.Alias, path, depth+1)
		}
	case yaml.MappingNode:
		m := map[string]any{}
		for _, kv := range d.entries(n, path) {
			m[kv[0].Value] = d.anyValue(kv[1], joinPath(path, kv[0].Value), depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.anyValue(c, path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		return s
	case yaml.ScalarNode:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "invalid value %s", describe(n))
		}
		return x
	}
	return nil
}

// integer decodes an integer field. A float with a fraction, NaN or an
// infinity is an error ("must be a whole number (got 1.5)": yaml.v3 would
// truncate 1.5 to 1); a whole number too large for an int is recorded in
// bigInts, for Validate to report against the field's limit like any other
// number.
func (d *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	var x float64
	switch tag := n.ShortTag(); {
	case tag == "!!float":
		if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) {
			d.fail(n, path, "must be a whole number (got %s)", n.Value)
			return
		}
		if x >= -(1<<63) && x < 1<<63 {
			v.SetInt(int64(x))
			return
		}
	case tag == "!!int" || tag == "!!str" && n.Style == 0: // yaml.v3 reads 0x80000000000000000 as a string
		b, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0)
		if !ok {
			d.fail(n, path, "must be an integer, got %s", describe(n))
			return
		}
		if b.IsInt64() {
			v.SetInt(b.Int64())
			return
		}
		x, _ = b.Float64()
	default:
		d.fail(n, path, "must be an integer, got %s", describe(n))
		return
	}
	d.bigInts[path] = x
}

// parseNumber decodes a float64 field: a ratio (0.05, "5%") when hint is
// "ratio", else a rate (200, 2.5, "200/s", "12000/m"; YAML's spellings of
// numbers too: .inf, 0x10, 1_000).
func parseNumber(n *yaml.Node, hint string) (float64, error) {
	tag := n.ShortTag()
	switch {
	case hint == "ratio" && tag != "!!bool":
		return parseRatio(n.Value)
	case hint == "ratio":
		return 0, fmt.Errorf("must be a ratio (0.05) or a percentage (5%%), got %s", kindName(n))
	case tag == "!!int" || tag == "!!float":
		var v float64
		if err := n.Decode(&v); err != nil || math.IsNaN(v) {
			return 0, fmt.Errorf("must be a number (got %s)", n.Value)
		}
		return v, nil
	case tag == "!!bool":
		return 0, fmt.Errorf("must be a number or a rate such as 200/s, got %s", kindName(n))
	}
	return parseRate(n.Value)
}

// kindWanted names what a value of type t must be, for messages.
func kindWanted(t reflect.Type, hint string) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Float64:
		if hint == "ratio" {
			return "a ratio (0.05) or a percentage (5%)"
		}
		return "a number or a rate such as 200/s"
	}
	return "a string"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// describe is kindName with a scalar's value, cut to 20 bytes.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return kindName(n)
	}
	v := n.Value
	if len(v) > 20 {
		v = v[:17] + "..."
	}
	return kindName(n) + " " + strconv.Quote(v)
}

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

// parseDurationValue parses a YAML duration scalar: a Go duration ("1m30s",
// "250ms") or a bare 0.
func parseDurationValue(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %q needs a unit, e.g. %ss or %sms", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 250ms, 10s, 1m30s)", s)
	}
	return d, nil
}

// scalar parses scalar n, reporting a parse error or a value that is not a
// scalar (what says what it must be).
func scalar[T any](d *decoder, n *yaml.Node, path, what string, parse func(string) (T, error)) T {
	var v T
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "must be %s, got %s", what, kindName(n))
		return v
	}
	v, err := parse(n.Value)
	if err != nil {
		d.fail(n, path, "%v", err)
	}
	return v
}

// decodeNode decodes a duration scalar.
func (d *Duration) decodeNode(dec *decoder, n *yaml.Node, path string) {
	d.Line, d.Col = n.Line, n.Column
	d.Duration = scalar(dec, n, path, "a duration such as 10s", parseDurationValue)
}

// decodeNode decodes a size scalar.
func (b *ByteSize) decodeNode(dec *decoder, n *yaml.Node, path string) {
	b.Line, b.Col = n.Line, n.Column
	b.Bytes = scalar(dec, n, path, "a size such as 1MiB or 65536", ParseByteSize)
}

// decodeNode accepts a variable as a scalar (jwt: abc) or as
// {value: "${env.JWT}", secret: true}.
func (v *Variable) decodeNode(d *decoder, n *yaml.Node, path string) {
	v.Line, v.Col = n.Line, n.Column
	switch n.Kind {
	case yaml.ScalarNode:
		v.Value = n.Value
	case yaml.MappingNode:
		d.fields(n, reflect.ValueOf(v).Elem(), path)
	default:
		d.fail(n, path, "must be a string or {value: STRING, secret: true}, got %s", kindName(n))
	}
}

// decodeNode accepts "think: 1s" (min = max) or "think: {min: 1s, max: 3s}"
// ({min: 1s} alone means exactly 1s).
func (t *Think) decodeNode(d *decoder, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		t.Min.decodeNode(d, n, path)
		t.Max = t.Min
	case yaml.MappingNode:
		d.fields(n, reflect.ValueOf(t).Elem(), path)
		if t.Max.Line == 0 {
			t.Max = t.Min
		}
	default:
		d.fail(n, path, "must be a duration (1s) or {min: 1s, max: 3s}, got %s", kindName(n))
	}
}

// decodeNode accepts a threshold string or {expr, window, abort_on_fail}.
func (t *Threshold) decodeNode(d *decoder, n *yaml.Node, path string) {
	at := n
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		t.Expr = n.Value
	case n.Kind == yaml.MappingNode:
		before := len(d.errs)
		d.fields(n, reflect.ValueOf(t).Elem(), path)
		p, ok := d.pos[path+".expr"]
		if !ok {
			d.fail(n, path, "expr is required")
			return
		}
		if slices.ContainsFunc(d.errs[before:], func(e FieldError) bool { return e.Path == path+".expr" }) {
			return
		}
		at, path = &yaml.Node{Line: p.line, Column: p.col}, path+".expr"
	default:
		d.fail(n, path, "must be a threshold such as \"p99 < 300ms\", got %s", kindName(n))
		return
	}
	th, err := ParseThreshold(t.Expr)
	if err != nil {
		d.fail(at, path, "%v", err)
		return
	}
	th.Window, th.AbortOnFail, th.Line, th.Col = t.Window, t.AbortOnFail, n.Line, n.Column
	*t = th
}

// decodeNode accepts a number of requests (20) or a duration ("5s").
func (w *Warmup) decodeNode(d *decoder, n *yaml.Node, path string) {
	w.Line, w.Col = n.Line, n.Column
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "must be a number of requests (20) or a duration (5s), got %s", kindName(n))
		return
	}
	if n.ShortTag() == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			d.fail(n, path, "invalid number of requests %q", n.Value)
		}
		w.Requests = v
		return
	}
	v, err := parseDurationValue(n.Value)
	if err != nil {
		d.fail(n, path, "must be a number of requests (20) or a duration (5s): %v", err)
	}
	w.Duration = v
}
