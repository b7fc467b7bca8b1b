package player

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// Media bodies as an H.264/AAC publisher sends them: only the first two
// bytes matter to a viewer.
func videoBody(key bool, n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = 0x27, 1
	if key {
		b[0] = 0x17
	}
	return b
}

var (
	videoSH = []byte{0x17, 0, 0, 0, 0, 1, 2, 3}
	audioSH = []byte{0xaf, 0, 0x12, 0x10}
)

func audioBody(n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = 0xaf, 1
	return b
}

func TestChunkReaderReadsWhatGortmplibWrites(t *testing.T) {
	var buf bytes.Buffer
	bc := bytecounter.NewWriter(&buf)
	w := rawmessage.NewWriter(bc, bc, false)
	msgs := []*rawmessage.Message{
		{ChunkStreamID: 3, Type: 20, Body: []byte("a command body of some length, longer than nothing")},
		{ChunkStreamID: 6, Type: typVideo, Body: videoSH},
		{ChunkStreamID: 4, Type: typAudio, Body: audioSH},
		{ChunkStreamID: 6, Type: typVideo, Timestamp: 10 * time.Millisecond, Body: videoBody(true, 1000)},
		{ChunkStreamID: 4, Type: typAudio, Timestamp: 20 * time.Millisecond, Body: audioBody(300)},
		{ChunkStreamID: 6, Type: typVideo, Timestamp: 50 * time.Millisecond, Body: videoBody(false, 129)},
		{ChunkStreamID: 6, Type: typVideo, Timestamp: 90 * time.Millisecond, Body: []byte{0x27}},
		{ChunkStreamID: 2, Type: 1, Body: []byte{0, 0, 0x10, 0}}, // Set Chunk Size 4096
		{ChunkStreamID: 6, Type: typVideo, Timestamp: 0x1000000 * time.Millisecond, Body: videoBody(true, 9000)},
		{ChunkStreamID: 6, Type: typVideo, Timestamp: (0x1000000 + 40) * time.Millisecond, Body: videoBody(false, 5000)},
		{ChunkStreamID: 18, Type: typData, Timestamp: 5 * time.Millisecond, Body: []byte{2, 0, 1, 'x'}},
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
		if m.Type == 1 {
			w.SetChunkSize(4096)
		}
	}
	r := newChunkReader(bufio.NewReader(&buf))
	for i, want := range msgs {
		got, err := r.next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		head := want.Body
		if want.Type == typAudio || want.Type == typVideo {
			head = head[:min(2, len(head))]
		}
		if got.typ != want.Type || got.ts != uint32(want.Timestamp/time.Millisecond) || got.size != len(want.Body) ||
			!bytes.Equal(got.body, head) {
			t.Errorf("message %d: type %d ts %d size %d body % x; want type %d ts %d size %d body % x", i,
				got.typ, got.ts, got.size, got.body, want.Type, want.Timestamp/time.Millisecond, len(want.Body), head)
		}
	}
	if _, err := r.next(); err != io.EOF {
		t.Errorf("after the last message: %v, want EOF", err)
	}
}

// TestSteadyStateAllocatesNothing: a viewer reading media allocates nothing
// per message, so that thousands of viewers cost the garbage collector
// nothing.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	var buf bytes.Buffer
	bc := bytecounter.NewWriter(&buf)
	w := rawmessage.NewWriter(bc, bc, false)
	const n = 400
	for i := range n {
		m := &rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Timestamp: time.Duration(i*40) * time.Millisecond,
			Body: videoBody(i%50 == 0, 3000)}
		if i%2 == 1 {
			m = &rawmessage.Message{ChunkStreamID: 4, Type: typAudio, Timestamp: time.Duration(i*40) * time.Millisecond, Body: audioBody(200)}
		}
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	r := newChunkReader(bufio.NewReaderSize(bytes.NewReader(buf.Bytes()), readBuffer))
	v := &viewer{o: Options{}.withDefaults()}
	v.res.Start = time.Now()
	for range 10 { // the chunk streams' first messages allocate their state
		m, _ := r.next()
		v.tag(m.typ, m.ts, m.size, m.body)
	}
	allocs := testing.AllocsPerRun(n-20, func() {
		m, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		v.tag(m.typ, m.ts, m.size, m.body)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per media message, want 0", allocs)
	}
}

