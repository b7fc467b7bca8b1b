package native

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/server"
)

// tiny.flv: 2 s of testsrc2 at 160x96 (H.264, 60 kb/s) and a sine (AAC,
// 24 kb/s), encoded as media.Ensure encodes clips, small enough to commit.
const tinyClip = "testdata/tiny.flv"

func loadTiny(t testing.TB) *Clip {
	t.Helper()
	c, err := LoadClip(tinyClip)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEncodingLoopsWithRisingTimestamps decodes the shared bytes of the
// head and three passes as a server would and checks every message: the
// clip's own bodies in order, timestamps moved on by one loop per pass.
func TestEncodingLoopsWithRisingTimestamps(t *testing.T) {
	c := loadTiny(t)
	if c.Loop() < 1900*time.Millisecond || c.Loop() > 2100*time.Millisecond {
		t.Fatalf("loop %v, want about the clip's 2 s", c.Loop())
	}
	for _, cs := range []uint32{128, 4096, 65536} {
		enc, err := c.encoding(cs, 1)
		if err != nil {
			t.Fatal(err)
		}
		var wire []byte
		wire = append(wire, enc.head...)
		wire = append(wire, enc.first.bytes...)
		wire = append(wire, enc.next.bytes...)
		wire = append(wire, enc.next.bytes...)
		r := rawmessage.NewReader(bytes.NewReader(wire), bytecounter.NewReader(bytes.NewReader(nil)), nil)
		if err := r.SetChunkSize(cs); err != nil {
			t.Fatal(err)
		}
		for i, h := range c.head {
			m, err := r.Read()
			if err != nil || m.Type != h.typ || !bytes.Equal(m.Body, h.body) || m.Timestamp != 0 || m.MessageStreamID != 0x1000000 {
				t.Fatalf("chunk size %d: head message %d: %+v, %v", cs, i, m, err)
			}
		}
		if len(c.head) != 3 || c.head[0].typ != typeData {
			t.Fatalf("head: %d messages, want metadata and two sequence headers", len(c.head))
		}
		loop := c.Loop()
		for pass := range 3 {
			for i, tg := range c.media {
				m, err := r.Read()
				want := time.Duration(pass)*loop + time.Duration(tg.ts)*time.Millisecond
				if err != nil || m.Type != tg.typ || !bytes.Equal(m.Body, tg.body) || m.Timestamp != want || m.MessageStreamID != 0x1000000 {
					t.Fatalf("chunk size %d: pass %d message %d: ts %v want %v, err %v", cs, pass, i, m.Timestamp, want, err)
				}
			}
		}
		if _, err := r.Read(); !errors.Is(err, io.EOF) {
			t.Fatalf("chunk size %d: bytes left after three passes: %v", cs, err)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tg, err := parseTarget("rtmp://127.0.0.1:1940/live/cam1?token=a&rtmpload=r-1")
	if err != nil || tg.addr != "127.0.0.1:1940" || tg.app != "live" || tg.stream != "cam1?token=a&rtmpload=r-1" || tg.tcURL != "rtmp://127.0.0.1:1940/live" {
		t.Fatalf("%+v %v", tg, err)
	}
	if tg, err := parseTarget("rtmp://[::1]/live/x"); err != nil || tg.addr != "[::1]:1935" {
		t.Fatalf("%+v %v", tg, err)
	}
	// ffmpeg's split of a longer path: two elements of app when a third
	// follows, unless a ':' (mp4:name) comes first; the name as written.
	for _, tc := range [][3]string{
		{"rtmp://h/live/sub/cam?t=1", "live/sub", "cam?t=1"},
		{"rtmp://h/a/b/c/d", "a/b", "c/d"},
		{"rtmp://h/vod/mp4:dir/f.mp4", "vod", "mp4:dir/f.mp4"},
		{"rtmp://h/live/cam%20one", "live", "cam%20one"},
	} {
		tg, err := parseTarget(tc[0])
		if err != nil || tg.app != tc[1] || tg.stream != tc[2] || tg.tcURL != "rtmp://h/"+tc[1] {
			t.Errorf("%s: %+v %v, want app %q stream %q", tc[0], tg, err, tc[1], tc[2])
		}
	}
	for _, bad := range []string{"http://h/live/x", "rtmp://h/live", "rtmp:///live/x"} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

type events struct {
	mu sync.Mutex
	ev []server.Event
}

func (e *events) on(ev server.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *events) kind(k schema.ServerKind) []server.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []server.Event
	for _, ev := range e.ev {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func startEmbedded(t *testing.T) (*server.Server, *events) {
	t.Helper()
	rec := &events{}
	s, err := server.Start(context.Background(), server.Config{OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rec
}

// TestPublishesToTheEmbeddedServer: the server accepts the publish with
// its parameters, counts audio and video until the stop, and sees the
// unpublish; the attempt's timeline is complete and in order.
func TestPublishesToTheEmbeddedServer(t *testing.T) {
	s, rec := startEmbedded(t)
	e := New(loadTiny(t), Options{Tick: 20 * time.Millisecond})
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var phases []string
	var mu sync.Mutex
	var progress []Progress
	res := e.Publish(ctx, "rtmp://"+s.RTMPAddr()+"/live/cam1?token=abc", Hooks{
		OnPhase: func(p string, _ time.Time, _ Timeline) { phases = append(phases, p) },
		OnProgress: func(p Progress) {
			mu.Lock()
			progress = append(progress, p)
			mu.Unlock()
		},
		ProgressEvery: 200 * time.Millisecond,
	})
	mu.Lock()
	defer mu.Unlock()
	// A socket that takes everything keeps real time: speed 1, as
	// runner/health wants it (at least 0.98) from ffmpeg.
	if len(progress) < 4 {
		t.Fatalf("%d progress reports in 1.5 s, want one every 200 ms", len(progress))
	}
	last := progress[len(progress)-1]
	if last.Bytes <= 0 || last.Since < time.Second || last.Media.Seconds()/last.Since.Seconds() < 0.98 {
		t.Fatalf("last progress %+v: want real time", last)
	}
	if !res.Stopped || res.Failure != nil || res.Phase != PhaseMedia {
		t.Fatalf("result %+v, failure %v", res, res.Failure)
	}
	tl := []time.Time{res.Start, res.Connected, res.Handshaked, res.ConnectResult, res.PublishSent, res.PublishStart, res.FirstMedia, res.End}
	for i := 1; i < len(tl); i++ {
		if tl[i].IsZero() || tl[i].Before(tl[i-1]) {
			t.Fatalf("timeline out of order at %d: %v", i, tl)
		}
	}
	if want := []string{PhaseDial, PhaseHandshake, PhaseConnect, PhaseCreate, PhasePublish, PhaseMedia}; len(phases) != len(want) || phases[5] != PhaseMedia {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	acc := rec.kind(server.EventAccept)
	if len(acc) != 1 || acc[0].Stream != "cam1" || acc[0].Param != "?token=abc" {
		t.Fatalf("accept events %+v", acc)
	}
	var un []server.Event
	for range 100 {
		if un = rec.kind(server.EventUnpublish); len(un) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// 1.5 s of a 25 fps clip with audio at 22050 Hz: about 30 frames and 30 audio packets.
	if len(un) != 1 || un[0].VideoMsgs < 20 || un[0].AudioMsgs < 20 || un[0].BytesIn < uint64(res.BytesSent) {
		t.Fatalf("unpublish events %+v, sent %d", un, res.BytesSent)
	}
}

// TestADuplicateSeesTheClose: the embedded server, like SRS, refuses a
// second publisher of a live name by closing its connection without a
// status; the native attempt says so, where ffmpeg says "Input/output
// error".
func TestADuplicateSeesTheClose(t *testing.T) {
	s, _ := startEmbedded(t)
	e := New(loadTiny(t), Options{})
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first := make(chan Result, 1)
	started := make(chan struct{})
	go func() {
		first <- e.Publish(ctx, "rtmp://"+s.RTMPAddr()+"/live/dup", Hooks{OnPhase: func(p string, _ time.Time, _ Timeline) {
			if p == PhaseMedia {
				close(started)
			}
		}})
	}()
	select {
	case <-started:
	case r := <-first:
		t.Fatalf("first publisher ended: %+v %v", r, r.Failure)
	}
	res := e.Publish(ctx, "rtmp://"+s.RTMPAddr()+"/live/dup", Hooks{})
	if res.Failure == nil || res.Failure.What != WhatClose || res.Failure.Phase != PhasePublish || !res.PublishStart.IsZero() {
		t.Fatalf("duplicate: %+v, failure %v", res, res.Failure)
	}
	if got := res.Failure.String(); got != "server closed the connection during publish" {
		t.Fatalf("witness %q", got)
	}
	cancel()
	if r := <-first; !r.Stopped || r.Failure != nil {
		t.Fatalf("first publisher: %+v %v", r, r.Failure)
	}
}

func TestRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := New(loadTiny(t), Options{})
	defer e.Close()
	res := e.Publish(context.Background(), "rtmp://"+addr+"/live/x", Hooks{})
	if res.Failure == nil || res.Failure.What != WhatRefused || res.Failure.Phase != PhaseDial {
		t.Fatalf("%+v %v", res, res.Failure)
	}
}

// fakeServer answers one connection up to the publish command, then does
// what atPublish says; it pings the publisher after the publish start.
type fakeServer struct {
	ln        net.Listener
	atPublish string // "error", "silence", "close", "start"
	pong      chan uint32
	ack       chan uint32
	ackWindow uint32
}

func startFake(t *testing.T, atPublish string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, atPublish: atPublish, pong: make(chan uint32, 1), ack: make(chan uint32, 8), ackWindow: 1 << 30}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

func (f *fakeServer) serve() {
	nc, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := handshake.DoServer(nc, false); err != nil {
		return
	}
	bcr := bytecounter.NewReader(nc)
	r := message.NewReader(bcr, bcr, nil)
	w := message.NewWriter(nc, bytecounter.NewWriter(nc), false)
	for {
		m, err := r.Read()
		if err != nil {
			return
		}
		switch v := m.(type) {
		case *message.UserControlPingResponse:
			f.pong <- v.ServerTime
		case *message.Acknowledge:
			f.ack <- v.Value
		case *message.CommandAMF0:
			switch v.Name {
			case "connect":
				w.Write(&message.SetWindowAckSize{Value: f.ackWindow})
				w.Write(&message.SetChunkSize{Value: 60000})
				w.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "_result", CommandID: v.CommandID,
					Arguments: amf0.Data{amf0.Object{}, amf0.Object{{Key: "code", Value: "NetConnection.Connect.Success"}}}})
			case "createStream":
				w.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "_result", CommandID: v.CommandID, Arguments: amf0.Data{nil, float64(1)}})
			case "publish":
				switch f.atPublish {
				case "error":
					w.Write(&message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: 0x1000000, Name: "onStatus",
						Arguments: amf0.Data{nil, amf0.Object{{Key: "level", Value: "error"}, {Key: "code", Value: "NetStream.Publish.BadName"}, {Key: "description", Value: "already publishing"}}}})
				case "close":
					return
				case "silence":
				case "start":
					w.Write(&message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: 0x1000000, Name: "onStatus",
						Arguments: amf0.Data{nil, amf0.Object{{Key: "level", Value: "status"}, {Key: "code", Value: "NetStream.Publish.Start"}}}})
					w.Write(&message.UserControlPingRequest{ServerTime: 4242})
					// A window smaller than what the publisher already
					// received makes it acknowledge at its next read.
					w.Write(&message.SetWindowAckSize{Value: 100})
					w.Write(&message.UserControlPingRequest{ServerTime: 4343})
				}
			}
		}
	}
}

func TestServerAnswersAndSilence(t *testing.T) {
	e := New(loadTiny(t), Options{ReplyTimeout: 300 * time.Millisecond})
	defer e.Close()
	for _, tc := range []struct {
		at, what, code string
	}{
		{"error", WhatStatus, "NetStream.Publish.BadName"},
		{"close", WhatClose, ""},
		{"silence", WhatSilence, ""},
	} {
		f := startFake(t, tc.at)
		res := e.Publish(context.Background(), "rtmp://"+f.ln.Addr().String()+"/live/x", Hooks{})
		if res.Failure == nil || res.Failure.What != tc.what || res.Failure.Code != tc.code || res.Failure.Phase != PhasePublish {
			t.Errorf("%s: %+v %v", tc.at, res, res.Failure)
		}
		if tc.at == "error" && res.Failure.String() != "server answered NetStream.Publish.BadName (already publishing) during publish" {
			t.Errorf("witness %q", res.Failure)
		}
	}
}

// TestAnswersPingsAndAcknowledges: once media flows, a ping gets its pong
// and the server's window its acknowledgement, between media messages.
func TestAnswersPingsAndAcknowledges(t *testing.T) {
	e := New(loadTiny(t), Options{Tick: 10 * time.Millisecond})
	defer e.Close()
	f := startFake(t, "start")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- e.Publish(ctx, "rtmp://"+f.ln.Addr().String()+"/live/x", Hooks{}) }()
	for _, want := range []uint32{4242, 4343} {
		select {
		case got := <-f.pong:
			if got != want {
				t.Fatalf("pong %d, want %d", got, want)
			}
		case <-ctx.Done():
			t.Fatal("no pong")
		}
	}
	select {
	case n := <-f.ack:
		if n < 100 {
			t.Fatalf("ack %d", n)
		}
	case <-ctx.Done():
		t.Fatal("no acknowledgement")
	}
	cancel()
	if r := <-done; !r.Stopped || r.FirstMedia.IsZero() {
		t.Fatalf("%+v %v", r, r.Failure)
	}
}

// TestATickBeforeTheStartSendsNoBacklog: a writer's tick carries the time
// it fired, and a connection may join after that; it must not read the
// negative elapsed time as hours of backlog (it once sent eight passes at
// once).
func TestATickBeforeTheStartSendsNoBacklog(t *testing.T) {
	c := loadTiny(t)
	enc, err := c.encoding(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	rc, _ := nc.(*net.TCPConn).SyscallConn()
	now := time.Now()
	pc := &pconn{rc: rc, enc: enc, loop: uint32(c.Loop() / time.Millisecond), t0: now.Add(50 * time.Millisecond), chunkSize: 128, sid: 1}
	if !pc.service(now, &writer{}) {
		t.Fatalf("service dropped the connection: %v", pc.err)
	}
	// Only the head and what is due at 0 ms: the first video frame, at most.
	if limit := int64(len(enc.head) + enc.first.ends[1]); pc.sent > limit || pc.pass != 0 {
		t.Fatalf("sent %d bytes (pass %d), want at most %d", pc.sent, pc.pass, limit)
	}
}
