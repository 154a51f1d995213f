package store

import "testing"

func TestRedactedURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mysql://root:pw@tcp(127.0.0.1:3306)/db", "mysql://root:***@tcp(127.0.0.1:3306)/db"},
		{"mysql://root@tcp(127.0.0.1:3306)/db", "mysql://root@tcp(127.0.0.1:3306)/db"},
		{"sqlite://data/x.db", "sqlite://data/x.db"},
		{"u:p@tcp(h)/d", "u:***@tcp(h)/d"},
	}
	for _, tt := range tests {
		if got := Redacted(tt.in); got != tt.want {
			t.Errorf("Redacted(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
