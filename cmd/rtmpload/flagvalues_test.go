package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A bad --server, --hook or --hook-mode is a one-line usage error that names the flag and
// says what it wants, before anything starts (no ffmpeg, no scenario run).
func TestRunRejectsBadServerAndHook(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--server", "apache"}, `invalid argument "apache" for "--server" flag: unknown server: want embedded, serve, nginx-rtmp or srs=PATH`},
		{[]string{"--server", "srs"}, `invalid argument "srs" for "--server" flag: srs needs the path of your SRS binary: srs=PATH`},
		{[]string{"--server=srs="}, `invalid argument "srs=" for "--server" flag: srs needs the path`},
		{[]string{"--hook", "proxy"}, `invalid argument "proxy" for "--hook" flag: unknown hook plan: want serve, proxy=URL or external`},
		{[]string{"--hook", "proxy=ftp://x/cb"}, `invalid argument "proxy=ftp://x/cb" for "--hook" flag: proxy=URL: "ftp://x/cb" is not an http:// URL`},
		{[]string{"--hook=proxy=127.0.0.1:8080"}, `for "--hook" flag: proxy=URL: "127.0.0.1:8080" is not an http:// URL`},
		{[]string{"--target", "rtmp://127.0.0.1:1935", "--server", "nginx-rtmp"}, "--target and --server both name the server: use one"},
		{[]string{"--hook-mode", "maybe"}, `invalid argument "maybe" for "--hook-mode" flag: unknown hook mode "maybe" (want one of: allow, deny, conflict)`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		args := append([]string{"run", "smoke", "--ffmpeg", "/nonexistent"}, c.args...)
		code := run(context.Background(), args, nil, &out, &errb)
		msg := errb.String()
		if code != exitSetup || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", c.args, code, msg, exitSetup, c.want)
		}
	}
}
