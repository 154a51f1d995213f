// Command loadgen runs YAML load-test plans against an HTTP service and tells
// the truth about latency. It owns the command line only: flags in, library
// calls out (internal/runner carries out every run, internal/control is
// serve), the documented exit codes back. Subcommands register themselves in
// init (run, bench, stress and knee are one command, run.go); main only
// dispatches.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/loadlab/loadlab/internal/panics"
)

// Exit codes, documented in the README.
const (
	exitOK        = 0
	exitError     = 1 // the run could not be carried out (target down, store error, ...)
	exitUsage     = 2 // bad plan or flags
	exitThreshold = 3 // thresholds failed, or a benchmark regression
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	if _, dup := commands[name]; dup {
		panic("loadgen: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: loadgen <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'loadgen <command> -h' for a command's flags.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) (code int) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A panic that reaches here (the runs recover their own) is still one
	// line and exit code 1, not Go's stack dump and exit code 2 (bad plan).
	defer panics.Recover("", func(pe *panics.Error) {
		printPanic(stderr, "loadgen "+args[0], pe, verboseFlag(args[1:]))
		code = exitError
	})
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// printPanic reports a panic (a bug in loadgen) on one line, and its stack
// when verbose (-v).
func printPanic(w io.Writer, prog string, pe *panics.Error, verbose bool) {
	hint := "; -v prints the stack"
	if verbose {
		hint = ""
	}
	fmt.Fprintf(w, "%s: %s (a bug in loadgen: the run was stopped%s)\n", prog, pe.Error(), hint)
	if verbose {
		fmt.Fprintf(w, "%s\n", pe.Stack)
	}
}

// reportRunError prints a run's error on one line, or a panic as printPanic
// does.
func reportRunError(w io.Writer, prog string, err error, verbose bool) {
	if pe := panics.As(err); pe != nil {
		printPanic(w, prog, pe, verbose)
		return
	}
	fmt.Fprintf(w, "%s: %v\n", prog, err)
}

// verboseFlag reports whether args hold -v (for a panic that escaped the
// command, before or after its flags were parsed).
func verboseFlag(args []string) bool {
	for _, a := range args {
		switch a {
		case "-v", "--v", "-v=true", "--v=true":
			return true
		}
	}
	return false
}
