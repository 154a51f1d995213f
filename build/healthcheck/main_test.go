package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loadlab/loadlab/internal/testenv"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"status":"ok"}`))
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := "http://" + testenv.FreeAddr(t) + "/ok"
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"healthy", []string{srv.URL + "/ok"}, 0},
		{"503", []string{srv.URL + "/down"}, 1},
		{"refused", []string{closed}, 1},
		{"no url", nil, 2},
		{"two urls", []string{"a", "b"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args, io.Discard); got != tc.want {
				t.Errorf("run(%q) = %d; want %d", tc.args, got, tc.want)
			}
		})
	}
}
