package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rtmpload/rtmpload/native"

	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/schema"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/runner/metrics"
	"github.com/rtmpload/rtmpload/tap"
)

// rig is what a run opened: the metrics server, the hook, the server it
// publishes to, the tap, the clip and the results file, in that order. Its
// close ends them in reverse; each stop may also be called on its own (the
// shutdown stage does, in its own order) and then does nothing the second
// time.
type rig struct {
	closers []func() // in the order opened

	m           *metrics.Metrics // nil: no --metrics
	hk          *hook.Server     // nil: the callback is not ours
	tg          *target
	tap         *tap.Tap // nil: --no-tap
	rtmpBase    string   // rtmp://host:port/app/ the publishers use
	clip        string
	native      *native.Engine // nil: no group is native
	ffVersion   string
	resultsPath string
	w           *schema.Writer

	stopTap, stopTarget, stopHook func()
	closeResults                  func() error
}

// opened records stop as the closer of what was just opened, and returns it
// made idempotent.
func (g *rig) opened(stop func()) func() {
	var once sync.Once
	f := func() { once.Do(stop) }
	g.closers = append(g.closers, f)
	return f
}

// close ends everything the rig opened, newest first.
func (g *rig) close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
}

// start opens the rig. On an error, what it opened so far is in g for the
// caller's close.
func (r *run) start(ctx context.Context) (g *rig, err error) {
	g = &rig{stopTap: func() {}, stopHook: func() {}, stopTarget: func() {}}
	o := r.p.o
	if o.Metrics != "" {
		g.m = metrics.New()
		addr, stop, err := g.m.Start(o.Metrics)
		if err != nil {
			return g, err
		}
		g.opened(stop)
		if o.OnMetrics != nil {
			o.OnMetrics(addr)
		}
	}
	if err := r.startHook(g); err != nil {
		return g, err
	}
	if !r.p.server.Embedded() {
		// A managed server writes its config and log into the results
		// directory (kept when it fails to start: its log says why); the
		// results file itself is created only below.
		_, statErr := os.Stat(o.ResultsDir)
		if err := os.MkdirAll(o.ResultsDir, 0o755); err != nil {
			return g, fmt.Errorf("create results directory: %w", err)
		}
		if errors.Is(statErr, fs.ErrNotExist) {
			// Last to close: a server that failed before writing a line
			// leaves no empty directory behind. os.Remove takes only an
			// empty one, so a log that says why stays, as do results.
			g.opened(func() { _ = os.Remove(o.ResultsDir) })
		}
	}
	if g.tg, err = r.startTarget(ctx, g.hk); err != nil {
		return g, err
	}
	g.stopTarget = g.opened(g.tg.stop)
	g.rtmpBase = g.tg.base(g.tg.addr)
	if !o.NoTap {
		if g.tap, err = tap.Start(tap.Config{Target: g.tg.addr, OnDone: r.onWire, OnMark: r.onMark}); err != nil {
			return g, err
		}
		g.stopTap = g.opened(func() { g.tap.Close() })
		g.rtmpBase = g.tg.base(g.tap.Addr())
	}
	// The clip last: the ports above fail fast, an encode takes seconds.
	if g.ffVersion, err = ffmpegVersion(ctx, o.FFmpeg, versionTimeout); err != nil {
		return g, err
	}
	if err := checkIsFFmpeg(ctx, o.FFmpeg, g.ffVersion); err != nil {
		return g, err
	}
	sc := r.p.sc
	if g.clip, err = media.Ensure(ctx, o.FFmpeg, r.p.cacheDir, media.Params{Clip: sc.Media.Clip, BitrateBps: sc.Media.BitrateBps}, o.Logger); err != nil {
		return g, err
	}
	if err := r.startNative(g); err != nil {
		return g, err
	}
	return g, r.openResults(g)
}

// checkIsFFmpeg refuses a binary whose -version is not ffmpeg's ("ffmpeg
// version ..."): /bin/true or a wrapper that prints nothing would run every
// publisher into an ffmpeg_error with an empty message, a run that measures
// nothing. A binary that cannot be executed at all is left to the spawns,
// which say so for every attempt; an interrupt is not the binary's fault.
func checkIsFFmpeg(ctx context.Context, path, version string) error {
	if ctx.Err() != nil || strings.HasPrefix(version, "ffmpeg version") || strings.HasPrefix(version, "unknown (fork/exec") {
		return nil
	}
	said := fmt.Sprintf("printed %q", version)
	switch {
	case version == "":
		said = "printed nothing"
	case strings.HasPrefix(version, "unknown ("):
		said = "failed: " + strings.TrimSuffix(strings.TrimPrefix(version, "unknown ("), ")")
	}
	return option.New("FFmpeg", func(name string) string {
		return fmt.Sprintf("%s is not ffmpeg: '%s -version' %s, where ffmpeg prints \"ffmpeg version ...\": pass %s with the path of an ffmpeg binary", path, path, schema.TermSafe(said), name)
	})
}

// startHook starts the built-in hook when the run serves the callback.
func (r *run) startHook(g *rig) error {
	if !r.p.hook.Serve() {
		return nil
	}
	sc := r.p.sc
	hk, err := hook.Start(hook.Config{
		Listen:   r.p.o.HookListen,
		Mode:     schema.HookMode(r.p.mode),
		Latency:  sc.Hook.Latency,
		Faults:   sc.Hook.Faults,
		Upstream: r.p.hook.Proxy,
		OnCall:   r.onHookCall,
		OnState:  r.onHookState,
	})
	if err != nil {
		return err
	}
	g.hk = hk
	g.stopHook = g.opened(func() { hk.Close() })
	return nil
}

// openResults creates the results file; it must not exist yet.
func (r *run) openResults(g *rig) error {
	dir := r.p.o.ResultsDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create results directory: %w", err)
	}
	g.resultsPath = filepath.Join(dir, "results.jsonl")
	f, err := os.OpenFile(g.resultsPath, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		oe := option.New("Options.ResultsDir", func(name string) string {
			return fmt.Sprintf("create results file: %v (pass a new %s)", err, name)
		})
		oe.Err = err
		return oe
	}
	g.w = schema.NewWriter(f)
	var once sync.Once
	var cerr error
	g.closeResults = func() error {
		once.Do(func() { cerr = f.Close() })
		return cerr
	}
	g.opened(func() { _ = g.closeResults() })
	return nil
}

// shutdown ends what the publishers used, in the order that keeps every
// event: every publisher is gone, so the tap has reported every
// connection; accepted publishers get on_unpublish a few ms after they
// end, so the server closes before the hook, which records those calls.
func (r *run) shutdown(g *rig) {
	g.stopTap()
	g.stopTarget()
	g.stopHook()
}
