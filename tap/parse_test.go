package tap

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// rtmpStream builds wire bytes with gortmplib's own writer, one slice per message.
type rtmpStream struct {
	buf bytes.Buffer
	w   *message.Writer
}

func newRTMPStream() *rtmpStream {
	s := &rtmpStream{}
	s.w = message.NewWriter(&s.buf, bytecounter.NewWriter(&s.buf), false)
	return s
}

func (s *rtmpStream) msg(tb testing.TB, m message.Message) []byte {
	tb.Helper()
	s.buf.Reset()
	if err := s.w.Write(m); err != nil {
		tb.Fatal(err)
	}
	return bytes.Clone(s.buf.Bytes())
}

func handshakeBytes(n int) []byte {
	b := bytes.Repeat([]byte{0x5a}, n)
	b[0] = 3
	return b
}

func cmd(name string, tid int, args ...any) *message.CommandAMF0 {
	return &message.CommandAMF0{ChunkStreamID: 3, Name: name, CommandID: tid, Arguments: args}
}

// newTestParser runs a parser of one direction on its own, fed by hand.
func newTestParser(from side) (*parser, *session) {
	s := newSession(&Tap{}, nil, time.Now())
	return newParser(s, from), s
}

func runParser(t *testing.T, p *parser) {
	t.Helper()
	done := make(chan struct{})
	go func() { p.run(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("parser did not finish")
	}
}

func phases(c *Conn) []Phase {
	var ps []Phase
	for _, m := range c.Marks {
		ps = append(ps, m.Phase)
	}
	return ps
}

// A message's time is that of the read which delivered its last byte, however the
// bytes were split into reads and however far the parser's buffering reads ahead.
func TestMarkTimeIsLastByteRead(t *testing.T) {
	w := newRTMPStream()
	// A large client chunk size: the client parser must honour it (commands above
	// 128 bytes in one chunk) while the server parser, below, keeps the default.
	setChunk := w.msg(t, &message.SetChunkSize{Value: 4096})
	connect := w.msg(t, cmd("connect", 1, amf0.Object{
		{Key: "app", Value: "live"},
		{Key: "tcUrl", Value: "rtmp://127.0.0.1/live?rtmpload=from-tcurl&pad=" + strings.Repeat("x", 300)},
	}))
	release := w.msg(t, cmd("releaseStream", 2, nil, "cam01"))
	create := w.msg(t, cmd("createStream", 4, nil))
	publish := w.msg(t, &message.CommandAMF0{
		ChunkStreamID: 4, MessageStreamID: 1, Name: "publish", CommandID: 5,
		Arguments: []any{nil, "cam01?a=b&rtmpload=r1-42", "live"},
	})
	if len(connect) < 300 || len(connect) > 4096 {
		t.Fatalf("connect should be one chunk above 128 bytes, is %d bytes", len(connect))
	}

	c0c1, c2 := handshakeBytes(1537), handshakeBytes(1536)
	t0 := time.Now()
	ts := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
	segs := [][]byte{
		c0c1[:1000],
		append(c0c1[1000:], c2[:10]...),
		slices.Concat(c2[10:], setChunk, connect[:len(connect)-1]),
		slices.Concat(connect[len(connect)-1:], release),
		create, // ends exactly at a read boundary
		publish,
	}
	p, s := newTestParser(clientSide)
	for i, b := range segs {
		if !p.q.push(ts(i), b) {
			t.Fatal("push refused")
		}
	}
	p.q.close()
	runParser(t, p)

	want := map[Phase]time.Time{
		C0C1: ts(1), C2: ts(2), Connect: ts(3), ReleaseStream: ts(3),
		CreateStream: ts(4), Publish: ts(5),
	}
	for ph, at := range want {
		got, ok := s.c.At(ph)
		if !ok || !got.Equal(at) {
			t.Errorf("%s at %v (seen %v), want %v", ph, got.Sub(t0), ok, at.Sub(t0))
		}
	}
	wantOrder := []Phase{C0C1, C2, Connect, ReleaseStream, CreateStream, Publish}
	if got := phases(&s.c); !slices.Equal(got, wantOrder) {
		t.Errorf("phases %v, want %v", got, wantOrder)
	}
	if s.c.Attempt != "r1-42" || s.c.App != "live" || s.c.Stream != "cam01" || s.c.Unparsed {
		t.Errorf("conn %+v", s.c)
	}
	if m, _ := s.c.Mark(Publish); m.Detail != "cam01?a=b&rtmpload=r1-42" {
		t.Errorf("publish detail %q", m.Detail)
	}

	// Server direction: default chunk size 128, so this _result spans chunks.
	sw := newRTMPStream()
	result := sw.msg(t, cmd("_result", 1, amf0.Object{{Key: "fmsVer", Value: strings.Repeat("v", 200)}},
		amf0.Object{{Key: "level", Value: "status"}, {Key: "code", Value: "NetConnection.Connect.Success"}}))
	createRes := sw.msg(t, cmd("_result", 4, nil, float64(1)))
	status := sw.msg(t, &message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: 1, Name: "onStatus",
		Arguments: []any{nil, amf0.Object{{Key: "code", Value: "NetStream.Publish.Start"}}}})
	sp := newParser(s, serverSide)
	for i, b := range [][]byte{handshakeBytes(1 + 2*1536), result, createRes, status} {
		sp.q.push(ts(10+i), b)
	}
	sp.q.close()
	runParser(t, sp)
	for ph, at := range map[Phase]time.Time{S0S1S2: ts(10), ConnectResult: ts(11), CreateStreamResult: ts(12), OnStatus: ts(13)} {
		if got, ok := s.c.At(ph); !ok || !got.Equal(at) {
			t.Errorf("%s at %v (seen %v), want %v", ph, got.Sub(t0), ok, at.Sub(t0))
		}
	}
	if m, _ := s.c.Mark(ConnectResult); m.Detail != "NetConnection.Connect.Success" {
		t.Errorf("connect result detail %q", m.Detail)
	}
	if s.c.Unparsed || !s.publishStarted.Load() {
		t.Errorf("unparsed %v, publish started %v", s.c.Unparsed, s.publishStarted.Load())
	}
}

