package stacktest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
	"gopkg.in/yaml.v3"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin := testenv.Tool(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolCheckConfig: both scrape configs (local and compose) are valid
// and load the rule files.
func TestPromtoolCheckConfig(t *testing.T) {
	for _, f := range []string{"prometheus/prometheus.yml", "prometheus/prometheus.compose.yml"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out := promtool(t, "check", "config", f)
			if !strings.Contains(out, "SUCCESS: 2 rule files found") {
				t.Errorf("promtool check config %s: rule files not loaded:\n%s", f, out)
			}
		})
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(t), RuleDir, "*.yml"))
	if len(files) != 2 {
		t.Fatalf("rule files = %v; want alerts.yml and recording.yml", files)
	}
	out := promtool(t, append([]string{"check", "rules", "--lint=all", "--lint-fatal"}, files...)...)
	for _, want := range []string{"SUCCESS: 10 rules found", "SUCCESS: 16 rules found"} {
		if !strings.Contains(out, want) {
			t.Errorf("promtool check rules: want %q in\n%s", want, out)
		}
	}
}

// TestPromtoolTestRules runs the rule unit tests, and checks that every rule
// has one: every recording rule appears as a promql_expr_test expr and every
// alert as an alert_rule_test alertname.
func TestPromtoolTestRules(t *testing.T) {
	root := testenv.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "prometheus/tests/*.yml"))
	if len(files) == 0 {
		t.Fatal("no prometheus/tests/*.yml")
	}
	out := promtool(t, append([]string{"test", "rules"}, files...)...)
	if n := strings.Count(out, "SUCCESS"); n != len(files) {
		t.Errorf("promtool test rules: %d SUCCESS for %d files:\n%s", n, len(files), out)
	}
	var tests strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tests.Write(b)
	}
	rules, err := RuleQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range rules {
		name := q.Source[strings.LastIndex(q.Source, " ")+1:]
		want := "expr: " + name
		if q.Alert {
			want = "alertname: " + name
		}
		if !strings.Contains(tests.String(), want) {
			t.Errorf("%s: no unit test (%q not in prometheus/tests)", q.Source, want)
		}
	}
}

// TestAlertLinks: every alert carries a runbook_url pointing at a section of
// docs/observability.md that exists, and a dashboard_url opening a dashboard
// that exists, with variables it has.
func TestAlertLinks(t *testing.T) {
	root := testenv.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs/observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[githubAnchor(h)] = true
		}
	}
	boards, err := LoadDashboards(root)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]map[string]bool{} // uid -> variables
	for _, d := range boards {
		vars[d.UID] = map[string]bool{}
		for _, v := range d.Templating.List {
			vars[d.UID][v.Name] = true
		}
	}
	b, err := os.ReadFile(filepath.Join(root, RuleDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	const runbooks = "https://github.com/loadlab/loadlab/blob/main/docs/observability.md#"
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			rb := r.Annotations["runbook_url"]
			if anchor, ok := strings.CutPrefix(rb, runbooks); !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not %s<a ### heading of docs/observability.md>", r.Alert, rb, runbooks)
			}
			u, err := url.Parse(r.Annotations["dashboard_url"])
			if err != nil {
				t.Errorf("%s: dashboard_url: %v", r.Alert, err)
				continue
			}
			uid, ok := strings.CutPrefix(u.Path, "/d/")
			if !ok || vars[uid] == nil {
				t.Errorf("%s: dashboard_url %q opens no dashboard of grafana/dashboards", r.Alert, u)
				continue
			}
			for k := range u.Query() {
				if v, ok := strings.CutPrefix(k, "var-"); ok && !vars[uid][v] {
					t.Errorf("%s: dashboard_url sets %s, which dashboard %s does not have", r.Alert, k, uid)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert read from alerts.yml")
	}
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}
