package metrics

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestBuildInfo: ldflags values win; unset ones come from the build
// information (vcs settings), else "unknown".
func TestBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-12-02T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name string
		in   BuildInfo
		want BuildInfo
	}{
		{"from build info", BuildInfo{Version: "dev"},
			BuildInfo{Version: "v1.4.0", Commit: "0123abc+dirty", BuildDate: "2026-12-02T12:00:00Z (commit time)"}},
		{"ldflags win", BuildInfo{Version: "v9", Commit: "fff", BuildDate: "2026-12-01T00:00:00Z"},
			BuildInfo{Version: "v9", Commit: "fff", BuildDate: "2026-12-01T00:00:00Z"}},
	} {
		got := tc.in
		fillFromBuildInfo(&got, bi)
		if got != tc.want {
			t.Errorf("%s: %+v; want %+v", tc.name, got, tc.want)
		}
	}
	b := Build()
	if b.GoVersion != runtime.Version() || b.Version == "" || b.Commit == "" || b.BuildDate == "" {
		t.Errorf("Build() = %+v; want every field set", b)
	}
}
