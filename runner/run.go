// Package runner orchestrates one run: it encodes the clip, starts the hook
// and the embedded server, launches the scenario's ffmpeg publishers on
// schedule, writes every event to results.jsonl and builds the report from
// that same stream.
//
// runner and the packages under it serve rtmpload's own commands; their API
// may change between versions. The stable interfaces are package schema (the
// results stream), srs (SRS's wire types) and report (docs/design.md,
// "Packages and the layout decision").
package runner

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/native"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/rtmpload/rtmpload/runner/machine"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/tap"
)

// Options configure a run. Zero values are defaults that work on a fresh
// machine.
type Options struct {
	Scenario   *scenarios.Scenario
	FFmpeg     string          // path to ffmpeg, already looked up
	ResultsDir string          // the run's own directory; created
	Listen     string          // embedded server RTMP listen address
	APIListen  string          // embedded server HTTP API listen address
	HookListen string          // built-in hook listen address
	HookMode   schema.HookMode // overrides the scenario's hook.mode when set
	CacheDir   string          // clip cache; default media.DefaultCacheDir()
	Grace      time.Duration
	Expect     []string // thresholds beside the scenario's own expect list

	// The server: the embedded one by default, or Target (a server
	// rtmpload did not start: rtmp://host:port[/app], with API its SRS HTTP
	// API), or Server (nginx-rtmp or SRS, started for the run).
	Target, API string
	Server      ServerSpec
	// DuplicateRace makes the embedded server reproduce SRS 7.0.18's
	// duplicate-accept race (docs/srs-behaviour.md, "Duplicate names").
	DuplicateRace bool
	// Takeover makes the embedded server let the newest publisher of a name
	// take it over, closing the old one after the new one's first 2 s of
	// media (MediaMTX's behaviour).
	Takeover bool
	// Hook is how the callback is handled (default: the built-in hook);
	// HookProbe is a callback URL to watch when the hook is external.
	Hook      HookPlan
	HookProbe string
	// HookProbeMethod is how HookProbe is probed: tcp (default), get, or
	// publish (an SRS-shaped on_publish: only when the user asks).
	HookProbeMethod string

	// RunID names the run (default: time and random); shards of one run
	// share it. Shard/Shards: this process runs slice Shard of Shards.
	RunID         string
	Shard, Shards int

	// FLV is the HTTP-FLV base (http://host:port) of a Target, for the
	// scenario's http-flv viewers; a server rtmpload starts knows its own.
	FLV string

	// Metrics, if set, serves live Prometheus metrics on this address.
	Metrics string
	// OnMetrics is told the address metrics are served on.
	OnMetrics func(addr string)
	NoTap     bool // publish straight to the server, without the RTMP-aware tap
	// ServeBinary is rtmpload's own binary: a capacity run on the embedded
	// server runs it as `rtmpload serve`, a process of its own, so that the
	// server's CPU and the generator's are measured apart. "": in process.
	ServeBinary string
	// Fanout is how many publishers of a group share one ffmpeg process
	// (tee muxer) when the group sets no fanout of its own; 0 or 1: one each.
	Fanout int
	// FanoutParallel opens a fan-out process's outputs at once, each fed
	// from its own queue (tee's use_fifo), instead of one after another
	// with media to none until all are open: no output waits for the
	// others, and one that stalls holds up no other. It costs about 2.4
	// times the ffmpeg CPU per output (docs/benchmarks-history.md, "fan-out").
	// It needs a view of each connection, to learn that an output opened:
	// the tap, or the embedded server in this process.
	FanoutParallel bool
	// Engine publishes the groups that name none: schema.EngineFFmpeg
	// (default) or schema.EngineNative (native/: rtmpload's own publisher).
	Engine string
	// NativeTick is how often the native engine writes what became due
	// (default native.DefaultTick, 100 ms): shorter is closer to ffmpeg's
	// write per message, and costs both sides more system calls.
	NativeTick time.Duration
	Live       *Live // optional counters for progress display
	Logger     *slog.Logger
	// ServerLogger receives the embedded server's log (every publish); nil
	// discards it.
	ServerLogger *slog.Logger
}

