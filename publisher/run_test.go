package publisher

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
	"github.com/rtmpload/rtmpload/schema"
)

// runFake runs the test binary as a fake ffmpeg in the given mode.
func runFake(t *testing.T, ctx context.Context, mode string, spec Spec) Result {
	t.Helper()
	t.Setenv(fakeEnv, mode)
	spec.FFmpeg = os.Args[0]
	res := Run(ctx, spec)
	if res.Err != nil {
		t.Fatalf("Run: %v", res.Err)
	}
	return res
}

// requireGroupGone fails unless the process group led by pid disappears soon. An orphan killed by
// Run is reaped by PID 1, which may take a moment; until then kill(-pid, 0) still finds it.
func requireGroupGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still exists after Run returned (kill: %v)", pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunFailsWithIOError(t *testing.T) {
	res := runFake(t, t.Context(), "ioerror", Spec{})
	if res.Class != schema.ClassFailed || res.ExitCode != 1 || res.Stopped || res.Killed || res.Signal != "" {
		t.Errorf("got class %q exit %d stopped %v killed %v signal %q, want failed, 1, false, false, \"\"",
			res.Class, res.ExitCode, res.Stopped, res.Killed, res.Signal)
	}
	if want := "rtmp://x/live/a: Input/output error"; res.Message != want {
		t.Errorf("Message = %q, want %q", res.Message, want)
	}
	if len(res.StderrTail) != DefaultStderrLines || res.StderrTail[0] != "filler 21" ||
		res.StderrTail[len(res.StderrTail)-1] != res.Message {
		t.Errorf("StderrTail = %q, want the last %d lines", res.StderrTail, DefaultStderrLines)
	}
	if !res.FirstProgress.IsZero() {
		t.Errorf("FirstProgress = %v without any progress output", res.FirstProgress)
	}
	if res.PID <= 0 || res.Spawned.IsZero() || res.Exited.Before(res.Spawned) {
		t.Errorf("PID %d Spawned %v Exited %v", res.PID, res.Spawned, res.Exited)
	}
	requireGroupGone(t, res.PID)
}

// TestRunCountsItsOwnUsage: a process's CPU and max RSS come from its own
// wait status, so that a run's "its ffmpegs: cpu" line adds up what they
// cost (it said 0.0 s when the split of Run dropped them).
func TestRunCountsItsOwnUsage(t *testing.T) {
	res := runFake(t, t.Context(), "burn", Spec{})
	if res.Class != schema.ClassExited {
		t.Fatalf("class %q, want exited", res.Class)
	}
	if res.CPU < 100*time.Millisecond || res.MaxRSS <= 0 {
		t.Errorf("CPU %v, MaxRSS %d: want the 150 ms the process burned and its RSS", res.CPU, res.MaxRSS)
	}
}

func TestRunStoppedPublisher(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var blocks atomic.Int32
	res := runFake(t, ctx, "publish", Spec{OnProgress: func(p Progress) {
		if blocks.Add(1) == 3 {
			cancel()
		}
	}})
	if res.Class != schema.ClassStopped || res.ExitCode != 255 || !res.Stopped || res.Killed {
		t.Errorf("got class %q exit %d stopped %v killed %v, want stopped, 255, true, false",
			res.Class, res.ExitCode, res.Stopped, res.Killed)
	}
	if res.FirstProgress.IsZero() || res.FirstProgress.Before(res.Spawned) || res.FirstProgress.After(res.Exited) {
		t.Errorf("FirstProgress %v not between Spawned %v and Exited %v", res.FirstProgress, res.Spawned, res.Exited)
	}
	if n := blocks.Load(); n < 4 {
		t.Errorf("OnProgress called %d times, want 3 blocks and the final one", n)
	}
	last := res.LastProgress
	if !last.End || last.Frame < 3 || last.TotalSize != last.Frame*2400 || last.OutTimeUS != last.Frame*40000 || last.Speed != 1.01 {
		t.Errorf("LastProgress = %+v, want the end block", last)
	}
	if res.Message != "" {
		t.Errorf("Message = %q for a clean stop", res.Message)
	}
	requireGroupGone(t, res.PID)
}