// fakeRTMP is a server of gortmplib's that accepts a play and then does
// what the test tells it.
func fakeRTMP(t *testing.T, after func(nc net.Conn, w *rawmessage.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		sc := &gortmplib.ServerConn{RW: nc}
		if sc.Initialize() != nil || sc.Accept() != nil || sc.AcceptAction() != nil {
			return
		}
		// Read what the player sends from now on (its buffer length, its
		// acknowledgements): a close with it unread would be a reset.
		go io.Copy(io.Discard, nc)
		// Media on chunk streams ServerConn does not use, at the chunk size
		// it announced.
		bc := bytecounter.NewWriter(nc)
		w := rawmessage.NewWriter(bc, bc, false)
		w.SetChunkSize(65536)
		after(nc, w)
	}()
	return "rtmp://" + ln.Addr().String() + "/live/cam1?tok=1"
}

// gop writes the sequence headers, then frames (a keyframe every 25) at
// 25 fps from ts0, in real time, with a pause of pause before frame
// pauseAt.
func gop(w *rawmessage.Writer, ts0, frames, pauseAt int, pause time.Duration) error {
	if err := w.Write(&rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Body: videoSH, MessageStreamID: 1}); err != nil {
		return err
	}
	if err := w.Write(&rawmessage.Message{ChunkStreamID: 7, Type: typAudio, Body: audioSH, MessageStreamID: 1}); err != nil {
		return err
	}
	for i := range frames {
		if i == pauseAt {
			time.Sleep(pause)
		}
		ts := time.Duration(ts0+i*40) * time.Millisecond
		if err := w.Write(&rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Timestamp: ts, Body: videoBody(i%25 == 0, 2000), MessageStreamID: 1}); err != nil {
			return err
		}
		if err := w.Write(&rawmessage.Message{ChunkStreamID: 7, Type: typAudio, Timestamp: ts, Body: audioBody(100), MessageStreamID: 1}); err != nil {
			return err
		}
		time.Sleep(40 * time.Millisecond)
	}
	return nil
}

