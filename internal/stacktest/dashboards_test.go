package stacktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/testenv"
	"gopkg.in/yaml.v3"
)

// provisionedUIDs reads the datasource UIDs Grafana provisions.
func provisionedUIDs(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "grafana/provisioning/datasources/datasources.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
			UID  string `yaml:"uid"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("datasources.yml: %v", err)
	}
	if f.APIVersion != 1 {
		t.Errorf("datasources.yml apiVersion = %d; want 1", f.APIVersion)
	}
	uids := map[string]string{}
	for _, d := range f.Datasources {
		if d.UID == "" {
			t.Errorf("datasource %q has no fixed uid", d.Name)
		}
		uids[d.UID] = d.Type
	}
	return uids
}

func TestDatasourcesProvisioned(t *testing.T) {
	uids := provisionedUIDs(t, testenv.RepoRoot(t))
	for uid, typ := range map[string]string{PrometheusUID: "prometheus", MySQLUID: "mysql"} {
		if got := uids[uid]; got != typ {
			t.Errorf("datasource uid %q has type %q; want %q", uid, got, typ)
		}
	}
}

func TestDashboardsProvider(t *testing.T) {
	root := testenv.RepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "grafana/provisioning/dashboards/dashboards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Providers) != 1 || f.Providers[0].Type != "file" || f.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboards provider = %+v; want one file provider at /var/lib/grafana/dashboards", f.Providers)
	}
}

// TestDashboardsValid: valid JSON, unique uids, unique panel ids per
// dashboard, every panel and target datasource provisioned and of the right
// type, every non-row panel with a query.
func TestDashboardsValid(t *testing.T) {
	root := testenv.RepoRoot(t)
	uids := provisionedUIDs(t, root)
	boards, err := LoadDashboards(root)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"history.json", "loadtest-live.json", "resources.json", "target.json"}
	var gotFiles []string
	for name := range boards {
		gotFiles = append(gotFiles, name)
	}
	sort.Strings(gotFiles)
	if strings.Join(gotFiles, ",") != strings.Join(wantFiles, ",") {
		t.Errorf("dashboards = %v; want %v", gotFiles, wantFiles)
	}
	seenUID := map[string]string{}
	for name, d := range boards {
		t.Run(name, func(t *testing.T) {
			raw, _ := os.ReadFile(filepath.Join(root, DashboardDir, name))
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if v, _ := generic["schemaVersion"].(float64); v < 36 {
				t.Errorf("schemaVersion = %v; want >= 36", generic["schemaVersion"])
			}
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q title %q: both required", d.UID, d.Title)
			}
			if other, dup := seenUID[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			seenUID[d.UID] = name
			dsVars := map[string]string{} // "${name}" -> data source type offered
			for _, v := range d.Templating.List {
				if v.Type == "datasource" {
					q, _ := v.Query.(string)
					dsVars["${"+v.Name+"}"] = q
				}
			}
			checkDS := func(where string, ds *Datasource) {
				if ds == nil {
					t.Errorf("%s: no datasource", where)
					return
				}
				if ds.UID == "-- Grafana --" {
					return
				}
				if typ, ok := dsVars[ds.UID]; ok {
					if typ != ds.Type {
						t.Errorf("%s: datasource variable %s offers %q data sources; the panel wants %q", where, ds.UID, typ, ds.Type)
					}
					return
				}
				typ, ok := uids[ds.UID]
				if !ok {
					t.Errorf("%s: datasource uid %q is not provisioned", where, ds.UID)
				} else if typ != ds.Type {
					t.Errorf("%s: datasource uid %q has type %q; provisioned as %q", where, ds.UID, ds.Type, typ)
				}
			}
			ids := map[int]string{}
			for _, p := range d.AllPanels() {
				where := p.Title
				if p.ID <= 0 {
					t.Errorf("panel %q: id %d; want > 0", where, p.ID)
				}
				if other, dup := ids[p.ID]; dup {
					t.Errorf("panel id %d used by %q and %q", p.ID, other, where)
				}
				ids[p.ID] = where
				if p.Type == "row" {
					continue
				}
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("panel %q has no description", where)
				}
				checkDS("panel "+where, p.Datasource)
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no queries", where)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					checkDS("panel "+where+" target "+tg.RefID, tg.Datasource)
					if refs[tg.RefID] || tg.RefID == "" {
						t.Errorf("panel %q: refId %q empty or repeated", where, tg.RefID)
					}
					refs[tg.RefID] = true
				}
			}
			for _, a := range d.Annotations.List {
				checkDS("annotation "+a.Name, a.Datasource)
			}
			// Every board carries the loadlab tag and links to the others by it.
			if !slices.Contains(d.Tags, "loadlab") {
				t.Errorf("tags %v lack loadlab", d.Tags)
			}
			linked := false
			for _, l := range d.Links {
				linked = linked || l.Type == "dashboards" && slices.Contains(l.Tags, "loadlab")
			}
			if !linked {
				t.Errorf("no link to the dashboards tagged loadlab: %+v", d.Links)
			}
			for _, v := range d.Templating.List {
				if v.Type != "datasource" { // which offers data sources, and has none itself
					checkDS("variable "+v.Name, v.Datasource)
				}
			}
		})
	}
}

// TestDashboardMetricsInContract: every metric a dashboard or rule queries is
// in docs/metrics.md (or is a recording rule, a Go/process metric, up or ALERTS).
func TestDashboardMetricsInContract(t *testing.T) {
	root := testenv.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs/metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	contract := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:loadgen|target)_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		contract[m[1]] = true
	}
	queries, err := AllQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\b((?:loadgen|target)_[a-z_]+)\b`)
	for _, q := range queries {
		if q.Lang != PromQL {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(q.Expr, -1) {
			n := m[1]
			if contract[n] || strings.HasPrefix(n, "target_http_request_duration_seconds") {
				continue
			}
			// counters are documented with _total; the histogram's own name is the contract.
			if strings.Contains(q.Expr, ":"+n) || strings.Contains(q.Expr, n+":") {
				continue // part of a recording rule name
			}
			t.Errorf("%s: metric %s is not in docs/metrics.md", q.Source, n)
		}
	}
}