// cancelOnProgress cancels on the first progress block, which the hanging fakes print once they
// ignore SIGINT.
func cancelOnProgress(t *testing.T) (context.Context, Spec, *time.Time) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	var canceled time.Time
	return ctx, Spec{Grace: 300 * time.Millisecond, OnProgress: func(Progress) {
		if canceled.IsZero() {
			canceled = time.Now()
			cancel()
		}
	}}, &canceled
}

func TestRunKilledAfterGrace(t *testing.T) {
	ctx, spec, canceled := cancelOnProgress(t)
	res := runFake(t, ctx, "hang", spec)
	if res.Class != schema.ClassKilled || !res.Killed || !res.Stopped || res.ExitCode != -1 || res.Signal != "killed" {
		t.Errorf("got class %q killed %v stopped %v exit %d signal %q, want killed, true, true, -1, \"killed\"",
			res.Class, res.Killed, res.Stopped, res.ExitCode, res.Signal)
	}
	if took := res.Exited.Sub(*canceled); took < spec.Grace || took > spec.Grace+2*time.Second {
		t.Errorf("exited %v after cancel, want just after the %v grace", took, spec.Grace)
	}
	requireGroupGone(t, res.PID)
}

func TestRunKillsGrandchildren(t *testing.T) {
	ctx, spec, _ := cancelOnProgress(t)
	start := time.Now()
	res := runFake(t, ctx, "child", spec)
	if res.Class != schema.ClassKilled {
		t.Errorf("Class = %q, want killed", res.Class)
	}
	// The grandchild holds stderr open; Run must not wait for it to end on its own.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v", took)
	}
	requireGroupGone(t, res.PID)
}

// A second Ctrl-C (the run's pgroup.Killer fires) kills a stopped ffmpeg
// that ignores SIGINT, and its grandchild, at once, not after the grace.
func TestRunKilledAtOnceByTheKiller(t *testing.T) {
	k := pgroup.NewKiller()
	ctx, cancel := context.WithCancel(pgroup.WithKiller(t.Context(), k))
	defer cancel()
	var canceled time.Time
	spec := Spec{Grace: time.Minute, OnProgress: func(Progress) {
		if canceled.IsZero() {
			canceled = time.Now()
			cancel()
			k.KillAll()
		}
	}}
	res := runFake(t, ctx, "child", spec)
	if res.Class != schema.ClassKilled || !res.Stopped {
		t.Errorf("class %q stopped %v, want killed, true", res.Class, res.Stopped)
	}
	if took := res.Exited.Sub(canceled); took > 10*time.Second {
		t.Errorf("exited %v after the kill, want at once (the grace is %v)", took, spec.Grace)
	}
	requireGroupGone(t, res.PID)
}

func TestRunOrphanedGrandchild(t *testing.T) {
	start := time.Now()
	res := runFake(t, t.Context(), "orphan", Spec{})
	if res.Class != schema.ClassExited || res.ExitCode != 0 || res.Stopped {
		t.Errorf("got class %q exit %d stopped %v, want exited, 0, false", res.Class, res.ExitCode, res.Stopped)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v", took)
	}
	requireGroupGone(t, res.PID)
}

func TestRunFloodKeepsBoundedTail(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := runFake(t, t.Context(), "flood", Spec{StderrLines: 200})
	runtime.ReadMemStats(&after)
	// 50 MB went through the pipe; reading it must not have cost anything like that.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d bytes while reading 50 MB of stderr", alloc)
	}
	if res.Class != schema.ClassFailed || res.Message != "rtmp://x/live/a: Input/output error" {
		t.Errorf("got class %q message %q", res.Class, res.Message)
	}
	if len(res.StderrTail) != 101 {
		t.Fatalf("tail has %d lines, want 101", len(res.StderrTail))
	}
	if first := res.StderrTail[0]; first != strings.Repeat("x", maxLine) {
		t.Errorf("first line has %d bytes, want it cut at %d", len(first), maxLine)
	}
	if res.StderrTail[1] != "flood line 1" {
		t.Errorf("second line %q, want \"flood line 1\"", res.StderrTail[1])
	}
}

