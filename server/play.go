package server

import (
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// Play defaults, SRS's (docs/srs-behaviour.md, "Play").
const (
	// DefaultMergedWrite is SRS's mw_sleep: an RTMP player is written once
	// more than mergedWriteMsgs messages spanning more than this are queued.
	DefaultMergedWrite = 350 * time.Millisecond
	// DefaultQueueLength is SRS's play.queue_length: a player's queue
	// spanning more media time than this drops all but the sequence headers.
	DefaultQueueLength = 30 * time.Second
	// playSendTimeout is SRS_CONSTS_RTMP_TIMEOUT as a send timeout: a player
	// whose socket takes nothing for this long is disconnected.
	playSendTimeout = 30 * time.Second
	// mergedWriteMsgs is SRS_PERF_MW_MIN_MSGS.
	mergedWriteMsgs = 8
	// jitterMax and jitterDefault are SrsRtmpJitter's CONST_MAX_JITTER_MS and
	// DEFAULT_FRAME_TIME_MS for time_jitter full.
	jitterMax     = 250
	jitterDefault = 10
)

// Protocols of a player (Event.Protocol).
const (
	ProtoRTMP    = "rtmp"
	ProtoHTTPFLV = "http-flv"
)

// queued is a message in a player's queue with the player's own timestamp.
type queued struct {
	m  *relayMsg
	ts int64
}

// viewer is one player, from its play request to its end.
type viewer struct {
	c     *client // identity and source, as a publisher has them
	proto string
	// endsWithPublisher: HTTP-FLV responses end when the publisher leaves.
	endsWithPublisher bool
	// merged: wake the writer only once SRS's merged-write batch is queued.
	merged time.Duration
	// dumpAtOnce: the metadata, headers and GOP go out as soon as the
	// player is attached, whatever their size (SRS's HTTP-FLV loop writes
	// what is queued at once and sleeps mw_sleep only when nothing is).
	// After that, merged writes: SRS's HTTP-FLV polls every 350 ms, which
	// costs a wake-up per player at its own phase; waking on the queue as
	// RTMP players are woken gives the same batches for less than half the CPU
	// (bench/viewers, 200 players).
	dumpAtOnce  bool
	queueLength int64 // ms

	mu          sync.Mutex
	q           []queued
	spanStart   int64 // first av timestamp of q (player's time), -1: none
	spanEnd     int64
	lastPkt     int64 // jitter: the publisher's last av timestamp
	lastCorrect int64 // jitter: the player's last av timestamp
	skipped     uint64
	endReason   string

	wake chan struct{} // cap 1: the writer has something to write
	done chan struct{} // closed by stop
	once sync.Once

	sentVideo, sentAudio uint64
}

func (s *Server) newPlayer(c *client, proto string) *viewer {
	p := &viewer{
		c: c, proto: proto, endsWithPublisher: proto == ProtoHTTPFLV, dumpAtOnce: proto == ProtoHTTPFLV,
		merged: s.cfg.MergedWrite, queueLength: s.cfg.QueueLength.Milliseconds(),
		spanStart: -1, lastCorrect: -1,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	return p
}

// enqueue is SrsLiveConsumer::enqueue: correct the timestamp (time_jitter
// full), queue, shrink a queue longer than queue_length, wake the writer.
// Called with the relay's lock held.
func (p *viewer) enqueue(m *relayMsg) {
	p.mu.Lock()
	ts := int64(0)
	if m.av() {
		delta := m.ts - p.lastPkt
		if delta < -jitterMax || delta > jitterMax {
			delta = jitterDefault
		}
		p.lastCorrect = max(0, p.lastCorrect+delta)
		p.lastPkt = m.ts
		ts = p.lastCorrect
	}
	p.q = append(p.q, queued{m, ts})
	if m.av() && ts != 0 {
		if p.spanStart < 0 {
			p.spanStart = ts
		}
		p.spanEnd = ts
	}
	if p.queueLength > 0 && p.spanStart >= 0 && p.spanEnd-p.spanStart > p.queueLength {
		p.shrink()
	}
	ready := p.merged <= 0 || (len(p.q) > mergedWriteMsgs && p.spanEnd-p.spanStart > p.merged.Milliseconds())
	p.mu.Unlock()
	if ready {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// shrink is SrsMessageQueue::shrink: drop everything but the last sequence
// headers; the player skips to what comes next. Called with p.mu held.
func (p *viewer) shrink() {
	var vsh, ash *queued
	for i := range p.q {
		q := &p.q[i]
		if q.m.sh && q.m.typ == typeVideo {
			vsh = q
		} else if q.m.sh && q.m.typ == typeAudio {
			ash = q
		}
	}
	kept := make([]queued, 0, 2)
	for _, q := range []*queued{vsh, ash} {
		if q != nil {
			kept = append(kept, queued{q.m, p.spanEnd})
		}
	}
	p.skipped += uint64(len(p.q) - len(kept))
	p.q = kept
	p.spanStart = p.spanEnd
}

// take empties the queue for the writer.
func (p *viewer) take(buf []queued) []queued {
	p.mu.Lock()
	defer p.mu.Unlock()
	buf = append(buf[:0], p.q...)
	clear(p.q)
	p.q = p.q[:0]
	p.spanStart = -1
	return buf
}

// stop ends the play for reason (the first reason given wins).
func (p *viewer) stop(reason string) {
	p.once.Do(func() {
		p.mu.Lock()
		p.endReason = reason
		p.mu.Unlock()
		close(p.done)
	})
}

func (p *viewer) reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endReason
}

// End reasons of a play (Event.Reason for Kind "stop") beside EndClosed,
// EndTimeout (the player took nothing for 30 s) and EndError.
const (
	// EndUnpublished: the publisher left and the HTTP-FLV response ended.
	EndUnpublished = "unpublished"
	// EndServerClosed: the server closed.
	EndServerClosed = "server_closed"
)

// sink writes a batch of queued messages to a player.
type sink interface {
	write(batch []queued) error
}

// play attaches p to its source and writes what comes until p stops.
func (s *Server) play(p *viewer, out sink) {
	s.mu.Lock()
	closing := s.ctx.Err() != nil
	if !closing {
		s.players[p] = struct{}{}
	}
	s.mu.Unlock()
	if closing {
		p.stop(EndServerClosed)
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.players, p)
		s.mu.Unlock()
	}()
	src := p.c.src
	src.relay.attach(p)
	defer src.relay.detach(p)
	s.emit(Event{Kind: EventPlay, Protocol: p.proto, ClientID: p.c.id, IP: p.c.ip, App: p.c.app, Stream: p.c.stream, Param: p.c.param})

	var batch []queued
	// A player whose writes do not drain waits at most one merged write
	// before it looks at its queue again, so that a merged batch that
	// stopped growing (the publisher left) is still written.
	poll := max(p.merged, 10*time.Millisecond)
	first := poll
	if p.dumpAtOnce {
		first = 0
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-t.C:
		}
		t.Reset(poll)
		batch = p.take(batch)
		if len(batch) == 0 {
			continue
		}
		if err := out.write(batch); err != nil {
			reason, _ := endReason(err)
			p.stop(cmpOr(reason, EndError))
			return
		}
		for _, q := range batch {
			switch q.m.typ {
			case typeVideo:
				p.sentVideo++
			case typeAudio:
				p.sentAudio++
			}
		}
		clear(batch)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// endPlay reports the end and calls on_stop, whose answers SRS ignores.
func (s *Server) endPlay(p *viewer, bytesOut uint64) {
	c := p.c
	p.mu.Lock()
	skipped := p.skipped
	p.mu.Unlock()
	s.emit(Event{
		Kind: EventStop, Protocol: p.proto, ClientID: c.id, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param,
		Reason: p.reason(), BytesOut: bytesOut, VideoMsgs: p.sentVideo, AudioMsgs: p.sentAudio, Skipped: skipped,
	})
	if len(s.cfg.OnStop) == 0 {
		return
	}
	s.mu.Lock()
	if s.unpubClosed {
		s.mu.Unlock()
		return
	}
	s.unpublish.Add(1)
	s.mu.Unlock()
	req := s.hookRequest(c, schema.ActionStop)
	go func() {
		defer s.unpublish.Done()
		for _, u := range s.cfg.OnStop {
			r := s.callHook(s.unpubCtx, u, req)
			s.emitHook(c, schema.ActionStop, u, r)
		}
	}()
}

func (s *Server) rejectPlay(c *client, proto, reason string, hook *hookResult) {
	ev := Event{Kind: EventPlayReject, Protocol: proto, ClientID: c.id, IP: c.ip, App: c.app, Stream: c.stream, Param: c.param, Reason: reason}
	if hook != nil {
		ev.HookStatus, ev.HookBody, ev.HookLatency = hook.status, string(eventBody(hook.body)), hook.latency
		if hook.err != nil {
			ev.HookErr = hook.err.Error()
		}
	}
	s.emit(ev)
}

// playHookRequest is on_play's body: SRS writes stream before tcUrl there
// and adds pageUrl (docs/srs-behaviour.md, "Play").
func (s *Server) playHookRequest(c *client) *srs.PlayHookRequest {
	r := s.hookRequest(c, schema.ActionPlay)
	return &srs.PlayHookRequest{
		ServerID: r.ServerID, ServiceID: r.ServiceID, Action: r.Action, ClientID: r.ClientID, IP: r.IP,
		Vhost: r.Vhost, App: r.App, Stream: r.Stream, TcURL: r.TcURL, Param: r.Param,
		StreamURL: r.StreamURL, StreamID: r.StreamID,
	}
}

// newViewer makes the client of a player: its identity, its stream's
// statistic (the hooks' stream_id) and its source, as newClient does for a
// publisher; players are not in s.clients.
//
// api is how SRS's /api/v1/clients/ shows the player: its type
// ("rtmp-play", "flv-play"), name and tcUrl (for HTTP-FLV the file name and
// the HTTP URL, unlike the hooks', docs/srs-behaviour.md, "Play").
// sc is the RTMP connection, nil for HTTP-FLV.
func (s *Server) newViewer(cid string, remote net.Addr, sc *gortmplib.ServerConn, app, stream, param, tcURL string, api srs.Client) *client {
	ip := remote.String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	c := &client{
		id: cid, ip: ip, created: time.Now(), app: app, stream: stream, param: param, tcURL: tcURL,
		streamURL: "/" + app + "/" + stream, api: &api, sc: sc,
	}
	s.mu.Lock()
	s.viewers[cid] = c
	c.src = s.fetchSource(c.streamURL)
	c.src.viewers++
	st := s.streams[c.streamURL]
	if st == nil {
		st = &streamEntry{id: randomID("vid-", 7), viewer: c}
		s.streams[c.streamURL] = st
	}
	st.clients++
	s.mu.Unlock()
	return c
}

func (s *Server) removeViewer(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.viewers, c.id)
	c.src.viewers--
	s.dropSource(c.src)
	if st := s.streams[c.streamURL]; st != nil {
		st.clients--
		if st.clients <= 0 {
			delete(s.streams, c.streamURL)
		}
	}
}

// runHooks calls every URL of one action in order and returns the first
// refusing call's result, or one with no reason when all allow (on_publish
// and on_play share SRS's rule, docs/srs-behaviour.md, "Play").
func (s *Server) runHooks(c *client, action schema.HookAction, urls []string) hookResult {
	if len(urls) == 0 {
		return hookResult{}
	}
	var req any = s.hookRequest(c, action)
	if action == schema.ActionPlay {
		req = s.playHookRequest(c)
	}
	for _, u := range urls {
		r := s.callHook(s.ctx, u, req)
		s.emitHook(c, action, u, r)
		if r.reason != "" {
			return r
		}
	}
	return hookResult{}
}
