// Package stacktest checks the Prometheus/Grafana/docker-compose stack that
// ships with loadlab (prometheus/, grafana/, docker-compose.yml) and extracts
// every query it runs, so that tests can run them against a real Prometheus
// and a real MySQL/MariaDB.
//
// DashboardQueries and RuleQueries return every PromQL expression and SQL
// statement with Grafana's template variables and macros substituted, ready
// to send to /api/v1/query or database/sql. Dashboards generates the committed
// dashboard JSON (dashboards as code).
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

// Query languages.
const (
	PromQL = "promql"
	SQL    = "sql"
)

// Query is one query found in a dashboard or rule file.
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
}

// Substitutions used for Grafana variables in PromQL. Multi-value variables
// with All are written as label=~"$name", so ".*" selects everything.
var promVars = []struct{ from, to string }{
	{"$__rate_interval", "1m"},
	{"${__rate_interval}", "1m"},
	{"$__interval", "10s"},
	{"${__interval}", "10s"},
	{"$__range", "5m"},
	{"$scenario", ".*"},
	{"$step", ".*"},
	{"$route", ".*"},
	{"$job", ".*"},
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
	reLabelValues  = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	reUnsubstitued = regexp.MustCompile(`\$\{?\w+`)
)

// SubstitutePromQL replaces Grafana template variables in a PromQL expression.
func SubstitutePromQL(expr string) string {
	for _, v := range promVars {
		expr = strings.ReplaceAll(expr, v.from, v.to)
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

// Dashboard is the part of a Grafana dashboard JSON these checks read.
type Dashboard struct {
	UID         string  `json:"uid"`
	Title       string  `json:"title"`
	Panels      []Panel `json:"panels"`
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
			Datasource *Datasource `json:"datasource"`
			Definition string      `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel (rows hold nested panels when collapsed).
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *Datasource `json:"datasource"`
	Targets    []Target    `json:"targets"`
	Panels     []Panel     `json:"panels"`
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

// DashboardDir is where the provisioned dashboards live, relative to the repository root.
const DashboardDir = "grafana/dashboards"

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

// DashboardQueries returns every query of every dashboard under root: panel
// targets (PromQL expr or MySQL rawSql), annotation queries, and label
// variables (label_values(m, l) becomes group by (l) (m)). Sorted by Source.
func DashboardQueries(root string) ([]Query, error) {
	boards, err := LoadDashboards(root)
	if err != nil {
		return nil, err
	}
	var out []Query
	for name, d := range boards {
		file := DashboardDir + "/" + name
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				src := fmt.Sprintf("%s panel %d %q %s", file, p.ID, p.Title, t.RefID)
				ds := t.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				switch {
				case t.RawSQL != "":
					out = append(out, Query{Source: src, Lang: SQL, Raw: t.RawSQL, Expr: SubstituteSQL(t.RawSQL), Format: t.Format})
				case t.Expr != "":
					out = append(out, Query{Source: src, Lang: PromQL, Raw: t.Expr, Expr: SubstitutePromQL(t.Expr), Format: t.Format})
				default:
					return nil, fmt.Errorf("%s: target has neither expr nor rawSql", src)
				}
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				out = append(out, Query{Source: fmt.Sprintf("%s annotation %q", file, a.Name), Lang: PromQL, Raw: a.Expr, Expr: SubstitutePromQL(a.Expr)})
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := reLabelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				return nil, fmt.Errorf("%s variable %s: only label_values(metric, label) is supported, got %q", file, v.Name, v.Definition)
			}
			expr := fmt.Sprintf("group by (%s) (%s)", m[2], m[1])
			out = append(out, Query{Source: fmt.Sprintf("%s variable %s", file, v.Name), Lang: PromQL, Raw: v.Definition, Expr: SubstitutePromQL(expr)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	for _, q := range out {
		if q.Lang == PromQL && reUnsubstitued.MatchString(q.Expr) {
			return nil, fmt.Errorf("%s: unsubstituted variable in %q", q.Source, q.Expr)
		}
		if q.Lang == SQL && strings.Contains(q.Expr, "$") {
			return nil, fmt.Errorf("%s: unsubstituted macro in %q", q.Source, q.Expr)
		}
	}
	return out, nil
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
				q := Query{Lang: PromQL, Raw: r.Expr, Expr: expr}
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