func TestRunSpawnError(t *testing.T) {
	res := Run(t.Context(), Spec{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg")})
	if res.Class != schema.ClassSpawnError || res.Err == nil || res.PID != 0 {
		t.Errorf("got class %q err %v pid %d, want spawn_error with an error", res.Class, res.Err, res.PID)
	}
	// Its exit is dated: a results line must not say 0001-01-01.
	if res.Exited.IsZero() {
		t.Error("a spawn error has no exit time")
	}
}

func TestFindFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := FindFFmpeg("")
	if want := "ffmpeg not found on PATH: install it (apt-get install ffmpeg) or pass its path as FFmpeg"; err == nil || err.Error() != want {
		t.Errorf("FindFFmpeg(\"\") error = %v, want %q", err, want)
	}
	notExec := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindFFmpeg(notExec); err == nil || !strings.Contains(err.Error(), "pass FFmpeg with") {
		t.Errorf("FindFFmpeg(non-executable) error = %v, want one naming the option FFmpeg", err)
	}
	if err := os.Chmod(notExec, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindFFmpeg(notExec); err != nil || got != notExec {
		t.Errorf("FindFFmpeg(executable) = %q, %v", got, err)
	}
}

func TestArgs(t *testing.T) {
	got := Args("clip.flv", "rtmp://127.0.0.1:1935/live/cam01?rtmpload=r1-3")
	want := []string{"-re", "-stream_loop", "-1", "-i", "clip.flv", "-c", "copy", "-f", "flv",
		"rtmp://127.0.0.1:1935/live/cam01?rtmpload=r1-3",
		"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-stats_period", "1"}
	if !slices.Equal(got, want) {
		t.Errorf("Args = %q\nwant %q", got, want)
	}
}

// realFFmpeg returns the installed ffmpeg and a short clip it encoded, or skips.
func realFFmpeg(t *testing.T) (ff, clip string) {
	if testing.Short() {
		t.Skip("real ffmpeg: skipped with -short")
	}
	ff, err := FindFFmpeg("")
	if err != nil {
		t.Skip(err)
	}
	clip = filepath.Join(t.TempDir(), "clip.flv")
	enc := exec.CommandContext(t.Context(), ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=160x120:rate=25", "-t", "0.5", "-c:v", "libx264", "-f", "flv", clip)
	if out, err := enc.CombinedOutput(); err != nil {
		t.Fatalf("encoding a clip: %v\n%s", err, out)
	}
	return ff, clip
}

// TestRealFFmpegConnectionRefused publishes with the real ffmpeg to a closed loopback port.
func TestRealFFmpegConnectionRefused(t *testing.T) {
	ff, clip := realFFmpeg(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res := Run(ctx, Spec{FFmpeg: ff, Args: Args(clip, "rtmp://"+addr+"/live/cam01?rtmpload=t-1")})
	if res.Class != schema.ClassFailed || res.ExitCode != 1 || !strings.Contains(res.Message, "Connection refused") {
		t.Errorf("got class %q exit %d message %q err %v, want failed, 1, Connection refused\ntail: %q",
			res.Class, res.ExitCode, res.Message, res.Err, res.StderrTail)
	}
	requireGroupGone(t, res.PID)
}

// TestRealFFmpegStopped runs the publisher command line into a file (the same muxer as RTMP)
// and stops it after its first progress: real progress blocks, then status 255 on SIGINT.
func TestRealFFmpegStopped(t *testing.T) {
	ff, clip := realFFmpeg(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res := Run(ctx, Spec{FFmpeg: ff, Args: Args(clip, filepath.Join(t.TempDir(), "out.flv")),
		OnProgress: func(p Progress) {
			if p.Frame > 0 {
				cancel()
			}
		}})
	if res.Class != schema.ClassStopped || res.ExitCode != 255 || res.Err != nil {
		t.Errorf("got class %q exit %d err %v, want stopped, 255\ntail: %q", res.Class, res.ExitCode, res.Err, res.StderrTail)
	}
	if last := res.LastProgress; res.FirstProgress.IsZero() || last.Frame == 0 || last.TotalSize == 0 || last.OutTimeUS == 0 {
		t.Errorf("FirstProgress %v LastProgress %+v, want real progress", res.FirstProgress, last)
	}
	requireGroupGone(t, res.PID)
}
