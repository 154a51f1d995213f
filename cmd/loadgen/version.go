package main

import (
	"context"
	"fmt"
	"io"

	"github.com/loadlab/loadlab/internal/metrics"
)

func init() {
	register("version", "print the version, commit, Go version and build date (also loadgen --version)", versionCmd)
}

// versionCmd is `loadgen version` (and `loadgen --version`).
func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "loadgen version: takes no arguments, got %q\n", args)
		return exitUsage
	}
	b := metrics.Build()
	fmt.Fprintf(stdout, "loadgen %s\ncommit %s\nbuilt %s\n%s\n", b.Version, b.Commit, b.BuildDate, b.GoVersion)
	return exitOK
}
