// Package media encodes the test clip that publishers send, once per set of parameters, into a
// cache shared by runs and by concurrent processes.
package media

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/schema"
)

// recipe names the encoding command below. Change it whenever the command changes, so that
// clips encoded the old way are never mistaken for new ones.
const recipe = 1

// Defaults for zero fields of Params.
const (
	DefaultClip       = schema.DefaultClip
	DefaultBitrateBps = 500_000
	DefaultSeconds    = 10
)

const (
	audioBps = 64_000
	// minVideoBps keeps a requested bitrate from leaving the video next to nothing.
	minVideoBps = 32_000
)

// clipSizes has a size for each of schema.Clips.
var clipSizes = map[schema.Clip]string{
	schema.Clip720p: "1280x720",
	schema.Clip360p: "640x360",
}

// Params selects a clip. Publishers send it with -c copy, so these are what the server receives.
type Params struct {
	Clip       schema.Clip // testsrc-720p (1280x720) | testsrc-360p (640x360)
	BitrateBps int         // total, audio (64 kb/s) included
	Seconds    int         // the clip's length; publishers loop it
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

// EncodeTimeout bounds one encoding of a clip. A working ffmpeg encodes the
// default 10 s clip in seconds even on a loaded machine; one that takes longer
// is hung (waiting on a device, a lock, a terminal) and waiting helps nobody.
const EncodeTimeout = 3 * time.Minute

// Ensure returns the path of the clip p in cacheDir, encoding it first if it is not there.
// ffmpeg is needed only to encode; "" looks it up on PATH. Canceling ctx stops an encoding.
// A cached clip that is not a playable FLV (see CheckClip) is encoded again, with a line on
// log (nil: no log).
func Ensure(ctx context.Context, ffmpeg, cacheDir string, p Params, log *slog.Logger) (string, error) {
	return ensure(ctx, ffmpeg, cacheDir, p, log, EncodeTimeout)
}

func ensure(ctx context.Context, ffmpeg, cacheDir string, p Params, log *slog.Logger, timeout time.Duration) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(cacheDir, p.fileName())
	// Files appear here only by rename of an encoding that passed CheckClip; a file that does
	// not pass it now was put there another way (an older rtmpload cached whatever ffmpeg
	// left, a disk filled up): encode it again rather than publish garbage.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		bad := CheckClip(path)
		if bad == nil {
			return path, nil
		}
		log.Warn("cached clip is unusable: encoding it again", "clip", path, "why", bad.Error())
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

	ectx, cancel := context.WithTimeoutCause(ctx, timeout, errEncodeTimeout)
	defer cancel()
	res := publisher.Run(ectx, publisher.Spec{FFmpeg: ff, Args: encodeArgs(p, tmp.Name()), Grace: 2 * time.Second})
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("encoding clip %s: %w", p.fileName(), context.Cause(ctx))
	case ectx.Err() != nil:
		return "", option.New("FFmpeg", func(name string) string {
			return fmt.Sprintf("encoding clip %s with %s: no result after %v, so it was stopped: this ffmpeg hangs; check that `%s -version` returns, or pass %s with one that works",
				p.fileName(), ff, timeout, ff, name)
		})
	case res.Err != nil:
		return "", fmt.Errorf("encoding clip %s: %w", p.fileName(), res.Err)
	case res.Class != schema.ClassExited:
		why := cmp.Or(res.Message, strings.Join(res.StderrTail, "; "), string(res.Class))
		return "", fmt.Errorf("encoding clip %s with %s failed: %s (this ffmpeg needs libx264, aac and lavfi, as Debian's has)",
			p.fileName(), ff, why)
	}
	if err := CheckClip(tmp.Name()); err != nil {
		return "", option.New("FFmpeg", func(name string) string {
			return fmt.Sprintf("encoding clip %s: %s exited 0 but its output is unusable (%v): it is not an ffmpeg that can encode; pass %s with one that has libx264, aac and lavfi",
				p.fileName(), ff, err, name)
		})
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("clip cache: %w", err)
	}
	renamed = true
	return path, nil
}

var errEncodeTimeout = errors.New("clip encoding timed out")

// maxClipBytes bounds what CheckClip reads: the largest clip a scenario can
// ask for is far smaller (10 s at the highest bitrate a group may name).
const maxClipBytes = 1 << 30

// CheckClip tells whether path holds a clip publishers can send: an FLV file
// (signature "FLV", version 1) whose tags run whole to the end of the file,
// with at least one video keyframe and one audio tag. It needs no ffprobe, so
// it checks what a broken ffmpeg (or /bin/true) leaves as well as a cached
// file that was cut short.
func CheckClip(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.Size() == 0:
		return errors.New("the file is empty")
	case fi.Size() > maxClipBytes:
		return fmt.Errorf("the file is %d bytes, larger than any clip", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return checkFLV(b)
}

// checkFLV walks an FLV file's tags (FLV spec v10, E.2 and E.4).
func checkFLV(b []byte) error {
	if len(b) < 13 || string(b[:3]) != "FLV" || b[3] != 1 {
		return errors.New("not an FLV file (no FLV signature)")
	}
	off := int(binary.BigEndian.Uint32(b[5:9]))
	if off < 9 || off+4 > len(b) {
		return errors.New("FLV header is cut short")
	}
	off += 4 // PreviousTagSize0
	keyframes, audio := 0, 0
	for off < len(b) {
		if off+11 > len(b) {
			return fmt.Errorf("FLV tag at byte %d is cut short", off)
		}
		typ := b[off] & 0x1f
		size := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		data := off + 11
		if data+size+4 > len(b) {
			return fmt.Errorf("FLV tag at byte %d is cut short", off)
		}
		if prev := int(binary.BigEndian.Uint32(b[data+size:])); prev != 11+size {
			return fmt.Errorf("FLV tag at byte %d: previous-tag size %d, want %d", off, prev, 11+size)
		}
		switch {
		case typ == 9 && size > 0 && b[data]>>4 == 1:
			keyframes++
		case typ == 8 && size > 0:
			audio++
		}
		off = data + size + 4
	}
	switch {
	case keyframes == 0:
		return errors.New("FLV file without a video keyframe")
	case audio == 0:
		return errors.New("FLV file without audio")
	}
	return nil
}
