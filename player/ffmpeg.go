package player

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// FFmpegArgs is the witness player's command line after the binary:
// `ffmpeg -i URL -f null -`, decoding as a real player does, with its
// progress on stdout and a read timeout of silence.
func FFmpegArgs(rawURL string, silence time.Duration) []string {
	return []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-stats_period", "0.2",
		"-rw_timeout", strconv.FormatInt(silence.Microseconds(), 10), "-i", rawURL, "-f", "null", "-"}
}

// PlayFFmpeg plays o.URL with ffmpeg (a witness: a real player's view of
// what Play measures), until o.Hold after its first frame or ctx ends.
// What ffmpeg shows is less than Play's: no setup steps, frames and time
// from its -progress blocks (every 0.2 s), the ending from its exit and
// stderr. ffmpeg runs in its own process group, ended with it.
func PlayFFmpeg(ctx context.Context, ffmpeg string, o Options) Result {
	o = o.withDefaults()
	res := Result{Start: time.Now(), Protocol: ProtoRTMP}
	if u, err := url.Parse(o.URL); err == nil && u.Scheme == "http" {
		res.Protocol = ProtoHTTPFLV
	}
	cmd := exec.Command(ffmpeg, FFmpegArgs(o.URL, o.Silence)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		res.Ending, res.Err = EndError, err.Error()
		return res
	}
	if err := cmd.Start(); err != nil {
		res.Ending, res.Err = EndError, "ffmpeg: "+err.Error()
		return res
	}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stop := context.AfterFunc(ctx, kill)
	defer stop()
	var holdTimer *time.Timer
	var held atomic.Bool
	var refWall time.Time
	var refMedia, lastMedia time.Duration
	sc := bufio.NewScanner(out)
	frames := 0
	for sc.Scan() {
		k, val, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "frame":
			frames, _ = strconv.Atoi(val)
		case "out_time_us":
			us, err := strconv.ParseInt(val, 10, 64)
			if err != nil || frames == 0 {
				continue
			}
			now := time.Now()
			media := time.Duration(us) * time.Microsecond
			if res.Timeline.FirstFrame == 0 {
				res.Timeline.FirstFrame = now.Sub(res.Start)
				refWall, refMedia = now, media
				if o.Hold > 0 {
					holdTimer = time.AfterFunc(o.Hold, func() { held.Store(true); kill() })
				}
			}
			lastMedia = media
			lag := now.Sub(refWall) - (media - refMedia)
			switch {
			case lag <= 0:
				refWall, refMedia = now, media
			case lag > o.StallAfter:
				res.Stalls++
				res.StallTime += lag
				if len(res.StallAt) < MaxStallTimes {
					res.StallAt = append(res.StallAt, now.Sub(res.Start))
				}
				refWall, refMedia = now, media
			}
			res.MaxLag = max(res.MaxLag, lag)
		}
	}
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if holdTimer != nil {
		holdTimer.Stop()
	}
	res.End = time.Since(res.Start)
	res.VideoFrames = frames
	if res.Timeline.FirstFrame > 0 {
		res.MediaSpan = lastMedia - refMedia
	}
	if held.Load() || ctx.Err() != nil {
		res.Ending = EndHeld
		return res
	}
	res.Ending, res.Err = ffmpegEnding(werr, stderr.String(), res.Timeline.FirstFrame > 0)
	if res.Ending == EndClosedBeforeMedia && res.End >= o.Silence {
		// ffmpeg reports its read timeout (-rw_timeout) on RTMP as an
		// Input/output error: a play that lasted the timeout without a
		// frame timed out.
		res.Ending = EndSilent
	}
	if res.Ending == EndRefused {
		if i := strings.Index(res.Err, "Server returned "); i >= 0 {
			fmt.Sscanf(res.Err[i+len("Server returned "):], "%d", &res.HTTPStatus)
		}
	}
	return res
}

// ffmpegEnding reads how ffmpeg's play ended from its exit and stderr.
func ffmpegEnding(werr error, stderr string, played bool) (Ending, string) {
	last := strings.TrimSpace(stderr)
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
		return EndClosed, "ffmpeg ended: the stream ended"
	case !errors.As(werr, &ee):
		return EndError, werr.Error()
	case strings.Contains(stderr, "Connection refused"):
		return EndUnreachable, last
	case strings.Contains(stderr, "Server returned"):
		return EndRefused, last
	case strings.Contains(stderr, "timed out"):
		return EndSilent, last
	case strings.Contains(stderr, "Connection reset"):
		return EndReset, last
	case strings.Contains(stderr, "Input/output error") || strings.Contains(stderr, "End of file"):
		if played {
			return EndClosed, last
		}
		return EndClosedBeforeMedia, last
	}
	return EndError, last
}
