package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

// An ffmpeg that hangs on -version fails the check within the step's
// timeout, with a detail that says so, and neither it nor the child it
// started is left running: the check kills its process group.
func TestCheckFFmpegHangingIsKilledWithItsGroup(t *testing.T) {
	ff, pidFile := testkit.HangingFFmpeg(t)
	start := time.Now()
	c, path := checkFFmpeg(t.Context(), Config{FFmpeg: ff, Timeout: 300 * time.Millisecond})
	if c.Status != Fail || path != "" || !strings.Contains(c.Detail, "-version failed: no answer within 300ms, so it was killed") {
		t.Errorf("check %+v, path %q: want a failure saying -version did not answer", c, path)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the check took %v", took)
	}
	testkit.GroupGone(t, pidFile)
}
