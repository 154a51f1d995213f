package main

import (
	"errors"
	"flag"
)

// parseInterleaved parses args with fs, allowing positional arguments between
// flags (`loadgen bench plan.yaml --target URL`), and returns the positional
// arguments in order. When parsing stops (-h, or a bad flag that fs has
// already reported), ok is false and code is the exit code: exitOK for -h,
// exitUsage otherwise.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		if fs.NArg() == 0 {
			return pos, exitOK, true
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
