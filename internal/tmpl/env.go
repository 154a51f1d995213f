package tmpl

import (
	"fmt"
	"os"
	"strings"
)

// EnvPrefix starts a reference to an environment variable: ${env.NAME}.
// EnvName, its first part, is reserved: no variable, data source or
// capture may be called that.
const (
	EnvPrefix = EnvName + "."
	EnvName   = "env"
)

func validEnvName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
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

// EnvError is one ${env.NAME} that the environment could not resolve.
type EnvError struct {
	Name string
	Err  error // from the lookup
}

func (e EnvError) Error() string { return fmt.Sprintf("${%s%s}: %v", EnvPrefix, e.Name, e.Err) }

// UsesEnv reports whether the template refers to the environment.
func (t *Template) UsesEnv() bool {
	for _, p := range t.parts {
		if p.kind == partEnv {
			return true
		}
	}
	return false
}

// ResolveEnv replaces every ${env.NAME} with its value, escaped as the
// template escapes inserted values, so the template renders it as a
// literal. lookup gives the value or says why there is none;
// ${env.NAME:-default} takes default when NAME has no value or an empty one
// (as in a shell). It returns the values read from the environment (defaults
// are not: they are written in the plan) and the references left without a
// value. It must be called before the template is shared.
func (t *Template) ResolveEnv(lookup func(name string) (string, error)) (read []string, missing []EnvError) {
	changed := false
	for i := range t.parts {
		p := &t.parts[i]
		if p.kind != partEnv {
			continue
		}
		name, def, hasDef := strings.Cut(p.s, ":-")
		val, err := lookup(name)
		switch {
		case err == nil && val != "":
			read = append(read, val)
		case hasDef:
			val = def
		case err != nil:
			missing = append(missing, EnvError{Name: name, Err: err})
		}
		*p = part{kind: partLit, s: string(appendEsc(nil, val, p.esc))}
		changed = true
	}
	if changed {
		merged := t.parts[:0]
		for _, p := range t.parts {
			if n := len(merged); n > 0 && p.kind == partLit && merged[n-1].kind == partLit {
				merged[n-1].s += p.s
				continue
			}
			if p.kind == partLit && p.s == "" {
				continue
			}
			merged = append(merged, p)
		}
		t.parts = merged
		t.finish()
	}
	return read, missing
}

// ExpandEnv expands the ${env.NAME} references of s, a plan variable's
// value. Everything else stays as written (variables are constants: "$${x}"
// stays "$${x}"); any other ${...} is a problem. It returns the value, the
// values read from the environment and the problems found.
func ExpandEnv(s string, lookup func(string) (string, error)) (value string, read []string, problems []string) {
	var out strings.Builder
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			out.WriteString(s[i:])
			break
		}
		j += i
		if j > 0 && s[j-1] == '$' { // "$${": literal, as it always was in variables
			out.WriteString(s[i : j+2])
			i = j + 2
			continue
		}
		out.WriteString(s[i:j])
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			problems = append(problems, fmt.Sprintf("unterminated ${ at offset %d", j))
			out.WriteString(s[j:])
			break
		}
		expr := strings.TrimSpace(s[j+2 : j+2+end])
		i = j + 2 + end + 1
		if !strings.HasPrefix(expr, EnvPrefix) {
			problems = append(problems, fmt.Sprintf("${%s}: variables are constants; only ${env.NAME} is expanded in them (captures, data columns and built-ins belong in requests)", expr))
			continue
		}
		t, err := Compile("${"+expr+"}", Plain)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r, missing := t.ResolveEnv(lookup)
		for _, m := range missing {
			problems = append(problems, m.Error())
		}
		read = append(read, r...)
		out.WriteString(t.LiteralText())
	}
	return out.String(), read, problems
}
