package boards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/gauge"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// target is a query builder that knows its data source, so a panel takes the data source of its queries.
type target interface {
	cog.Builder[variants.Dataquery]
	datasource() common.DataSourceRef
}

func (sqlBuilder) datasource() common.DataSourceRef { return mysqlDS }

type promTarget struct {
	b cog.Builder[variants.Dataquery]
}

func (p promTarget) Build() (variants.Dataquery, error) { return p.b.Build() }
func (promTarget) datasource() common.DataSourceRef     { return promDS }
func promQ(ref, expr, legend string) promTarget         { return promTarget{prom(ref, expr, legend)} }
func promInstantQ(ref, expr string) promTarget          { return promTarget{promInstant(ref, expr)} }
func promHeatmapQ(ref, expr string) promTarget          { return promTarget{promHeatmap(ref, expr)} }
func targetsDS(ts []target) common.DataSourceRef        { return ts[0].datasource() }
func builders(ts []target) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// Units beyond Grafana's built-in ones ("suffix:" units print the value and the suffix).
const (
	unitIterationsPerSecond = "suffix: it/s"
	unitPerSecond           = "suffix: /s"
)

// thresholds builds absolute thresholds from a base colour and (value, colour) steps.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	th := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		v := toFloat(steps[i])
		th = append(th, dashboard.Threshold{Value: &v, Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(th)
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	panic("threshold value must be int or float64")
}

// Resource thresholds in percent: green under 60, yellow under 80, red above.
func pctThresholds() *dashboard.ThresholdsConfigBuilder {
	return thresholds("green", 60, "yellow", 80, "red")
}

// textThresholds colours nothing: without them Grafana would apply its plugin default (red above 80), which means
// nothing for a throughput or a count.
func textThresholds() *dashboard.ThresholdsConfigBuilder { return thresholds("text") }

// axis gives the series of one query its own unit on a right-hand axis with a label: for panels mixing units.
func axis(unit, label string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "unit", Value: unit},
		{Id: "custom.axisPlacement", Value: "right"},
		{Id: "custom.axisLabel", Value: label},
	}
}

// timeseriesPanel is a line chart; unit is the unit of its left axis.
func timeseriesPanel(title, desc, unit string, ts ...target) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(targetsDS(ts)).
		Targets(builders(ts)).
		Unit(unit).
		DrawStyle(common.GraphDrawStyleLine).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

func reduceLast(fields string, allValues bool) *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields(fields).Values(allValues)
}

// statPanel shows one number per series (the last one). noValue is shown when the query returns nothing, which the
// guarded queries do when there is nothing to measure (idle: no requests in the window).
func statPanel(title, desc, unit string, decimals float64, th *dashboard.ThresholdsConfigBuilder, noValue string, ts ...target) *stat.PanelBuilder {
	if th == nil {
		th = textThresholds()
	}
	return stat.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(targetsDS(ts)).
		Targets(builders(ts)).
		Unit(unit).
		Decimals(decimals).
		NoValue(noValue).
		Thresholds(th).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ReduceOptions(reduceLast("", false)).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		TextMode(common.BigValueTextModeAuto).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto)
}

// labelStat shows a label of an instant table query, one value per row (every run in progress, say), so that it
// never picks one of several rows.
func labelStat(title, desc, field, noValue string, t target) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(t.datasource()).
		WithTarget(t).
		Unit("string").
		NoValue(noValue).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor("text")).
		Thresholds(textThresholds()).
		ReduceOptions(reduceLast("/^"+field+"$/", true)).
		ColorMode(common.BigValueColorModeNone).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValue).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationHorizontal)
}

// gaugePanel is a 0-100% gauge, one per series.
func gaugePanel(title, desc string, ts ...target) *gauge.PanelBuilder {
	return gauge.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(targetsDS(ts)).
		Targets(builders(ts)).
		Unit("percent").
		Min(0).
		Max(100).
		Decimals(1).
		NoValue("no data").
		Thresholds(pctThresholds()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ReduceOptions(reduceLast("", false)).
		ShowThresholdLabels(false).
		ShowThresholdMarkers(true).
		Orientation(common.VizOrientationAuto)
}

// tablePanel is a filterable table; sortBy, when set, is the column sorted on by default, newest (descending) first.
func tablePanel(title, desc, sortBy string, ts ...target) *table.PanelBuilder {
	p := table.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(targetsDS(ts)).
		Targets(builders(ts)).
		ShowHeader(true).
		CellHeight(common.TableCellHeightSm).
		Align(common.FieldTextAlignmentAuto).
		Filterable(true)
	if sortBy != "" {
		p = p.SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(sortBy).Desc(true)})
	}
	return p
}

// heatmapPanel draws a native histogram's own buckets on a log2 latency axis.
func heatmapPanel(title, desc string, t target) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(t.datasource()).
		WithTarget(t).
		Calculate(false).
		CellGap(1).
		Color(heatmap.NewHeatmapColorOptionsBuilder().
			Mode(heatmap.HeatmapColorModeScheme).
			Scheme("Oranges").
			Scale(heatmap.HeatmapColorScaleExponential).
			Exponent(0.5).
			Steps(64).
			Fill("dark-orange").
			Reverse(false)).
		YAxis(heatmap.NewYAxisConfigBuilder().
			AxisPlacement(common.AxisPlacementLeft).
			Unit("s").
			ScaleDistribution(common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(2))).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutAuto)).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(true)).
		ShowLegend().
		ExemplarsColor("rgba(255,0,255,0.7)").
		FilterValues(heatmap.NewFilterValueRangeBuilder().Le(1e-9))
}

// valueColors maps text values to colours (status columns).
func valueColors(colors map[string]string, order ...string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, v := range order {
		opts[v] = dashboard.ValueMappingResult{Color: cog.ToPtr(colors[v]), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// trimSQL drops the statement's leading newline and indentation-free trailing space.
func trimSQL(s string) string { return strings.TrimSpace(s) }
