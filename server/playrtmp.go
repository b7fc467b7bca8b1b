package server

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// servePlay serves an RTMP play as SRS 7.0.18 does (docs/srs-behaviour.md,
// "Play"): the play is answered at once, on_play is called after, a refusal
// closes the connection without an error status, and then the player gets
// the stream's headers, its GOP and what the publisher sends.
func (s *Server) servePlay(cid string, nc net.Conn, sc *gortmplib.ServerConn, lw *lockedWriter) {
	app, stream, _ := strings.Cut(strings.TrimPrefix(sc.URL.Path, "/"), "/")
	param := ""
	if sc.URL.RawQuery != "" {
		param = "?" + sc.URL.RawQuery
	}
	tcURL := (&url.URL{Scheme: sc.URL.Scheme, Host: sc.URL.Host, Path: "/" + app}).String()
	c := s.newViewer(cid, nc.RemoteAddr(), sc, app, stream, param, tcURL, srs.Client{Type: "rtmp-play", Name: stream, TcURL: tcURL})
	defer s.removeViewer(c)
	log := s.log.With("cid", cid, "stream", c.streamURL, "param", c.param, "proto", ProtoRTMP)
	s.emit(Event{Kind: EventPlayRequest, Protocol: ProtoRTMP, ClientID: cid, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param})

	// SrsRtmpServer::start_play. Message stream 1 is written 0x1000000 by
	// gortmplib's chunk encoder (big-endian field of a little-endian value).
	const msid = 0x1000000
	status := func(code, desc string) message.Message {
		return &message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: msid, Name: "onStatus", Arguments: []any{nil, amf0.Object{
			{Key: "level", Value: "status"}, {Key: "code", Value: code}, {Key: "description", Value: desc},
			{Key: "details", Value: "stream"}, {Key: "clientid", Value: "ASAICiss"},
		}}}
	}
	for _, m := range []message.Message{
		&message.UserControlStreamBegin{StreamID: 1},
		status("NetStream.Play.Reset", "Playing and resetting stream."),
		status("NetStream.Play.Start", "Started playing stream."),
		&message.DataAMF0{ChunkStreamID: 5, MessageStreamID: msid, Payload: []any{"|RtmpSampleAccess", true, true}},
	} {
		if err := sc.Write(m); err != nil {
			log.Debug("play start failed", "err", err)
			return
		}
	}
	nc.SetDeadline(time.Time{})

	if r := s.runHooks(c, schema.ActionPlay, s.cfg.OnPlay); r.reason != "" {
		s.rejectPlay(c, ProtoRTMP, r.reason, &r)
		nc.Close()
		log.Info("play rejected", "reason", r.reason)
		return
	}
	p := s.newPlayer(c, ProtoRTMP)
	// The player's own messages (acknowledgements, pause, closeStream) are
	// read and dropped; its end or close ends the play.
	go func() {
		decodeErrs := 0
		for {
			_, err := sc.Read()
			if err == nil {
				decodeErrs = 0
				continue
			}
			reason, final := endReason(err)
			if decodeErrs++; final || decodeErrs > maxDecodeErrors {
				p.stop(cmpOr(reason, EndError))
				return
			}
		}
	}()
	log.Info("play started")
	s.play(p, &rtmpSink{w: lw, nc: nc, out: &c.sent})
	nc.Close()
	bytes := c.sent.Load() + sc.BytesSent()
	s.endPlay(p, bytes)
	log.Info("play ended", "reason", p.reason(), "bytes", bytes)
}

// rtmpSink writes a batch as RTMP chunks: each message one fmt 0 chunk and
// fmt 3 continuations, as SRS writes them, into one buffer and one write.
type rtmpSink struct {
	w   *lockedWriter
	nc  net.Conn
	out *atomic.Uint64 // bytes written
	buf []byte
}

// rtmpChunkSize is the chunk size gortmplib announced in AcceptConn.
const rtmpChunkSize = 65536

func (k *rtmpSink) write(batch []queued) error {
	b := k.buf[:0]
	for _, q := range batch {
		csid := byte(6)
		switch q.m.typ {
		case typeAudio:
			csid = 7
		case typeData:
			csid = 5
		}
		ts := uint32(q.ts)
		n := len(q.m.body)
		b = append(b, csid)
		tsField := min(ts, 0xffffff)
		b = append(b, byte(tsField>>16), byte(tsField>>8), byte(tsField), byte(n>>16), byte(n>>8), byte(n), q.m.typ, 1, 0, 0, 0)
		ext := ts >= 0xffffff
		if ext {
			b = append(b, byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
		}
		for off := 0; ; {
			end := min(off+rtmpChunkSize, n)
			b = append(b, q.m.body[off:end]...)
			off = end
			if off >= n {
				break
			}
			b = append(b, 0xc0|csid)
			if ext {
				b = append(b, byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
			}
		}
	}
	k.buf = b
	if cap(k.buf) > 4<<20 {
		k.buf = nil // one burst (a GOP) must not pin its size for the whole play
	}
	k.nc.SetWriteDeadline(time.Now().Add(playSendTimeout))
	n, err := k.w.Write(b)
	k.out.Add(uint64(n))
	return err
}

// lockedWriter serializes writes to a connection that gortmplib also
// writes to (acknowledgements, ping answers) while the relay writes media:
// each Write is whole messages, so the two never interleave inside one.
type lockedWriter struct {
	net.Conn
	mu sync.Mutex
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.Write(b)
}
