// Package media encodes the test clip that publishers send, once per set of parameters, into a
// cache shared by runs and by concurrent processes.
package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rtmpload/rtmpload/runner/publisher"
)

// recipe names the encoding command below. Change it whenever the command changes, so that
// clips encoded the old way are never mistaken for new ones.
const recipe = 1

// Defaults for zero fields of Params.
const (
	DefaultClip       = "testsrc-720p"
	DefaultBitrateBps = 500_000
	DefaultSeconds    = 10
)

const (
	audioBps = 64_000
	// minVideoBps keeps a requested bitrate from leaving the video next to nothing.
	minVideoBps = 32_000
)

var clipSizes = map[string]string{
	"testsrc-720p": "1280x720",
	"testsrc-360p": "640x360",
}

// Params selects a clip. Publishers send it with -c copy, so these are what the server receives.
type Params struct {
	Clip       string // testsrc-720p (1280x720) | testsrc-360p (640x360)
	BitrateBps int    // total, audio (64 kb/s) included
	Seconds    int    // the clip's length; publishers loop it
}

func (p Params) withDefaults() Params {
	p.Clip = cmp.Or(p.Clip, DefaultClip)
	p.BitrateBps = cmp.Or(p.BitrateBps, DefaultBitrateBps)
	p.Seconds = cmp.Or(p.Seconds, DefaultSeconds)
	return p
}

func (p Params) validate() error {
	if _, ok := clipSizes[p.Clip]; !ok {
		return fmt.Errorf("unknown clip %q: use testsrc-720p or testsrc-360p", p.Clip)
	}
	if p.BitrateBps < audioBps+minVideoBps {
		return fmt.Errorf("bitrate %d b/s is too low: 64k of it is audio, use at least %d", p.BitrateBps, audioBps+minVideoBps)
	}
	if p.Seconds < 0 {
		return fmt.Errorf("clip length %d s is negative", p.Seconds)
	}
	return nil
}

// fileName keys the cache by every parameter and the recipe.
func (p Params) fileName() string {
	return fmt.Sprintf("%s_%dbps_%ds_r%d.flv", p.Clip, p.BitrateBps, p.Seconds, recipe)
}

// encodeArgs is the ffmpeg command line that encodes p into out. A keyframe every 2 s, never
// more often (no scene-cut keyframes), makes every GOP alike, so looping a clip whose length is
// a multiple of 2 s keeps the cadence; maxrate and bufsize equal to the bitrate keep it near
// constant, like a camera's encoder.
func encodeArgs(p Params, out string) []string {
	video := strconv.Itoa(p.BitrateBps - audioBps)
	return []string{
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=" + clipSizes[p.Clip] + ":rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(p.Seconds), "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-r", "25",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-b:v", video, "-maxrate", video, "-bufsize", video,
		"-c:a", "aac", "-b:a", strconv.Itoa(audioBps), "-ar", "44100",
		"-f", "flv", "-y", out,
	}
}

// DefaultCacheDir is where clips are kept between runs.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for clips (%v): set XDG_CACHE_HOME or HOME, or pass a directory", err)
	}
	return filepath.Join(dir, "rtmpload", "clips"), nil
}

// Ensure returns the path of the clip p in cacheDir, encoding it first if it is not there.
// ffmpeg is needed only to encode; "" looks it up on PATH. Canceling ctx stops an encoding.
func Ensure(ctx context.Context, ffmpeg, cacheDir string, p Params) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", err
	}
	path := filepath.Join(cacheDir, p.fileName())
	// Files appear here only by rename of a complete encoding, so any file found is whole.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("clip cache: %w", err)
	}

	ff, err := publisher.FindFFmpeg(ffmpeg)
	if err != nil {
		return "", fmt.Errorf("encoding clip %s: %w", p.fileName(), err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("clip cache: %w: choose another cache directory", err)
	}
	// The temporary file is in the cache directory itself, so the rename is atomic: processes
	// that race here each encode, and each rename leaves a complete file.
	tmp, err := os.CreateTemp(cacheDir, p.fileName()+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("clip cache: %w: choose another cache directory", err)
	}
	tmp.Close()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()

	res := publisher.Run(ctx, publisher.Spec{FFmpeg: ff, Args: encodeArgs(p, tmp.Name())})
	switch {
	case res.Err != nil:
		return "", fmt.Errorf("encoding clip %s: %w", p.fileName(), res.Err)
	case ctx.Err() != nil:
		return "", fmt.Errorf("encoding clip %s: %w", p.fileName(), context.Cause(ctx))
	case res.Class != publisher.ClassExited:
		why := cmp.Or(res.Message, strings.Join(res.StderrTail, "; "), res.Class)
		return "", fmt.Errorf("encoding clip %s with %s failed: %s (this ffmpeg needs libx264, aac and lavfi, as Debian's has)",
			p.fileName(), ff, why)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("clip cache: %w", err)
	}
	renamed = true
	return path, nil
}
