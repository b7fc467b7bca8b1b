package diagnose

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
	"github.com/rtmpload/rtmpload/publisher"
)

// ffmpegNeeds are what rtmpload uses: libx264 and aac encode the clip
// (media), the flv muxer carries RTMP.
var ffmpegNeeds = []struct{ list, name string }{
	{"-encoders", "libx264"},
	{"-encoders", "aac"},
	{"-muxers", "flv"},
}

// checkFFmpeg finds ffmpeg, reads its version and looks for what rtmpload
// needs. It returns the path ("" when ffmpeg is unusable).
func checkFFmpeg(ctx context.Context, cfg Config) (Check, string) {
	c := Check{Name: "ffmpeg"}
	path, err := publisher.FindFFmpeg(cfg.FFmpeg)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "install ffmpeg (apt-get install ffmpeg) or pass --ffmpeg PATH"
		c.cause = "ffmpeg is not there: rtmpload publishes with real ffmpeg processes. Install it or pass --ffmpeg."
		return c, ""
	}
	start := time.Now()
	out, err := ffmpegOutput(ctx, cfg, path, "-version")
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("%s -version failed: %v", path, err)
		c.Fix = "pass --ffmpeg with the path of a working ffmpeg binary"
		c.cause = fmt.Sprintf("%s does not run as ffmpeg: %v.", path, err)
		return c, ""
	}
	version, _, _ := strings.Cut(out, "\n")
	version, _, _ = strings.Cut(strings.TrimPrefix(version, "ffmpeg version "), " ")
	lists := map[string]string{}
	var missing []string
	for _, n := range ffmpegNeeds {
		if _, ok := lists[n.list]; !ok {
			lists[n.list], err = ffmpegOutput(ctx, cfg, path, n.list)
			if err != nil {
				c.Status, c.Detail = Fail, fmt.Sprintf("%s %s failed: %v", path, n.list, err)
				c.cause = fmt.Sprintf("%s does not run as ffmpeg: %v.", path, err)
				return c, ""
			}
		}
		// Lines look like " V....D libx264  libx264 H.264 ..." (encoders)
		// or "  E flv  FLV (Flash Video)" (muxers).
		if !regexp.MustCompile(`(?m)^ *\S+ +` + regexp.QuoteMeta(n.name) + ` `).MatchString(lists[n.list]) {
			missing = append(missing, n.name)
		}
	}
	c.Latency = time.Since(start)
	if len(missing) > 0 {
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s, version %s, lacks %s", path, version, strings.Join(missing, ", "))
		c.Fix = "install an ffmpeg built with libx264, aac and flv (Debian's and Ubuntu's ffmpeg packages have them)"
		c.cause = fmt.Sprintf("ffmpeg %s lacks %s: rtmpload cannot encode its clip or publish RTMP with it.", version, strings.Join(missing, ", "))
		return c, ""
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("%s, version %s, with libx264, aac, flv", path, version)
	return c, path
}

// ffmpegOutput runs `ffmpeg -hide_banner arg` in a process group of its
// own, killed with the group when ctx ends or after the step's timeout (a
// working ffmpeg answers within a second): a hanging ffmpeg (or a script
// standing in for one) leaves nothing running behind it.
func ffmpegOutput(ctx context.Context, cfg Config, path string, arg string) (string, error) {
	timeout := cfg.Timeout
	out, err := pgroup.Output(ctx, timeout, exec.Command(path, "-hide_banner", arg))
	if errors.Is(err, pgroup.ErrTimedOut) {
		return "", fmt.Errorf("no answer within %v, so it was killed", timeout)
	}
	return string(out), err
}
