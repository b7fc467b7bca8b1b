package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rtmpload/rtmpload/schema"
)

// Metric names in latency tables.
const (
	MetricPublishStart = "publish_start" // spawn to ffmpeg's first progress (ffmpeg-observed)
	MetricHookLatency  = "hook_latency"  // on_publish arrival to answer (hook-observed)
	// MetricUpstreamLatency is the proxied callback service's answer time
	// (rtmpload's hook to the service and back).
	MetricUpstreamLatency = "upstream_latency"
)

// Latency histograms hold microseconds from 1 µs to 1 h at 3 significant
// digits: bounded memory whatever the run length.
const (
	histMin  = 1
	histMax  = int64(time.Hour / time.Microsecond)
	histSigs = 3
)

// LatencyMetrics lists every latency metric a summary can hold: what a
// latency threshold may name.
var LatencyMetrics = append(slices.Clone(metricOrder), MetricUpstreamLatency)

// metricOrder is the order of a publish: latency tables follow it.
var metricOrder = []string{
	schema.MetricFFmpegStartup, schema.MetricHandshake, schema.MetricConnect, MetricHookLatency, schema.MetricHookWait,
	schema.MetricPublish, schema.MetricFirstMedia, MetricPublishStart,
}

func metricRank(m string) int {
	if i := slices.Index(metricOrder, m); i >= 0 {
		return i
	}
	return len(metricOrder)
}

// histograms keeps one HDR histogram per (metric, group) plus "all".
type histograms struct {
	h    map[[2]string]*hdrhistogram.Histogram
	src  map[string]string
	keys [][2]string
}

func newHistograms() *histograms {
	return &histograms{h: make(map[[2]string]*hdrhistogram.Histogram), src: make(map[string]string)}
}

func (hs *histograms) record(metric, source, group string, d time.Duration) {
	hs.src[metric] = source
	us := max(d.Microseconds(), histMin)
	groups := []string{"all", group}
	if group == "all" {
		groups = groups[:1]
	}
	for _, g := range groups {
		k := [2]string{metric, g}
		h, ok := hs.h[k]
		if !ok {
			h = hdrhistogram.New(histMin, histMax, histSigs)
			hs.h[k] = h
			hs.keys = append(hs.keys, k)
		}
		_ = h.RecordValue(min(us, histMax)) // clamped: cannot fail
	}
}

func (hs *histograms) rows() []LatencyRow {
	keys := slices.Clone(hs.keys)
	slices.SortStableFunc(keys, func(x, y [2]string) int {
		if c := cmp.Compare(metricRank(x[0]), metricRank(y[0])); c != 0 {
			return c
		}
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		if (x[1] == "all") != (y[1] == "all") {
			if x[1] == "all" {
				return -1
			}
			return 1
		}
		return cmp.Compare(x[1], y[1])
	})
	groupsOf := make(map[string]int)
	for _, k := range keys {
		if k[1] != "all" {
			groupsOf[k[0]]++
		}
	}
	rows := make([]LatencyRow, 0, len(keys))
	for _, k := range keys {
		if k[1] != "all" && groupsOf[k[0]] == 1 {
			continue // the same figures as its "all" row
		}
		h := hs.h[k]
		ms := func(us int64) float64 { return float64(us) / 1000 }
		rows = append(rows, LatencyRow{
			Metric: k[0], Source: hs.src[k[0]], Group: k[1], Count: h.TotalCount(),
			P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)),
			P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
			Histogram: buckets(h),
		})
	}
	return rows
}

// recordLatencies records an attempt's publish start, hook and wire latencies.
func recordLatencies(hists *histograms, a *Attempt) {
	if a.published() && !a.Spawn.IsZero() {
		hists.record(MetricPublishStart, "ffmpeg", a.Group, a.Publishing.Sub(a.Spawn))
	}
	if a.Hook != nil && !a.Hook.Answered.IsZero() {
		hists.record(MetricHookLatency, "hook", a.Group, a.Hook.Latency())
	}
	recordWire(hists, a)
}

// recordWire adds an attempt's wire metrics to the histograms.
func recordWire(hs *histograms, a *Attempt) {
	a.Wire.Durations(a.Spawn, func(metric string, d time.Duration) {
		hs.record(metric, "wire", a.Group, d)
	})
}

// bucketBounds are the histogram buckets' upper bounds in ms: 1-2-5 steps
// from 0.1 ms (a loopback handshake) to 50 s (past SRS's 30 s hook timeout).
var bucketBounds = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000}

// buckets spreads an HDR histogram over bucketBounds.
func buckets(h *hdrhistogram.Histogram) []LatencyBucket {
	counts := make([]int64, len(bucketBounds)+1)
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		// An HDR bar's values are equivalent at its precision: its lower end places it.
		v := float64(bar.From) / 1000
		i, _ := slices.BinarySearch(bucketBounds, v)
		counts[i] += bar.Count
	}
	first, last := -1, -1
	for i, c := range counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	out := make([]LatencyBucket, 0, last-first+1)
	for i := first; i <= last; i++ {
		b := LatencyBucket{Count: counts[i]}
		if i < len(bucketBounds) {
			b.LeMS = bucketBounds[i]
		}
		out = append(out, b)
	}
	return out
}
