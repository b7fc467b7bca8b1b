package testkit

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// The fake clock runs timers in order, each at its own time (or late, when
// woken late), runs a timer set by a timer when it is due, and skips
// stopped ones.
func TestClock(t *testing.T) {
	c := NewClock()
	t0 := c.Now()
	var ran []time.Duration
	record := func() { ran = append(ran, c.Now().Sub(t0)) }
	c.AfterFunc(200*time.Millisecond, record)
	c.AfterFunc(100*time.Millisecond, func() {
		record()
		c.AfterFunc(50*time.Millisecond, record) // due at 150 ms
	})
	stop := c.AfterFunc(120*time.Millisecond, record)
	if !stop() || stop() {
		t.Error("stop should report true once, then false")
	}
	c.AfterFunc(time.Second, record)
	c.Advance(t0.Add(500 * time.Millisecond))
	if want := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(ran, want) {
		t.Errorf("ran at %v, want %v", ran, want)
	}
	if p := c.Pending(); len(p) != 1 || !p[0].Equal(t0.Add(time.Second)) {
		t.Errorf("pending %v, want the 1 s timer", p)
	}
	c.WakeLate(t0.Add(3 * time.Second))
	if len(ran) != 4 || ran[3] != 3*time.Second {
		t.Errorf("a late wake-up ran at %v, want the clock's new time (3 s)", ran)
	}
}
