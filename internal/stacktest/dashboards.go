package stacktest

// Dashboards as code: Dashboards builds the four provisioned Grafana
// dashboards, and TestDashboardsUpToDate keeps grafana/dashboards/*.json
// byte-for-byte equal to it (go test ./internal/stacktest -run
// TestDashboardsUpToDate -update rewrites the files). The committed JSON is
// what Grafana provisions; edit here, regenerate, commit both.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Datasource UIDs provisioned by grafana/provisioning/datasources/datasources.yml.
const (
	PrometheusUID = "prometheus"
	MySQLUID      = "mysql"
)

// DashboardFile is one generated dashboard: its file name under
// grafana/dashboards and its JSON.
type DashboardFile struct {
	Name string
	JSON []byte
}

type obj = map[string]any

var (
	promDS  = obj{"type": "prometheus", "uid": PrometheusUID}
	mysqlDS = obj{"type": "mysql", "uid": MySQLUID}
)

// Dashboards returns every dashboard, rendered as indented JSON.
func Dashboards() ([]DashboardFile, error) {
	var out []DashboardFile
	for _, d := range []struct {
		name string
		b    *board
	}{
		{"loadtest-live.json", liveBoard()},
		{"target.json", targetBoard()},
		{"resources.json", resourcesBoard()},
		{"history.json", historyBoard()},
	} {
		b, err := json.MarshalIndent(d.b.render(), "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.name, err)
		}
		out = append(out, DashboardFile{Name: d.name, JSON: append(b, '\n')})
	}
	return out, nil
}

// board lays panels out on Grafana's 24-column grid, left to right, wrapping
// to a new line, and numbers them.
type board struct {
	uid, title, description, refresh, from string
	tags                                   []string
	vars                                   []obj
	annotations                            []obj
	panels                                 []obj
	x, y, rowH                             int
}

func newBoard(uid, title, description string, tags ...string) *board {
	return &board{uid: uid, title: title, description: description, refresh: "5s", from: "now-15m", tags: tags}
}

// row starts a collapsible-free row header on a new line.
func (b *board) row(title string) {
	b.newline()
	b.panels = append(b.panels, obj{"type": "row", "title": title, "collapsed": false, "panels": []any{},
		"gridPos": obj{"h": 1, "w": 24, "x": 0, "y": b.y}})
	b.y++
}

func (b *board) newline() {
	if b.x > 0 {
		b.y += b.rowH
		b.x, b.rowH = 0, 0
	}
}

// add places p with width w and height h.
func (b *board) add(w, h int, p obj) {
	if b.x+w > 24 {
		b.newline()
	}
	p["gridPos"] = obj{"h": h, "w": w, "x": b.x, "y": b.y}
	b.x += w
	if h > b.rowH {
		b.rowH = h
	}
	b.panels = append(b.panels, p)
}

func (b *board) render() obj {
	for i, p := range b.panels {
		p["id"] = i + 1
	}
	annotations := append([]obj{{
		"builtIn": 1, "datasource": obj{"type": "grafana", "uid": "-- Grafana --"}, "enable": true, "hide": true,
		"iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
	}}, b.annotations...)
	vars := b.vars
	if vars == nil {
		vars = []obj{}
	}
	return obj{
		"uid": b.uid, "title": b.title, "description": b.description, "tags": b.tags,
		"schemaVersion": 39, "version": 1, "editable": true, "graphTooltip": 1, "liveNow": false,
		"refresh": b.refresh, "time": obj{"from": b.from, "to": "now"}, "timezone": "browser",
		"timepicker":           obj{"refresh_intervals": []string{"2s", "5s", "10s", "30s", "1m", "5m"}},
		"fiscalYearStartMonth": 0, "weekStart": "",
		"annotations": obj{"list": annotations},
		"templating":  obj{"list": vars},
		"links":       []any{},
		"panels":      b.panels,
	}
}

// prom is a Prometheus range query; legend uses {{label}}.
func prom(ref, expr, legend string) obj {
	return obj{"refId": ref, "datasource": promDS, "expr": expr, "legendFormat": legend, "range": true, "instant": false, "editorMode": "code"}
}

// promInstant is an instant query in table format (for stats showing labels).
func promInstant(ref, expr string) obj {
	return obj{"refId": ref, "datasource": promDS, "expr": expr, "range": false, "instant": true, "format": "table", "editorMode": "code"}
}

// promHeatmap returns the native histogram itself: Grafana draws its buckets.
func promHeatmap(ref, expr string) obj {
	return obj{"refId": ref, "datasource": promDS, "expr": expr, "legendFormat": "{{le}}", "range": true, "instant": false, "format": "heatmap", "editorMode": "code"}
}

