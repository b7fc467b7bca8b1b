package player

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/media"
)

// start runs a child in a process group of its own, ended (the group) when
// the test ends.
func start(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startSRS runs SRS 7.0.18 with HTTP-FLV (http_server, http_remux) on
// free ports, and returns its RTMP and HTTP addresses and its directory.
func startSRS(t *testing.T, bin string) (rtmp, flv, dir string) {
	t.Helper()
	dir = t.TempDir()
	rtmp, flv = freeAddr(t), freeAddr(t)
	conf := fmt.Sprintf(`listen %s;
daemon off;
srs_log_tank file;
srs_log_file %s;
pid %s;
http_server { enabled on; listen %s; dir %s; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`, rtmp, filepath.Join(dir, "srs.log"), filepath.Join(dir, "srs.pid"), flv, dir)
	if err := os.WriteFile(filepath.Join(dir, "srs.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, dir, bin, "-c", "srs.conf")
	testkit.WaitFor(t, 10*time.Second, "SRS's ports", func() bool {
		for _, a := range []string{rtmp, flv} {
			c, err := net.Dial("tcp", a)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	return rtmp, flv, dir
}

// clip is the cached test clip, encoded once.
func clip(t *testing.T, ctx context.Context, ff string) string {
	t.Helper()
	c, err := media.Ensure(ctx, ff, filepath.Join(os.TempDir(), "rtmpload-test-clips"),
		media.Params{Clip: "testsrc-360p", BitrateBps: 300_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPlaySRS plays an ffmpeg publisher's stream from SRS 7.0.18 over RTMP
// and HTTP-FLV, and two names nobody publishes: what each protocol shows of
// "no such stream" (docs/srs-behaviour.md, "Play": SRS 7.0.18 accepts both
// and sends nothing).
func TestPlaySRS(t *testing.T) {
	bin := testkit.SRS(t)
	ff := testkit.FFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clipPath := clip(t, ctx, ff)
	rtmp, flv, dir := startSRS(t, bin)
	start(t, dir, ff, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clipPath,
		"-c", "copy", "-f", "flv", "rtmp://"+rtmp+"/live/cam1")
	testkit.WaitFor(t, 15*time.Second, "the stream", func() bool {
		r := Play(ctx, Options{URL: "rtmp://" + rtmp + "/live/cam1", Hold: 300 * time.Millisecond})
		return r.Timeline.FirstKeyframe > 0
	})

	plays := map[string]Options{
		"rtmp":          {URL: "rtmp://" + rtmp + "/live/cam1?v=1", Hold: 3 * time.Second},
		"http-flv":      {URL: "http://" + flv + "/live/cam1.flv?v=2", Hold: 3 * time.Second},
		"rtmp none":     {URL: "rtmp://" + rtmp + "/live/none", Silence: 1500 * time.Millisecond},
		"http-flv none": {URL: "http://" + flv + "/live/none.flv", SetupTimeout: 1500 * time.Millisecond},
	}
	res := map[string]Result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, o := range map[string]Options{
		"ffmpeg rtmp":     {URL: "rtmp://" + rtmp + "/live/cam1?v=3", Hold: 2 * time.Second},
		"ffmpeg http-flv": {URL: "http://" + flv + "/live/cam1.flv?v=4", Hold: 2 * time.Second},
		"ffmpeg none":     {URL: "rtmp://" + rtmp + "/live/none", Silence: 1500 * time.Millisecond},
	} {
		wg.Go(func() {
			r := PlayFFmpeg(ctx, ff, o)
			mu.Lock()
			res[name] = r
			mu.Unlock()
		})
	}
	for name, o := range plays {
		wg.Go(func() {
			r := Play(ctx, o)
			mu.Lock()
			res[name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, name := range []string{"rtmp", "http-flv"} {
		r := res[name]
		t.Logf("%s: %s; timeline %+v; %d video (%d key) %d audio frames, %.0f kbit/s, max lag %v",
			name, r.Ending, r.Timeline, r.VideoFrames, r.Keyframes, r.AudioFrames, r.BitrateBps()/1000, r.MaxLag)
		if r.Ending != EndHeld || r.Timeline.FirstKeyframe == 0 || r.VideoFrames < 60 || r.Stalls != 0 {
			t.Errorf("%s: %s (%s), %d frames, %d stalls; want held with 3 s of frames and no stall", name, r.Ending, r.Err, r.VideoFrames, r.Stalls)
		}
		// The clip is 300 kbit/s; the GOP cache's burst adds up to a GOP.
		if b := r.BitrateBps(); b < 150_000 || b > 1_000_000 {
			t.Errorf("%s: %.0f bit/s, want about 300,000", name, b)
		}
	}
	for _, name := range []string{"ffmpeg rtmp", "ffmpeg http-flv"} {
		r := res[name]
		t.Logf("%s: %s (%s); first frame %v, %d frames, max lag %v", name, r.Ending, r.Err, r.Timeline.FirstFrame, r.VideoFrames, r.MaxLag)
		if r.Ending != EndHeld || r.Timeline.FirstFrame == 0 || r.VideoFrames < 25 {
			t.Errorf("%s: %s (%s), %d frames; want held with 2 s of frames", name, r.Ending, r.Err, r.VideoFrames)
		}
	}
	if r := res["ffmpeg none"]; r.Ending != EndSilent || r.Timeline.FirstFrame != 0 {
		t.Errorf("ffmpeg of a name without publisher: %s (%s); want silent (its read timeout)", r.Ending, r.Err)
	}
	if r := res["rtmp none"]; r.Ending != EndSilent || r.Timeline.PlayStart == 0 || r.Timeline.FirstTag != 0 {
		t.Errorf("rtmp of a name without publisher: %s (%s), %+v; want Play.Start, then silence", r.Ending, r.Err, r.Timeline)
	}
	if r := res["http-flv none"]; r.Ending != EndSetupTimeout || r.HTTPStatus != 0 || r.Timeline.PlaySent == 0 {
		t.Errorf("http-flv of a name without publisher: %s (%s), HTTP %d; want no response head", r.Ending, r.Err, r.HTTPStatus)
	}
}
