package plan

import (
	"strings"

	"github.com/loadlab/loadlab/internal/secret"
	"github.com/loadlab/loadlab/internal/tmpl"
)

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
func (cr *CompiledRequest) AppendSecrets(dst []string, vars tmpl.Vars) []string {
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
	return tmpl.OSEnv
}

// resolveEnv turns the template's ${env.NAME} references into literals,
// keeps the values read as secrets and reports references without a value
// and values a request cannot carry (a line break in a header, a space in a
// path). It reports whether all went well.
func (v *validator) resolveEnv(path string, t *tmpl.Template) bool {
	if !t.UsesEnv() {
		return true
	}
	read, missing := t.ResolveEnv(v.lookupEnv())
	v.secrets = append(v.secrets, read...)
	for _, m := range missing {
		v.add(path, "%v", m)
	}
	ok := len(missing) == 0
	lit := t.LiteralText()
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

func (v *validator) variables() {
	p := v.p
	p.vars = make(map[string]string, len(p.Variables))
	for _, k := range sortedKeys(p.Variables) {
		at := joinPath("variables", k)
		vr := p.Variables[k]
		v.name(at, "variable", k)
		vat := at
		if p.written(at + ".value") {
			vat = at + ".value"
		}
		val, read, problems := tmpl.ExpandEnv(vr.Value, v.lookupEnv())
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

// NewScope returns a template scope for virtual user vu over the plan's
// variables (their values as resolved by Validate).
func (p *Plan) NewScope(vu int, seed uint64) *tmpl.Scope {
	return tmpl.NewScope(p.VariableValues(), vu, seed)
}

// VariableValues returns the variables' values with ${env.NAME} resolved (set
// by Validate; the caller must not modify the map).
func (p *Plan) VariableValues() map[string]string {
	if p.vars == nil && len(p.Variables) > 0 {
		vars := make(map[string]string, len(p.Variables))
		for k, v := range p.Variables {
			vars[k] = v.Value
		}
		return vars
	}
	return p.vars
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
			val := t.Render(tmpl.Map(v.p.vars))
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
