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

	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/runner"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/spf13/pflag"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, a := runFlags(stderr)
	secrets := secretFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if err := secrets(); err != nil {
		return fail(stderr, err)
	}
	if a.cpuProfile != "" {
		stop, err := startCPUProfile(a.cpuProfile)
		if err != nil {
			return fail(stderr, err)
		}
		defer stop()
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitSetup
	}
	a.fanoutGiven = fs.Changed("fanout")
	opts, err := a.options(ctx, fs.Arg(0))
	if err != nil && ctx.Err() != nil {
		return finishRun(ctx, nil, err, a.json, stdout, stderr) // interrupted while reading the scenario
	}
	if err != nil {
		return fail(stderr, err)
	}
	res, err := a.runWithProgress(ctx, opts, stderr)
	return finishRun(ctx, res, err, a.json, stdout, stderr)
}

// runArgs is the command line of `rtmpload run`, as its flags parse it.
type runArgs struct {
	target, api, flv              string
	server                        serverFlag
	hook                          hookFlag
	hookProbe, hookProbeMethod    string
	duplicateRace, takeover       bool
	runID, shard                  string
	shards                        int
	metrics, out                  string
	listen, apiListen, hookListen string
	hookMode                      schema.HookMode
	ffmpeg, cacheDir              string
	grace                         time.Duration
	fanout                        int
	fanoutGiven                   bool // --fanout was on the command line (0 is its "unset")
	fanoutParallel                bool
	engine                        string
	nativeTick                    time.Duration
	tap                           bool
	expect                        []string
	json, verbose                 bool
	progress                      string
	cpuProfile                    string
}

// runFlags defines the flags of `rtmpload run`, in the order its usage lists them.
func runFlags(stderr io.Writer) (*pflag.FlagSet, *runArgs) {
	fs := newFlags("run", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload run SCENARIO [flags]\n\nSCENARIO is a YAML file or a built-in name (rtmpload scenarios).\n\nFlags:\n%s", fs.FlagUsages())
	}
	a := &runArgs{}
	fs.StringVar(&a.target, "target", "", "publish to a server rtmpload does not start: rtmp://host:port[/app] (default: the embedded server)")
	fs.StringVar(&a.api, "api", "", "that server's SRS HTTP API, read about once a second for ground truth: http://host:1985")
	fs.StringVar(&a.flv, "flv", "", "that server's HTTP-FLV address, for the scenario's http-flv viewers: http://host:8080")
	fs.Var(&a.server, "server", "start a real server for the run: embedded, serve (the embedded one as a process of its own, its CPU and memory apart), nginx-rtmp, or srs=PATH-TO-SRS")
	fs.Var(&a.hook, "hook", "the on_publish callback: serve (built-in), proxy=URL (built-in in front of your service), external")
	fs.StringVar(&a.hookProbe, "hook-probe", "", "with --hook external: the callback URL to watch (TCP connect every second)")
	fs.StringVar(&a.hookProbeMethod, "hook-probe-method", "tcp", "how --hook-probe probes: tcp (connect), get (HTTP GET), publish or play (an SRS-shaped on_publish or on_play for a probe stream: only if your service tolerates it)")
	fs.BoolVar(&a.duplicateRace, "duplicate-race", false, "make the embedded server reproduce SRS 7.0.18's duplicate-accept race (a source cleanup during the owner's hook lets a later publisher in too)")
	fs.BoolVar(&a.takeover, "takeover", false, "make the embedded server let the newest publisher of a name take it over, closing the old one after the new one's first 2 s of media (as MediaMTX does)")
	fs.StringVar(&a.runID, "run-id", "", "name of the run (shards of one run share it; default: time and random)")
	fs.StringVar(&a.shard, "shard", "", "run slice i of n of the scenario: i/n (default: $JOB_COMPLETION_INDEX of $JOB_COMPLETIONS or --shards)")
	fs.IntVar(&a.shards, "shards", 0, "shard count when the index comes from $JOB_COMPLETION_INDEX")
	fs.StringVar(&a.metrics, "metrics", "", "serve live Prometheus metrics on this address, e.g. 127.0.0.1:9464")
	fs.StringVar(&a.out, "out", "", "results directory (default ./rtmpload-results/<time>)")
	fs.StringVar(&a.listen, "listen", "127.0.0.1:0", "embedded server RTMP listen address")
	fs.StringVar(&a.apiListen, "api-listen", "127.0.0.1:0", "embedded server HTTP API listen address")
	fs.StringVar(&a.hookListen, "hook-listen", "127.0.0.1:0", "built-in callback server listen address")
	fs.Var(&a.hookMode, "hook-mode", "override the scenario's hook.mode: allow, deny or conflict")
	fs.StringVar(&a.ffmpeg, "ffmpeg", "", "ffmpeg binary (default: ffmpeg on PATH)")
	fs.StringVar(&a.cacheDir, "cache-dir", "", "clip cache directory (default: the user cache directory)")
	fs.DurationVar(&a.grace, "grace", 5*time.Second, fmt.Sprintf("how long a stopped ffmpeg may take to exit before SIGKILL to its process group (at most %v)", runner.MaxGrace))
	fs.IntVar(&a.fanout, "fanout", 0, fmt.Sprintf("publishers per ffmpeg process (tee muxer, 1..%d) for groups that set no fanout of their own (default 1)", scenarios.MaxFanout))
	fs.StringVar(&a.engine, "engine", schema.EngineFFmpeg, "who publishes the groups that name no engine: ffmpeg (one process per publisher or fan-out batch) or native (rtmpload's own RTMP publisher, a fraction of ffmpeg's CPU)")
	fs.DurationVar(&a.nativeTick, "native-tick", 0, "how often native publishers write what became due (default 100ms; 40ms is a write per frame of a 25 fps clip, as ffmpeg writes, at twice the CPU on both sides)")
	fs.BoolVar(&a.fanoutParallel, "fanout-parallel", false, "open a fan-out process's outputs at once, each fed from its own queue, instead of one after another (no output waits for the others or is held up by one that stalls; about 2.4 times the ffmpeg CPU per output)")
	fs.BoolVar(&a.tap, "tap", true, "measure each publish on the wire with the RTMP-aware tap (--tap=false publishes straight to the server)")
	fs.StringArrayVar(&a.expect, "expect", nil, `threshold beside the scenario's expect list, e.g. "rate(ok) >= 0.99" (repeatable); a failed one exits 3`)
	fs.BoolVar(&a.json, "json", false, "print report.json to stdout instead of the table")
	fs.BoolVarP(&a.verbose, "verbose", "v", false, "log every publish the embedded server sees")
	fs.StringVar(&a.progress, "progress", "auto", "live progress: auto (bars on a terminal, log lines otherwise), bars, log, none")
	fs.StringVar(&a.cpuProfile, "cpuprofile", "", "write a Go CPU profile of rtmpload itself to this file")
	_ = fs.MarkHidden("cpuprofile")
	return fs, a
}

