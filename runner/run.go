// Package runner orchestrates one run: it encodes the clip, starts the hook
// and the embedded server, launches the scenario's ffmpeg publishers on
// schedule, writes every event to results.jsonl and builds the report from
// that same stream.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/rtmpload/rtmpload/runner/hook"
	"github.com/rtmpload/rtmpload/runner/limits"
	"github.com/rtmpload/rtmpload/runner/media"
	"github.com/rtmpload/rtmpload/runner/metrics"
	"github.com/rtmpload/rtmpload/runner/publisher"
	"github.com/rtmpload/rtmpload/runner/server"
	"github.com/rtmpload/rtmpload/runner/srsapi"
	"github.com/rtmpload/rtmpload/runner/tap"
	"github.com/rtmpload/rtmpload/scenarios"
)

// Version is rtmpload's version, set by cmd at build time.
var Version = "dev"

// Options configure a run. Zero values are defaults that work on a fresh
// machine.
type Options struct {
	Scenario   *scenarios.Scenario
	FFmpeg     string // path to ffmpeg, already looked up
	ResultsDir string // the run's own directory; created
	Listen     string // embedded server RTMP listen address
	APIListen  string // embedded server HTTP API listen address
	HookListen string // built-in hook listen address
	HookMode   string // overrides the scenario's hook.mode when set
	CacheDir   string // clip cache; default media.DefaultCacheDir()
	Grace      time.Duration
	Expect     []string // thresholds beside the scenario's own expect list

	// The server: the embedded one by default, or Target (a server
	// rtmpload did not start: rtmp://host:port[/app], with API its SRS HTTP
	// API), or Server ("nginx-rtmp", "srs=PATH": started for the run).
	Target, API, Server string
	// DuplicateRace makes the embedded server reproduce SRS 7.0.x's
	// duplicate-accept race (docs/srs-behaviour.md, "Duplicate names").
	DuplicateRace bool
	// Hook is "serve" (default), "proxy=URL" or "external"; HookProbe is a
	// callback URL to watch when the hook is external.
	Hook, HookProbe string
	// HookProbeMethod is how HookProbe is probed: tcp (default), get, or
	// publish (an SRS-shaped on_publish: only when the user asks).
	HookProbeMethod string

	// RunID names the run (default: time and random); shards of one run
	// share it. Shard/Shards: this process runs slice Shard of Shards.
	RunID         string
	Shard, Shards int

	// Metrics, if set, serves live Prometheus metrics on this address.
	Metrics string
	// OnMetrics is told the address metrics are served on.
	OnMetrics func(addr string)
	NoTap     bool  // publish straight to the server, without the RTMP-aware tap
	Live      *Live // optional counters for progress display
	Logger    *slog.Logger
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

// Run runs the scenario until its duration ends or ctx is canceled (then
// every ffmpeg is stopped and the results are still written, with end reason
// "interrupted").
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Live == nil {
		o.Live = NewLive()
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.APIListen == "" {
		o.APIListen = "127.0.0.1:0"
	}
	if o.HookListen == "" {
		o.HookListen = "127.0.0.1:0"
	}
	sc := o.Scenario
	mode := sc.Hook.Mode
	if o.HookMode != "" {
		mode = o.HookMode
	}
	switch mode {
	case "", "allow", "deny", "conflict":
	default:
		return nil, &SetupError{fmt.Errorf("hook mode %q: use allow, deny or conflict", mode)}
	}
	if mode == "" {
		mode = "allow"
	}
	if o.Shards < 0 || o.Shard < 0 || (o.Shards > 0 && o.Shard >= o.Shards) {
		return nil, &SetupError{fmt.Errorf("shard %d/%d: want i/n with 0 <= i < n", o.Shard, o.Shards)}
	}

	// Setup: everything that can fail on bad input fails here, before a
	// results file exists.
	expect := append(slices.Clone(sc.Expect), o.Expect...)
	thresholds, err := threshold.ParseAll(expect)
	if err != nil {
		return nil, &SetupError{err}
	}
	slots := scenarios.Shard(sc.Schedule(), o.Shard, o.Shards)
	if err := limits.Check(len(slots)); err != nil {
		return nil, &SetupError{err}
	}
	var m *metrics.Metrics
	if o.Metrics != "" {
		m = metrics.New()
		addr, err := m.Serve(ctx, o.Metrics)
		if err != nil {
			return nil, &SetupError{err}
		}
		if o.OnMetrics != nil {
			o.OnMetrics(addr)
		}
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		d, err := media.DefaultCacheDir()
		if err != nil {
			return nil, &SetupError{err}
		}
		cacheDir = d
	}
	runID := o.RunID
	if runID == "" {
		runID = newRunID(time.Now())
	}
	r := &run{o: o, id: runID, watch: newWatch(m), slots: sc.Schedule()}
	plan, err := parseHookPlan(o.Hook)
	if err != nil {
		return nil, &SetupError{err}
	}

	var hk *hook.Server
	if plan.serve {
		hk, err = hook.Start(hook.Config{
			Listen:   o.HookListen,
			Mode:     hook.Mode(mode),
			Latency:  sc.Hook.Latency,
			Faults:   sc.Hook.Faults,
			Upstream: plan.upstream,
			OnCall:   r.onHookCall,
			OnState:  r.onHookState,
		})
		if err != nil {
			return nil, &SetupError{err}
		}
		defer hk.Close()
	}
	if o.Server == "embedded" {
		o.Server = ""
	}
	if o.Server != "" {
		// A managed server writes its config and log into the results
		// directory (kept when it fails to start: its log says why); the
		// results file itself is still created only below.
		if err := os.MkdirAll(o.ResultsDir, 0o755); err != nil {
			return nil, &SetupError{fmt.Errorf("create results directory: %w", err)}
		}
	}
	r.o = o
	tg, err := r.startTarget(ctx, hk)
	if err != nil {
		return nil, &SetupError{err}
	}
	defer tg.stop()
	r.rtmpBase = "rtmp://" + tg.addr + "/" + tg.app + "/"
	if !o.NoTap {
		tp, err := tap.Start(tap.Config{Target: tg.addr, OnDone: r.onWire, OnMark: r.onMark})
		if err != nil {
			return nil, &SetupError{err}
		}
		defer tp.Close()
		r.tap = tp
		r.rtmpBase = "rtmp://" + tp.Addr() + "/" + tg.app + "/"
	}

	// The clip last: the ports above fail fast, an encode takes seconds.
	ffVersion := ffmpegVersion(ctx, o.FFmpeg)
	clip, err := media.Ensure(ctx, o.FFmpeg, cacheDir, media.Params{Clip: sc.Media.Clip, BitrateBps: sc.Media.BitrateBps})
	if err != nil {
		return nil, &SetupError{err}
	}
	r.clip = clip

	if err := os.MkdirAll(o.ResultsDir, 0o755); err != nil {
		return nil, &SetupError{fmt.Errorf("create results directory: %w", err)}
	}
	resultsPath := filepath.Join(o.ResultsDir, "results.jsonl")
	f, err := os.OpenFile(resultsPath, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return nil, &SetupError{fmt.Errorf("create results file: %w (pass a new --out directory)", err)}
	}
	r.w = report.NewWriter(f)

	start := time.Now()
	groups := make([]report.GroupInfo, 0, len(sc.Publishers))
	planned := make(map[string]int)
	for _, slot := range scenarios.Shard(sc.Schedule(), o.Shard, o.Shards) {
		planned[slot.Group]++
	}
	for _, g := range sc.Publishers {
		groups = append(groups, report.GroupInfo{Name: g.Group, Count: g.Count})
		o.Live.plan(g.Group, planned[g.Group])
	}
	r.w.Write(report.Event{Type: report.TypeRun, Time: start, Run: &report.RunHeader{
		Schema:  report.Schema,
		ID:      runID,
		Started: start,
		Scenario: report.ScenarioInfo{
			Name: sc.Name, Source: sc.Source, Duration: sc.Duration, Groups: groups,
		},
		Target:   tg.desc,
		HookMode: hookDesc(plan, mode),
		Options: map[string]string{
			"clip":         sc.Media.Clip,
			"bitrate":      sc.Media.Bitrate,
			"hook_latency": sc.Hook.Latency.String(),
			"hook_url":     hookURL(hk),
			"tap":          strconv.FormatBool(!o.NoTap),
		},
		Versions: map[string]string{
			"rtmpload": Version,
			"ffmpeg":   ffVersion,
			"server":   tg.version,
		},
		Shard: o.Shard, Shards: o.Shards,
		Publisher: publisher.Args(clip, r.rtmpBase+"NAME?rtmpload=ID"),
		Expect:    expect,
	}})

	// The callback's fault schedule and the server's own view run on the
	// run's clock.
	if hk != nil {
		hk.Arm(start)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	if tg.poll != nil {
		watchers.Go(func() { tg.poll(watchCtx, r.onSnapshot) })
	}
	if hk == nil && o.HookProbe != "" {
		watchers.Go(func() {
			_ = hook.Probe(watchCtx, hook.ProbeConfig{URL: o.HookProbe, Method: o.HookProbeMethod, OnState: r.onProbeState})
		})
	}

	interrupted, knee := r.publish(ctx, start)
	stopWatch()
	watchers.Wait()

	// Every publisher is gone, so the tap has reported every connection.
	// Accepted publishers get on_unpublish a few ms after they end: close the
	// server before the hook so those calls are made.
	if r.tap != nil {
		r.tap.Close()
	}
	tg.stop()
	if hk != nil {
		hk.Close()
	}

	end := report.Event{Type: report.TypeEnd, Time: time.Now(), Reason: report.EndNormal, Usage: usage()}
	switch {
	case interrupted:
		end.Reason = report.EndInterrupted
	case knee:
		end.Reason = report.EndKnee
	}
	r.w.Write(end)
	werr := r.w.Err()
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("close results: %w", cerr)
	}

	res := &Result{Dir: o.ResultsDir, ResultsPath: resultsPath, Interrupted: interrupted}
	if werr != nil {
		return res, werr
	}
	rf, err := os.Open(resultsPath)
	if err != nil {
		return res, err
	}
	defer rf.Close()
	sum, tl, err := report.SummarizeTimeline(rf)
	if err != nil {
		return res, fmt.Errorf("%s: %w", resultsPath, err)
	}
	res.Summary, res.Timeline = sum, tl
	res.Thresholds = threshold.EvaluateAll(thresholds, sum, nil)
	x := report.Extras{Thresholds: res.Thresholds, Timeline: tl}
	res.ReportPath = filepath.Join(o.ResultsDir, "report.json")
	res.HTMLPath = filepath.Join(o.ResultsDir, "report.html")
	if err := report.WriteFile(res.ReportPath, sum, x, report.JSONWith); err != nil {
		return res, err
	}
	if err := report.WriteFile(res.HTMLPath, sum, x, report.HTML); err != nil {
		return res, err
	}
	return res, nil
}

// run is the state of one run shared by its goroutines.
type run struct {
	o        Options
	id       string
	clip     string
	rtmpBase string
	tap      *tap.Tap
	w        *report.Writer
	watch    *watch
	slots    []scenarios.Slot // the whole schedule, by Seq
}

// slotOf finds the slot of an attempt id "<run>-<seq+1>[.<k>]".
func (r *run) slotOf(id string) (scenarios.Slot, bool) {
	rest, ok := strings.CutPrefix(id, r.id+"-")
	if !ok {
		return scenarios.Slot{}, false
	}
	rest, _, _ = strings.Cut(rest, ".")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > len(r.slots) {
		return scenarios.Slot{}, false
	}
	return r.slots[n-1], true
}

// publish launches every scheduled publisher at its time and waits for all
// of them. It reports whether ctx ended the run early.
func (r *run) publish(ctx context.Context, start time.Time) (interrupted, knee bool) {
	sc := r.o.Scenario
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, cancelDeadline := context.WithDeadline(runCtx, start.Add(sc.Duration))
	defer cancelDeadline()

	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(runCtx)
	if sc.Mode == scenarios.ModeCapacity {
		bg.Go(func() { r.capacity(bgCtx, start, cancel) })
	}
	bg.Go(func() { r.checkStalls(bgCtx) })

	var wg sync.WaitGroup
	for _, slot := range scenarios.Shard(sc.Schedule(), r.o.Shard, r.o.Shards) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(time.Until(start.Add(slot.Start)))
			defer t.Stop()
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			r.slot(runCtx, start, slot)
		}()
	}
	wg.Wait()
	stopBg()
	bg.Wait()
	return ctx.Err() != nil, context.Cause(runCtx) == errKnee
}

