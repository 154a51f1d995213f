package plan

import (
	"strconv"

	"github.com/loadlab/loadlab/internal/tmpl"
)

// pos is a 1-based line and column in the YAML source.
type pos struct{ line, col int }

// posIndex maps a plan path ("load.phases[1].rate") to where its value was
// written; the decoder records every path it decodes.
type posIndex map[string]pos

// joinPath appends a mapping key to a path; keys that are not plain names are quoted.
func joinPath(path, key string) string {
	k := key
	if !tmpl.ValidName(key) {
		k = strconv.Quote(key)
		return path + "[" + k + "]"
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// lookup returns the position of path, or of its closest written ancestor.
func (idx posIndex) lookup(path string) pos {
	for {
		if p, ok := idx[path]; ok {
			return p
		}
		if path == "" {
			return pos{}
		}
		path = parentPath(path)
	}
}

// parentPath strips the last ".name", "[i]" or "[\"key\"]" from path.
func parentPath(path string) string {
	if path == "" {
		return ""
	}
	if path[len(path)-1] == ']' {
		depth := 0
		inQuote := false
		for i := len(path) - 1; i >= 0; i-- {
			switch c := path[i]; {
			case c == '"' && (i == 0 || path[i-1] != '\\'):
				inQuote = !inQuote
			case inQuote:
			case c == ']':
				depth++
			case c == '[':
				depth--
				if depth == 0 {
					return path[:i]
				}
			}
		}
		return ""
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[:i]
		}
		if path[i] == ']' {
			return path[:i+1]
		}
	}
	return ""
}