// startCPUProfile profiles rtmpload itself into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// options checks the flags against each other and resolves what they name
// (the scenario, the shard, ffmpeg, the results directory), so that a
// mistake ends the command before anything starts. The logging and live
// fields are left to runWithProgress.
func (a *runArgs) options(ctx context.Context, scenario string) (runner.Options, error) {
	switch a.progress {
	case "auto", "bars", "log", "none":
	default:
		return runner.Options{}, fmt.Errorf("--progress %q: want auto, bars, log or none", a.progress)
	}
	if err := a.checkCombinations(); err != nil {
		return runner.Options{}, err
	}
	sc, err := scenarios.Resolve(ctx, scenario)
	if err != nil {
		return runner.Options{}, err
	}
	if a.hook.External && len(sc.Hook.Faults) > 0 {
		return runner.Options{}, fmt.Errorf("the scenario's hook: faults are the built-in callback's, and --hook external serves none: drop --hook external or the faults")
	}
	si, sn, err := resolveShard(a.shard, a.shards, os.Getenv)
	if err != nil {
		return runner.Options{}, err
	}
	if sn > 1 && a.runID == "" {
		return runner.Options{}, errors.New("--shard needs --run-id: every shard of one run must share it")
	}
	ffPath, err := publisher.FindFFmpeg(a.ffmpeg)
	if err != nil {
		return runner.Options{}, err
	}
	dir := a.out
	if dir == "" {
		dir = filepath.Join("rtmpload-results", time.Now().Format("20060102-150405"))
	}
	if err := freshResultsDir(dir); err != nil {
		return runner.Options{}, err
	}
	return runner.Options{
		Scenario:        sc,
		FFmpeg:          ffPath,
		ResultsDir:      dir,
		Listen:          a.listen,
		APIListen:       a.apiListen,
		HookListen:      a.hookListen,
		HookMode:        a.hookMode,
		CacheDir:        a.cacheDir,
		Grace:           a.grace,
		NoTap:           !a.tap,
		Fanout:          a.fanout,
		FanoutParallel:  a.fanoutParallel,
		Engine:          a.engine,
		NativeTick:      a.nativeTick,
		ServeBinary:     selfBinary(),
		Expect:          a.expect,
		Target:          a.target,
		API:             a.api,
		FLV:             a.flv,
		Server:          a.server.ServerSpec,
		Hook:            a.hook.HookPlan,
		HookProbe:       a.hookProbe,
		HookProbeMethod: a.hookProbeMethod,
		DuplicateRace:   a.duplicateRace,
		Takeover:        a.takeover,
		RunID:           a.runID,
		Metrics:         a.metrics,
		Shard:           si,
		Shards:          sn,
	}, nil
}

// freshResultsDir refuses a results directory that holds an earlier run's
// files: a run writes results.jsonl, report.json and report.html whole and
// would replace the earlier report without a word (and find the earlier
// results only once its servers and clip are ready).
func freshResultsDir(dir string) error {
	for _, name := range []string{"results.jsonl", "report.json", "report.html"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("--out %s holds an earlier run (%s): pass a new directory, or move that one away", dir, name)
		}
	}
	return nil
}

