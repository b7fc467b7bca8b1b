package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/runner"
	"github.com/rtmpload/rtmpload/runner/publisher"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload run SCENARIO [flags]\n\nSCENARIO is a YAML file or a built-in name (rtmpload scenarios).\n\nFlags:\n%s", fs.FlagUsages())
	}
	target := fs.String("target", "", "publish to a server rtmpload does not start: rtmp://host:port[/app] (default: the embedded server)")
	api := fs.String("api", "", "that server's SRS HTTP API, read about once a second for ground truth: http://host:1985")
	var serverSpec serverFlag
	fs.Var(&serverSpec, "server", "start a real server for the run: embedded, nginx-rtmp, or srs=PATH-TO-SRS")
	var hookPlan hookFlag
	fs.Var(&hookPlan, "hook", "the on_publish callback: serve (built-in), proxy=URL (built-in in front of your service), external")
	hookProbe := fs.String("hook-probe", "", "with --hook external: the callback URL to watch (TCP connect every second)")
	hookProbeMethod := fs.String("hook-probe-method", "tcp", "how --hook-probe probes: tcp (connect), get (HTTP GET), publish (an SRS-shaped on_publish for a probe stream: only if your service tolerates it)")
	race := fs.Bool("duplicate-race", false, "make the embedded server reproduce SRS 7.0.18's duplicate-accept race (a source cleanup during the owner's hook lets a later publisher in too)")
	takeover := fs.Bool("takeover", false, "make the embedded server let the newest publisher of a name take it over, closing the old one (as MediaMTX does)")
	runID := fs.String("run-id", "", "name of the run (shards of one run share it; default: time and random)")
	shard := fs.String("shard", "", "run slice i of n of the scenario: i/n (default: $JOB_COMPLETION_INDEX of $JOB_COMPLETIONS or --shards)")
	shards := fs.Int("shards", 0, "shard count when the index comes from $JOB_COMPLETION_INDEX")
	metricsAddr := fs.String("metrics", "", "serve live Prometheus metrics on this address, e.g. 127.0.0.1:9464")
	out := fs.String("out", "", "results directory (default ./rtmpload-results/<time>)")
	listen := fs.String("listen", "127.0.0.1:0", "embedded server RTMP listen address")
	apiListen := fs.String("api-listen", "127.0.0.1:0", "embedded server HTTP API listen address")
	hookListen := fs.String("hook-listen", "127.0.0.1:0", "built-in callback server listen address")
	var hookMode schema.HookMode
	fs.Var(&hookMode, "hook-mode", "override the scenario's hook.mode: allow, deny or conflict")
	ffmpeg := fs.String("ffmpeg", "", "ffmpeg binary (default: ffmpeg on PATH)")
	cacheDir := fs.String("cache-dir", "", "clip cache directory (default: the user cache directory)")
	grace := fs.Duration("grace", 5*time.Second, "how long a stopped ffmpeg may take to exit before SIGKILL")
	fanout := fs.Int("fanout", 0, fmt.Sprintf("publishers per ffmpeg process (tee muxer, 1..%d) for groups that set no fanout of their own (default 1)", scenarios.MaxFanout))
	useTap := fs.Bool("tap", true, "measure each publish on the wire with the RTMP-aware tap (--tap=false publishes straight to the server)")
	expect := fs.StringArray("expect", nil, `threshold beside the scenario's expect list, e.g. "rate(ok) >= 0.99" (repeatable); a failed one exits 3`)
	jsonOut := fs.Bool("json", false, "print report.json to stdout instead of the table")
	verbose := fs.BoolP("verbose", "v", false, "log every publish the embedded server sees")
	progress := fs.String("progress", "auto", "live progress: auto (bars on a terminal, log lines otherwise), bars, log, none")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of rtmpload itself to this file")
	_ = fs.MarkHidden("cpuprofile")
	secrets := secretFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if err := secrets(); err != nil {
		return fail(stderr, err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(stderr, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(stderr, err)
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitSetup
	}
	switch *progress {
	case "auto", "bars", "log", "none":
	default:
		return fail(stderr, fmt.Errorf("--progress %q: want auto, bars, log or none", *progress))
	}
	if *target != "" && !serverSpec.Embedded() {
		return fail(stderr, errors.New("--target and --server both name the server: use one"))
	}
	sc, err := scenarios.Resolve(fs.Arg(0))
	if err != nil {
		return fail(stderr, err)
	}
	si, sn, err := resolveShard(*shard, *shards, os.Getenv)
	if err != nil {
		return fail(stderr, err)
	}
	if sn > 1 && *runID == "" {
		return fail(stderr, errors.New("--shard needs --run-id: every shard of one run must share it"))
	}
	ffPath, err := publisher.FindFFmpeg(*ffmpeg)
	if err != nil {
		return fail(stderr, err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("rtmpload-results", time.Now().Format("20060102-150405"))
	}

	live := runner.NewLive()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var serverLogger *slog.Logger
	if *verbose {
		serverLogger = logger.With("from", "server")
	}
	stopProgress := startProgress(*progress, stderr, logger, live, sc)
	res, err := runner.Run(ctx, runner.Options{
		Scenario:        sc,
		FFmpeg:          ffPath,
		ResultsDir:      dir,
		Listen:          *listen,
		APIListen:       *apiListen,
		HookListen:      *hookListen,
		HookMode:        hookMode,
		CacheDir:        *cacheDir,
		Grace:           *grace,
		NoTap:           !*useTap,
		Fanout:          *fanout,
		ServeBinary:     selfBinary(),
		Expect:          *expect,
		Target:          *target,
		API:             *api,
		Server:          serverSpec.ServerSpec,
		Hook:            hookPlan.HookPlan,
		HookProbe:       *hookProbe,
		HookProbeMethod: *hookProbeMethod,
		DuplicateRace:   *race,
		Takeover:        *takeover,
		RunID:           *runID,
		Metrics:         *metricsAddr,
		OnMetrics:       func(addr string) { logger.Info("metrics", "url", "http://"+addr+"/metrics") },
		Shard:           si,
		Shards:          sn,
		Live:            live,
		Logger:          logger,
		ServerLogger:    serverLogger,
	})
	stopProgress()

	var setup *runner.SetupError
	if err != nil && ctx.Err() != nil && (res == nil || res.Summary == nil) {
		// Interrupted while preparing (encoding the clip, starting a server):
		// an abort like any other, not a setup error.
		fmt.Fprintln(stderr, "rtmpload: interrupted before any publisher started: nothing was run")
		return exitAborted
	}
	if errors.As(err, &setup) {
		return fail(stderr, err)
	}
	if res != nil && res.Summary != nil {
		x := report.Extras{Thresholds: res.Thresholds, Timeline: res.Timeline}
		if *jsonOut {
			err = errors.Join(err, report.JSONWith(stdout, res.Summary, x))
		} else {
			err = errors.Join(err, report.TableWith(stdout, res.Summary, x))
			fmt.Fprintf(stdout, "\nresults: %s\nreport:  %s\n         %s\n", res.ResultsPath, res.ReportPath, res.HTMLPath)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "rtmpload: %v\n", err)
		if res != nil {
			fmt.Fprintf(stderr, "rtmpload: what was measured is in %s\n", res.ResultsPath)
		}
		return exitAborted
	}
	if why, none := noneStarted(res.Summary); none && !res.Interrupted {
		// Not a measurement of the server: a setup problem found late.
		fmt.Fprintf(stderr, "rtmpload: not one ffmpeg could be started (%s): nothing was published; the attempts are in %s\n", why, res.ResultsPath)
		return exitSetup
	}
	if res.Interrupted {
		fmt.Fprintln(stderr, "rtmpload: interrupted: every ffmpeg was stopped; results and report written")
		return exitAborted
	}
	if n := report.Failed(res.Thresholds); n > 0 {
		fmt.Fprintf(stderr, "rtmpload: %d of %d thresholds failed\n", n, len(res.Thresholds))
		return exitThreshold
	}
	return exitOK
}

// noneStarted tells whether every attempt of a run failed to start its
// ffmpeg, with the first one's error: such a run measured nothing and must
// not pass as one that did.
func noneStarted(s *report.Summary) (string, bool) {
	if s == nil || s.Attempts == 0 || len(s.Failures) != s.Attempts {
		return "", false
	}
	for _, f := range s.Failures {
		if !strings.HasPrefix(f.Evidence, "ffmpeg could not be started") {
			return "", false
		}
	}
	return s.Failures[0].Message, true
}

// isTerminal reports whether w (or the writer it wraps, such as the
// redacting writer) is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// selfBinary is rtmpload's own binary, which a capacity run starts as
// `rtmpload serve` to measure the embedded server's CPU apart ("" when it
// cannot be found: the server then runs in process).
func selfBinary() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}
