package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rtmpload/rtmpload/server"
)

// serveCmd runs the embedded SRS-like server alone, for runs that publish
// with --target (several shards sharing one server, or a hand-made test).
// The server logs every publish (accepted, rejected and why, ended) itself.
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload serve [flags]\n\nThe embedded SRS-like server alone: RTMP publish and play, HTTP-FLV play, an SRS-shaped HTTP API and SRS's hooks. Ctrl-C stops it.\n\nFlags:\n%s", fs.FlagUsages())
	}
	listen := fs.String("listen", "127.0.0.1:1935", "RTMP listen address")
	apiListen := fs.String("api-listen", "127.0.0.1:1985", "HTTP API listen address")
	onPublish := fs.StringArray("on-publish", nil, "on_publish hook URL (repeatable: called in order, all must allow; none: allow every publish)")
	onUnpublish := fs.StringArray("on-unpublish", nil, "on_unpublish hook URL (repeatable)")
	onPlay := fs.StringArray("on-play", nil, "on_play hook URL (repeatable: called in order, all must allow; none: allow every play)")
	onStop := fs.StringArray("on-stop", nil, "on_stop hook URL (repeatable; answers are ignored, as SRS does)")
	flvListen := fs.String("http-flv-listen", "", "HTTP-FLV listen address for players (GET /app/stream.flv); empty: none, port 0: a free port")
	race := fs.Bool("duplicate-race", false, "reproduce SRS 7.0.18's duplicate-accept race (a source cleanup during the owner's hook lets a later publisher in too)")
	takeover := fs.Bool("takeover", false, "let the newest publisher of a name take it over, closing the old one after the new one's first 2 s of media (as MediaMTX does)")
	hookTimeout := fs.Duration("hook-timeout", server.DefaultHookTimeout, "how long a hook call may take, connect and answer (SRS: 30s)")
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
	if *hookTimeout <= 0 {
		// The server's zero value means its default (30 s): 0 is not "none".
		return fail(stderr, fmt.Errorf("--hook-timeout %v: want how long a hook call may take, such as 30s (SRS's)", *hookTimeout))
	}
	srv, err := server.Start(ctx, server.Config{
		RTMPListen: *listen, APIListen: *apiListen,
		OnPublish: *onPublish, OnUnpublish: *onUnpublish, OnPlay: *onPlay, OnStop: *onStop, FLVListen: *flvListen,
		HookTimeout: *hookTimeout, DuplicateRace: *race, Takeover: *takeover,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return fail(stderr, err)
	}
	// Stdout carries only the addresses, so a script (or a test) that
	// started us on port 0 can read where we are.
	fmt.Fprintf(stdout, "rtmp rtmp://%s/live\napi http://%s\n", srv.RTMPAddr(), srv.APIAddr())
	if a := srv.FLVAddr(); a != "" {
		fmt.Fprintf(stdout, "http-flv http://%s/live\n", a)
	}
	hooks := "no hooks: every publish is allowed"
	if len(*onPublish) > 0 {
		hooks = fmt.Sprintf("%d on_publish hook(s)", len(*onPublish))
	}
	fmt.Fprintf(stderr, "rtmpload serve: rtmp://%s/live, api http://%s, %s; Ctrl-C stops\n", srv.RTMPAddr(), srv.APIAddr(), hooks)

	<-ctx.Done()
	start := time.Now()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "rtmpload: close: %v\n", err)
	}
	fmt.Fprintf(stderr, "rtmpload serve: closed in %s\n", time.Since(start).Round(time.Millisecond))
	return exitOK
}
