package expect

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// JSON checks beyond equality. A json check whose expected value is a mapping
// of operators applies each of them to the value at its path (all must hold):
//
//	$.token: {exists: true}          the path holds a value (false: it holds none)
//	$.name:  {not_empty: true}       a value other than null, "", [] or {}
//	$.email: {matches: "^[^@]+@"}    the value, as text, matches the regular expression (Go syntax)
//	$.count: {gt: 0, lte: 100}       a number compared: gt, gte, lt, lte
//	$.items: {len: 10}               length (array elements, object keys, string characters): len, min_len, max_len
//	$.obj:   {eq: {gt: 1}}           equality with any value (for an object that looks like operators)
//
// A mapping with any other key is an object compared for equality.

// Operators are the keys of an operator check, in the order they are applied.
var Operators = []string{"exists", "not_empty", "matches", "eq", "gt", "gte", "lt", "lte", "len", "min_len", "max_len"}

type opKind uint8

const (
	opExists opKind = iota
	opNotEmpty
	opMatches
	opEq
	opGT
	opGTE
	opLT
	opLTE
	opLen
	opMinLen
	opMaxLen
)

type op struct {
	kind opKind
	src  string // "gt 0", as names and failures show it
	b    bool
	num  float64
	re   *regexp.Regexp
	eq   *jsonCheck
}

// isOps reports whether want is an operator mapping: a non-empty mapping whose keys are all Operators.
func isOps(want any) (map[string]any, bool) {
	m, ok := want.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, false
	}
	for k := range m {
		if !slices.Contains(Operators, k) {
			return nil, false
		}
	}
	return m, true
}

// CheckWant reports what is wrong with a json check's expected value: an operator mapping with a value of the
// wrong type, a regular expression that does not compile, or a mapping that mixes operators with other keys.
func CheckWant(want any) error {
	m, ok := want.(map[string]any)
	if !ok {
		return nil
	}
	var opsKeys, others []string
	for k := range m {
		if slices.Contains(Operators, k) {
			opsKeys = append(opsKeys, k)
		} else {
			others = append(others, k)
		}
	}
	if len(opsKeys) > 0 && len(others) > 0 {
		slices.Sort(opsKeys)
		slices.Sort(others)
		return fmt.Errorf("mixes operators (%s) with other keys (%s): use {eq: {...}} to compare with such an object",
			strings.Join(opsKeys, ", "), strings.Join(others, ", "))
	}
	if len(opsKeys) == 0 {
		return nil
	}
	_, err := compileOps(m)
	return err
}

// compileOps compiles an operator mapping, in Operators order.
func compileOps(m map[string]any) ([]op, error) {
	var out []op
	for _, name := range Operators {
		v, ok := m[name]
		if !ok {
			continue
		}
		o := op{kind: opKind(slices.Index(Operators, name))}
		switch o.kind {
		case opExists, opNotEmpty:
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: want true or false, got %v", name, v)
			}
			if o.kind == opNotEmpty && !b {
				return nil, fmt.Errorf("not_empty: only true makes sense (an empty value is {eq: \"\"})")
			}
			o.b = b
			o.src = name
			if o.kind == opExists && !b {
				o.src = "missing"
			}
		case opMatches:
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("matches: want a regular expression, got %v", v)
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("matches: %w", err)
			}
			o.re, o.src = re, "matches "+strconv.Quote(s)
		case opEq:
			jc := newEqCheck(JSONCheck{Want: v})
			o.eq, o.src = &jc, "= "+jc.text
			if jc.kind == wantJSON {
				o.src = "= " + string(jc.js)
			}
		default:
			n, ok := number(v)
			if !ok || math.IsNaN(n) {
				return nil, fmt.Errorf("%s: want a number, got %v", name, v)
			}
			if (o.kind == opLen || o.kind == opMinLen || o.kind == opMaxLen) && (n < 0 || n != math.Trunc(n)) {
				return nil, fmt.Errorf("%s: want a whole number >= 0, got %v", name, v)
			}
			o.num = n
			sym := map[opKind]string{opGT: ">", opGTE: ">=", opLT: "<", opLTE: "<=", opLen: "len =", opMinLen: "len >=", opMaxLen: "len <="}[o.kind]
			o.src = sym + " " + strconv.FormatFloat(n, 'g', -1, 64)
		}
		out = append(out, o)
	}
	return out, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// describeOps names an operator check: "> 0, <= 100".
func describeOps(ops []op) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = o.src
	}
	return strings.Join(parts, ", ")
}

// matchOps applies ops to the value got (found: whether the path held one); it returns the first that failed.
func matchOps(ops []op, got gjson.Result, found bool) (*op, bool) {
	for i := range ops {
		o := &ops[i]
		if !o.match(got, found) {
			return o, false
		}
	}
	return nil, true
}

func (o *op) match(got gjson.Result, found bool) bool {
	switch o.kind {
	case opExists:
		return found == o.b
	case opEq:
		return o.eq.match(got, found)
	}
	if !found {
		return false
	}
	switch o.kind {
	case opNotEmpty:
		switch got.Type {
		case gjson.Null:
			return false
		case gjson.String:
			return got.Str != ""
		case gjson.JSON:
			n := 0
			got.ForEach(func(_, _ gjson.Result) bool { n++; return false })
			return n > 0
		}
		return true
	case opMatches:
		if got.Type == gjson.String {
			return o.re.MatchString(got.Str)
		}
		return o.re.MatchString(got.Raw)
	case opGT, opGTE, opLT, opLTE:
		if got.Type != gjson.Number {
			return false
		}
		switch o.kind {
		case opGT:
			return got.Num > o.num
		case opGTE:
			return got.Num >= o.num
		case opLT:
			return got.Num < o.num
		}
		return got.Num <= o.num
	}
	n, ok := length(got)
	if !ok {
		return false
	}
	switch o.kind {
	case opLen:
		return float64(n) == o.num
	case opMinLen:
		return float64(n) >= o.num
	}
	return float64(n) <= o.num
}

// length is the number of elements of an array, keys of an object or characters of a string.
func length(v gjson.Result) (int, bool) {
	switch {
	case v.Type == gjson.String:
		return utf8.RuneCountInString(v.Str), true
	case v.IsArray() || v.IsObject():
		n := 0
		v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
		return n, true
	}
	return 0, false
}
