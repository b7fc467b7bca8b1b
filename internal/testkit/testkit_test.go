package testkit

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

func TestStubFFmpegAnswersLikeDebians(t *testing.T) {
	ff := StubFFmpeg(t)
	for arg, want := range map[string]string{"-version": "ffmpeg version", "-encoders": "libx264", "-muxers": "flv"} {
		out, err := exec.Command(ff, "-hide_banner", arg).Output()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: %q, %v; want %q", arg, out, err, want)
		}
	}
	if err := exec.Command(ff, "-i", "x", "out.flv").Run(); err == nil {
		t.Error("the stub succeeded at encoding")
	}
}

func TestFakeFFmpegRunsBody(t *testing.T) {
	out, err := exec.Command(FakeFFmpeg(t, "echo \"got $1\"\nexit 3\n"), "a").Output()
	var ee *exec.ExitError
	if string(out) != "got a\n" || !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("out %q, err %v; want \"got a\" and exit 3", out, err)
	}
}

func TestSRSBinary(t *testing.T) {
	t.Setenv(SRSEnv, "")
	if p, why := SRSBinary(); p != "" || !strings.Contains(why, SRSEnv) {
		t.Errorf("unset: %q, %q; want no path and a reason naming %s", p, why, SRSEnv)
	}
	t.Setenv(SRSEnv, "/opt/srs")
	if p, why := SRSBinary(); p != "/opt/srs" || why != "" {
		t.Errorf("set: %q, %q", p, why)
	}
}

func TestEventsReadsWithSchemaRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.jsonl")
	// The second line is torn, as an interrupted run leaves it: schema.Read
	// drops it, and so does Events.
	text := `{"type":"end","time":"2026-01-01T00:00:00Z","end":{"reason":"done"}}` + "\n" + `{"type":"att`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := Events(t, p)
	if len(evs) != 1 || evs[0].Type != schema.TypeEnd {
		t.Errorf("events %+v, want the one end event", evs)
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll gave up or went on: %d tries", n)
	}
	start := time.Now()
	if Poll(20*time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("Poll gave up before its time")
	}
}
