package plan

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// pos is a 1-based line and column in the YAML source.
type pos struct{ line, col int }

// posIndex maps a plan path ("load.phases[1].rate") to where its value was
// written, and "path#key" to where its key was written.
type posIndex map[string]pos

// buildIndex walks the YAML node tree and records every path.
func buildIndex(root *yaml.Node) posIndex {
	idx := posIndex{}
	if root == nil {
		return idx
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	idx.walk("", n, 0)
	return idx
}

// walk records n and its children. Aliases are recorded but not followed
// (they may be recursive); the depth is bounded.
func (idx posIndex) walk(path string, n *yaml.Node, depth int) {
	idx[path] = pos{n.Line, n.Column}
	if depth > 100 || len(idx) > 1_000_000 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				continue
			}
			child := joinPath(path, k.Value)
			if _, dup := idx[child+"#key"]; !dup {
				idx[child+"#key"] = pos{k.Line, k.Column}
				idx.walk(child, v, depth+1)
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.walk(path+"["+strconv.Itoa(i)+"]", c, depth+1)
		}
	}
}

// joinPath appends a mapping key to a path; keys that are not plain names are quoted.
func joinPath(path, key string) string {
	k := key
	if !validName(key) {
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
