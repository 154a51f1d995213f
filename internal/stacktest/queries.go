// Package stacktest checks the Prometheus/Grafana/docker-compose stack that
// ships with loadlab (prometheus/, grafana/, docker-compose.yml) and hands
// every query it runs to the tests that run them against a real Prometheus
// and a real MySQL/MariaDB.
//
// DashboardQueries reads the query manifest the dashboard generator writes
// beside the dashboards (grafana/queries.json, from grafana/boards: no query
// is re-read out of the dashboard JSON); RuleQueries reads the rule files.
// Both return each expression with Grafana's template variables and macros
// substituted, ready to send to /api/v1/query or database/sql.
package stacktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Query languages (as the manifest names them).
const (
	PromQL = "promql"
	SQL    = "sql"
)

// Datasource UIDs provisioned by grafana/provisioning/datasources/datasources.yml.
const (
	PrometheusUID = "prometheus"
	MySQLUID      = "mysql"
)

// Query is one query of a dashboard or rule file.
type Query struct {
	Source string // where it is: file, panel id and title, refId; or rule group and name
	Lang   string // PromQL or SQL
	Raw    string // as written
	Expr   string // ready to run: variables and macros substituted
	// Format is the Grafana target format ("time_series", "table", "heatmap"; "" for rules).
	Format string
	// Alert is true for an alerting rule's expression (a condition, so empty
	// when nothing fires); Cond is its expression without the final comparison
	// against a threshold, when it has one, so a test can check the data exists.
	Alert bool
	Cond  string
	// Rule is the rule's name (record or alert), for rule queries.
	Rule string
}

// Grafana's own variables, as a test substitutes them in PromQL. A
// dashboard's variables come from the manifest.
var builtinVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "10s",
	"__range":         "5m",
}

// SQL macros of Grafana's MySQL data source, expanded as Grafana does, over a
// range wide enough to hold every stored run (MariaDB's FROM_UNIXTIME stops in 2038).
const (
	sqlFrom = "FROM_UNIXTIME(946684800)"  // 2000-01-01
	sqlTo   = "FROM_UNIXTIME(2145916800)" // 2038-01-01
)

