package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

// An ffmpeg that hangs on -version is killed with its whole group after the
// timeout, with an error that says so.
func TestFFmpegVersionHangs(t *testing.T) {
	ff, pidFile := testkit.HangingFFmpeg(t)
	_, err := ffmpegVersion(t.Context(), ff, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "ffmpeg at "+ff+" did not answer -version within 300ms") {
		t.Errorf("err = %v, want one saying it did not answer -version", err)
	}
	testkit.GroupGone(t, pidFile)
}

// Ctrl-C during the -version check kills its group at once.
func TestFFmpegVersionInterrupted(t *testing.T) {
	ff, pidFile := testkit.HangingFFmpeg(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := ffmpegVersion(ctx, ff, time.Minute)
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake ffmpeg did not start within 10 s")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("an interrupted check returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check did not return within 10 s of the interrupt")
	}
	testkit.GroupGone(t, pidFile)
}

func TestFFmpegVersionFirstLine(t *testing.T) {
	ff := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(ff, []byte("#!/bin/sh\necho 'ffmpeg version 9.9 fake'\necho 'built with sh'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if v, err := ffmpegVersion(t.Context(), ff, 10*time.Second); v != "ffmpeg version 9.9 fake" || err != nil {
		t.Errorf("ffmpegVersion = %q, %v", v, err)
	}
}
