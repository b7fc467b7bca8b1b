package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
)

// What a run records of the tools it ran with: rtmpload's version, its
// run id, and ffmpeg's version line.

// newRunID is sortable by time and unique enough across machines.
func newRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// versionTimeout bounds `ffmpeg -version`: a working ffmpeg answers in
// well under a second, even on a loaded machine.
const versionTimeout = 5 * time.Second

// ffmpegVersion returns the first line of `ffmpeg -version`, for the run
// header. It is a short-lived child in a process group of its own, killed
// with the group when it hangs past timeout (an error that says so) or when
// ctx ends. A -version that fails otherwise gives "unknown (why)".
func ffmpegVersion(ctx context.Context, ffmpeg string, timeout time.Duration) (string, error) {
	out, err := pgroup.Output(ctx, timeout, exec.Command(ffmpeg, "-hide_banner", "-version"))
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("checking %s -version: %w", ffmpeg, context.Cause(ctx))
	case errors.Is(err, pgroup.ErrTimedOut):
		return "", fmt.Errorf("ffmpeg at %s did not answer -version within %v, so it was killed: pass --ffmpeg with a working ffmpeg", ffmpeg, timeout)
	case err != nil:
		return "unknown (" + err.Error() + ")", nil
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// Version is rtmpload's version, set by cmd at build time.
var Version = "dev"
