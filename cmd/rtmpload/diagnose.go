package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"

	"github.com/rtmpload/rtmpload/diagnose"
)

func diagnoseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diagnose", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload diagnose [flags]\n\nChecks what a publish to SRS depends on and names the cause of a failing push.\nExit status: 0 no problem, 4 a problem was found, 1 usage error.\n\nFlags:\n%s", fs.FlagUsages())
	}
	rtmp := fs.String("rtmp", diagnose.DefaultRTMP, "RTMP URL of the server, rtmp://host:port/app ('' skips the check)")
	api := fs.String("api", "", "SRS HTTP API (default http://<rtmp host>:1985; '' skips the check)")
	hooks := fs.StringArray("hook", nil, "on_publish callback URL to check (repeatable)")
	srsConfig := fs.String("srs-config", "", "SRS config file: check the callback URLs of its http_hooks blocks")
	probe := fs.Bool("probe-hook", false, "send each callback an SRS-shaped on_publish for a stream rtmpload-diagnose-<random>")
	publish := fs.Bool("publish", false, "make one real publish with ffmpeg and classify its outcome")
	publishFor := fs.Duration("publish-for", diagnose.DefaultPublishFor, "how long the --publish test publishes")
	ffmpeg := fs.String("ffmpeg", "", "ffmpeg binary (default: ffmpeg on PATH)")
	cacheDir := fs.String("cache-dir", "", "clip cache directory (default: the user cache directory)")
	timeout := fs.Duration("timeout", diagnose.DefaultTimeout, "timeout of each network step (the callback probe waits up to SRS's 30 s)")
	jsonOut := fs.Bool("json", false, "print one JSON object (checks and verdict) instead of the list")
	secrets := secretFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if err := secrets(); err != nil {
		return fail(stderr, err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitSetup
	}
	// 0 would be the default without a word, and a negative one fails
	// every step at once (blamed on the network).
	if *timeout <= 0 {
		return fail(stderr, fmt.Errorf("--timeout %v: want how long each network step may take, such as %v", *timeout, diagnose.DefaultTimeout))
	}
	if *publishFor <= 0 {
		return fail(stderr, fmt.Errorf("--publish-for %v: want how long the test publish lasts, such as %v", *publishFor, diagnose.DefaultPublishFor))
	}

	cfg := diagnose.Config{
		RTMP: *rtmp, API: *api, Hooks: *hooks, ProbeHook: *probe, Publish: *publish,
		PublishFor: *publishFor, FFmpeg: *ffmpeg, CacheDir: *cacheDir, Timeout: *timeout,
	}
	if !fs.Changed("api") {
		cfg.API = defaultAPI(*rtmp)
	}
	if *srsConfig != "" {
		f, err := os.Open(*srsConfig)
		if err != nil {
			return fail(stderr, fmt.Errorf("--srs-config: %w", err))
		}
		blocks, err := diagnose.ParseSRSConfig(f)
		f.Close()
		if err != nil {
			return fail(stderr, fmt.Errorf("--srs-config %s: %w", *srsConfig, err))
		}
		for _, b := range blocks {
			if b.Enabled {
				cfg.Hooks = append(cfg.Hooks, b.OnPublish...)
				cfg.OnUnpublish = append(cfg.OnUnpublish, b.OnUnpublish...)
			} else {
				cfg.DisabledHooks = append(cfg.DisabledHooks, b.OnPublish...)
			}
		}
	}

	res, err := diagnose.Run(ctx, cfg)
	if err != nil {
		return fail(stderr, err)
	}
	if *jsonOut {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "rtmpload: diagnose interrupted: the checks shown may be incomplete")
		return exitAborted
	}
	if res.Problem {
		return exitProblem
	}
	return exitOK
}

// defaultAPI is SRS's API port on the RTMP server's host: where a default
// SRS install serves it.
func defaultAPI(rtmp string) string {
	host := "127.0.0.1"
	if u, err := url.Parse(rtmp); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "http://" + net.JoinHostPort(host, "1985")
}
