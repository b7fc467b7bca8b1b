package tap

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// benchStream is a publish preamble (handshake, connect, createStream, publish), a
// repeatable block of media messages (16 video of 4000 bytes, 16 audio of 200), and a
// server reply that starts the publish.
func benchStream(b *testing.B) (preamble, block, started []byte) {
	w := newRTMPStream()
	t := b
	preamble = slices.Concat(handshakeBytes(1537+1536),
		w.msg(t, &message.SetChunkSize{Value: 65536}),
		w.msg(t, cmd("connect", 1, amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})),
		w.msg(t, cmd("createStream", 2, nil)),
		w.msg(t, &message.CommandAMF0{ChunkStreamID: 4, MessageStreamID: 1, Name: "publish", CommandID: 3,
			Arguments: []any{nil, "cam?rtmpload=b-1", "live"}}))

	// Each block starts from a fresh writer, so it opens with full chunk headers and
	// can be repeated back to back.
	bw := newRTMPStream()
	bw.msg(t, &message.SetChunkSize{Value: 65536})
	for i := range 16 {
		block = append(block, bw.msg(t, &message.Video{ChunkStreamID: 6, MessageStreamID: 1,
			Codec: message.CodecH264, Type: message.VideoTypeAU, IsKeyFrame: i == 0,
			AU: bytes.Repeat([]byte{0x41}, 4000)})...)
		block = append(block, bw.msg(t, &message.Audio{ChunkStreamID: 4, MessageStreamID: 1,
			Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100, Depth: message.AudioDepth16,
			IsStereo: true, AACType: message.AudioAACTypeAU, AU: bytes.Repeat([]byte{0x21}, 200)})...)
	}

	sw := newRTMPStream()
	started = slices.Concat(handshakeBytes(1+2*1536),
		sw.msg(t, &message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: 1, Name: "onStatus",
			Arguments: []any{nil, amf0.Object{{Key: "code", Value: "NetStream.Publish.Start"}}}}))
	return preamble, block, started
}

// BenchmarkTapThroughput measures MB/s of publisher traffic through the tap on
// loopback: "cheap" is a started publish after the parser went quiet, "unparsed" is
// raw forwarding of bytes the parser gave up on. Full parsing cannot be measured this
// way: at loopback speed it falls behind and gives up, by design; BenchmarkParser
// measures it.
func BenchmarkTapThroughput(b *testing.B) {
	preamble, block, started := benchStream(b)
	garbage := slices.Clone(preamble)
	garbage[0] = 0xff

	for _, bc := range []struct {
		name            string
		preamble, reply []byte
		wantUnparsed    bool
	}{
		{"cheap", preamble, started, false},
		{"unparsed", garbage, nil, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchThroughput(b, bc.preamble, block, bc.reply, bc.wantUnparsed)
		})
	}
}

func benchThroughput(b *testing.B, preamble, block, reply []byte, wantUnparsed bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int64, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer nc.Close()
		nc.Write(reply) //nolint:errcheck
		n, _ := io.Copy(io.Discard, nc)
		received <- n
	}()
	done := make(chan *Conn, 1)
	tp, err := Start(Config{Target: ln.Addr().String(), OnDone: func(c *Conn) { done <- c }})
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Close()
	nc, err := net.Dial("tcp", tp.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(preamble); err != nil {
		b.Fatal(err)
	}
	// Only the client reads what the server replies; drain it so nothing stalls.
	go io.Copy(io.Discard, nc) //nolint:errcheck

	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	b.ResetTimer()
	var sent int64
	for b.Loop() {
		if _, err := nc.Write(block); err != nil {
			b.Fatal(err)
		}
		sent += int64(len(block))
	}
	nc.(*net.TCPConn).CloseWrite() //nolint:errcheck
	if got := <-received; got != sent+int64(len(preamble)) {
		b.Fatalf("server received %d bytes, want %d", got, sent+int64(len(preamble)))
	}
	b.StopTimer()
	nc.Close()
	if c := <-done; c.Unparsed != wantUnparsed {
		b.Fatalf("unparsed %v, want %v: %v", c.Unparsed, wantUnparsed, c.Marks)
	}
}

// BenchmarkParser measures how fast one direction's parser decodes publisher media
// (the cost for a publish that never goes quiet, e.g. video only).
func BenchmarkParser(b *testing.B) {
	preamble, block, _ := benchStream(b)
	p, s := newTestParser(clientSide)
	p.q = newQueue(1<<40, queueSegments)
	done := make(chan struct{})
	go func() { p.run(); close(done) }()
	now := time.Now()
	p.q.push(now, preamble)
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		for !p.q.push(now, block) { // the block is only read, so it can be queued again
			runtime.Gosched()
		}
	}
	p.q.close()
	<-done
	if s.c.Unparsed {
		b.Fatalf("parser gave up: %v", s.c.Marks)
	}
}
