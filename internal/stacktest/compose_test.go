package stacktest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
	"gopkg.in/yaml.v3"
)

// The documented ports (docs/observability.md, docker-compose.yml header).
var wantPorts = map[string][]int{
	"target":     {8117},
	"loadgen":    {8089}, // `loadgen serve`: control API and /metrics
	"prometheus": {9090},
	"grafana":    {3000},
	"mysql":      {3306},
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn any `yaml:"depends_on"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c
}

// portMapping parses the short syntax "[ip:]host:container[/proto]".
func portMapping(s string) (host, container int, ok bool) {
	s, _, _ = strings.Cut(s, "/")
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(parts[len(parts)-2])
	c, err2 := strconv.Atoi(parts[len(parts)-1])
	return h, c, err1 == nil && err2 == nil
}

func TestPortMapping(t *testing.T) {
	for _, tc := range []struct {
		in         string
		host, cont int
		ok         bool
	}{
		{"127.0.0.1:8117:8117", 8117, 8117, true},
		{"3000:3000", 3000, 3000, true},
		{"9090:9091/tcp", 9090, 9091, true},
		{"8117", 0, 0, false},
	} {
		h, c, ok := portMapping(tc.in)
		if h != tc.host || c != tc.cont || ok != tc.ok {
			t.Errorf("portMapping(%q) = %d, %d, %v; want %d, %d, %v", tc.in, h, c, ok, tc.host, tc.cont, tc.ok)
		}
	}
}

// imagePinned reports whether ref names a fixed image: a digest, or a tag
// that is not a moving branch name. A version tag contains a digit; the one
// exception allowed is distroless, whose tags (nonroot) are per Debian release
// (static-debian12) and only move for security patches.
func imagePinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return false
	}
	repo, tag := ref[:colon], ref[colon+1:]
	switch tag {
	case "latest", "main", "master", "nightly", "edge", "dev":
		return false
	}
	if strings.HasPrefix(repo, "gcr.io/distroless/") {
		return regexp.MustCompile(`-debian\d+$`).MatchString(repo)
	}
	return strings.ContainsAny(tag, "0123456789")
}

func TestImagePinned(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"mysql:8.4.6", true},
		{"prom/prometheus:v3.16.0", true},
		{"gcr.io/distroless/static-debian12:nonroot", true},
		{"gcr.io/distroless/static:nonroot", false},
		{"grafana/grafana:stable", false},
		{"grafana/grafana", false},
		{"grafana/grafana:latest", false},
		{"localhost:5000/x", false},
		{"grafana/grafana:main", false},
		{"x@sha256:abc", true},
	} {
		if got := imagePinned(tc.ref); got != tc.want {
			t.Errorf("imagePinned(%q) = %v; want %v", tc.ref, got, tc.want)
		}
	}
}

func TestComposeServices(t *testing.T) {
	root := testenv.RepoRoot(t)
	c := loadCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, ","), "grafana,loadgen,mysql,prometheus,target"; got != want {
		t.Errorf("services = %s; want %s", got, want)
	}
	for name, svc := range c.Services {
		t.Run(name, func(t *testing.T) {
			switch {
			case svc.Build != nil:
				df := filepath.Join(root, svc.Build.Context, svc.Build.Dockerfile)
				checkDockerfile(t, root, df)
			case svc.Image == "":
				t.Error("neither image nor build")
			case !imagePinned(svc.Image):
				t.Errorf("image %q is not pinned to a version", svc.Image)
			}
			if svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0 {
				t.Error("no healthcheck")
			}
			for _, v := range svc.Volumes {
				src, _, _ := strings.Cut(v, ":")
				if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
					if _, ok := c.Volumes[src]; !ok {
						t.Errorf("named volume %q is not declared", src)
					}
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("mounted %s does not exist in the repository: %v", src, err)
				}
			}
			var ports []int
			for _, p := range svc.Ports {
				h, cont, ok := portMapping(p)
				if !ok {
					t.Errorf("port %q: want host:container", p)
					continue
				}
				if h != cont {
					t.Errorf("port %q: host and container ports differ", p)
				}
				ports = append(ports, cont)
			}
			if !reflect.DeepEqual(ports, wantPorts[name]) {
				t.Errorf("ports = %v; want %v", ports, wantPorts[name])
			}
		})
	}
}

var reFrom = regexp.MustCompile(`(?i)^FROM\s+(\S+)`)
var reCopy = regexp.MustCompile(`(?i)^COPY\s+(.+)\s+\S+$`)

// checkDockerfile: multi-stage, every base image pinned, static build
// (CGO_ENABLED=0) into distroless, every COPY source present in the repository.
func checkDockerfile(t *testing.T, root, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("Dockerfile: %v", err)
		return
	}
	defer f.Close()
	var froms []string
	text := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		text += line + "\n"
		if m := reFrom.FindStringSubmatch(line); m != nil {
			froms = append(froms, m[1])
			if !imagePinned(m[1]) {
				t.Errorf("%s: base image %q is not pinned", filepath.Base(path), m[1])
			}
		}
		if m := reCopy.FindStringSubmatch(line); m != nil && !strings.Contains(line, "--from=") {
			for _, src := range strings.Fields(m[1]) {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("%s: COPY source %s missing: %v", filepath.Base(path), src, err)
				}
			}
		}
	}
	if len(froms) < 2 {
		t.Errorf("%s: %d stages; want a multi-stage build", filepath.Base(path), len(froms))
	}
	if len(froms) > 0 && !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Errorf("%s: builder %q; want golang:1.26", filepath.Base(path), froms[0])
	}
	if len(froms) > 0 && !strings.HasPrefix(froms[len(froms)-1], "gcr.io/distroless/static") {
		t.Errorf("%s: final image %q; want distroless/static", filepath.Base(path), froms[len(froms)-1])
	}
	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Errorf("%s: no CGO_ENABLED=0 (static binary)", filepath.Base(path))
	}
}

// scrapeTargets reads job -> targets from a Prometheus config, each target
// followed by its role label when it has one ("127.0.0.1:9646 role=run").
func scrapeTargets(t *testing.T, path string) (map[string][]string, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, sc := range cfg["scrape_configs"].([]any) {
		m := sc.(map[string]any)
		for _, st := range m["static_configs"].([]any) {
			sm := st.(map[string]any)
			role := ""
			if l, ok := sm["labels"].(map[string]any); ok && l["role"] != nil {
				role = " role=" + l["role"].(string)
				delete(l, "role")
				if len(l) == 0 {
					delete(sm, "labels")
				}
			}
			for _, tg := range sm["targets"].([]any) {
				out[m["job_name"].(string)] = append(out[m["job_name"].(string)], tg.(string)+role)
			}
			sm["targets"] = nil // blanked for the comparison of the rest
		}
	}
	return out, cfg
}

// TestScrapeConfigs: prometheus.yml scrapes the local defaults, the compose
// copy scrapes the compose services on their ports, and apart from the
// targets (and their role: a local `loadgen run`, down between runs, or the
// compose `loadgen serve`, which LoadgenDown expects up) the two files are
// the same configuration.
func TestScrapeConfigs(t *testing.T) {
	root := testenv.RepoRoot(t)
	local, localCfg := scrapeTargets(t, filepath.Join(root, "prometheus/prometheus.yml"))
	compose, composeCfg := scrapeTargets(t, filepath.Join(root, "prometheus/prometheus.compose.yml"))
	wantLocal := map[string][]string{"loadgen": {"127.0.0.1:9646 role=run"}, "target": {"127.0.0.1:8117"}}
	if !reflect.DeepEqual(local, wantLocal) {
		t.Errorf("prometheus.yml targets = %v; want %v", local, wantLocal)
	}
	wantCompose := map[string][]string{"loadgen": {"loadgen:8089 role=serve"}, "target": {"target:8117"}}
	if !reflect.DeepEqual(compose, wantCompose) {
		t.Errorf("prometheus.compose.yml targets = %v; want %v", compose, wantCompose)
	}
	if !reflect.DeepEqual(localCfg, composeCfg) {
		t.Errorf("prometheus.yml and prometheus.compose.yml differ in more than targets:\n%v\n%v", localCfg, composeCfg)
	}
	g := localCfg["global"].(map[string]any)
	for k, want := range map[string]any{"scrape_interval": "2s", "evaluation_interval": "2s", "scrape_native_histograms": true} {
		if g[k] != want {
			t.Errorf("global.%s = %v; want %v", k, g[k], want)
		}
	}
	if p, _ := g["scrape_protocols"].([]any); len(p) == 0 || p[0] != "PrometheusProto" {
		t.Errorf("global.scrape_protocols = %v; want PrometheusProto first (native histograms need protobuf)", g["scrape_protocols"])
	}

	// Every compose target is a service that listens on that port.
	c := loadCompose(t)
	for job, targets := range compose {
		for _, tg := range targets {
			tg, _, _ = strings.Cut(tg, " ")
			host, port, _ := strings.Cut(tg, ":")
			p, _ := strconv.Atoi(port)
			if !contains(wantPorts[host], p) {
				t.Errorf("job %s scrapes %s: service %q does not publish port %d", job, tg, host, p)
			}
			if _, ok := c.Services[host]; !ok {
				t.Errorf("job %s scrapes %s: no compose service %q", job, tg, host)
			}
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestComposeWiring: the addresses services use to reach each other agree
// with the ports they listen on.
func TestComposeWiring(t *testing.T) {
	c := loadCompose(t)
	lg := c.Services["loadgen"]
	cmd := strings.Join(lg.Command, " ")
	for _, want := range []string{"serve", "--addr 0.0.0.0:8089", "--allow-target target", "--allowed-host loadgen"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("loadgen command %q lacks %q", cmd, want)
		}
	}
	if lg.Environment["LOADGEN_TOKEN"] == "" {
		t.Error("loadgen LOADGEN_TOKEN is empty: serve refuses a non-loopback --addr without a token")
	}
	if got := lg.Environment["LOADGEN_TARGET"]; got != "http://target:8117" {
		t.Errorf("loadgen LOADGEN_TARGET = %q; want http://target:8117", got)
	}
	if got := lg.Environment["LOADGEN_STORE"]; !strings.HasPrefix(got, "mysql://") || !strings.Contains(got, "@tcp(mysql:3306)/loadlab?") || !strings.Contains(got, "parseTime=true") {
		t.Errorf("loadgen LOADGEN_STORE = %q; want mysql://...@tcp(mysql:3306)/loadlab?parseTime=true", got)
	}
	if got := c.Services["target"].Environment["TARGET_ADDR"]; got != "0.0.0.0:8117" {
		t.Errorf("target TARGET_ADDR = %q; want 0.0.0.0:8117", got)
	}
	gf := c.Services["grafana"].Environment
	if gf["GF_AUTH_ANONYMOUS_ENABLED"] != "true" || gf["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
		t.Errorf("grafana anonymous access = %q/%q; want true/Viewer", gf["GF_AUTH_ANONYMOUS_ENABLED"], gf["GF_AUTH_ANONYMOUS_ORG_ROLE"])
	}
	if db := c.Services["mysql"].Environment["MYSQL_DATABASE"]; db != gf["LOADLAB_MYSQL_DATABASE"] || db != "loadlab" {
		t.Errorf("MYSQL_DATABASE %q, grafana LOADLAB_MYSQL_DATABASE %q; want both loadlab", db, gf["LOADLAB_MYSQL_DATABASE"])
	}
	if !strings.HasPrefix(c.Services["mysql"].Image, "mysql:8.") {
		t.Errorf("mysql image %q; want MySQL 8", c.Services["mysql"].Image)
	}
	if !strings.HasPrefix(c.Services["prometheus"].Image, "prom/prometheus:v3.") {
		t.Errorf("prometheus image %q; want Prometheus 3", c.Services["prometheus"].Image)
	}

	// Grafana's data sources point at the compose services.
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "grafana/provisioning/datasources/datasources.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	wantURL := map[string]string{PrometheusUID: "http://prometheus:9090", MySQLUID: "mysql:3306"}
	for _, d := range ds.Datasources {
		if d.URL != wantURL[d.UID] {
			t.Errorf("datasource %s url = %q; want %q", d.UID, d.URL, wantURL[d.UID])
		}
	}
}

// TestComposeConfigValidates runs `docker-compose config -q` (Compose v1,
// which validates without a Docker engine) when it is installed.
func TestComposeConfigValidates(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("docker-compose not installed (apt-get install --no-install-recommends docker-compose); the static checks above still ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", "docker-compose.yml", "config", "-q")
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config -q: %v\n%s", err, out)
	}
}