// checkCombinations refuses flags that the rest of the command line would
// make rtmpload ignore without a word.
func (a *runArgs) checkCombinations() error {
	if a.target != "" && !a.server.Embedded() {
		return errors.New("--target and --server both name the server: use one")
	}
	// Only the embedded server (--takeover: in this process or as `rtmpload
	// serve`) has these behaviours to switch on.
	embedded := a.target == "" && a.server.Embedded()
	if a.takeover && !embedded && !(a.target == "" && a.server.Kind == runner.ServerServe) {
		return fmt.Errorf("--takeover switches the embedded server's behaviour; %s decides for itself: drop --takeover", a.serverWords())
	}
	if a.duplicateRace && !embedded {
		return fmt.Errorf("--duplicate-race switches the embedded server (in this process) to SRS 7.0.18's race; %s decides for itself: drop --duplicate-race", a.serverWords())
	}
	if a.api != "" && a.target == "" {
		return errors.New("--api reads the API of the --target server; the servers rtmpload starts have theirs read already: drop --api or add --target")
	}
	if a.hookMode != "" && a.hook.External {
		return errors.New("--hook-mode sets the built-in callback's answer, and --hook external serves none: drop one of them")
	}
	if a.hookMode != "" && a.hook.Proxy != "" {
		return errors.New("--hook-mode sets the built-in callback's answer, and --hook proxy=URL relays your service's answer instead: drop --hook-mode")
	}
	if a.fanoutGiven && a.fanout < 1 {
		return fmt.Errorf("--fanout %d: want 1 to %d publishers per ffmpeg process", a.fanout, scenarios.MaxFanout)
	}
	if a.shards < 0 {
		return fmt.Errorf("--shards %d: want the shard count, 1 or more", a.shards)
	}
	return nil
}

// serverWords names the server a run publishes to, for a message.
func (a *runArgs) serverWords() string {
	if a.target != "" {
		return "the --target server"
	}
	return "--server " + a.server.String()
}

// runWithProgress runs opts with the command's logger and the live progress
// view on stderr, which stops before the report is printed.
func (a *runArgs) runWithProgress(ctx context.Context, opts runner.Options, stderr io.Writer) (*runner.Result, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.Logger = logger
	opts.OnMetrics = func(addr string) { logger.Info("metrics", "url", "http://"+addr+"/metrics") }
	if a.verbose {
		opts.ServerLogger = logger.With("from", "server")
	}
	opts.Live = runner.NewLive()
	stopProgress := startProgress(a.progress, stderr, logger, opts.Live, opts.Scenario)
	defer stopProgress()
	return runner.Run(ctx, opts)
}

// finishRun prints the run's report (what was measured is printed even when
// the run ended in error) and decides the command's exit code.
func finishRun(ctx context.Context, res *runner.Result, err error, jsonOut bool, stdout, stderr io.Writer) int {
	if err != nil && ctx.Err() != nil && (res == nil || res.Summary == nil) {
		// Interrupted while preparing (encoding the clip, starting a server):
		// an abort like any other, not a setup error.
		fmt.Fprintln(stderr, "rtmpload: interrupted before any publisher started: nothing was run")
		return exitAborted
	}
	if errors.Is(err, runner.ErrNoBaseline) {
		err = fmt.Errorf("%w, with 'rtmpload report RESULTS --baseline EARLIER --expect ...'", err)
	}
	var setup *runner.SetupError
	if errors.As(err, &setup) {
		return fail(stderr, err)
	}
	if res != nil && res.Summary != nil {
		err = errors.Join(err, printRunReport(stdout, res, jsonOut))
	}
	return runExitCode(res, err, stderr)
}

// printRunReport prints report.json, or the table and where the run's files are.
func printRunReport(stdout io.Writer, res *runner.Result, jsonOut bool) error {
	x := report.Extras{Thresholds: res.Thresholds, Timeline: res.Timeline}
	if jsonOut {
		return report.JSONWith(stdout, res.Summary, x)
	}
	err := report.TableWith(stdout, res.Summary, x)
	fmt.Fprintf(stdout, "\nresults: %s\n", res.ResultsPath)
	// A report that could not be written is not named (the error says why).
	for i, p := range []string{res.ReportPath, res.HTMLPath} {
		if p != "" {
			fmt.Fprintf(stdout, "%s%s\n", []string{"report:  ", "         "}[i], p)
		}
	}
	return err
}

// runExitCode is the exit code of a run that started, in order of
// precedence: an error, nothing started, an interrupt, failed thresholds.
func runExitCode(res *runner.Result, err error, stderr io.Writer) int {
	var lost *runner.OutputError
	if errors.As(err, &lost) {
		// The run happened but its end could not be written: not an
		// interrupt (exit 2), and the line says what is lost and what is
		// kept (the results file may be gone).
		fmt.Fprintf(stderr, "rtmpload: %v\n", lost)
		return exitSetup
	}
	if err != nil {
		fmt.Fprintf(stderr, "rtmpload: %v\n", option.Rename(err, flagNames))
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