// sql is a MySQL query; format is "table" or "time_series".
func sql(ref, format, rawSQL string) obj {
	return obj{"refId": ref, "datasource": mysqlDS, "format": format, "rawQuery": true, "editorMode": "code", "rawSql": strings.TrimSpace(rawSQL)}
}

func thresholds(steps ...obj) obj { return obj{"mode": "absolute", "steps": steps} }
func step(color string, value any) obj {
	return obj{"color": color, "value": value}
}

// Resource thresholds in percent: green under 60, yellow under 80, red above.
var pctThresholds = thresholds(step("green", nil), step("yellow", 60), step("red", 80))

func panel(typ, title, desc string, ds obj, targets []obj, defaults obj, options obj) obj {
	if defaults == nil {
		defaults = obj{}
	}
	if options == nil {
		options = obj{}
	}
	return obj{"type": typ, "title": title, "description": desc, "datasource": ds, "targets": targets,
		"fieldConfig": obj{"defaults": defaults, "overrides": []any{}}, "options": options}
}

func timeseries(title, desc, unit string, targets ...obj) obj {
	return panel("timeseries", title, desc, dsOf(targets), targets,
		obj{"unit": unit, "custom": obj{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": false}},
		obj{"legend": obj{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"lastNotNull", "max"}},
			"tooltip": obj{"mode": "multi", "sort": "desc"}})
}

func stat(title, desc, unit string, th obj, targets ...obj) obj {
	// Without explicit thresholds Grafana would apply its plugin default
	// (red above 80), which means nothing for a throughput or a count.
	if th == nil {
		th = thresholds(step("text", nil))
	}
	d := obj{"unit": unit, "thresholds": th, "color": obj{"mode": "thresholds"}}
	return panel("stat", title, desc, dsOf(targets), targets, d,
		obj{"reduceOptions": obj{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode": "value", "graphMode": "area", "textMode": "auto", "justifyMode": "auto", "orientation": "auto"})
}

// labelStat shows a label of an instant table query (run id, test type, phase).
func labelStat(title, desc, field string, target obj) obj {
	return panel("stat", title, desc, promDS, []obj{target}, obj{"unit": "string", "color": obj{"mode": "fixed", "fixedColor": "text"},
		"thresholds": thresholds(step("text", nil))},
		obj{"reduceOptions": obj{"calcs": []string{"lastNotNull"}, "fields": "/^" + field + "$/", "values": false},
			"colorMode": "none", "graphMode": "none", "textMode": "value", "justifyMode": "auto", "orientation": "auto"})
}

func gauge(title, desc string, targets ...obj) obj {
	return panel("gauge", title, desc, dsOf(targets), targets,
		obj{"unit": "percent", "min": 0, "max": 100, "decimals": 1, "thresholds": pctThresholds, "color": obj{"mode": "thresholds"}},
		obj{"reduceOptions": obj{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"showThresholdLabels": false, "showThresholdMarkers": true, "orientation": "auto"})
}

func table(title, desc string, sortBy string, targets ...obj) obj {
	opts := obj{"showHeader": true, "cellHeight": "sm", "footer": obj{"show": false, "reducer": []string{"sum"}, "fields": ""}}
	if sortBy != "" {
		opts["sortBy"] = []obj{{"displayName": sortBy, "desc": false}}
	}
	return panel("table", title, desc, dsOf(targets), targets, obj{"custom": obj{"align": "auto", "filterable": true}}, opts)
}

func heatmap(title, desc string, target obj) obj {
	return panel("heatmap", title, desc, promDS, []obj{target}, obj{},
		obj{"calculate": false, "cellGap": 1, "color": obj{"mode": "scheme", "scheme": "Oranges", "scale": "exponential", "exponent": 0.5, "steps": 64},
			"yAxis": obj{"axisPlacement": "left", "unit": "s"}, "rowsFrame": obj{"layout": "auto"},
			"tooltip": obj{"mode": "single", "yHistogram": true, "showColorScale": true},
			"legend":  obj{"show": true}, "exemplars": obj{"color": "rgba(255,0,255,0.7)"}, "filterValues": obj{"le": 1e-9}})
}

func dsOf(targets []obj) obj {
	if len(targets) > 0 {
		return targets[0]["datasource"].(obj)
	}
	return promDS
}

// queryVar is a multi-value Prometheus label variable with an All option
// matching everything; queries use it as label=~"$name".
func queryVar(name, label, metric string) obj {
	q := fmt.Sprintf("label_values(%s, %s)", metric, name)
	return obj{"name": name, "label": label, "type": "query", "datasource": promDS,
		"definition": q, "query": obj{"query": q, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
		"includeAll": true, "multi": true, "allValue": ".*", "current": obj{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		"options": []any{}, "refresh": 2, "regex": "", "sort": 1, "hide": 0, "skipUrlSync": false}
}
