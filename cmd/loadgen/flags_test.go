package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		pos    []string
		target string
		code   int
		ok     bool
	}{
		{"flags first", []string{"--target", "http://x", "a.yaml"}, []string{"a.yaml"}, "http://x", exitOK, true},
		{"flags after", []string{"a.yaml", "--target", "http://x", "b.yaml"}, []string{"a.yaml", "b.yaml"}, "http://x", exitOK, true},
		{"none", nil, nil, "", exitOK, true},
		{"help", []string{"a.yaml", "-h"}, nil, "", exitOK, false},
		{"bad flag", []string{"a.yaml", "--nope"}, nil, "", exitUsage, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			target := fs.String("target", "", "")
			pos, code, ok := parseInterleaved(fs, tc.args)
			if !reflect.DeepEqual(pos, tc.pos) || code != tc.code || ok != tc.ok {
				t.Errorf("parseInterleaved(%q) = %q, %d, %v; want %q, %d, %v", tc.args, pos, code, ok, tc.pos, tc.code, tc.ok)
			}
			if tc.ok && *target != tc.target {
				t.Errorf("--target = %q; want %q", *target, tc.target)
			}
		})
	}
}

func TestSplitNames(t *testing.T) {
	got := splitNames([]string{"JWT", "A, B,,", " "})
	if strings.Join(got, "|") != "JWT|A|B" {
		t.Errorf("splitNames = %q; want JWT, A, B", got)
	}
}