var (
	reTimeFilter   = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`)
	reUnixFilter   = regexp.MustCompile(`\$__unixEpochFilter\(([^)]+)\)`)
	reUnsubstitued = regexp.MustCompile(`\$\{?\w+`)
)

// SubstitutePromQL replaces Grafana's variables ($__rate_interval, ...) and
// the given dashboard variables (name -> value, e.g. "job" -> ".*") in a
// PromQL expression, in both the $name and ${name} forms.
func SubstitutePromQL(expr string, vars map[string]string) string {
	all := map[string]string{}
	for k, v := range builtinVars {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	// Longest first, so $instance is not read as $inst followed by "ance".
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		expr = strings.ReplaceAll(expr, "${"+n+"}", all[n])
		expr = strings.ReplaceAll(expr, "$"+n, all[n])
	}
	return expr
}

// SubstituteSQL expands Grafana's MySQL macros.
func SubstituteSQL(q string) string {
	q = reTimeFilter.ReplaceAllString(q, "$1 BETWEEN "+sqlFrom+" AND "+sqlTo)
	q = reUnixFilter.ReplaceAllString(q, "$1 >= 946684800 AND $1 <= 2145916800")
	q = strings.ReplaceAll(q, "$__timeFrom()", sqlFrom)
	q = strings.ReplaceAll(q, "$__timeTo()", sqlTo)
	return q
}

// ManifestFile is the query manifest grafana/boards writes beside the
// dashboards, relative to the repository root.
const ManifestFile = "grafana/queries.json"

// Manifest is the part of grafana/queries.json these tests read.
type Manifest struct {
	Variables []struct {
		Dashboard string `json:"dashboard"`
		Name      string `json:"name"`
		All       string `json:"all"`
	} `json:"variables"`
	Queries []ManifestQuery `json:"queries"`
}

// ManifestQuery is one query of the manifest, as the dashboard holds it.
type ManifestQuery struct {
	Source    string `json:"source"`
	Dashboard string `json:"dashboard"`
	Kind      string `json:"kind"` // panel, annotation or variable
	PanelID   int    `json:"panel_id"`
	Panel     string `json:"panel"`
	RefID     string `json:"ref_id"`
	Lang      string `json:"lang"`
	Expr      string `json:"expr"`
	Format    string `json:"format"`
	Instant   bool   `json:"instant"`
}

// LoadManifest reads grafana/queries.json under root.
func LoadManifest(root string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(root, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("query manifest: %w (run `make dashboards`)", err)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("query manifest %s: %w", ManifestFile, err)
	}
	if len(m.Queries) == 0 {
		return nil, fmt.Errorf("query manifest %s lists no query", ManifestFile)
	}
	return &m, nil
}

// DashboardQueries returns every query of every dashboard under root, from
// the generator's manifest: panel targets (PromQL or MySQL), annotations, and
// label variables (as the PromQL whose label values Grafana offers), with
// variables and macros substituted. Sorted by Source.
func DashboardQueries(root string) ([]Query, error) {
	m, err := LoadManifest(root)
	if err != nil {
		return nil, err
	}
	vars := map[string]map[string]string{}
	for _, v := range m.Variables {
		if vars[v.Dashboard] == nil {
			vars[v.Dashboard] = map[string]string{}
		}
		vars[v.Dashboard][v.Name] = v.All
	}
	var out []Query
	for _, mq := range m.Queries {
		q := Query{Source: mq.Source, Lang: mq.Lang, Raw: mq.Expr, Format: mq.Format}
		switch mq.Lang {
		case PromQL:
			q.Expr = SubstitutePromQL(mq.Expr, vars[mq.Dashboard])
			if reUnsubstitued.MatchString(q.Expr) {
				return nil, fmt.Errorf("%s: unsubstituted variable in %q", q.Source, q.Expr)
			}
		case SQL:
			q.Expr = SubstituteSQL(mq.Expr)
			if strings.Contains(q.Expr, "$") {
				return nil, fmt.Errorf("%s: unsubstituted macro in %q", q.Source, q.Expr)
			}
		default:
			return nil, fmt.Errorf("%s: unknown query language %q", mq.Source, mq.Lang)
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}

// DashboardDir is where the provisioned dashboards live, relative to the repository root.
const DashboardDir = "grafana/dashboards"

// Dashboard is the part of a Grafana dashboard JSON the static checks read.
type Dashboard struct {
	UID    string   `json:"uid"`
	Title  string   `json:"title"`
	Tags   []string `json:"tags"`
	Panels []Panel  `json:"panels"`
	Links  []struct {
		Type string   `json:"type"`
		Tags []string `json:"tags"`
	} `json:"links"`
	Annotations struct {
		List []struct {
			Name       string      `json:"name"`
			BuiltIn    int         `json:"builtIn"`
			Datasource *Datasource `json:"datasource"`
			Expr       string      `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Query      any         `json:"query"`
			Datasource *Datasource `json:"datasource"`
			Definition string      `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel (rows hold nested panels when collapsed).
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Repeat      string      `json:"repeat"`
	Datasource  *Datasource `json:"datasource"`
	Targets     []Target    `json:"targets"`
	Panels      []Panel     `json:"panels"`
}

// Target is a panel query.
type Target struct {
	RefID      string      `json:"refId"`
	Datasource *Datasource `json:"datasource"`
	Expr       string      `json:"expr"`
	RawSQL     string      `json:"rawSql"`
	Format     string      `json:"format"`
}

// Datasource is a data source reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// LoadDashboards parses every grafana/dashboards/*.json under root, by file name.
func LoadDashboards(root string) (map[string]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(root, DashboardDir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", filepath.Join(root, DashboardDir))
	}
	out := make(map[string]*Dashboard, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", f, err)
		}
		out[filepath.Base(f)] = &d
	}
	return out, nil
}

// AllPanels flattens rows' nested panels.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// RuleDir holds the rule files, relative to the repository root.
const RuleDir = "prometheus/rules"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var reThreshold = regexp.MustCompile(`(?s)^(.*?)\s*(>=|<=|==|!=|>|<)\s*[0-9.eE+-]+\s*$`)

// AllQueries returns DashboardQueries followed by RuleQueries.
func AllQueries(root string) ([]Query, error) {
	dq, err := DashboardQueries(root)
	if err != nil {
		return nil, err
	}
	rq, err := RuleQueries(root)
	if err != nil {
		return nil, err
	}
	return append(dq, rq...), nil
}

// RuleQueries returns every recording and alerting rule expression of
// prometheus/rules/*.yml under root, in file order.
func RuleQueries(root string) ([]Query, error) {
	files, err := filepath.Glob(filepath.Join(root, RuleDir, "*.yml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule files in %s", filepath.Join(root, RuleDir))
	}
	sort.Strings(files)
	var out []Query
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rf ruleFile
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&rf); err != nil {
			return nil, fmt.Errorf("rule file %s: %w", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				expr := strings.TrimSpace(r.Expr)
				q := Query{Lang: PromQL, Raw: r.Expr, Expr: expr, Rule: r.Record + r.Alert}
				rel, _ := filepath.Rel(root, f)
				if r.Alert != "" {
					q.Source = fmt.Sprintf("%s group %s alert %s", filepath.ToSlash(rel), g.Name, r.Alert)
					q.Alert = true
					if m := reThreshold.FindStringSubmatch(expr); m != nil {
						q.Cond = m[1]
					}
				} else {
					q.Source = fmt.Sprintf("%s group %s record %s", filepath.ToSlash(rel), g.Name, r.Record)
				}
				out = append(out, q)
			}
		}
	}
	return out, nil
}
