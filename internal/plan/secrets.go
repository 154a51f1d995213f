package plan

import (
	"fmt"
	"strings"

	"github.com/loadlab/loadlab/internal/secret"
)

// envName is the reserved first part of ${env.NAME}: no variable, data
// source or capture may be called that.
const envName = "env"

// Redactor returns the plan's redactor: it masks, by value, the variables
// declared secret, every value read from the environment (unless its
// variable says secret: false) and the values of the Authorization, Cookie,
// Proxy-Authorization and X-Api-Key headers that are known when the plan
// loads (with the variables they use). Validate builds it; it is never nil.
func (p *Plan) Redactor() *secret.Redactor {
	if p.redactor == nil {
		return secret.New()
	}
	return p.redactor
}

// StoredYAML is the plan's YAML text as it may be stored or shown: secret
// keys masked (secret.YAML) and every secret value masked. ${env.NAME}
// references stay as written, so the environment's values never reach it.
func (p *Plan) StoredYAML() string { return p.Redactor().YAML(p.Raw) }

// AppendSecrets appends to dst the values the request's secret headers
// take for one request (rendered with vars) when they change per request
// (captures, data columns, built-ins), with their credential parts; the
// Plan's Redactor covers the others. The executor masks these in the error
// sample of a failed request.
func (cr *CompiledRequest) AppendSecrets(dst []string, vars Vars) []string {
	for _, h := range cr.secretHeaders {
		v := h.Value.Render(vars)
		dst = append(dst, v)
		dst = append(dst, secret.HeaderParts(h.Name, v)...)
	}
	return dst
}

func (v *validator) lookupEnv() func(string) (string, error) {
	if v.p.env != nil {
		return v.p.env
	}
	return OSEnv
}

// envMessage is the validation message of an unresolved ${env.NAME}.
func envMessage(r envRef) string {
	return fmt.Sprintf("${%s%s}: %v", EnvPrefix, r.Name, r.Err)
}

// resolveEnv turns the template's ${env.NAME} references into literals,
// keeps the values read as secrets and reports references without a value
// and values a request cannot carry (a line break in a header, a space in a
// path). It reports whether all went well.
func (v *validator) resolveEnv(path string, t *Template) bool {
	if !t.usesEnv() {
		return true
	}
	read, missing := t.resolveEnv(v.lookupEnv())
	v.secrets = append(v.secrets, read...)
	for _, m := range missing {
		v.add(path, "%s", envMessage(m))
	}
	ok := len(missing) == 0
	lit := t.literalText()
	switch {
	case strings.Contains(path, ".headers") && strings.ContainsAny(lit, "\r\n"):
		v.add(path, "a value read from the environment contains a line break, which a header cannot carry")
		ok = false
	case strings.HasSuffix(path, ".request.path") && strings.ContainsAny(lit, " \t\r\n#"):
		v.add(path, "a value read from the environment contains a space, line break or '#' (escape it, e.g. %%20)")
		ok = false
	}
	return ok
}

// expandVariable expands the ${env.NAME} references of a variable's value.
// Everything else stays as written (variables are constants: "$${x}" stays
// "$${x}"); any other ${...} is a problem. It returns the value, the values
// read from the environment and the problems found.
func expandVariable(s string, lookup func(string) (string, error)) (string, []string, []string) {
	var (
		out      strings.Builder
		read     []string
		problems []string
	)
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
		t, err := compileTemplate("${"+expr+"}", escNone)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r, missing := t.resolveEnv(lookup)
		for _, m := range missing {
			problems = append(problems, envMessage(m))
		}
		read = append(read, r...)
		out.WriteString(t.literalText())
	}
	return out.String(), read, problems
}

func (v *validator) variables() {
	p := v.p
	p.vars = make(map[string]string, len(p.Variables))
	for _, k := range sortedKeys(p.Variables) {
		at := joinPath("variables", k)
		vr := p.Variables[k]
		switch {
		case !validName(k):
			v.add(at, "invalid variable name %q (letters, digits, '_' or '-', starting with a letter or '_')", k)
		case IsBuiltin(k):
			v.add(at, "%q is a built-in and cannot be redefined", k)
		case k == envName:
			v.add(at, "%q is reserved for ${env.NAME}", k)
		case p.Data[k].CSV != "" || len(p.Data[k].Columns) > 0:
			v.add(at, "%q is also a data source", k)
		}
		vat := at
		if p.written(at + ".value") {
			vat = at + ".value"
		}
		val, read, problems := expandVariable(vr.Value, v.lookupEnv())
		for _, msg := range problems {
			v.add(vat, "%s", msg)
		}
		p.vars[k] = val
		isSecret := len(read) > 0
		if vr.Secret != nil {
			isSecret = *vr.Secret
		}
		if isSecret {
			v.secrets = append(v.secrets, val)
			v.secrets = append(v.secrets, read...)
		}
	}
}

// secretHeaders keeps the values of the request's Authorization, Cookie,
// Proxy-Authorization and X-Api-Key headers as secrets: the rendered value
// when the plan fixes it (literals, variables, the environment), the values
// of the variables it uses otherwise; and it lists the headers whose values
// change per request for AppendSecrets.
func (v *validator) secretHeaders(cr *CompiledRequest) {
	for _, h := range cr.Headers {
		if h.Value == nil || !secret.IsSecretHeader(h.Name) {
			continue
		}
		t := h.Value
		byVars := !t.UsesBuiltins() // the variables fix the value (no capture may shadow one)
		for _, ref := range t.Refs() {
			if val, ok := v.p.vars[ref]; ok {
				v.secrets = append(v.secrets, val)
				byVars = byVars && !v.captured(ref)
			} else {
				byVars = false
			}
		}
		if byVars {
			val := t.Render(mapVars(v.p.vars))
			v.secrets = append(v.secrets, val)
			v.secrets = append(v.secrets, secret.HeaderParts(h.Name, val)...)
		} else {
			cr.secretHeaders = append(cr.secretHeaders, h)
		}
	}
}

// captured reports whether some step captures into name.
func (v *validator) captured(name string) bool {
	for _, sc := range v.p.Scenarios {
		for _, st := range sc.Steps {
			if _, ok := st.Capture[name]; ok {
				return true
			}
		}
	}
	return false
}

// mapVars is a Vars over a map.
type mapVars map[string]string

func (m mapVars) Lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}
