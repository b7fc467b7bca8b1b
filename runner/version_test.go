package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangingFFmpeg writes a stand-in for an ffmpeg that hangs on every call,
// ignoring SIGINT and SIGTERM, with a child of its own; it writes its pid
// (its process group) to the returned file.
func hangingFFmpeg(t *testing.T) (ff, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	ff, pidFile = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "pid")
	script := "#!/bin/sh\ntrap '' INT TERM\nsleep 300 &\necho $$ > " + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nwhile kill -0 $! 2>/dev/null; do wait $!; done\n"
	if err := os.WriteFile(ff, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return ff, pidFile
}

// groupGone waits (bounded) until the process group led by the pid in
// pidFile has no process left, and fails the test otherwise.
func groupGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake ffmpeg never ran: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("process group %d of the fake ffmpeg outlived the check", pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An ffmpeg that hangs on -version is killed with its whole group after the
// timeout, with an error that says so.
func TestFFmpegVersionHangs(t *testing.T) {
	ff, pidFile := hangingFFmpeg(t)
	_, err := ffmpegVersion(t.Context(), ff, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "ffmpeg at "+ff+" did not answer -version within 300ms") {
		t.Errorf("err = %v, want one saying it did not answer -version", err)
	}
	groupGone(t, pidFile)
}

// Ctrl-C during the -version check kills its group at once.
func TestFFmpegVersionInterrupted(t *testing.T) {
	ff, pidFile := hangingFFmpeg(t)
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
	groupGone(t, pidFile)
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
