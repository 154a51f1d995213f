package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/loadlab/loadlab/internal/plan"
)

// envFlags are -e NAME=VALUE (repeatable) and --env-file FILE: values for the plans' ${env.NAME}, as k6's -e gives
// them. They win over the process environment; -e wins over the file.
type envFlags struct {
	vars envVars
	file string
}

// envVars is the repeatable -e flag.
type envVars map[string]string

func (e *envVars) String() string { return "" }

func (e *envVars) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	if *e == nil {
		*e = envVars{}
	}
	(*e)[name] = value
	return nil
}

func (f *envFlags) set(fs *flag.FlagSet) {
	fs.Var(&f.vars, "e", "NAME=VALUE: set ${env.NAME} in the plan (repeatable; wins over the environment and --env-file)")
	fs.StringVar(&f.file, "env-file", "", "read NAME=VALUE lines (# comments, blank lines, optional export and quotes) for ${env.NAME} from this file")
}

// option returns the plan option that applies the flags (nil when none is set).
func (f *envFlags) option() (plan.Option, error) {
	vars := map[string]string{}
	if f.file != "" {
		fv, err := readEnvFile(f.file)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		vars = fv
	}
	for k, v := range f.vars {
		vars[k] = v
	}
	if len(vars) == 0 {
		return nil, nil
	}
	return plan.WithEnv(vars), nil
}

// readEnvFile reads NAME=VALUE lines: blank lines and lines starting with # are skipped, a leading "export " is
// dropped, and a value in matching single or double quotes loses them (nothing else is interpreted).
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s:%d: want NAME=VALUE, got %q", path, n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("%s", path), err)
	}
	return vars, nil
}
