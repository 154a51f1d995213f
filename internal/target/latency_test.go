package target

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in      string
		want    Latency
		wantErr string
	}{
		{"40ms", Fixed(40 * ms), ""},
		{"20ms-80ms", Uniform(20*ms, 80*ms), ""},
		{" 20ms - 80ms ", Uniform(20*ms, 80*ms), ""},
		{"5ms-250ms~15ms", Latency{Min: 5 * ms, Max: 250 * ms, Mean: 15 * ms}, ""},
		{"0s", Fixed(0), ""},
		{"80ms-20ms", Latency{}, `latency "80ms-20ms": max 20ms is below min 80ms`},
		{"20", Latency{}, `latency "20": time: missing unit in duration "20"`},
		{"5ms-10ms~20ms", Latency{}, `latency "5ms-10ms~20ms": mean 20ms must lie strictly between min 5ms and max 10ms`},
		{"", Latency{}, `latency "": time: invalid duration ""`},
	}
	for _, tc := range tests {
		got, err := ParseLatency(tc.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tc.want || gotErr != tc.wantErr {
			t.Errorf("ParseLatency(%q) = %+v, %q; want %+v, %q", tc.in, got, gotErr, tc.want, tc.wantErr)
		}
		if err == nil {
			if back, err := ParseLatency(got.String()); err != nil || back != got {
				t.Errorf("ParseLatency(%q.String() = %q) = %+v, %v; want a round trip", tc.in, got.String(), back, err)
			}
		}
	}
}

// TestLatencySample checks bounds always and the mean statistically (with a
// margin of many standard errors).
func TestLatencySample(t *testing.T) {
	tests := []struct {
		name string
		l    Latency
		want time.Duration // Expected()
	}{
		{"fixed", Fixed(20 * ms), 20 * ms},
		{"uniform", Uniform(20*ms, 80*ms), 50 * ms},
		// capped exponential: 5 + 10(1 - e^-24.5) ms
		{"exponential", Latency{Min: 5 * ms, Max: 250 * ms, Mean: 15 * ms}, 15 * ms},
		// a tight cap pulls the mean down: 10 + 20(1 - e^-0.5) ms
		{"capped", Latency{Min: 10 * ms, Max: 20 * ms, Mean: 30 * ms}, 10*ms + time.Duration(20*float64(ms)*(1-math.Exp(-0.5)))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "capped" {
				// mean outside (min, max) is rejected by Validate, but Expected must still be right
				if err := tc.l.Validate(); err == nil {
					t.Errorf("Validate(%+v) = nil; want an error", tc.l)
				}
			}
			if got := tc.l.Expected(); absDur(got-tc.want) > time.Microsecond {
				t.Errorf("Expected() = %v; want %v", got, tc.want)
			}
			const n = 100000
			var sum time.Duration
			for range n {
				d := tc.l.Sample()
				if d < tc.l.Min || d > tc.l.Max {
					t.Fatalf("Sample() = %v; want within [%v, %v]", d, tc.l.Min, tc.l.Max)
				}
				sum += d
			}
			mean := sum / n
			if rel := math.Abs(float64(mean-tc.want)) / float64(tc.want); rel > 0.02 {
				t.Errorf("mean of %d samples = %v; want %v within 2%%", n, mean, tc.want)
			}
		})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestParseLatencyFile(t *testing.T) {
	base := DefaultLatency()
	tests := []struct {
		name    string
		yaml    string
		check   map[string]Latency // routes to check in the result
		wantErr string
	}{
		{name: "routes over defaults", yaml: `
routes:
  "GET /api/users": {min: 1ms, max: 2ms}
  POST /api/auth/login: {fixed: 40ms}
  GET /api/teams/{id}: {min: 5ms, mean: 15ms, max: 250ms}
`, check: map[string]Latency{
			RouteUsers: Uniform(ms, 2*ms), RouteLogin: Fixed(40 * ms), RouteTeam: {Min: 5 * ms, Max: 250 * ms, Mean: 15 * ms},
			RouteTeams: base[RouteTeams],
		}},
		{name: "default then routes", yaml: "default: {fixed: 7ms}\nroutes:\n  GET /api/teams: {fixed: 9ms}\n",
			check: map[string]Latency{RouteUsers: Fixed(7 * ms), RouteLogout: Fixed(7 * ms), RouteTeams: Fixed(9 * ms)}},
		{name: "unknown key", yaml: "default: {fixed: 7ms}\nroute: {}\n",
			wantErr: "yaml: unmarshal errors:\n  line 2: field route not found in type target.latencyFile"},
		{name: "unknown spec key", yaml: "routes:\n  GET /api/teams: {fixed: 9ms, max_ms: 3}\n",
			wantErr: "yaml: unmarshal errors:\n  line 2: field max_ms not found in type target.latencySpec"},
		{name: "bad duration", yaml: "routes:\n  GET /api/teams:\n    fixed: 9\n",
			wantErr: `line 3: "9" is not a duration such as 20ms`},
		{name: "unknown route", yaml: "routes:\n  GET /api/teams: {fixed: 9ms}\n  GET /api/health: {fixed: 1ms}\n",
			wantErr: `line 3: routes: "GET /api/health": not a pooled route; pooled routes: POST /api/auth/login, POST /api/auth/logout, GET /api/users, GET /api/users/{id}, PUT /api/users/me, GET /api/teams, GET /api/teams/{id}, GET /api/teams/{id}/members`},
		{name: "min above max", yaml: "\n\nroutes:\n  GET /api/users: {min: 9ms, max: 1ms}\n",
			wantErr: `line 4: routes["GET /api/users"]: max 1ms is below min 9ms`},
		{name: "fixed and min", yaml: "default: {fixed: 1ms, min: 1ms}\n",
			wantErr: `line 1: default: fixed excludes min, max and mean`},
		{name: "min only", yaml: "routes:\n  GET /api/users: {min: 1ms}\n",
			wantErr: `line 2: routes["GET /api/users"]: want fixed, or min and max (and optionally mean)`},
		{name: "duplicate key", yaml: "routes:\n  GET /api/users: {fixed: 1ms}\n  GET /api/users: {fixed: 2ms}\n",
			wantErr: `yaml: unmarshal errors:` + "\n" + `  line 3: mapping key "GET /api/users" already defined at line 2`},
		{name: "empty", yaml: "", wantErr: "file is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLatencyFile([]byte(tc.yaml), base)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Fatalf("ParseLatencyFile error = %q; want %q", gotErr, tc.wantErr)
			}
			for k, want := range tc.check {
				if got[k] != want {
					t.Errorf("latency[%q] = %+v; want %+v", k, got[k], want)
				}
			}
		})
	}
	if base[RouteUsers] != Uniform(20*ms, 80*ms) {
		t.Errorf("ParseLatencyFile modified base: %+v", base[RouteUsers])
	}
}

func TestLoadLatencyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lat.yaml")
	if err := os.WriteFile(p, []byte("default: {fixed: 3ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadLatencyFile(p, nil)
	if err != nil || got[RouteTeams] != Fixed(3*ms) || len(got) != len(PooledRoutes) {
		t.Errorf("LoadLatencyFile = %v, %v; want every pooled route fixed 3ms", got, err)
	}
	if _, err := LoadLatencyFile(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Errorf("LoadLatencyFile(missing) = nil error")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no pool", func(c *Config) { c.Workers, c.Queue = 0, 0 }, ""},
		{"negative workers", func(c *Config) { c.Workers = -1 }, "workers -1: must be >= 0"},
		{"negative queue", func(c *Config) { c.Queue = -1 }, "queue -1: must be >= 0"},
		{"negative scale", func(c *Config) { c.LatencyScale = -1 }, "latency scale -1: must be >= 0"},
		{"negative service time", func(c *Config) { c.ServiceTime = -1 }, "service time -1ns: must be >= 0"},
		{"health latency", func(c *Config) { c.Latency[RouteHealth] = Fixed(ms) }, `latency for "GET /api/health": not a pooled route; pooled routes: POST /api/auth/login, POST /api/auth/logout, GET /api/users, GET /api/users/{id}, PUT /api/users/me, GET /api/teams, GET /api/teams/{id}, GET /api/teams/{id}/members`},
		{"bad latency", func(c *Config) { c.Latency[RouteUsers] = Uniform(2*ms, ms) }, `latency for "GET /api/users": max 1ms is below min 2ms`},
		{"bad faults", func(c *Config) { c.Faults.ErrorRate = 2 }, "faults: error rate 2: must be within 0-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Errorf("Validate() = %q; want %q", gotErr, tc.wantErr)
			}
			if _, err := New(c, nil); (err == nil) != (tc.wantErr == "") {
				t.Errorf("New() error = %v; want error %v", err, tc.wantErr != "")
			}
		})
	}

	capTests := []struct {
		name  string
		cfg   Config
		route string
		want  float64
	}{
		{"fixed 20ms x8", FixedServiceConfig(8, 4, 20*ms), RouteTeams, 400},
		{"fixed scaled by half", func() Config { c := FixedServiceConfig(8, 4, 20*ms); c.LatencyScale = 0.5; return c }(), RouteLogin, 800},
		{"default users list", DefaultConfig(), RouteUsers, 32 / 0.05},
		{"no pool", FixedServiceConfig(0, 0, 20*ms), RouteTeams, math.Inf(1)},
		{"latency off", func() Config { c := DefaultConfig(); c.LatencyScale = 0; return c }(), RouteUsers, math.Inf(1)},
	}
	for _, tc := range capTests {
		if got := tc.cfg.Capacity(tc.route); math.Abs(got-tc.want) > 1e-9 && got != tc.want {
			t.Errorf("%s: Capacity(%q) = %v; want %v", tc.name, tc.route, got, tc.want)
		}
	}
}
