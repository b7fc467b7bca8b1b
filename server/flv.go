package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// handleFLV serves GET /app/stream.flv as SRS 7.0.18's http_remux does
// (docs/srs-behaviour.md, "Play"): on_play first, a refusal closes the
// connection with no HTTP answer at all, and the response head goes out
// with the first media, so a stream nobody publishes answers nothing until
// someone does. The response ends when the publisher leaves.
func (s *Server) handleFLV(w http.ResponseWriter, r *http.Request) {
	app, file, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	stream, isFLV := strings.CutSuffix(file, ".flv")
	if !ok || !isFLV || app == "" || stream == "" || strings.Contains(stream, "/") {
		http.NotFound(w, r)
		return
	}
	if !s.trackHandler() {
		panic(http.ErrAbortHandler)
	}
	defer s.handlers.Done()
	param := ""
	if r.URL.RawQuery != "" {
		param = "?" + r.URL.RawQuery
	}
	cid := strconv.FormatUint(s.nextCID.Add(1), 10)
	remote, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	var addr net.Addr = remote
	if remote == nil {
		addr = &net.TCPAddr{}
	}
	// SRS names the vhost, not the HTTP host, in an HTTP-FLV play's tcUrl.
	c := s.newViewer(cid, addr, nil, app, stream, param, "rtmp://"+defaultVhost+"/"+app,
		srs.Client{Type: "flv-play", Name: stream + ".flv", TcURL: "http://" + r.Host + "/" + app})
	defer s.removeViewer(c)
	log := s.log.With("cid", cid, "stream", c.streamURL, "param", c.param, "proto", ProtoHTTPFLV)
	s.emit(Event{Kind: EventPlayRequest, Protocol: ProtoHTTPFLV, ClientID: cid, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param})

	if res := s.runHooks(c, schema.ActionPlay, s.cfg.OnPlay); res.reason != "" {
		s.rejectPlay(c, ProtoHTTPFLV, res.reason, &res)
		log.Info("play rejected", "reason", res.reason)
		panic(http.ErrAbortHandler) // no answer: the connection just closes
	}
	p := s.newPlayer(c, ProtoHTTPFLV)
	stop := context.AfterFunc(r.Context(), func() { p.stop(EndClosed) })
	defer stop()
	out := &flvSink{w: w, rc: http.NewResponseController(w), version: s.cfg.Version, out: &c.sent}
	log.Info("play started")
	s.play(p, out)
	s.endPlay(p, c.sent.Load())
	log.Info("play ended", "reason", p.reason(), "bytes", c.sent.Load())
	if p.reason() == EndUnpublished || p.reason() == EndServerClosed {
		// SRS cuts the chunked body: the player reads an unexpected EOF.
		panic(http.ErrAbortHandler)
	}
}

// trackHandler counts an HTTP-FLV handler in s.handlers; false once closing.
func (s *Server) trackHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.handlers.Add(1)
	return true
}

// flvSink writes a batch as FLV tags; the FLV header goes with the first.
type flvSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	version string
	started bool
	buf     []byte
	out     *atomic.Uint64 // bytes written
}

func (k *flvSink) write(batch []queued) error {
	b := k.buf[:0]
	if !k.started {
		k.started = true
		h := k.w.Header()
		h.Set("Content-Type", "video/x-flv")
		h.Set("Server", "SRS/"+k.version)
		// FLV header with audio and video flags, then PreviousTagSize0.
		b = append(b, 'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0)
	}
	for _, q := range batch {
		n := len(q.m.body)
		ts := uint32(q.ts)
		b = append(b, q.m.typ, byte(n>>16), byte(n>>8), byte(n),
			byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
		b = append(b, q.m.body...)
		size := uint32(11 + n)
		b = append(b, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	k.buf = b
	if cap(k.buf) > 4<<20 {
		k.buf = nil
	}
	k.rc.SetWriteDeadline(time.Now().Add(playSendTimeout))
	n, err := k.w.Write(b)
	k.out.Add(uint64(n))
	if err == nil {
		err = k.rc.Flush()
	}
	return err
}
