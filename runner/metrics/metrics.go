// Package metrics serves a run's live figures as Prometheus metrics, on the
// address a run is given (Options.Metrics).
//
// Everything lives in the package's own registry, not the global default one, so that two runs
// in one process (tests) do not collide and nothing registered elsewhere leaks into the scrape.
// Labels are bounded: group comes from the scenario, result and metric from fixed sets, state
// from the callback's few availability states.
package metrics

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Results of an attempt as the runner knows them when it exits (AttemptOutcome's result label):
// the values of report.Ended, the one classification the progress display, the capacity stop
// rules and the report's timeline also count. The classified outcome (hook_denied, stream_busy,
// ...) needs the whole evidence and is only in the report.
const (
	ResultPublished = "published" // published, then ffmpeg ended with status 0 on its own
	ResultRefused   = "refused"   // ended before it ever published
	ResultDropped   = "dropped"   // published, then ffmpeg failed on its own
	ResultStopped   = "stopped"   // published, then stopped by rtmpload (hold over, churn, end of the run), however ffmpeg ended
)

// latencyBuckets span 0.1 ms (a hook on loopback) to 30 s (a hook timeout) in 24 exponential
// steps, about x1.7 each.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0001, 30, 24)

// Metrics holds the run's live metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	attempts    *prometheus.CounterVec
	results     *prometheus.CounterVec
	active      *prometheus.GaugeVec
	publishing  *prometheus.GaugeVec
	starved     *prometheus.GaugeVec
	callback    *prometheus.GaugeVec
	hookLatency *prometheus.HistogramVec
	wire        *prometheus.HistogramVec
	toolCPU     atomic.Uint64 // float64 bits

	mu     sync.Mutex
	states map[string]bool // every callback state seen, so the old one can be set to 0
}

// New registers every metric in a new registry, with the Go runtime and process collectors
// (rtmpload's own RSS and CPU over a soak).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), states: make(map[string]bool)}
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rtmpload_attempts_started_total", Help: "Publish attempts started (ffmpeg spawned).",
	}, []string{"group"})
	m.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rtmpload_attempt_results_total",
		Help: "Publish attempts ended, by live result: published, refused, dropped, stopped.",
	}, []string{"group", "result"})
	m.active = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rtmpload_publishers_active", Help: "ffmpeg publishers running.",
	}, []string{"group"})
	m.publishing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rtmpload_publishers_publishing", Help: "Publishers whose output is open.",
	}, []string{"group"})
	m.starved = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rtmpload_publishers_starved", Help: "Publishers below real time or stalled.",
	}, []string{"group"})
	m.callback = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rtmpload_callback_state", Help: "The on_publish callback's availability: 1 for the current state.",
	}, []string{"state"})
	m.hookLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rtmpload_hook_latency_seconds", Help: "on_publish call arrival to answer, as the hook saw it.",
		Buckets: latencyBuckets,
	}, []string{"group"})
	m.wire = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rtmpload_wire_seconds", Help: "Phases of a publish as the tap saw them (handshake, connect, publish, ...).",
		Buckets: latencyBuckets,
	}, []string{"metric", "group"})
	m.reg.MustRegister(m.attempts, m.results, m.active, m.publishing, m.starved, m.callback,
		m.hookLatency, m.wire,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rtmpload_tool_cpu_seconds_total",
			Help: "CPU time of rtmpload itself (embedded server and tap included), as the runner last measured it.",
		}, func() float64 { return math.Float64frombits(m.toolCPU.Load()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Serve listens on addr ("127.0.0.1:9464", port 0 for a free one) and serves /metrics, and Go's
// profiles under /debug/pprof/ (a soak whose memory or CPU grows can be looked into while it
// runs), until ctx ends. It returns the address actually bound; a busy port is an error at
// once, before the run.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	bound, stop, err := m.Start(addr)
	if err != nil {
		return "", err
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	return bound, nil
}

// Start is Serve until stop is called: stop returns once the server is closed (a scrape in
// flight gets a moment to finish; the run's end must not wait on a scraper). stop may be called
// more than once.
func (m *Metrics) Start(addr string) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	// Serve's error is dropped: it fails only with the listener, and scrapes are best effort;
	// the run goes on without them.
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
			<-served
		})
	}
	return ln.Addr().String(), stop, nil
}

// AttemptStarted counts one spawned ffmpeg of group.
func (m *Metrics) AttemptStarted(group string) { m.attempts.WithLabelValues(group).Inc() }

// AttemptOutcome counts one ended attempt; result is one of the Result constants.
func (m *Metrics) AttemptOutcome(group, result string) {
	m.results.WithLabelValues(group, result).Inc()
}

// Active adds delta to group's running publishers (+1 at spawn, -1 at exit).
func (m *Metrics) Active(group string, delta int) {
	m.active.WithLabelValues(group).Add(float64(delta))
}

// Publishing adds delta to group's publishers with an open output.
func (m *Metrics) Publishing(group string, delta int) {
	m.publishing.WithLabelValues(group).Add(float64(delta))
}

// Starved adds delta to group's starved publishers (runner/health transitions).
func (m *Metrics) Starved(group string, delta int) {
	m.starved.WithLabelValues(group).Add(float64(delta))
}

// CallbackState makes state the callback's current one: its gauge 1, every other seen state 0.
func (m *Metrics) CallbackState(state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[state] = true
	for s := range m.states {
		v := 0.0
		if s == state {
			v = 1
		}
		m.callback.WithLabelValues(s).Set(v)
	}
}

// HookLatency records one callback answer time.
func (m *Metrics) HookLatency(group string, d time.Duration) {
	m.hookLatency.WithLabelValues(group).Observe(d.Seconds())
}

// Wire records one tap-measured phase; metric is a report.Metric* name (handshake, publish, ...).
func (m *Metrics) Wire(metric, group string, d time.Duration) {
	m.wire.WithLabelValues(metric, group).Observe(d.Seconds())
}

// ToolCPU sets rtmpload's own CPU time so far, in seconds (a running total, e.g. from
// getrusage(RUSAGE_SELF)); it is exposed as a counter, so rate() gives the share of a core.
func (m *Metrics) ToolCPU(seconds float64) { m.toolCPU.Store(math.Float64bits(seconds)) }
