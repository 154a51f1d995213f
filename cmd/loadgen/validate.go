package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/loadlab/loadlab/internal/plan"
)

func init() {
	register("validate", "check plans without running them (exit 2 on any problem)", validateCmd)
}

// validateCmd is `loadgen validate [--target URL] PLAN...`: every problem of
// every plan is printed as file:line:col: path: message.
func validateCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var target string
	var verbose bool
	var env envFlags
	env.set(fs)
	targetFlag(fs, &target)
	vFlag(fs, &verbose)
	typ := fs.String("type", "", "check the plans as this type: load, benchmark, stress or knee")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen validate [--target URL] [--type TYPE] [-e NAME=VALUE] [--env-file FILE] PLAN...")
		fs.PrintDefaults()
	}
	plans, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(plans) == 0 {
		fs.Usage()
		return exitUsage
	}
	if err := checkTargetFlag(target); err != nil {
		fmt.Fprintf(stderr, "loadgen validate: %v\n", err)
		return exitUsage
	}
	var opts []plan.Option
	envOpt, err := env.option()
	if err != nil {
		fmt.Fprintf(stderr, "loadgen validate: %v\n", err)
		return exitUsage
	}
	if envOpt != nil {
		opts = append(opts, envOpt)
	}
	if target != "" {
		opts = append(opts, plan.WithTarget(target))
	}
	if *typ != "" {
		opts = append(opts, plan.WithType(*typ))
	}
	code = exitOK
	for _, path := range plans {
		if _, err := plan.LoadFile(path, opts...); err != nil {
			fmt.Fprintln(stderr, err)
			code = exitUsage
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	return code
}
