// Command gendashboards writes loadlab's Grafana dashboards (dashboards/*.json) and their query manifest
// (queries.json) under -out, the grafana/ directory by default: `go generate ./...` in grafana/ runs it.
// `make check-dashboards` runs it into a temporary directory and compares.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loadlab/loadlab/grafana/boards"
)

func main() {
	out := flag.String("out", ".", "directory to write dashboards/*.json and queries.json into (grafana/)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gendashboards: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	files, err := boards.Generate()
	if err != nil {
		return err
	}
	dir := filepath.Join(out, "dashboards")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Dashboards that are no longer generated must go, or Grafana keeps provisioning them.
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[filepath.Join(out, f.Path)] = true
	}
	for _, o := range old {
		if !keep[o] {
			if err := os.Remove(o); err != nil {
				return err
			}
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.Path), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
