package diagnose

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An ffmpeg that hangs on -version fails the check within the step's
// timeout, with a detail that says so, and neither it nor the child it
// started is left running: the check kills its process group.
func TestCheckFFmpegHangingIsKilledWithItsGroup(t *testing.T) {
	dir := t.TempDir()
	ff, pidFile := filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "pid")
	script := "#!/bin/sh\ntrap '' INT TERM\nsleep 300 &\necho $$ > " + pidFile + "\nwhile kill -0 $! 2>/dev/null; do wait $!; done\n"
	if err := os.WriteFile(ff, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, path := checkFFmpeg(t.Context(), Config{FFmpeg: ff, Timeout: 300 * time.Millisecond})
	if c.Status != Fail || path != "" || !strings.Contains(c.Detail, "-version failed: no answer within 300ms, so it was killed") {
		t.Errorf("check %+v, path %q: want a failure saying -version did not answer", c, path)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the check took %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake ffmpeg never ran: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(-pgid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("process group %d of the fake ffmpeg outlived the check", pgid)
		}
	}
}
