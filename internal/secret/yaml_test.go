package secret

import "testing"

func TestYAML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain password", "user: bob\npassword: hunter2\n", "user: bob\npassword: ***\n"},
		{"quoted token", "  token: \"abc def\"", "  token: ***"},
		{"header authorization", "headers:\n  Authorization: Bearer abc.def\n  Accept: json", "headers:\n  Authorization: ***\n  Accept: json"},
		{"x-api-key header", "  X-Api-Key: k123", "  X-Api-Key: ***"},
		{"api_key with comment", "api_key: k123 # from vault", "api_key: *** # from vault"},
		{"list item", "- password: p1\n- name: n", "- password: ***\n- name: n"},
		{"client_secret", "client_secret: s", "client_secret: ***"},
		{"not secret", "name: token-bucket-test\nrate: 200/s", "name: token-bucket-test\nrate: 200/s"},
		{"empty value nested", "secrets:\n  a: 1\n  b: 2\nname: x", "secrets:\n  ***\n  ***\nname: x"},
		{"block scalar", "private_key: |\n  -----BEGIN-----\n  xyz\nnext: 1", "private_key: |\n  ***\n  ***\nnext: 1"},
		{"url userinfo", "base_url: https://admin:pa55@example.test/api", "base_url: https://admin:***@example.test/api"},
		{"flow mapping", "headers: {Authorization: \"Bearer x\", Accept: json}", "headers: {Authorization: ***, Accept: json}"},
		{"body with password field", "body: '{\"password\": \"p\"}'", "body: '{\"password\": ***}'"},
		{"no trailing newline kept", "a: 1", "a: 1"},
		{"booleans kept", "jwt: {value: x, secret: true}\nsecret: false", "jwt: {value: x, secret: true}\nsecret: false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := YAML(tt.in); got != tt.want {
				t.Errorf("YAML(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}
