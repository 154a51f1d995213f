package secret

import (
	"regexp"
	"strings"
)

// secretKeys are the substrings that make a YAML key secret (compared in
// lower case, with '-' treated as '_').
var secretKeys = []string{"password", "passwd", "secret", "token", "authorization", "api_key", "apikey",
	"cookie", "credential", "private_key", "access_key"}

var (
	// key: value, optionally as a list item, key optionally quoted.
	keyLine = regexp.MustCompile(`^(\s*(?:-\s+)?)("[^"]*"|'[^']*'|[^\s:#'"][^:#]*?)(\s*:)(\s*)(.*)$`)
	// scheme://user:pass@host
	userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)`)
	// a header value on a flow line: Authorization: Bearer xyz inside {...}
	flowPair = regexp.MustCompile(`(?i)(["']?[\w-]*(?:password|passwd|secret|token|authorization|api[_-]?key|cookie|credential|private[_-]?key|access[_-]?key)[\w-]*["']?\s*:\s*)("[^"]*"|'[^']*'|[^,}\]]+)`)
	// a boolean value, alone or before a comment
	boolValue = regexp.MustCompile(`^(?i:true|false)\s*(?:#.*)?$`)
)

// YAML masks the values of secret-looking keys (password, token, secret,
// authorization, api_key, cookie, ...) in a YAML document, including block
// scalars and flow mappings, and the password in URLs with user info. It
// works line by line and keeps everything else (comments, layout) as is, so
// the stored plan still reads like the original. Booleans are kept (they hold
// no secret: "secret: true" declares a secret variable). It masks by key
// only; Redactor.YAML adds masking by value.
func YAML(yaml string) string {
	lines := strings.Split(yaml, "\n")
	blockIndent := -1 // >= 0 while masking the lines of a secret block scalar
	for i, line := range lines {
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		if blockIndent >= 0 {
			if strings.TrimSpace(line) == "" || indent > blockIndent {
				if strings.TrimSpace(line) != "" {
					lines[i] = line[:indent] + Mask
				}
				continue
			}
			blockIndent = -1
		}
		line = userinfo.ReplaceAllString(line, "${1}"+Mask+"${3}")
		m := keyLine.FindStringSubmatch(line)
		if m == nil || !secretKey(m[2]) || isBool(m[5]) {
			if strings.Contains(line, "{") {
				line = flowPair.ReplaceAllStringFunc(line, func(pair string) string {
					sm := flowPair.FindStringSubmatch(pair)
					if isBool(sm[2]) {
						return pair
					}
					return sm[1] + Mask
				})
			}
			lines[i] = line
			continue
		}
		value := m[5]
		switch {
		case value == "" || strings.HasPrefix(value, "#"):
			// A nested mapping or list under a secret key: mask its scalars.
			blockIndent = len(m[1])
			if strings.HasPrefix(m[1], "-") || strings.Contains(m[1], "- ") {
				blockIndent = len(m[1]) - 1
			}
		case strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">"):
			blockIndent = indent
			if strings.Contains(m[1], "-") {
				blockIndent = len(m[1]) - 1
			}
		case strings.HasPrefix(value, "&") || strings.HasPrefix(value, "*"):
			// anchors/aliases: mask the whole value, keep nothing
			line = m[1] + m[2] + m[3] + m[4] + Mask
		default:
			line = m[1] + m[2] + m[3] + m[4] + Mask + trailingComment(value)
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

func isBool(v string) bool { return boolValue.MatchString(strings.TrimSpace(v)) }

func secretKey(k string) bool {
	k = strings.Trim(k, `"'`)
	k = strings.ReplaceAll(strings.ToLower(k), "-", "_")
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// trailingComment returns " # ..." when an unquoted value ends with a comment.
func trailingComment(v string) string {
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, `'`) {
		return ""
	}
	if i := strings.Index(v, " #"); i >= 0 {
		return v[i:]
	}
	return ""
}
