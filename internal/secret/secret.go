// Package secret keeps secret values out of everything loadlab writes: the
// stored plan, summaries, error samples, logs and control API answers.
//
// A Redactor holds the literal values to hide (built once from a loaded plan:
// its secret variables, the values it read from the environment and the
// values of its Authorization, Cookie, Proxy-Authorization and X-Api-Key
// headers) and masks them BY VALUE: wherever one appears, inside any longer
// text, it becomes Mask. YAML masks by key (password:, token:, ...) for the
// stored plan text. The zero and nil Redactors mask nothing.
package secret

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Mask replaces a secret value.
const Mask = "***"

// MinLen is the shortest value a Redactor masks (bytes). Shorter values are
// left alone: masking every "1" or "abc" in a summary would garble it and
// hide little (a real credential is longer).
const MinLen = 4

// Headers are the request headers whose values are always secret, compared
// case-insensitively.
var Headers = []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key"}

// IsSecretHeader reports whether name (any case) is one of Headers.
func IsSecretHeader(name string) bool {
	for _, h := range Headers {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// HeaderParts returns the parts of a secret header's value worth masking on
// their own besides the whole value: the credentials after an auth scheme
// ("Bearer abc" -> "abc") and each cookie's value ("a=b; c=d" -> "b", "d"),
// since a server may echo just those.
func HeaderParts(name, value string) []string {
	var out []string
	switch {
	case strings.EqualFold(name, "Authorization"), strings.EqualFold(name, "Proxy-Authorization"):
		if _, cred, ok := strings.Cut(strings.TrimSpace(value), " "); ok {
			out = append(out, strings.TrimSpace(cred))
		}
	case strings.EqualFold(name, "Cookie"):
		for _, c := range strings.Split(value, ";") {
			if _, v, ok := strings.Cut(c, "="); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

// Redactor masks a fixed set of secret values. It is immutable and safe for
// concurrent use; a nil *Redactor masks nothing (but still masks the extra
// values given to String).
type Redactor struct {
	values []value // longest first, each >= MinLen bytes, with their escaped forms
	rep    *strings.Replacer
}

// value is one form of a secret and the shortest leading part of it that
// counts as the secret when a text is cut after it (see maskTruncated).
type value struct {
	s     string
	least int
}

// New returns a Redactor for values. Values shorter than MinLen are ignored.
// Each value is also masked in the forms it takes inside JSON strings and
// URLs.
func New(values ...string) *Redactor {
	vs := variants(values)
	if len(vs) == 0 {
		return &Redactor{}
	}
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v.s, Mask)
	}
	return &Redactor{values: vs, rep: strings.NewReplacer(pairs...)}
}

// escapes are the forms a value takes in what loadlab writes: as is, inside
// JSON strings (with and without HTML escaping) and in URLs. Each escapes
// byte by byte, so the escape of a prefix is a prefix of the escape.
var escapes = []func(string) string{
	func(s string) string { return s },
	func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	},
	func(s string) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		b := bytes.TrimSpace(buf.Bytes())
		return string(b[1 : len(b)-1])
	},
	url.QueryEscape,
	url.PathEscape,
}

// variants returns the distinct values in all their escaped forms, longest
// first. A value of several words ("Bearer abc") counts, when cut short,
// only from past its first word: a bare "Bearer" is no secret.
func variants(values []string) []value {
	seen := map[string]bool{}
	var out []value
	for _, v := range values {
		if len(v) < MinLen {
			continue
		}
		word := len(v) // the end of the first word, plus one byte of the next
		if w := strings.IndexAny(v, " \t"); w >= 0 && w+2 <= len(v) {
			word = w + 2
		}
		for _, esc := range escapes {
			e := esc(v)
			if len(e) < MinLen || seen[e] {
				continue
			}
			seen[e] = true
			least := MinLen
			if word < len(v) {
				least = max(least, len(esc(v[:word])))
			}
			out = append(out, value{s: e, least: least})
		}
	}
	slices.SortFunc(out, func(a, b value) int {
		if len(a.s) != len(b.s) {
			return len(b.s) - len(a.s)
		}
		return strings.Compare(a.s, b.s)
	})
	return out
}

// Empty reports whether r masks nothing.
func (r *Redactor) Empty() bool { return r == nil || len(r.values) == 0 }

// Len is the number of values r masks (escaped forms included).
func (r *Redactor) Len() int {
	if r == nil {
		return 0
	}
	return len(r.values)
}

// String returns s with every secret value, and every value of extra (values
// known only now, e.g. a header rendered for one request), replaced by Mask.
// A secret's leading part (at least MinLen bytes) right before "..." or at
// the very end of s is masked too: that is what truncating a longer text
// leaves of a secret.
func (r *Redactor) String(s string, extra ...string) string {
	var vals []value
	if !r.Empty() {
		s = r.rep.Replace(s)
		vals = r.values
	}
	if len(extra) > 0 {
		ex := variants(extra)
		for _, v := range ex {
			s = strings.ReplaceAll(s, v.s, Mask)
		}
		vals = append(ex, vals...)
	}
	if len(vals) == 0 {
		return s
	}
	return maskTruncated(s, vals)
}

// Bytes is String for a byte slice (e.g. a JSON document: values are also
// matched in their JSON-escaped form). It returns b itself when nothing was
// masked.
func (r *Redactor) Bytes(b []byte) []byte {
	if r.Empty() || len(b) == 0 {
		return b
	}
	s := r.String(string(b))
	if s == string(b) {
		return b
	}
	return []byte(s)
}

// YAML returns a plan's YAML text as it may be stored: secret-looking keys
// masked (see the package function YAML) and every secret value masked.
func (r *Redactor) YAML(raw []byte) string { return r.String(YAML(string(raw))) }

// maskTruncated masks, at each "..." (or "…") and at the end of s, a
// preceding run of at least MinLen bytes that is the start of a secret (for
// a secret of several words, one that reaches into its second word).
func maskTruncated(s string, vals []value) string {
	var bounds []int
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "...")
		k := strings.Index(s[i:], "…")
		switch {
		case j < 0 && k < 0:
			i = len(s)
			continue
		case j < 0 || (k >= 0 && k < j):
			j = k
		}
		bounds = append(bounds, i+j)
		i += j + 3
	}
	bounds = append(bounds, len(s))
	for n := len(bounds) - 1; n >= 0; n-- { // right to left: earlier offsets stay valid
		b := bounds[n]
		best := 0
		for _, v := range vals {
			for k := min(len(v.s)-1, b); k >= v.least && k > best; k-- {
				if s[b-k:b] == v.s[:k] {
					best = k
					break
				}
			}
		}
		if best > 0 {
			s = s[:b-best] + Mask + s[b:]
		}
	}
	return s
}
