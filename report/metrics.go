package report

import "slices"

// LatencyMetrics lists every latency metric a summary can hold: what a
// latency threshold may name.
var LatencyMetrics = append(slices.Clone(metricOrder), MetricUpstreamLatency)
