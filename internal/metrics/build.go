package metrics

import (
	"runtime"
	"runtime/debug"
)

// Commit and BuildDate say what was built and when; set them, as Version, with
// -ldflags "-X github.com/loadlab/loadlab/internal/metrics.Commit=abc1234 -X ...BuildDate=2026-12-02T13:00:00Z"
// (the Makefile does). When they are not set, Build reads them from the
// binary's build information (go build in a git checkout records the commit
// and its time).
var (
	Commit    = ""
	BuildDate = ""
)

// BuildInfo is what `loadgen version` prints.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
}

// Build returns the binary's version, commit, build date and Go version:
// the ldflags values, else the build information's (module version,
// vcs.revision with "+dirty" when modified, vcs.time), else "unknown".
func Build() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, BuildDate: BuildDate, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fillFromBuildInfo(&b, bi)
	}
	for _, p := range []*string{&b.Commit, &b.BuildDate} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return b
}

// fillFromBuildInfo sets what the ldflags left unset from bi.
func fillFromBuildInfo(b *BuildInfo, bi *debug.BuildInfo) {
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if b.Commit == "" && rev != "" {
		b.Commit = rev
		if dirty {
			b.Commit += "+dirty"
		}
	}
	if b.BuildDate == "" && at != "" {
		b.BuildDate = at + " (commit time)"
	}
}
