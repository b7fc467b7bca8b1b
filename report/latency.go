package report

import (
	"cmp"
	"math/bits"
	"slices"
	"time"

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

// Latency figures are microseconds from 1 µs to 1 h, reported at the
// precision of an HDR histogram with 3 significant digits (what the runner's
// own histograms use): a value counts as the whole range of values
// equivalent to it at that precision.
const (
	histMin  = 1
	histMax  = int64(time.Hour / time.Microsecond)
	histSigs = 3
	// histSubBits is log2 of the 2048 sub-buckets that 3 significant digits
	// need: values below 2048 µs are exact, and each doubling above halves
	// the resolution.
	histSubBits = 11
)

// LatencyMetrics lists every latency metric a summary can hold: what a
// latency threshold may name.
var LatencyMetrics = append(slices.Clone(metricOrder), MetricUpstreamLatency,
	MetricPlayStart, MetricFirstFrame, MetricFirstKeyframe, MetricPublisherToViewer)

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

// histograms keeps the values of each (metric, group) plus "all". It keeps
// the values themselves, not an HDR histogram per key: such a histogram
// covering 1 µs to 1 h holds ~190 KB of counters, so a results stream with
// thousands of group names (a crafted or corrupt file) made a report
// allocate gigabytes, and even a run of a few groups spent milliseconds
// clearing and scanning empty counters. The values cost 8 bytes an
// observation, which the attempts the builder holds dwarf, and give the
// same figures (equivalentRange, TestLatencyMatchesHDR).
type histograms struct {
	h    map[[2]string][]int64
	src  map[string]string
	keys [][2]string
}

func newHistograms() *histograms {
	return &histograms{h: make(map[[2]string][]int64), src: make(map[string]string)}
}

func (hs *histograms) record(metric, source, group string, d time.Duration) {
	hs.src[metric] = source
	us := min(max(d.Microseconds(), histMin), histMax) // clamped to the histograms' range
	groups := []string{"all", group}
	if group == "all" {
		groups = groups[:1]
	}
	for _, g := range groups {
		k := [2]string{metric, g}
		if _, ok := hs.h[k]; !ok {
			hs.keys = append(hs.keys, k)
		}
		hs.h[k] = append(hs.h[k], us)
	}
}

// equivalentRange returns the lowest and highest values an HDR histogram of
// histSigs significant digits holds in the same counter as v (v >= 0).
func equivalentRange(v int64) (lo, hi int64) {
	shift := max(bits.Len64(uint64(v))-histSubBits, 0)
	lo = v >> shift << shift
	return lo, lo + 1<<shift - 1
}

// quantile is an HDR histogram's ValueAtQuantile over sorted values: the
// highest value equivalent to the one at rank ceil-ish(q% of n) (at least
// the first, at most the last).
func quantile(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (min(q, 100)/100)*float64(n) + 0.5
	i := n
	if rank < float64(n) {
		i = max(int(rank), 1)
	}
	_, hi := equivalentRange(sorted[i-1])
	return hi
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
		v := slices.Clone(hs.h[k])
		slices.Sort(v)
		ms := func(us int64) float64 { return float64(us) / 1000 }
		rows = append(rows, LatencyRow{
			Metric: k[0], Source: hs.src[k[0]], Group: k[1], Count: int64(len(v)),
			P50: ms(quantile(v, 50)), P90: ms(quantile(v, 90)), P95: ms(quantile(v, 95)),
			P99: ms(quantile(v, 99)), P999: ms(quantile(v, 99.9)), Max: ms(quantile(v, 100)),
			Histogram: buckets(v),
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

// buckets spreads values over bucketBounds.
func buckets(values []int64) []LatencyBucket {
	counts := make([]int64, len(bucketBounds)+1)
	for _, us := range values {
		// A value stands for its HDR-equivalent range: its lower end places it.
		lo, _ := equivalentRange(us)
		i, _ := slices.BinarySearch(bucketBounds, float64(lo)/1000)
		counts[i]++
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
