package server

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// maxDecodeErrors ends a publisher whose messages gortmplib keeps failing to
// decode. A decode error consumes a whole message, so skipping one keeps the
// stream in sync; an endless run of them means the stream is garbage.
const maxDecodeErrors = 100

// client is one publishing connection, from its publish command to its end.
type client struct {
	id        string
	ip        string
	app       string
	stream    string
	param     string
	tcURL     string
	streamURL string // "/app/stream", the key of live and streams
	created   time.Time
	sc        *gortmplib.ServerConn
	nc        net.Conn
	src       *source // looked up when identified, before the hooks
	// api is set for a player: its type, name and tcUrl in the API.
	api *srs.Client
	// sent counts a player's media bytes (the relay writes them, not
	// gortmplib, whose count has the control messages only).
	sent atomic.Uint64

	mu        sync.Mutex
	active    bool // accepted: Publish.Start sent
	takenOver bool // closed by the server for a newer publisher (Takeover)
	// learning: accepted with Takeover while the name had a publisher,
	// and reading its first media before it takes the name over (guarded
	// by Server.mu, as the API reads it).
	learning  bool
	videoMsgs uint64
	audioMsgs uint64
	video     *srs.Video
	audio     *srs.Audio
	rate      rateWindow
}

// streamEntry is SRS's per-stream statistic: it lives while any client uses
// the stream url, and its id is the hook's stream_id.
type streamEntry struct {
	id      string
	clients int
	viewer  *client // the player that created it, if one did: names it in the API
}

func (s *Server) handleConn(nc net.Conn) {
	cid := strconv.FormatUint(s.nextCID.Add(1), 10)
	log := s.log.With("cid", cid, "remote", nc.RemoteAddr().String())

	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	lw := &lockedWriter{Conn: nc}
	mc := &mergedConn{Conn: lw, delay: s.cfg.MergedRead}
	sc := &gortmplib.ServerConn{RW: mc}
	if err := sc.Initialize(); err != nil {
		log.Debug("rtmp handshake/connect failed", "err", err)
		return
	}
	if err := sc.AcceptConn(); err != nil {
		log.Debug("rtmp connect failed", "err", err)
		return
	}
	if !sc.Publish {
		s.servePlay(cid, nc, sc, lw)
		return
	}
	// The hook may take up to HookTimeout; the publisher just waits, as with SRS.
	nc.SetDeadline(time.Time{})

	c := s.newClient(cid, nc, sc)
	log = log.With("stream", c.streamURL, "param", c.param)
	s.emit(Event{Kind: EventPublishRequest, ClientID: cid, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param})
	defer s.removeClient(c)

	// SRS looks the source up, calls the hooks, then checks whether that
	// source is busy (docs/srs-behaviour.md, "Duplicate names"), so a
	// duplicate publisher is seen by the hook.
	if r := s.runHooks(c, schema.ActionPublish, s.cfg.OnPublish); r.reason != "" {
		s.reject(c, nc, r.reason, &r)
		args := []any{"reason", r.reason}
		if r.err == nil && r.status != 0 {
			// SRS's own words for the answer it refused, as its log has them.
			j := srs.JudgeAnswer(r.status, r.body)
			args = append(args, "hook_status", r.status, "hook_body", string(eventBody(r.body)), "srs_error", j.Code, "srs_detail", j.Detail)
		}
		log.Info("publish rejected", args...)
		return
	}
	claimed, learn := s.claim(c)
	if !claimed {
		s.reject(c, nc, ReasonStreamBusy, nil)
		log.Info("publish rejected", "reason", ReasonStreamBusy)
		return
	}

	// Emitted before Publish.Start is written so that observers see the
	// accept before the publisher can act on it.
	s.emit(Event{Kind: EventAccept, ClientID: cid, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param})
	if err := sc.AcceptAction(); err != nil {
		s.release(c)
		s.endPublish(c, EndError)
		log.Info("publish start failed", "err", err)
		return
	}
	log.Info("publish accepted")

	var reason string
	var err error
	if learn {
		reason, err = s.learnTracks(c)
	}
	if reason == "" {
		reason, err = s.readMedia(c, mc)
	}
	nc.Close()
	c.mu.Lock()
	if c.takenOver {
		reason = EndTakenOver
	}
	c.mu.Unlock()
	s.release(c)
	s.endPublish(c, reason)
	log.Info("publish ended", "reason", reason, "err", err, "bytes", sc.BytesReceived())
}