// Result is what a run leaves behind.
type Result struct {
	Dir         string
	ResultsPath string
	ReportPath  string // report.json
	HTMLPath    string // report.html
	Summary     *report.Summary
	Timeline    *report.Timeline
	Thresholds  []report.ThresholdResult
	Interrupted bool
}

// SetupError is a problem found before any publisher started: nothing was
// measured and nothing was written.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// OutputError is a run's end that could not be written (a full disk, the
// results directory removed, a report path taken by a directory): the run
// itself happened. Lost says what is missing, Kept where the rest is.
type OutputError struct {
	Lost string
	Kept string
	Err  error
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("%s: %v; %s", e.Lost, e.Err, e.Kept)
}
func (e *OutputError) Unwrap() error { return e.Err }

// Run runs the scenario until its duration ends or ctx is canceled (then
// every ffmpeg is stopped and the results are still written, with end reason
// "interrupted"). Its stages run in this order: prepare (pure), start (the
// rig), publish, shutdown, finish; whatever start opened is closed when Run
// returns.
func Run(ctx context.Context, o Options) (*Result, error) {
	p, err := prepare(o, time.Now())
	if err != nil {
		return nil, &SetupError{err}
	}
	r := &run{p: p, s: newStream(), clock: realClock{}}
	g, err := r.start(ctx)
	defer g.close()
	if err != nil {
		r.s.close() // drops what the rig's parts sent
		return nil, &SetupError{err}
	}
	out := r.publish(ctx, g)
	r.shutdown(g)
	return r.finish(g, out)
}

// run is the state of one run shared by its goroutines.
type run struct {
	p        *plan
	clipRate float64  // the clip's bytes per second: a fan-out output's real-time rate
	tap      *tap.Tap // nil without the tap
	conns    conns    // fan-out outputs judged by their own connection
	// teeOpens holds, per attempt id, how to tell a parallel fan-out output
	// that it opened (wireOpened).
	teeOpens sync.Map
	// connBytes calls fn with each live connection's attempt and the bytes
	// its publisher sent: the tap's count, or without the tap the embedded
	// server's (nil: neither, fan-out outputs are judged by their process).
	connBytes func(fn func(attempt string, bytes uint64))
	// serverPID is the server's own process (0: none, or in process).
	serverPID int
	rtmpBase  string
	query     string   // --target's own query, before each group's param
	s         *stream  // every event of the run goes here
	views     *viewers // the scenario's viewers (viewers.go); nil: none
	clock     clock
	spawn     Spawner
	kids      kidsUsage // what the ffmpegs spawned used
	// native publishes the native groups (nil: none), straight to
	// nativeBase, the server itself (a native attempt needs no tap: it
	// records its own wire phases).
	native     *native.Engine
	nativeBase string
	// onPlay and onStop are the play callbacks the server calls, when the
	// run has viewers and serves the hook ("": none).
	onPlay, onStop string
	// serverCPU and serverRSS are the server process's once the publishers
	// are done (zero: no process of its own).
	serverCPU time.Duration
	serverRSS int64
}

// outcome is how the publish stage ended.
type outcome struct {
	start       time.Time
	interrupted bool // ctx ended the run early
	knee        bool // a capacity stop rule ended it
}

