package remotewrite

import (
	"math"
	"slices"
	"strconv"
	"strings"

	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	dto "github.com/prometheus/client_model/go"
)

// label is one name="value" pair of a series.
type label struct{ name, value string }

// builder turns gathered metric families into one remote-write 2.0 request.
// It is reused from push to push (one push at a time), so a steady run
// allocates little beyond the request itself.
type builder struct {
	external []label // the caller's labels (job, instance, ...), sorted by name
	symbols  writev2.SymbolsTable
	lbls     []label  // scratch: the labels of the series being built
	flat     []string // scratch: lbls as name, value, name, value, ...
}

func newBuilder(external []label) *builder {
	return &builder{external: external, symbols: writev2.NewSymbolTable()}
}

// build converts mfs into a request whose samples carry timestamp ts (Unix
// milliseconds) unless a metric brings its own. Counters, gauges and untyped
// metrics give one sample each; summaries give {quantile} series, _sum and
// _count; a native histogram (client_golang's sparse buckets, as Prometheus
// ingests it when scraping with native histograms on) gives one histogram
// sample, and only a histogram without native buckets gives the classic
// _bucket{le}, _sum and _count series.
func (b *builder) build(mfs []*dto.MetricFamily, ts int64) (*writev2.Request, counts) {
	b.symbols.Reset()
	var (
		series []*writev2.TimeSeries
		n      counts
	)
	for _, mf := range mfs {
		name := mf.GetName()
		meta := &writev2.Metadata{Type: metricType(mf.GetType()), HelpRef: b.symbols.Symbolize(mf.GetHelp())}
		if mf.Unit != nil {
			meta.UnitRef = b.symbols.Symbolize(mf.GetUnit())
		}
		for _, m := range mf.GetMetric() {
			t := ts
			if m.TimestampMs != nil {
				t = m.GetTimestampMs()
			}
			add := func(suffix string, v float64, extra ...label) {
				series = append(series, &writev2.TimeSeries{
					LabelsRefs: b.labelRefs(name+suffix, m.GetLabel(), extra...),
					Samples:    []*writev2.Sample{{Value: v, Timestamp: t}},
					Metadata:   meta,
				})
				n.floats++
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add("", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add("", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add("", m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add("", q.GetValue(), label{"quantile", formatFloat(q.GetQuantile())})
				}
				add("_sum", s.GetSampleSum())
				add("_count", float64(s.GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				if isNative(h) {
					series = append(series, &writev2.TimeSeries{
						LabelsRefs: b.labelRefs(name, m.GetLabel()),
						Histograms: []*writev2.Histogram{nativeHistogram(h, t, mf.GetType() == dto.MetricType_GAUGE_HISTOGRAM)},
						Metadata:   meta,
					})
					n.histograms++
					continue
				}
				count := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					count = h.GetSampleCountFloat()
				}
				inf := false
				for _, bk := range h.GetBucket() {
					c := float64(bk.GetCumulativeCount())
					if bk.CumulativeCountFloat != nil {
						c = bk.GetCumulativeCountFloat()
					}
					inf = inf || math.IsInf(bk.GetUpperBound(), +1)
					add("_bucket", c, label{"le", formatFloat(bk.GetUpperBound())})
				}
				if !inf {
					add("_bucket", count, label{"le", "+Inf"})
				}
				add("_sum", h.GetSampleSum())
				add("_count", count)
			}
		}
	}
	return &writev2.Request{Symbols: slices.Clone(b.symbols.Symbols()), Timeseries: series}, n
}

// counts are the samples of one request by kind.
type counts struct{ floats, histograms int }

// labelRefs returns the symbol references of the series name{labels,
// extra..., external...}, sorted by label name. An external label wins over
// a metric's label of the same name, which is kept as exported_NAME (as a
// Prometheus scrape does without honor_labels).
func (b *builder) labelRefs(name string, ls []*dto.LabelPair, extra ...label) []uint32 {
	b.lbls = append(b.lbls[:0], label{"__name__", name})
	for _, l := range ls {
		n := l.GetName()
		if b.isExternal(n) {
			n = "exported_" + n
		}
		b.lbls = append(b.lbls, label{n, l.GetValue()})
	}
	b.lbls = append(b.lbls, extra...)
	b.lbls = append(b.lbls, b.external...)
	slices.SortFunc(b.lbls, func(x, y label) int { return strings.Compare(x.name, y.name) })
	b.flat = b.flat[:0]
	for _, l := range b.lbls {
		b.flat = append(b.flat, l.name, l.value)
	}
	return b.symbols.SymbolizeLabels(b.flat, nil)
}

func (b *builder) isExternal(name string) bool {
	for _, l := range b.external {
		if l.name == name {
			return true
		}
	}
	return false
}

// isNative tells a native histogram from a classic one the way Prometheus'
// protobuf scrape parser does: native histograms have spans, a zero bucket
// or a zero threshold (client_golang gives even an empty one a zero-length
// span for that reason).
func isNative(h *dto.Histogram) bool {
	return len(h.GetPositiveSpan()) > 0 || len(h.GetNegativeSpan()) > 0 ||
		h.GetZeroThreshold() > 0 || h.GetZeroCount() > 0 || h.GetZeroCountFloat() > 0
}

// nativeHistogram converts a gathered native histogram; integer histograms
// (client_golang's) keep their delta-encoded buckets as they are.
func nativeHistogram(h *dto.Histogram, ts int64, gauge bool) *writev2.Histogram {
	out := &writev2.Histogram{
		Sum:           h.GetSampleSum(),
		Schema:        h.GetSchema(),
		ZeroThreshold: h.GetZeroThreshold(),
		Timestamp:     ts,
	}
	if gauge {
		out.ResetHint = writev2.Histogram_RESET_HINT_GAUGE
	}
	if h.SampleCountFloat != nil || len(h.GetPositiveCount()) > 0 || len(h.GetNegativeCount()) > 0 || h.ZeroCountFloat != nil {
		out.Count = &writev2.Histogram_CountFloat{CountFloat: h.GetSampleCountFloat()}
		out.ZeroCount = &writev2.Histogram_ZeroCountFloat{ZeroCountFloat: h.GetZeroCountFloat()}
		out.PositiveCounts = h.GetPositiveCount()
		out.NegativeCounts = h.GetNegativeCount()
	} else {
		out.Count = &writev2.Histogram_CountInt{CountInt: h.GetSampleCount()}
		out.ZeroCount = &writev2.Histogram_ZeroCountInt{ZeroCountInt: h.GetZeroCount()}
		out.PositiveDeltas = h.GetPositiveDelta()
		out.NegativeDeltas = h.GetNegativeDelta()
	}
	out.PositiveSpans = spans(h.GetPositiveSpan())
	out.NegativeSpans = spans(h.GetNegativeSpan())
	return out
}

// spans converts bucket spans, folding zero-length spans (client_golang's
// marker for an empty native histogram) into the next span's offset so that
// every bucket keeps its index.
func spans(in []*dto.BucketSpan) []*writev2.BucketSpan {
	var out []*writev2.BucketSpan
	var carry int32
	for _, s := range in {
		if s.GetLength() == 0 {
			carry += s.GetOffset()
			continue
		}
		out = append(out, &writev2.BucketSpan{Offset: s.GetOffset() + carry, Length: s.GetLength()})
		carry = 0
	}
	return out
}

func metricType(t dto.MetricType) writev2.Metadata_MetricType {
	switch t {
	case dto.MetricType_COUNTER:
		return writev2.Metadata_METRIC_TYPE_COUNTER
	case dto.MetricType_GAUGE:
		return writev2.Metadata_METRIC_TYPE_GAUGE
	case dto.MetricType_SUMMARY:
		return writev2.Metadata_METRIC_TYPE_SUMMARY
	case dto.MetricType_HISTOGRAM:
		return writev2.Metadata_METRIC_TYPE_HISTOGRAM
	case dto.MetricType_GAUGE_HISTOGRAM:
		return writev2.Metadata_METRIC_TYPE_GAUGEHISTOGRAM
	}
	return writev2.Metadata_METRIC_TYPE_UNSPECIFIED
}

// formatFloat formats le and quantile values as the text exposition does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
