package boards

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// generated decodes what Generate writes: the dashboards by file name, and the manifest.
func generated(t *testing.T) (map[string]map[string]any, Manifest) {
	t.Helper()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	boards := map[string]map[string]any{}
	var m Manifest
	for _, f := range files {
		if f.Path == "queries.json" {
			if err := json.Unmarshal(f.Data, &m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(f.Data, &d); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		boards[strings.TrimPrefix(f.Path, "dashboards/")] = d
	}
	if len(boards) != 4 || len(m.Queries) == 0 {
		t.Fatalf("Generate wrote %d dashboards and %d queries; want 4 and some", len(boards), len(m.Queries))
	}
	return boards, m
}

func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range d["panels"].([]any) {
		out = append(out, p.(map[string]any))
	}
	return out
}

// TestPanels: every panel has an id unique on its board, a description and a query.
func TestPanels(t *testing.T) {
	boards, _ := generated(t)
	for name, d := range boards {
		ids := map[float64]string{}
		for _, p := range panels(d) {
			title, _ := p["title"].(string)
			id, _ := p["id"].(float64)
			if id <= 0 || ids[id] != "" {
				t.Errorf("%s panel %q: id %v missing or also used by %q", name, title, id, ids[id])
			}
			ids[id] = title
			if p["type"] == "row" {
				continue
			}
			if desc, _ := p["description"].(string); strings.TrimSpace(desc) == "" {
				t.Errorf("%s panel %q has no description", name, title)
			}
			if ts, _ := p["targets"].([]any); len(ts) == 0 {
				t.Errorf("%s panel %q has no query", name, title)
			}
		}
	}
}

var reAgg = regexp.MustCompile(`\b(sum|max|min|avg|count)\s*(?:by\s*\(([^)]*)\)\s*)?\(`)

// TestResourcesPerInstance: no Resources query aggregates across generators (two on one host would count it
// twice), and the saturation row repeats per generator.
func TestResourcesPerInstance(t *testing.T) {
	boards, m := generated(t)
	n := 0
	for _, q := range m.Queries {
		if q.Dashboard != "resources.json" || q.Kind != KindPanel {
			continue
		}
		for _, a := range reAgg.FindAllStringSubmatch(q.Expr, -1) {
			n++
			if !strings.Contains(a[2], "instance") {
				t.Errorf("%s: %q aggregates across instances in %s", q.Source, a[0], q.Expr)
			}
		}
		if !strings.Contains(q.Expr, `instance=~"$instance"`) || !strings.Contains(q.Expr, `job=~"$job"`) {
			t.Errorf("%s: %s ignores $job or $instance", q.Source, q.Expr)
		}
	}
	if n < 15 {
		t.Errorf("checked %d aggregations on the Resources board; want at least 15", n)
	}
	repeated := false
	for _, p := range panels(boards["resources.json"]) {
		repeated = repeated || p["type"] == "row" && p["repeat"] == "instance"
	}
	if !repeated {
		t.Error("no Resources row repeats by instance")
	}
}

// TestGeneratorVariables: every loadgen_ query of the live board honours $job and $instance, so one generator can
// be looked at alone; per-generator panels split by instance.
func TestGeneratorVariables(t *testing.T) {
	_, m := generated(t)
	for _, q := range m.Queries {
		if q.Dashboard != "loadtest-live.json" || !strings.Contains(q.Expr, "loadgen_") || q.Source == "" {
			continue
		}
		if q.Kind == KindVariable && (strings.HasSuffix(q.Source, " job") || strings.HasSuffix(q.Source, " instance")) {
			continue
		}
		if !strings.Contains(q.Expr, `instance=~"$instance"`) {
			t.Errorf("%s: %s ignores $instance", q.Source, q.Expr)
		}
	}
	for _, title := range []string{"Schedule lag", "In flight"} {
		for _, q := range m.Queries {
			if q.Dashboard == "loadtest-live.json" && q.Panel == title && !strings.Contains(q.Expr, "by (instance)") {
				t.Errorf("%s: %s is not per generator", q.Source, q.Expr)
			}
		}
	}
}

// TestMixedUnits: panels whose queries have different units give the odd ones their own unit and right-hand axis.
func TestMixedUnits(t *testing.T) {
	boards, _ := generated(t)
	want := map[string]int{ // panel -> overrides with a unit and a right axis
		"Virtual users and rate":               2,
		"Schedule lag":                         1,
		"Injected faults":                      1,
		"GC and fds":                           1,
		"Load runs: throughput and error rate": 1,
	}
	found := map[string]int{}
	for _, d := range boards {
		for _, p := range panels(d) {
			title, _ := p["title"].(string)
			if _, ok := want[title]; !ok {
				continue
			}
			fc := p["fieldConfig"].(map[string]any)
			for _, o := range fc["overrides"].([]any) {
				var unit, right bool
				for _, prop := range o.(map[string]any)["properties"].([]any) {
					pr := prop.(map[string]any)
					unit = unit || pr["id"] == "unit"
					right = right || pr["id"] == "custom.axisPlacement" && pr["value"] == "right"
				}
				if unit && right {
					found[title]++
				}
			}
		}
	}
	for title, n := range want {
		if found[title] != n {
			t.Errorf("panel %q: %d series with their own unit and axis; want %d", title, found[title], n)
		}
	}
}

// TestHeatmapLog2 and the guarded stats: the latency heatmap's y axis is log2, and the live board's ratio and
// latency stats show "idle" rather than NaN (the guard) and 2 decimals for shares.
func TestStatsAndHeatmap(t *testing.T) {
	boards, m := generated(t)
	for _, p := range panels(boards["loadtest-live.json"]) {
		switch p["title"] {
		case "Latency heatmap":
			sd := p["options"].(map[string]any)["yAxis"].(map[string]any)["scaleDistribution"].(map[string]any)
			if sd["type"] != "log" || sd["log"] != float64(2) {
				t.Errorf("heatmap y axis scale = %v; want log 2", sd)
			}
		case "Error rate", "Under 250 ms", "p99 latency":
			def := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)
			if def["noValue"] != "idle" || def["decimals"] == nil || def["decimals"].(float64) < 2 {
				t.Errorf("stat %q: noValue %v, decimals %v; want idle and at least 2", p["title"], def["noValue"], def["decimals"])
			}
		}
	}
	for _, q := range m.Queries {
		if q.Dashboard == "loadtest-live.json" && (q.Panel == "Under 250 ms" || q.Panel == "p99 latency") && !strings.HasSuffix(q.Expr, ">= 0") {
			t.Errorf("%s: %s is not guarded against NaN", q.Source, q.Expr)
		}
	}
}

