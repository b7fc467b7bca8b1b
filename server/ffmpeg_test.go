package server

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/srs"
)

// runFFmpeg publishes 2 s of a lavfi test pattern (H.264, as the clips are)
// and returns ffmpeg's stderr and exit error.
func runFFmpeg(t *testing.T, target string) (string, error) {
	t.Helper()
	bin := testkit.FFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
		"-f", "flv", target)
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func TestFFmpegDeniedSeesInputOutputError(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":1}`))
	s := startServer(t, Config{OnPublish: []string{hs.URL}}, rec)

	stderr, err := runFFmpeg(t, "rtmp://"+s.RTMPAddr()+"/live/cam01?rtmpload=r1-7")
	if err == nil {
		t.Fatalf("ffmpeg succeeded against a denying hook; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "Input/output error") {
		t.Errorf("ffmpeg stderr lacks Input/output error:\n%s", stderr)
	}
	calls := rec.callsOf("on_publish")
	if len(calls) != 1 || calls[0].request.Stream != "cam01" || calls[0].request.Param != "?rtmpload=r1-7" ||
		calls[0].request.TcURL != "rtmp://"+s.RTMPAddr()+"/live" {
		t.Errorf("hook calls from ffmpeg = %+v", calls)
	}
	if rej := rec.eventsOf(EventReject); len(rej) != 1 || rej[0].Reason != ReasonHookDenied {
		t.Errorf("reject events = %+v", rej)
	}
}

func TestFFmpegAllowedPublishes(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":0,"msg":null}`))
	s := startServer(t, Config{OnPublish: []string{hs.URL}, FLVListen: "127.0.0.1:0"}, rec)

	var seen srs.Stream
	done := make(chan struct{})
	// Once the stream is up, ffmpeg plays it for 1 s over RTMP and over
	// HTTP-FLV and must decode what the relay rebuilt without an error.
	var plays [2]string
	go func() {
		defer close(done)
		for range 200 { // bounded: 200 x 20 ms
			if st := s.Streams(); len(st) == 1 && st[0].Video != nil && st[0].Audio != nil && st[0].Video.Width > 0 {
				seen = st[0]
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		var wg sync.WaitGroup
		for i, u := range []string{"rtmp://" + s.RTMPAddr() + "/live/cam01", "http://" + s.FLVAddr() + "/live/cam01.flv"} {
			wg.Go(func() { plays[i] = ffmpegPlay(t, u) })
		}
		wg.Wait()
	}()
	stderr, err := runFFmpeg(t, "rtmp://"+s.RTMPAddr()+"/live/cam01")
	<-done
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	for _, p := range plays {
		if p != "" {
			t.Error(p)
		}
	}
	if v, a := seen.Video, seen.Audio; v == nil || v.Codec != "H264" || v.Width != 320 || v.Height != 240 ||
		a == nil || a.Codec != "AAC" || a.SampleRate != 44100 || a.Profile != "LC" {
		t.Errorf("stream while publishing = %+v video=%+v audio=%+v", seen, seen.Video, seen.Audio)
	}
	testkit.WaitFor(t, 5*time.Second, "unpublish", func() bool { return len(rec.eventsOf(EventUnpublish)) == 1 })
	end := rec.eventsOf(EventUnpublish)[0]
	if end.Reason != EndClosed || end.VideoMsgs < 40 || end.AudioMsgs < 40 {
		t.Errorf("unpublish = %+v", end)
	}
}

// ffmpegPlay plays u for 1 s of media, decoding it, and says what went
// wrong ("" when ffmpeg decoded it without an error).
func ffmpegPlay(t *testing.T, u string) string {
	bin := testkit.FFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-hide_banner", "-loglevel", "error", "-xerror",
		"-i", u, "-t", "1", "-f", "null", "-")
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		return fmt.Sprintf("ffmpeg playing %s: %v\n%s", u, err, out)
	}
	return ""
}
