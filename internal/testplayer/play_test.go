package testplayer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/synth"
	"github.com/rtmpload/rtmpload/server"
)

func TestClockCountsStalls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	st := Stats{}
	c := &clock{start: t0, threshold: time.Second, st: &st}
	// A GOP burst of 1 s of media at once, then media in real time
	// delivered in 350 ms batches: no stall.
	for i := range 25 {
		c.frame(t0.Add(100*time.Millisecond), int64(i*40), true, i == 0)
	}
	for i := 25; i < 100; i++ {
		batch := time.Duration(i*40/350*350) * time.Millisecond
		c.frame(t0.Add(100*time.Millisecond+batch), int64(i*40), true, false)
	}
	if st.Stalls != 0 || st.FirstFrame != 100*time.Millisecond || st.FirstKeyframe != 100*time.Millisecond {
		t.Fatalf("smooth play: %+v", st)
	}
	// Media stops for 3 s of wall time, then resumes: one stall, 3.96 s
	// behind the best point (the burst had put the clock 0.96 s ahead).
	last := t0.Add(100*time.Millisecond + 4*time.Second)
	c.frame(last.Add(3*time.Second), 100*40, true, false)
	if st.Stalls != 1 || st.StallTime != 3960*time.Millisecond {
		t.Fatalf("after a 3 s gap: %d stalls, %v", st.Stalls, st.StallTime)
	}
	// Starved at the end: one more.
	c.end(last.Add(6 * time.Second))
	if st.Stalls != 2 || st.VideoFrames != 101 || st.MediaTime != 4*time.Second {
		t.Fatalf("at the end: %+v", st)
	}
}

// Both protocols against the embedded server with a live synthetic
// publisher: timings in order, frames, a keyframe, bytes.
func TestPlayMeasures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(`"stream":"denied"`)) {
			io.WriteString(w, `{"code":1}`)
			return
		}
		io.WriteString(w, `{"code":0}`)
	}))
	defer hook.Close()
	s, err := server.Start(ctx, server.Config{FLVListen: "127.0.0.1:0", OnPlay: []string{hook.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub, err := synth.Dial(ctx, "rtmp://"+s.RTMPAddr()+"/live/cam1")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Headers(); err != nil {
		t.Fatal(err)
	}
	stop := pub.Live(ctx, 25, 25*30)
	defer stop()

	for _, u := range []string{"rtmp://" + s.RTMPAddr() + "/live/cam1", "http://" + s.FLVAddr() + "/live/cam1.flv"} {
		var frames, keys int
		st := Play(ctx, u, Options{Watch: time.Second, OnFrame: func(f Frame) {
			frames++
			if f.Key {
				keys++
			}
		}})
		if frames != st.VideoFrames+st.AudioFrames || keys == 0 {
			t.Errorf("%s: OnFrame saw %d frames, %d keyframes; stats %+v", u, frames, keys, st)
		}
		if st.End != nil {
			t.Errorf("%s: ended with %v", u, st.End)
		}
		if st.PlayStart <= 0 || st.FirstFrame < st.PlayStart || st.FirstKeyframe < st.FirstFrame || st.FirstKeyframe > st.Played {
			t.Errorf("%s: timings out of order: %+v", u, st)
		}
		// At least the first merged write (more than 8 messages over 350 ms).
		if st.VideoFrames < 4 || st.AudioFrames < 4 || st.Bytes == 0 || st.Kbps() <= 0 {
			t.Errorf("%s: %+v", u, st)
		}
		t.Logf("%s: start %v, first frame %v, keyframe %v, %d video, %.0f kb/s, %d stalls",
			st.Protocol, st.PlayStart, st.FirstFrame, st.FirstKeyframe, st.VideoFrames, st.Kbps(), st.Stalls)
	}
	for _, u := range []string{"rtmp://" + s.RTMPAddr() + "/live/denied", "http://" + s.FLVAddr() + "/live/denied.flv"} {
		if st := Play(ctx, u, Options{Watch: 5 * time.Second}); !errors.Is(st.End, ErrClosedWithoutStatus) || st.FirstFrame != 0 {
			t.Errorf("%s refused: %+v, want ErrClosedWithoutStatus", u, st)
		}
	}
}