// TestHistory: the stress card, runs newest first with status colours, and run ids linking to the live board over
// the run's window.
func TestHistory(t *testing.T) {
	boards, m := generated(t)
	var card, runs map[string]any
	for _, p := range panels(boards["history.json"]) {
		switch p["title"] {
		case "Latest stress result":
			card = p
		case "Runs":
			runs = p
		}
	}
	if card == nil || runs == nil {
		t.Fatal("History lacks the stress card or the Runs table")
	}
	for _, q := range m.Queries {
		if q.Panel == "Latest stress result" && (!strings.Contains(q.Expr, "'Max sustainable RPS = '") || !strings.Contains(q.Expr, "' | '") ||
			!strings.Contains(q.Expr, "'Breakdown at '") || !strings.Contains(q.Expr, "LIMIT 1")) {
			t.Errorf("stress card SQL does not read \"Max sustainable RPS = X | Breakdown at Y RPS\" of one run: %s", q.Expr)
		}
	}
	sortBy := runs["options"].(map[string]any)["sortBy"].([]any)[0].(map[string]any)
	if sortBy["displayName"] != "created_at" || sortBy["desc"] != true {
		t.Errorf("Runs sorted by %v; want created_at descending (newest first)", sortBy)
	}
	js, _ := json.Marshal(runs["fieldConfig"])
	for _, want := range []string{`"color-background"`, `"completed":{"color":"green"`, `"failed":{"color":"red"`,
		`/d/` + LiveUID + `?from=${__data.fields.from_ms}\u0026to=${__data.fields.to_ms}`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("Runs field config lacks %s:\n%s", want, js)
		}
	}
}

// TestLinks: every board links to the others by the loadlab tag.
func TestLinks(t *testing.T) {
	boards, _ := generated(t)
	for name, d := range boards {
		links, _ := d["links"].([]any)
		ok := false
		for _, l := range links {
			lm := l.(map[string]any)
			tags, _ := lm["tags"].([]any)
			ok = ok || lm["type"] == "dashboards" && len(tags) == 1 && tags[0] == Tag && lm["placement"] == nil
		}
		if !ok {
			t.Errorf("%s: no link to the dashboards tagged %s: %v", name, Tag, links)
		}
	}
}
