package diagnose

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/tap"
)

// checkPublish publishes the cached clip with ffmpeg for PublishFor through a
// tap in front of the RTMP server, and classifies what the wire showed: ffmpeg's
// own message cannot tell the causes apart (docs/srs-behaviour.md, "What a
// refused publisher sees").
func checkPublish(ctx context.Context, cfg Config, rt rtmpTarget, ffPath, stream string) Check {
	c := Check{Name: "test publish " + stream}
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		d, err := media.DefaultCacheDir()
		if err != nil {
			c.Status, c.Detail = Skip, err.Error()
			return c
		}
		cacheDir = d
	}
	clip, err := media.Ensure(ctx, ffPath, cacheDir, cfg.Media, nil)
	if err != nil {
		c.Status, c.Detail = Skip, "no clip to publish: "+err.Error()
		return c
	}

	var mu sync.Mutex
	var conns []*tap.Conn
	tp, err := tap.Start(tap.Config{Target: rt.addr(), DialTimeout: cfg.Timeout, OnDone: func(tc *tap.Conn) {
		mu.Lock()
		conns = append(conns, tc)
		mu.Unlock()
	}})
	if err != nil {
		c.Status, c.Detail = Skip, err.Error()
		return c
	}
	pubCtx, cancel := context.WithTimeout(ctx, cfg.PublishFor)
	res := publisher.Run(pubCtx, publisher.Spec{
		FFmpeg: ffPath,
		Args:   publisher.Args(clip, rt.publishURL(tp.Addr(), stream)),
		Grace:  2 * time.Second,
	})
	cancel()
	tp.Close() // waits for OnDone of every connection
	c.Latency = res.Exited.Sub(res.Spawned)

	mu.Lock()
	defer mu.Unlock()
	var tc *tap.Conn
	if len(conns) > 0 {
		tc = conns[0]
	}
	return judgePublish(c, rt, res, tc, cfg.PublishFor)
}

// publishURL is the test publish's URL through addr (the tap): the --rtmp
// URL's userinfo and query (publish tokens) are passed on, so a server
// whose callback checks a token accepts the test publish.
func (t rtmpTarget) publishURL(addr, stream string) string {
	u := "rtmp://" + t.userinfo + addr + "/" + t.app + "/" + stream
	if t.query != "" {
		u += "?" + t.query
	}
	return u
}

// judgePublish turns what ffmpeg and the tap saw into the check. It is pure
// so that each branch can be tested without a server.
func judgePublish(c Check, rt rtmpTarget, res publisher.Result, tc *tap.Conn, dur time.Duration) Check {
	ff := ffmpegSaid(res)
	if res.Class == schema.ClassSpawnError {
		c.Status, c.Detail = Fail, fmt.Sprintf("ffmpeg could not start: %v", res.Err)
		c.cause = "ffmpeg could not be started for the test publish."
		return c
	}
	if tc == nil {
		c.Status, c.Detail = Fail, "ffmpeg never connected; "+ff
		c.cause = "The test publish failed before ffmpeg connected: " + ff + "."
		return c
	}
	phases := phaseList(tc)
	c.Detail = phases + "; " + ff
	status, gotStatus := tc.Mark(tap.OnStatus)
	closed, serverClosed := tc.Mark(tap.ServerClose)
	_, upstream := tc.At(tap.UpstreamConnect)
	_, sentPublish := tc.At(tap.Publish)
	switch {
	case !upstream && serverClosed:
		c.Status = Fail
		c.Fix = "start SRS, or check `listen` in its config and the port in --rtmp"
		c.cause = fmt.Sprintf("The test publish could not reach %s (%s): ffmpeg prints Connection refused when the RTMP port is closed.", rt.addr(), closed.Detail)
	case gotStatus && status.Detail == "NetStream.Publish.Start" && !serverClosed && (res.Class == schema.ClassStopped || res.Class == schema.ClassKilled):
		c.Status = OK
		c.Detail = fmt.Sprintf("published for %s, %d bytes sent; %s", roundDur(dur), tc.BytesUp, phases)
	case gotStatus && status.Detail == "NetStream.Publish.Start":
		c.Status = Fail
		c.Fix = "read the server's log around this time; SRS drops publishers whose media stops (publish.normal_timeout)"
		c.cause = "The test publish started and was then dropped (" + ff + ")."
	case gotStatus:
		c.Status = Fail
		c.Fix = "the server said why in its status code: check the stream name and app"
		c.cause = fmt.Sprintf("The server refused the test publish with %s.", status.Detail)
	case sentPublish && serverClosed:
		c.Status = Fail
		c.Fix = "see the callback checks above (--probe-hook shows what the callback answers), and SRS's log for the error code"
		c.cause = "The server closed the connection right after ffmpeg's publish command, without a status (ffmpeg: Input/output error): SRS rejected the publish, most likely because its on_publish callback refused it, answered in a format SRS does not take, or could not be reached; a stream name already being published ends the same way."
	case sentPublish:
		c.Status = Fail
		c.Fix = "the server is waiting for its on_publish callback: see the callback checks (--probe-hook)"
		c.cause = fmt.Sprintf("The server did not answer the publish command within %s: SRS is waiting for its on_publish callback (it gives up after 30 s).", roundDur(dur))
	default:
		c.Status = Fail
		c.cause = "The test publish failed before its publish command: " + ff + "."
	}
	return c
}

// ffmpegSaid is ffmpeg's end in a few words.
func ffmpegSaid(res publisher.Result) string {
	s := fmt.Sprintf("ffmpeg %s, exit %d", res.Class, res.ExitCode)
	if res.Message != "" {
		s += ": " + res.Message
	}
	return s
}

// phaseList shows the tap's marks relative to the TCP connect, e.g.
// "tcp_connect 0s, s0s1s2 1.2ms, ..., server_close 131ms (EOF)".
func phaseList(tc *tap.Conn) string {
	parts := make([]string, 0, len(tc.Marks))
	for _, m := range tc.Marks {
		p := fmt.Sprintf("%s %s", m.Phase, roundDur(m.At.Sub(tc.Start)))
		if m.Detail != "" && m.Phase != tap.Connect && m.Phase != tap.Publish {
			p += " (" + m.Detail + ")"
		}
		parts = append(parts, p)
	}
	return "wire: " + strings.Join(parts, ", ")
}