func TestPlayRTMP(t *testing.T) {
	t.Parallel()
	t.Run("closed after media", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(_ net.Conn, w *rawmessage.Writer) { gop(w, 1000, 20, -1, 0) })
		r := Play(context.Background(), Options{URL: u})
		tl := r.Timeline
		if r.Ending != EndClosed || r.Protocol != ProtoRTMP {
			t.Fatalf("ending %s (%s), want closed", r.Ending, r.Err)
		}
		if !(0 < tl.Dial && tl.Dial <= tl.Handshake && tl.Handshake <= tl.Connect && tl.Connect <= tl.PlaySent &&
			tl.PlaySent <= tl.PlayStart && tl.PlayStart <= tl.FirstTag && tl.FirstTag <= tl.FirstFrame &&
			tl.FirstFrame <= tl.FirstKeyframe) {
			t.Errorf("timeline out of order: %+v", tl)
		}
		if r.VideoFrames != 20 || r.AudioFrames != 20 || r.Keyframes != 1 || r.MediaSpan != 760*time.Millisecond {
			t.Errorf("frames %d video %d audio %d key, span %v; want 20, 20, 1, 760ms", r.VideoFrames, r.AudioFrames, r.Keyframes, r.MediaSpan)
		}
		if r.MediaBytes != 20*2100+uint64(len(videoSH)+len(audioSH)) || r.Bytes <= r.MediaBytes || r.BitrateBps() <= 0 {
			t.Errorf("media bytes %d, bytes %d, bitrate %.0f", r.MediaBytes, r.Bytes, r.BitrateBps())
		}
		if r.Stalls != 0 {
			t.Errorf("%d stalls (max lag %v) in a steady stream", r.Stalls, r.MaxLag)
		}
	})
	t.Run("stall", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(_ net.Conn, w *rawmessage.Writer) { gop(w, 0, 12, 6, 700*time.Millisecond) })
		r := Play(context.Background(), Options{URL: u, StallAfter: 400 * time.Millisecond})
		// One stall of about 700 ms (a loaded machine may add its own).
		if r.Stalls < 1 || r.MaxLag < 600*time.Millisecond || r.StallTime < 600*time.Millisecond {
			t.Errorf("%d stalls, max lag %v, stalled %v; want one of about 700ms", r.Stalls, r.MaxLag, r.StallTime)
		}
	})
	t.Run("held", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(_ net.Conn, w *rawmessage.Writer) { gop(w, 0, 50, -1, 0) })
		r := Play(context.Background(), Options{URL: u, Hold: 500 * time.Millisecond})
		if r.Ending != EndHeld || r.Err != "" || r.VideoFrames < 5 {
			t.Errorf("ending %s (%s), %d frames; want held", r.Ending, r.Err, r.VideoFrames)
		}
		if held := r.End - r.Timeline.PlayStart; held < 500*time.Millisecond || held > 2*time.Second {
			t.Errorf("held %v, want 500ms", held)
		}
	})
	t.Run("closed before media", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(nc net.Conn, _ *rawmessage.Writer) {})
		if r := Play(context.Background(), Options{URL: u}); r.Ending != EndClosedBeforeMedia || r.Timeline.PlayStart == 0 {
			t.Errorf("ending %s (%s), play start %v; want closed_before_media after the start", r.Ending, r.Err, r.Timeline.PlayStart)
		}
	})
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(nc net.Conn, _ *rawmessage.Writer) { io.Copy(io.Discard, nc) })
		r := Play(context.Background(), Options{URL: u, Silence: 300 * time.Millisecond})
		if r.Ending != EndSilent || r.Timeline.FirstFrame != 0 {
			t.Errorf("ending %s (%s); want silent", r.Ending, r.Err)
		}
	})
	t.Run("context ends the hold", func(t *testing.T) {
		t.Parallel()
		u := fakeRTMP(t, func(nc net.Conn, _ *rawmessage.Writer) { io.Copy(io.Discard, nc) })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if r := Play(ctx, Options{URL: u}); r.Ending != EndHeld {
			t.Errorf("ending %s (%s); want held", r.Ending, r.Err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		if r := Play(context.Background(), Options{URL: "rtmp://" + addr + "/live/x"}); r.Ending != EndUnreachable {
			t.Errorf("ending %s (%s); want unreachable", r.Ending, r.Err)
		}
	})
	t.Run("setup timeout", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		t.Cleanup(func() { ln.Close() })
		r := Play(context.Background(), Options{URL: "rtmp://" + ln.Addr().String() + "/live/x", SetupTimeout: 300 * time.Millisecond})
		if r.Ending != EndSetupTimeout || r.Timeline.Dial == 0 || r.Timeline.Handshake != 0 {
			t.Errorf("ending %s (%s), %+v; want setup_timeout in the handshake", r.Ending, r.Err, r.Timeline)
		}
	})
}

func flvTag(typ uint8, ts uint32, body []byte) []byte {
	n := len(body)
	b := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
	b = append(b, body...)
	s := uint32(n + 11)
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

func TestPlayFLV(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/live/none.flv":
			http.NotFound(w, r)
			return
		case "/live/refused.flv":
			// SRS's refusal: the connection closed with no answer.
			nc, _, _ := w.(http.Hijacker).Hijack()
			nc.Close()
			return
		}
		w.Header().Set("Content-Type", "video/x-flv")
		w.Write([]byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0})
		w.Write(flvTag(typData, 0, []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}))
		w.Write(flvTag(typVideo, 0, videoSH))
		w.Write(flvTag(typAudio, 0, audioSH))
		for i := range 10 {
			w.Write(flvTag(typVideo, uint32(i*40), videoBody(i == 0, 1500)))
			w.Write(flvTag(typAudio, uint32(i*40), audioBody(100)))
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond)
		}
	}))
	t.Cleanup(hs.Close)

	r := Play(context.Background(), Options{URL: hs.URL + "/live/cam1.flv?v=1"})
	tl := r.Timeline
	if r.Ending != EndClosed || r.HTTPStatus != 200 || r.Protocol != ProtoHTTPFLV {
		t.Fatalf("ending %s (%s), HTTP %d; want closed after a 200", r.Ending, r.Err, r.HTTPStatus)
	}
	if !(0 < tl.Dial && tl.Dial <= tl.PlaySent && tl.PlaySent <= tl.PlayStart && tl.PlayStart <= tl.FirstTag &&
		tl.FirstTag <= tl.FirstFrame && tl.FirstFrame <= tl.FirstKeyframe) {
		t.Errorf("timeline out of order: %+v", tl)
	}
	if r.VideoFrames != 10 || r.AudioFrames != 10 || r.Keyframes != 1 || r.MediaSpan != 360*time.Millisecond {
		t.Errorf("%d video %d audio %d key, span %v", r.VideoFrames, r.AudioFrames, r.Keyframes, r.MediaSpan)
	}
	if r := Play(context.Background(), Options{URL: hs.URL + "/live/none.flv"}); r.Ending != EndRefused || r.HTTPStatus != 404 {
		t.Errorf("404: ending %s (%s), HTTP %d", r.Ending, r.Err, r.HTTPStatus)
	}
	if r := Play(context.Background(), Options{URL: hs.URL + "/live/refused.flv"}); r.Ending != EndClosedInSetup || r.HTTPStatus != 0 {
		t.Errorf("closed with no answer: ending %s (%s), HTTP %d", r.Ending, r.Err, r.HTTPStatus)
	}
}

