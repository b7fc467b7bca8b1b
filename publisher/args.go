// Package publisher builds ffmpeg publisher command lines and supervises ffmpeg processes:
// process group, SIGINT then SIGKILL, progress and a bounded stderr tail, and a classified exit.
package publisher

import (
	"fmt"
	"os/exec"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/rtmpload/rtmpload/internal/option"
)

// FindFFmpeg resolves the ffmpeg binary: path as given (a bare name is looked up on PATH), or
// "ffmpeg" on PATH when path is empty. Its errors name path as the option "FFmpeg"
// (internal/option), so that a command can name its flag instead.
func FindFFmpeg(path string) (string, error) {
	if path == "" {
		p, err := exec.LookPath("ffmpeg")
		if err != nil {
			return "", option.New("FFmpeg", func(name string) string {
				return "ffmpeg not found on PATH: install it (apt-get install ffmpeg) or pass its path as " + name
			})
		}
		return p, nil
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", option.New("FFmpeg", func(name string) string {
			return fmt.Sprintf("ffmpeg %q is not an executable file (%v): pass %s with the path of an ffmpeg binary", path, err, name)
		})
	}
	return p, nil
}

// ProgressPeriod is how often ffmpeg writes a -progress block (its first comes at once). One a
// second is fine enough for runner/health's judgements (5 s stall, 2 s recovery), and a
// hundred publishers at 0.5 s cost rtmpload a pipe wake-up every 5 ms.
const ProgressPeriod = "1"

// Args is the command line (without the program name) of one publisher: the clip
// is read at its native rate, looped forever and copied, not re-encoded
// (docs/srs-behaviour.md, "ffmpeg as a publisher": encoding live costs far
// more), and progress goes to stdout as key=value blocks.
//
// ffmpeg-go puts global arguments after the output; ffmpeg parses global options anywhere on
// the command line, so that order is valid (and gives no "Trailing option(s)" warning).
func Args(clip, url string) []string {
	return ffmpeg.Input(clip, ffmpeg.KwArgs{"re": "", "stream_loop": "-1"}).
		Output(url, ffmpeg.KwArgs{"c": "copy", "f": "flv"}).
		GlobalArgs("-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-stats_period", ProgressPeriod).
		GetArgs()
}