func (s *Server) newClient(cid string, nc net.Conn, sc *gortmplib.ServerConn) *client {
	ip := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	app, stream, _ := strings.Cut(strings.TrimPrefix(sc.URL.Path, "/"), "/")
	param := ""
	if sc.URL.RawQuery != "" {
		param = "?" + sc.URL.RawQuery
	}
	c := &client{
		id:        cid,
		ip:        ip,
		app:       app,
		stream:    stream,
		param:     param,
		tcURL:     (&url.URL{Scheme: sc.URL.Scheme, Host: sc.URL.Host, Path: "/" + app}).String(),
		streamURL: "/" + app + "/" + stream,
		created:   time.Now(),
		sc:        sc,
		nc:        nc,
	}
	s.mu.Lock()
	s.clients[cid] = c
	c.src = s.fetchSource(c.streamURL)
	st := s.streams[c.streamURL]
	if st == nil {
		st = &streamEntry{id: randomID("vid-", 7)}
		s.streams[c.streamURL] = st
	}
	st.clients++
	s.mu.Unlock()
	return c
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c.id)
	s.dropSource(c.src)
	if st := s.streams[c.streamURL]; st != nil {
		st.clients--
		if st.clients <= 0 {
			delete(s.streams, c.streamURL)
		}
	}
}

func (s *Server) hookRequest(c *client, action schema.HookAction) *srs.HookRequest {
	s.mu.Lock()
	streamID := ""
	if st := s.streams[c.streamURL]; st != nil {
		streamID = st.id
	}
	s.mu.Unlock()
	return &srs.HookRequest{
		ServerID:  s.cfg.ServerID,
		ServiceID: s.cfg.ServiceID,
		Action:    string(action),
		ClientID:  c.id,
		IP:        c.ip,
		Vhost:     defaultVhost,
		App:       c.app,
		TcURL:     c.tcURL,
		Stream:    c.stream,
		Param:     c.param,
		StreamURL: c.streamURL,
		StreamID:  streamID,
	}
}

func (s *Server) emitHook(c *client, action schema.HookAction, u string, r hookResult) {
	ev := Event{
		Kind: EventHook, ClientID: c.id, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param,
		HookAction: action, HookURL: u, HookStatus: r.status, HookLatency: r.latency,
	}
	ev.HookBody = string(eventBody(r.body))
	if r.err != nil {
		ev.HookErr = r.err.Error()
	}
	s.emit(ev)
}

// claim makes c the publisher of the source it looked up unless that has
// one (SrsRtmpConn::acquire_publish). Check and set happen under one lock.
// With Takeover, c is accepted anyway and learns its tracks first (learn):
// it takes the name over afterwards (takeOver), as MediaMTX does.
func (s *Server) claim(c *client) (claimed, learn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.src.publisher != nil {
		if !s.cfg.Takeover {
			return false, false
		}
		c.learning = true
		return true, true
	}
	s.publishLocked(c)
	return true, false
}

// publishLocked makes c its source's publisher; s.mu is held.
func (s *Server) publishLocked(c *client) {
	c.src.publisher = c
	s.live[c.streamURL] = c
	c.mu.Lock()
	c.active = true
	c.mu.Unlock()
}

func (s *Server) release(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.src.publisher == c {
		c.src.publisher = nil
		c.src.died = time.Now()
		c.src.relay.unpublish()
	}
	if s.live[c.streamURL] != c {
		return
	}
	delete(s.live, c.streamURL)
	// After DuplicateRace's double accept, the other publisher of the
	// url is still live on its own source.
	for _, o := range s.clients {
		if o != c && o.streamURL == c.streamURL && o.src.publisher == o {
			s.live[c.streamURL] = o
			break
		}
	}
}

// reject closes the connection without an RTMP error status, as SRS >=
// 5.0.212 does, so ffmpeg reports "Input/output error" exactly as with SRS.
// hook is the refusing hook call, nil when the hook did not refuse.
func (s *Server) reject(c *client, nc net.Conn, reason string, hook *hookResult) {
	nc.Close()
	ev := Event{Kind: EventReject, ClientID: c.id, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param, Reason: reason}
	if hook != nil {
		ev.HookStatus, ev.HookBody, ev.HookLatency = hook.status, string(eventBody(hook.body)), hook.latency
		if hook.err != nil {
			ev.HookErr = hook.err.Error()
		}
	}
	s.emit(ev)
}