func TestPairer(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	// A publisher at 25 fps from ts 5000, a keyframe every 25 frames.
	send := func(st *SendTimes, from, to int) {
		for i := from; i < to; i++ {
			st.Sent(uint32(5000+i*40), i%25 == 0, at(i*40))
		}
	}
	var got []time.Duration
	record := func(l time.Duration) { got = append(got, l) }

	// A viewer joins after frame 60 (sent at 2.4 s): the GOP cache holds
	// frames 50..60, which the server rebases to start at 10 ms and sends
	// at once; then each frame comes 30 ms after it was sent.
	var st SendTimes
	send(&st, 0, 61)
	p := &Pairer{Times: &st, Record: record}
	for i := 50; i <= 60; i++ {
		p.Arrived(uint32(10+(i-50)*40), i == 50, at(2410))
	}
	for i := 61; i < 70; i++ {
		send(&st, i, i+1)
		p.Arrived(uint32(10+(i-50)*40), false, at(i*40+30))
	}
	// Frames 61 (at 2.47 s) and earlier are within the settling time; the
	// burst is left out.
	if len(got) != 8 || p.Unpaired != 0 {
		t.Fatalf("latencies %v, %d unpaired; want 8", got, p.Unpaired)
	}
	for _, l := range got {
		if l != 30*time.Millisecond {
			t.Errorf("latency %v, want 30ms", l)
		}
	}

	// Keyframe 75 was sent at 3.0 s, just before the viewer's first
	// arrival, but the cache began at 50: the newest keyframe maps the
	// viewer's frames to frames not sent yet, and the Pairer steps back a
	// GOP.
	got = got[:0]
	var st2 SendTimes
	send(&st2, 0, 76)
	p = &Pairer{Times: &st2, Record: record}
	for i := 50; i <= 74; i++ {
		p.Arrived(uint32(i-50)*40, i == 50, at(3001))
	}
	for i := 75; i < 86; i++ {
		send(&st2, i, i+1)
		p.Arrived(uint32(i-50)*40, i == 75, at(i*40+10))
	}
	if len(got) != 8 || p.Unpaired != 0 {
		t.Fatalf("latencies %v, %d unpaired; want 8 (frames 78..85)", got, p.Unpaired)
	}
	for _, l := range got {
		if l != 10*time.Millisecond {
			t.Errorf("latency %v, want 10ms", l)
		}
	}

	// The records lag the writes: the viewer's first keyframe (the newest)
	// arrives before its send is on record, and live frames before theirs.
	got = got[:0]
	var st3 SendTimes
	send(&st3, 0, 50) // keyframe 50 (sent at 2.0 s) not on record yet
	p = &Pairer{Times: &st3, Record: record}
	p.Arrived(10, true, at(2001))
	send(&st3, 50, 51)
	for i := 51; i < 60; i++ {
		p.Arrived(uint32(10+(i-50)*40), false, at(i*40+5)) // before its record
		send(&st3, i, i+1)
	}
	send(&st3, 60, 61)
	p.Arrived(uint32(10+10*40), false, at(60*40+5)) // frame 60, after its record
	if len(got) != 1 || got[0] != 5*time.Millisecond || p.Unpaired != 7 {
		t.Errorf("latencies %v, %d unpaired; want [5ms] (frame 60) and 7 unpaired (53..59 arrived before their records; 51, 52 settling)", got, p.Unpaired)
	}
}

func ExamplePlay() {
	r := Play(context.Background(), Options{URL: "rtmp://127.0.0.1:1/live/cam1", SetupTimeout: time.Second})
	fmt.Println(r.Ending)
	// Output: unreachable
}