// publish writes the run header, then launches every scheduled publisher
// at its time and waits for all of them, with the server's view and the
// callback's probe watched meanwhile. Every event goes through the run's
// stream to its sinks.
func (r *run) publish(ctx context.Context, g *rig) outcome {
	r.rtmpBase, r.query, r.tap = g.rtmpBase, g.tg.query, g.tap
	r.connBytes = g.tg.live
	if g.tap != nil {
		r.connBytes = g.tap.EachLive
	}
	r.clipRate = clipByteRate(g.clip)
	r.spawn = r.kids.counting(ffmpegSpawner(r.p.o.FFmpeg, g.clip, r.p.o.Grace))
	r.serverPID = g.tg.pid
	if g.native != nil {
		r.native, r.nativeBase = g.native, g.tg.base(g.tg.addr)
	}
	if len(r.p.sc.Viewers) > 0 {
		r.views = newViewers(g.tg, r.p.o)
	}
	start := time.Now()
	// The header first, before anything the stream holds already.
	g.w.Write(r.header(g, start))
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.s.run(r.sinks(g, func() { cancel(errKnee) })...)
	// The callback's fault schedule and the server's own view run on the
	// run's clock.
	if g.hk != nil {
		g.hk.Arm(start)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	if g.tg.poll != nil {
		watchers.Go(func() { g.tg.poll(watchCtx, r.onSnapshot) })
	}
	// The load machine's state, every second of every run, beside the
	// callback's: the report tells a generator that could not keep up
	// from a server that dropped publishers.
	watchers.Go(func() {
		cfg := machine.Config{Emit: r.onMachine}
		if g.tap != nil {
			cfg.Tap = g.tap.Forwarding
		}
		machine.Run(watchCtx, cfg)
	})
	if o := r.p.o; g.hk == nil && o.HookProbe != "" {
		watchers.Go(func() {
			_ = hook.Probe(watchCtx, hook.ProbeConfig{URL: o.HookProbe, Method: o.HookProbeMethod, OnState: r.onProbeState})
		})
	}
	out := r.schedule(runCtx, start)
	out.interrupted = ctx.Err() != nil
	r.serverCPU, r.serverRSS = serverUsage(r.serverPID)
	stopWatch()
	watchers.Wait()
	return out
}

// sinks are the consumers of the run's events, in the order each event
// reaches them: the health tracker first (its starved events follow the
// block that caused them), the results file, the live counters, the
// capacity steps, Prometheus.
func (r *run) sinks(g *rig, knee func()) []sink {
	hs := newHealthSink(r.s.derive)
	hs.tapped = g.tap != nil
	sinks := []sink{hs, resultsSink(g.w), r.p.o.Live}
	if r.p.sc.Mode == scenarios.ModeCapacity {
		sinks = append(sinks, newStepsSink(r.p, r.s.derive, knee))
	}
	if g.m != nil {
		sinks = append(sinks, promSink{m: g.m, groupOf: r.p.groupOf})
	}
	return sinks
}

// header is the results' first line; it plans the live counters too.
func (r *run) header(g *rig, start time.Time) schema.Event {
	sc, o := r.p.sc, r.p.o
	groups := make([]schema.GroupInfo, 0, len(sc.Publishers))
	for _, gr := range sc.Publishers {
		groups = append(groups, schema.GroupInfo{Name: gr.Group, Count: gr.Count})
		o.Live.plan(gr.Group, r.p.planned[gr.Group])
	}
	return schema.Event{Type: schema.TypeRun, Time: start, Run: &schema.RunHeader{
		Schema:  schema.Schema,
		ID:      r.p.id,
		Started: start,
		Scenario: schema.ScenarioInfo{
			Name: sc.Name, Source: sc.Source, Duration: sc.Duration, Groups: groups, Viewers: viewerGroups(sc),
		},
		Target:   g.tg.desc,
		HookMode: hookDesc(r.p.hook, r.p.mode),
		Options: map[string]string{
			"clip":         string(sc.Media.Clip),
			"bitrate":      sc.Media.Bitrate,
			"hook_latency": sc.Hook.Latency.String(),
			"hook_url":     hookURL(g.hk),
			"tap":          strconv.FormatBool(!o.NoTap),
			"fanout":       strconv.Itoa(max(o.Fanout, 1)),
			"fanout_open":  fanoutOpen(o.FanoutParallel),
			"engine":       cmpOr(o.Engine, schema.EngineFFmpeg),
			"native_tick":  cmp.Or(o.NativeTick, native.DefaultTick).String(),
		},
		Versions: map[string]string{
			"rtmpload": Version,
			"ffmpeg":   g.ffVersion,
			"server":   g.tg.version,
		},
		Shard: o.Shard, Shards: o.Shards,
		Publisher: publisher.Args(g.clip, publishURL(g.rtmpBase, "NAME", joinQuery(g.tg.query, paramShape(sc)), "ID")),
		Expect:    r.p.expect,
	}}
}

// finish writes the end event, closes the results and builds the report
// from them: report.json and report.html.
func (r *run) finish(g *rig, out outcome) (*Result, error) {
	end := schema.Event{Type: schema.TypeEnd, Time: time.Now(), Reason: schema.EndNormal, Usage: r.kids.usage()}
	if end.Usage != nil {
		end.Usage.ServerCPU, end.Usage.ServerMaxRSS = r.serverCPU, r.serverRSS
	}
	switch {
	case out.interrupted:
		end.Reason = schema.EndInterrupted
	case out.knee:
		end.Reason = schema.EndKnee
	}
	r.s.close() // every event sent so far is written
	g.w.Write(end)
	werr := g.w.Err()
	if cerr := g.closeResults(); werr == nil && cerr != nil {
		werr = fmt.Errorf("close results: %w", cerr)
	}
	res := &Result{Dir: r.p.o.ResultsDir, ResultsPath: g.resultsPath, Interrupted: out.interrupted}
	if werr != nil {
		kept := "no report was written; " + g.resultsPath + " holds the events written before the failure, if it is still there"
		if _, err := os.Stat(g.resultsPath); err != nil {
			kept = "no report was written and " + g.resultsPath + " is gone: nothing of the run is kept"
		}
		return res, &OutputError{Lost: "the run's last events (from the failure on) were not written to " + g.resultsPath, Kept: kept, Err: werr}
	}
	return res, r.report(res)
}

// report summarizes the results file into res and writes the report files.
func (r *run) report(res *Result) error {
	rf, err := os.Open(res.ResultsPath)
	if err != nil {
		return &OutputError{Lost: "no report: the results file " + res.ResultsPath + " cannot be read back", Kept: "nothing of the run is kept (was the results directory removed?)", Err: err}
	}
	defer rf.Close()
	sum, tl, err := report.SummarizeTimeline(rf)
	if err != nil {
		return fmt.Errorf("%s: %w", res.ResultsPath, err)
	}
	res.Summary, res.Timeline = sum, tl
	res.Thresholds = threshold.EvaluateAll(r.p.thresholds, sum, nil)
	x := report.Extras{Thresholds: res.Thresholds, Timeline: tl}
	res.ReportPath = filepath.Join(res.Dir, "report.json")
	res.HTMLPath = filepath.Join(res.Dir, "report.html")
	redo := "the results are whole in " + res.ResultsPath + " (rtmpload report " + res.ResultsPath + " --format html --out FILE writes a report again)"
	if err := report.WriteFile(res.ReportPath, sum, x, report.JSONWith); err != nil {
		res.ReportPath, res.HTMLPath = "", ""
		return &OutputError{Lost: "report.json and report.html were not written to " + res.Dir, Kept: redo, Err: err}
	}
	if err := report.WriteFile(res.HTMLPath, sum, x, report.HTML); err != nil {
		res.HTMLPath = ""
		return &OutputError{Lost: "report.html was not written to " + res.Dir, Kept: "report.json was; " + redo, Err: err}
	}
	return nil
}

// schedule launches every publisher of this shard at its time and waits
// for all of them. It reports whether a capacity knee ended the run early
// (ctx's cause is errKnee).
func (r *run) schedule(ctx context.Context, start time.Time) outcome {
	sc := r.p.sc
	runCtx, cancelDeadline := context.WithDeadline(ctx, start.Add(sc.Duration))
	defer cancelDeadline()

	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(runCtx)
	if sc.Mode == scenarios.ModeCapacity {
		bg.Go(func() { r.capacity(bgCtx, start) })
	}
	bg.Go(func() { r.ticks(bgCtx) })

	var wg sync.WaitGroup
	if r.views != nil {
		wg.Go(func() { r.runViewers(runCtx, start, r.views) })
	}
	// A batch is one publisher, or several that share one ffmpeg (fan-out).
	for _, batch := range sc.Batches(r.p.slots, r.p.o.Fanout) {
		wg.Go(func() {
			if !r.clock.Sleep(runCtx, start.Add(batch[0].Start).Sub(r.clock.Now())) {
				return
			}
			if len(batch) == 1 {
				r.slot(runCtx, start, batch[0])
			} else {
				r.fanout(runCtx, start, batch)
			}
		})
	}
	wg.Wait()
	stopBg()
	bg.Wait()
	return outcome{start: start, knee: context.Cause(ctx) == errKnee}
}

// ticks sends the stream a tick every second: the health sink looks for
// publishers whose output stopped with no progress at all (a hung ffmpeg
// gives no -progress block to judge), Prometheus takes rtmpload's CPU.
func (r *run) ticks(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.conns.judge(r, now)
			r.s.emit(event{tick: &tick{at: now, selfCPU: readCPU().self}})
		}
	}
}