// readMedia counts media until the publisher ends. Its timeouts are SRS's
// (docs/srs-behaviour.md, "Publish timeouts"): SRS does not time each gap
// between messages; it looks at fixed points, publish.firstpkt_timeout
// after the publish started and then every publish.normal_timeout, and
// drops the publisher if no message at all (metadata and sequence headers
// count) came since the last look. A publisher that sent its headers and
// then waited 8 s for media lives on SRS; one that sends nothing for a
// whole window does not.
func (s *Server) readMedia(c *client, nc *mergedConn) (string, error) {
	var msgs atomic.Int64
	watch := s.watchPublish(nc, &msgs)
	defer watch.Stop()
	decodeErrs := 0
	for {
		msg, err := c.sc.Read()
		if err != nil {
			if reason, final := endReason(err); final {
				return reason, err
			}
			decodeErrs++
			if decodeErrs > maxDecodeErrors {
				return EndError, err
			}
			continue
		}
		decodeErrs = 0
		msgs.Add(1)
		if nc.delay > 0 {
			nc.on.Store(true) // media flows: let it gather between reads
		}
		c.count(msg, time.Now())
		if m := encodeRelay(msg); m != nil {
			c.src.relay.publish(m)
		}
	}
}

// watchPublish looks at msgs at SRS's points (see readMedia) and, when none
// came since the last look, ends the publisher's reads with a deadline in
// the past: its Read then fails as a timeout. Stop ends the watch.
//
// A look that finds nothing looks again lookAgain later before it drops:
// this server shares its process with the tap and its machine with the
// generator, and if the whole process was paused, the look can run before
// the reads of what waits in the socket. SRS's scheduler runs the reads
// first.
func (s *Server) watchPublish(nc net.Conn, msgs *atomic.Int64) *publishWatch {
	clk := s.cfg.clock
	w := &publishWatch{}
	w.mu.Lock()
	defer w.mu.Unlock()
	due := clk.Now().Add(s.cfg.FirstPacketTimeout) // the next look
	again := false
	var look func()
	look = func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.ended {
			return
		}
		switch n := msgs.Load(); {
		case n > w.seen:
			w.seen, again = n, false
			due = due.Add(s.cfg.NormalTimeout)
			w.stop = clk.AfterFunc(max(due.Sub(clk.Now()), 0), look)
		case !again:
			again = true
			w.stop = clk.AfterFunc(lookAgain, look)
		default:
			nc.SetReadDeadline(time.Now())
		}
	}
	w.stop = clk.AfterFunc(s.cfg.FirstPacketTimeout, look)
	return w
}

// lookAgain is how long a look that found no message waits for the reads
// to catch up before it drops the publisher (see watchPublish).
const lookAgain = 500 * time.Millisecond

type publishWatch struct {
	mu    sync.Mutex
	stop  func() bool // stops the next look
	ended bool
	seen  int64 // msgs at the last look
}

func (w *publishWatch) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	w.stop()
}

// endReason tells connection-ending errors from per-message decode errors.
func endReason(err error) (reason string, final bool) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return EndTimeout, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		return EndClosed, true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return EndError, true
	}
	return "", false
}

func (s *Server) endPublish(c *client, reason string) {
	c.mu.Lock()
	video, audio := c.videoMsgs, c.audioMsgs
	c.active = false
	c.mu.Unlock()
	s.emit(Event{
		Kind: EventUnpublish, ClientID: c.id, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param,
		Reason: reason, BytesIn: c.sc.BytesReceived(), VideoMsgs: video, AudioMsgs: audio,
	})
	if len(s.cfg.OnUnpublish) == 0 {
		return
	}
	req := s.hookRequest(c, schema.ActionUnpublish)
	s.mu.Lock()
	if s.unpubClosed {
		s.mu.Unlock()
		return
	}
	s.unpublish.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.unpublish.Done()
		t := time.NewTimer(unpublishDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.unpubCtx.Done():
			return
		}
		for _, u := range s.cfg.OnUnpublish {
			r := s.callHook(s.unpubCtx, u, req)
			s.emitHook(c, schema.ActionUnpublish, u, r)
		}
	}()
}