// checkStalls looks every second for publishers whose output stopped with
// no progress at all (a hung ffmpeg gives no -progress block to judge).
func (r *run) checkStalls(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if m := r.watch.m; m != nil {
				m.ToolCPU(readCPU().self.Seconds())
			}
			r.watch.stalls(now, func(id string, starved bool, reason string) {
				if slot, ok := r.slotOf(id); ok {
					r.starved(id, slot, now, starved, reason)
				}
			})
		}
	}
}

// starved records a publisher falling below real time, or recovering.
func (r *run) starved(id string, slot scenarios.Slot, at time.Time, starved bool, reason string) {
	phase := report.PhaseRecovered
	if starved {
		phase = report.PhaseStarved
	}
	r.o.Live.update(slot.Group, func(g *GroupLive) {
		if starved {
			g.Starved++
		} else {
			g.Starved--
		}
	})
	r.w.Write(report.Event{Type: report.TypeAttempt, Time: at, Attempt: &report.AttemptEvent{
		ID: id, Phase: phase, Group: slot.Group, Stream: slot.Stream, Slot: slot.Seq, Message: reason,
	}})
}

// slot runs one scheduled publisher from its start to its stop: its first
// attempt, a new attempt at each churn time, and reconnects after an
// attempt ends on its own, as its group's policy allows. Attempt ids are
// <run>-<seq+1> and then <run>-<seq+1>.<k>, the same in every shard.
func (r *run) slot(ctx context.Context, start time.Time, slot scenarios.Slot) {
	sc := r.o.Scenario
	rc := sc.Publishers[groupIndex(sc, slot.Group)].Reconnect
	stop := start.Add(slot.Stop)
	reconnects := 0
	for k := 0; ; k++ {
		id := fmt.Sprintf("%s-%d", r.id, slot.Seq+1)
		if k > 0 {
			id += fmt.Sprintf(".%d", k)
		}
		end, churn := stop, false
		if at, ok := sc.NextChurn(slot, time.Since(start)); ok {
			end, churn = start.Add(at), true
		}
		actx, cancel := context.WithDeadline(ctx, end)
		res := r.attempt(actx, slot, id)
		cancel()
		switch {
		case ctx.Err() != nil || !time.Now().Before(stop):
			return // the run or the slot is over
		case res.Stopped && churn:
			continue // churned: restart at once
		case reconnects >= rc.Max:
			return
		}
		reconnects++
		wait := time.Duration(float64(rc.Delay) * math.Pow(max(rc.Backoff, 1), float64(reconnects-1)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !time.Now().Before(stop) {
			return
		}
	}
}

func groupIndex(sc *scenarios.Scenario, group string) int {
	for i, g := range sc.Publishers {
		if g.Group == group {
			return i
		}
	}
	return 0
}

// attempt runs one ffmpeg publisher until it ends or ctx is done.
func (r *run) attempt(ctx context.Context, slot scenarios.Slot, id string) publisher.Result {
	u := r.rtmpBase + url.PathEscape(slot.Stream) + "?rtmpload=" + url.QueryEscape(id)
	base := report.AttemptEvent{ID: id, Group: slot.Group, Stream: slot.Stream, Slot: slot.Seq}
	emit := func(at time.Time, phase string, fill func(*report.AttemptEvent)) {
		ae := base
		ae.Phase = phase
		if fill != nil {
			fill(&ae)
		}
		r.w.Write(report.Event{Type: report.TypeAttempt, Time: at, Attempt: &ae})
	}

	live := r.o.Live
	live.update(slot.Group, func(g *GroupLive) { g.Started++; g.Active++ })
	step := r.o.Scenario.StepOf(slot)
	r.watch.started(id, slot.Group, step)
	var spawned time.Time
	var once sync.Once
	res := publisher.Run(ctx, publisher.Spec{
		FFmpeg: r.o.FFmpeg,
		Args:   publisher.Args(r.clip, u),
		Grace:  r.o.Grace,
		OnStart: func(at time.Time, pid int) {
			spawned = at
			emit(at, report.PhaseSpawn, func(ae *report.AttemptEvent) { ae.URL, ae.PID = u, pid })
		},
		OnProgress: func(p publisher.Progress) {
			once.Do(func() {
				emit(p.At, report.PhasePublishing, nil)
				live.update(slot.Group, func(g *GroupLive) { g.Publishing++; g.Published++ })
				r.watch.publishing(slot.Group)
				if !spawned.IsZero() {
					r.watch.publishStart(step, p.At.Sub(spawned))
				}
			})
			if changed, starved, reason := r.watch.progress(id, p); changed {
				r.starved(id, slot, p.At, starved, reason)
			}
		},
	})
	if res.Spawned.IsZero() {
		emit(time.Now(), report.PhaseSpawn, func(ae *report.AttemptEvent) { ae.URL = u })
	}
	published := !res.FirstProgress.IsZero()
	emit(res.Exited, report.PhaseExit, func(ae *report.AttemptEvent) {
		ae.Class, ae.ExitCode, ae.Stopped, ae.Killed = res.Class, res.ExitCode, res.Stopped, res.Killed
		ae.Message, ae.StderrTail = res.Message, res.StderrTail
		ae.Frames, ae.Bytes = res.LastProgress.Frame, res.LastProgress.TotalSize
		if res.Err != nil && ae.Message == "" {
			ae.Message = res.Err.Error()
		}
	})
	r.watch.exited(id, published, res)
	live.update(slot.Group, func(g *GroupLive) {
		g.Active--
		g.Done++
		if published {
			g.Publishing--
		}
		if !published || (res.Class != publisher.ClassStopped && res.Class != publisher.ClassExited) {
			g.Failed++
		}
	})
	return res
}

func (r *run) onHookCall(c hook.Call) {
	if m := r.watch.m; m != nil && c.Action == hook.ActionPublish && !c.Answered.IsZero() {
		group := "unknown"
		if slot, ok := r.slotOf(c.Attempt); ok {
			group = slot.Group
		}
		m.HookLatency(group, c.Answered.Sub(c.Arrived))
	}
	r.w.Write(report.Event{Type: report.TypeHook, Time: c.Answered, Hook: &report.HookCall{
		Seq: c.Seq, Action: c.Action, Attempt: c.Attempt, ClientID: c.ClientID,
		Stream: c.Stream, App: c.App, Param: c.Param,
		Arrived: c.Arrived, Answered: c.Answered, Status: c.Status,
		Verdict: c.Verdict, Reason: c.Reason, Canceled: c.Canceled, Fault: c.Fault,
		Upstream: upstream(c.Upstream),
	}})
}

func (r *run) onWire(c *tap.Conn) {
	r.w.Write(report.Event{Type: report.TypeWire, Time: c.End, Wire: wireConn(c)})
}

// wireConn is the results' record of what the tap saw of a connection.
func wireConn(c *tap.Conn) *report.WireConn {
	w := &report.WireConn{Conn: c.ID, Attempt: c.Attempt, Stream: c.Stream,
		BytesUp: c.BytesUp, BytesDown: c.BytesDown, Unparsed: c.Unparsed,
		Marks: make([]report.WireMark, len(c.Marks))}
	for i, m := range c.Marks {
		w.Marks[i] = report.WireMark{Phase: string(m.Phase), At: m.At, Detail: m.Detail}
	}
	return w
}

// onMark feeds the live figures (metrics, capacity steps) as soon as the
// server has answered the publish, not when the connection ends.
func (r *run) onMark(c *tap.Conn, m tap.Mark) {
	if m.Phase != tap.OnStatus {
		return
	}
	if slot, ok := r.slotOf(c.Attempt); ok {
		r.watch.wire(wireConn(c), slot.Group, r.o.Scenario.StepOf(slot))
	}
}

func (r *run) onHookState(c hook.StateChange) { r.state("hook", c) }

func (r *run) onProbeState(c hook.StateChange) { r.state("probe", c) }

func (r *run) state(source string, c hook.StateChange) {
	if m := r.watch.m; m != nil {
		m.CallbackState(c.State)
	}
	r.w.Write(report.Event{Type: report.TypeState, Time: c.At, State: &report.StateChange{
		Source: source, State: c.State, Fault: c.Fault, Detail: c.Detail,
	}})
}

func (r *run) onSnapshot(s srsapi.Snapshot) {
	r.w.Write(report.Event{Type: report.TypeSnap, Time: s.At, Snapshot: snapshot(s)})
}

func upstream(u *hook.UpstreamResult) *report.Upstream {
	if u == nil {
		return nil
	}
	return &report.Upstream{Status: u.Status, Latency: u.Latency, Err: u.Err, Body: u.Body}
}

// hookDesc says in the run header how the callback was handled.
func hookDesc(p hookPlan, mode string) string {
	switch {
	case p.upstream != "":
		return "proxy to " + p.upstream
	case !p.serve:
		return "external"
	}
	return mode
}

func hookURL(hk *hook.Server) string {
	if hk == nil {
		return ""
	}
	return hk.OnPublishURL()
}

func (r *run) onServerEvent(e server.Event) {
	switch e.Kind {
	case "reject", "accept", "unpublish":
	default:
		return
	}
	r.w.Write(report.Event{Type: report.TypeServer, Time: e.Time, Server: &report.ServerEvent{
		Kind: e.Kind, Attempt: hook.AttemptFromParam(e.Param), ClientID: e.ClientID,
		Stream: e.Stream, Reason: e.Reason, HookStatus: e.HookStatus, HookErr: e.HookErr,
		HookLatency: int64(e.HookLatency), BytesIn: e.BytesIn, VideoMsgs: e.VideoMsgs, AudioMsgs: e.AudioMsgs,
	}})
}

// usage reads rtmpload's own rusage and its reaped children's. Every ffmpeg
// has been waited for by now, so the children's figures are complete.
func usage() *report.Usage {
	var self, kids syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids) != nil {
		return nil
	}
	cpu := func(r *syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return &report.Usage{
		SelfCPU: cpu(&self), SelfMaxRSS: self.Maxrss << 10, // Linux reports KiB
		ChildCPU: cpu(&kids), ChildMaxRSS: kids.Maxrss << 10,
	}
}

// newRunID is sortable by time and unique enough across machines.
func newRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// ffmpegVersion returns the first line of `ffmpeg -version`, for the run
// header. It is a short-lived child, killed with its group if it hangs.
func ffmpegVersion(ctx context.Context, ffmpeg string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-version")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
