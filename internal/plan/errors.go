package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid matches (errors.Is) any Errors or FieldError: the plan is invalid.
var ErrInvalid = errors.New("invalid plan")

// FieldError is one problem with a plan, at a path such as
// "load.phases[1].rate" and the YAML line and column (1-based; 0 when unknown).
type FieldError struct {
	File      string // plan file, "" when parsed from memory
	Path      string
	Line, Col int
	Msg       string
}

// Error renders "file:line:col: path: message".
func (e FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e FieldError) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in a plan, sorted by line. A nil or empty
// Errors means valid; return it as an error only through Err.
type Errors []FieldError

// Error renders one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// Err returns es as an error, or nil when es is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Line != b.Line {
			// errors without a position go last
			if a.Line == 0 || b.Line == 0 {
				return b.Line == 0 && a.Line != 0
			}
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Path < b.Path
	})
}