// The result of a request may be parsed before the request itself: the two
// directions' parsers run independently.
func TestResultBeforeRequest(t *testing.T) {
	s := newSession(&Tap{}, nil, time.Now())
	at := time.Now().Add(time.Second)
	s.answer(1, at, "NetConnection.Connect.Success")
	s.expect(1, ConnectResult)
	if got, ok := s.c.At(ConnectResult); !ok || !got.Equal(at) {
		t.Fatalf("connect result %v %v", got, ok)
	}
}

// Once publishing with audio and video, the client parser stops decoding: later
// bytes, even undecodable ones, are not looked at.
func TestCheapModeAfterPublishStart(t *testing.T) {
	w := newRTMPStream()
	audio := w.msg(t, &message.Audio{ChunkStreamID: 4, MessageStreamID: 1, Codec: message.CodecMPEG4Audio,
		Rate: message.AudioRate44100, Depth: message.AudioDepth16, IsStereo: true,
		AACType: message.AudioAACTypeAU, AU: []byte{1, 2, 3}})
	video := w.msg(t, &message.Video{ChunkStreamID: 6, MessageStreamID: 1, Codec: message.CodecH264,
		Type: message.VideoTypeAU, IsKeyFrame: true, AU: []byte{0, 0, 0, 1, 5}})
	garbage := []byte{0x00, 0xff, 0xff} // chunk stream id 0: unsupported by the chunk reader

	p, s := newTestParser(clientSide)
	s.publishStarted.Store(true)
	now := time.Now()
	for _, b := range [][]byte{handshakeBytes(1537 + 1536), audio, video, garbage} {
		p.q.push(now, b)
	}
	// The queue is not closed: the parser must return on its own.
	runParser(t, p)
	if s.c.Unparsed {
		t.Fatalf("garbage after cheap mode was parsed: %+v", s.c.Marks)
	}
	if _, ok := s.c.At(FirstVideo); !ok {
		t.Fatal("no first video")
	}
	if p.active.Load() {
		t.Fatal("parser still active")
	}

	// Without Publish.Start the same bytes are parsed, and the garbage is reported.
	p, s = newTestParser(clientSide)
	for _, b := range [][]byte{handshakeBytes(1537 + 1536), audio, video, garbage} {
		p.q.push(now, b)
	}
	runParser(t, p)
	m, ok := s.c.Mark(Unparsed)
	if !ok || !strings.HasPrefix(m.Detail, "client: ") || !strings.Contains(m.Detail, "chunk stream") {
		t.Fatalf("unparsed mark %+v %v", m, ok)
	}
}

func TestQueueCap(t *testing.T) {
	q := newQueue(10, 4)
	now := time.Now()
	if !q.push(now, make([]byte, 6)) || !q.push(now, make([]byte, 4)) {
		t.Fatal("push within cap refused")
	}
	if q.push(now, make([]byte, 1)) {
		t.Fatal("push over the byte cap accepted")
	}
	buf := make([]byte, 100)
	if n, err := q.Read(buf); n != 6 || err != nil {
		t.Fatalf("read %d %v: want one read's bytes", n, err)
	}
	if !q.push(now, make([]byte, 1)) || !q.push(now, make([]byte, 1)) || !q.push(now, make([]byte, 1)) {
		t.Fatal("push after the reader caught up refused")
	}
	if q.push(now, make([]byte, 1)) {
		t.Fatal("push over the segment cap accepted")
	}
	q.abandon()
	if _, err := q.Read(buf); err != errStopped {
		t.Fatalf("abandoned queue kept serving: %v", err)
	}
}

// A parser that falls behind gives up with an Unparsed mark and stops taking bytes.
func TestParserFallsBehind(t *testing.T) {
	p, s := newTestParser(clientSide)
	p.q = newQueue(1000, 16)
	now := time.Now()
	for range 3 {
		p.feed(now, make([]byte, 400))
	}
	m, ok := s.c.Mark(Unparsed)
	if !ok || !strings.Contains(m.Detail, "fell behind") || p.active.Load() {
		t.Fatalf("mark %+v %v, active %v", m, ok, p.active.Load())
	}
	p.feed(now, make([]byte, 1)) // no longer queued
	if q := p.q.queued.Load(); q != 800 {
		t.Fatalf("queued %d, want 800", q)
	}
	runParser(t, p) // returns at once on the abandoned queue
}
