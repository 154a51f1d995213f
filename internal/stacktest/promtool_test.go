package stacktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
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
	for _, want := range []string{"SUCCESS: 7 rules found", "SUCCESS: 16 rules found"} {
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