func TestSubstitutions(t *testing.T) {
	vars := map[string]string{"step": ".*", "instance": "a:1"}
	for _, tc := range []struct{ in, want string }{
		{`rate(m{step=~"$step"}[$__rate_interval])`, `rate(m{step=~".*"}[1m])`},
		{`sum(x[${__interval}])`, `sum(x[10s])`},
		{`m{instance=~"${instance}"}`, `m{instance=~"a:1"}`},
	} {
		if got := SubstitutePromQL(tc.in, vars); got != tc.want {
			t.Errorf("SubstitutePromQL(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`WHERE $__timeFilter(r.started_at) AND x`, `WHERE r.started_at BETWEEN FROM_UNIXTIME(946684800) AND FROM_UNIXTIME(2145916800) AND x`},
		{`ts > $__timeFrom()`, `ts > FROM_UNIXTIME(946684800)`},
	} {
		if got := SubstituteSQL(tc.in); got != tc.want {
			t.Errorf("SubstituteSQL(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestManifestMatchesDashboards: the generator's query manifest names every
// query the committed dashboards hold, and nothing else (make
// check-dashboards regenerates both; this catches a hand-edited file).
func TestManifestMatchesDashboards(t *testing.T) {
	root := testenv.RepoRoot(t)
	m, err := LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	boards, err := LoadDashboards(root)
	if err != nil {
		t.Fatal(err)
	}
	inJSON := map[string]bool{}
	for name, d := range boards {
		for _, p := range d.AllPanels() {
			for _, tg := range p.Targets {
				inJSON[fmt.Sprintf("%s panel %d %s %s", name, p.ID, tg.RefID, tg.Expr+tg.RawSQL)] = true
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				inJSON[fmt.Sprintf("%s annotation %s %s", name, a.Name, a.Expr)] = true
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				inJSON[fmt.Sprintf("%s variable %s", name, v.Name)] = true
			}
		}
	}
	inManifest := map[string]bool{}
	for _, q := range m.Queries {
		var k string
		switch q.Kind {
		case "panel":
			k = fmt.Sprintf("%s panel %d %s %s", q.Dashboard, q.PanelID, q.RefID, q.Expr)
		case "annotation":
			name := q.Source[strings.Index(q.Source, `"`)+1 : strings.LastIndex(q.Source, `"`)]
			k = fmt.Sprintf("%s annotation %s %s", q.Dashboard, name, q.Expr)
		case "variable":
			k = fmt.Sprintf("%s variable %s", q.Dashboard, q.Source[strings.LastIndex(q.Source, " ")+1:])
		default:
			t.Errorf("%s: unknown kind %q", q.Source, q.Kind)
		}
		inManifest[k] = true
	}
	for k := range inJSON {
		if !inManifest[k] {
			t.Errorf("dashboard query not in %s: %s", ManifestFile, k)
		}
	}
	for k := range inManifest {
		if !inJSON[k] {
			t.Errorf("%s query not in the dashboards: %s", ManifestFile, k)
		}
	}
}

// TestQueriesExtracted: every panel target, annotation and variable is found,
// nothing is left unsubstituted, and alert conditions are split correctly.
func TestQueriesExtracted(t *testing.T) {
	root := testenv.RepoRoot(t)
	dq, err := DashboardQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, q := range dq {
		counts[q.Lang]++
		if strings.Contains(q.Expr, "$") {
			t.Errorf("%s: unsubstituted %q", q.Source, q.Expr)
		}
	}
	if counts[PromQL] < 40 || counts[SQL] < 10 {
		t.Errorf("extracted %d PromQL and %d SQL queries; want at least 40 and 10", counts[PromQL], counts[SQL])
	}
	rq, err := RuleQueries(root)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, q := range rq {
		if q.Alert {
			alerts++
			if q.Cond == "" && !strings.Contains(q.Expr, "up{") {
				t.Errorf("%s: no threshold split from %q", q.Source, q.Expr)
			}
		}
	}
	if len(rq) != 26 || alerts != 10 {
		t.Errorf("RuleQueries: %d rules, %d alerts; want 26 and 10", len(rq), alerts)
	}
}
