// Package tap is an RTMP-aware TCP tap: it sits between one RTMP publisher and the
// server, forwards every byte unchanged and in order, and timestamps the phases of the
// publish (handshake, connect, createStream, publish, onStatus, first media, close) as
// they cross the wire.
//
// Forwarding never waits for parsing: each direction's read loop writes what it read to
// the other side at once and then hands a copy to that direction's parser through a
// bounded queue. A parser that falls behind or meets something it cannot decode gives up
// (an Unparsed mark) while forwarding continues byte for byte.
package tap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Phase names one observable step of a publish on the wire.
type Phase string

// Phases, in the order a successful publish shows them.
const (
	// TCPConnect is when the tap accepted the client's connection.
	TCPConnect Phase = "tcp_connect"
	// UpstreamConnect is when the tap's own connection to the server was established.
	UpstreamConnect Phase = "upstream_connect"
	// C0C1 is the last byte of C0+C1 from the client.
	C0C1 Phase = "c0c1"
	// S0S1S2 is the last byte of S0+S1+S2 from the server.
	S0S1S2 Phase = "s0s1s2"
	// C2 is the last byte of C2 from the client.
	C2 Phase = "c2"
	// Connect is the client's "connect" command; Detail is its tcUrl.
	Connect Phase = "connect"
	// ConnectResult is the server's _result/_error for connect; Detail is its code.
	ConnectResult Phase = "connect_result"
	// ReleaseStream is the client's "releaseStream" command.
	ReleaseStream Phase = "release_stream"
	// FCPublish is the client's "FCPublish" command.
	FCPublish Phase = "fc_publish"
	// CreateStream is the client's "createStream" command.
	CreateStream Phase = "create_stream"
	// CreateStreamResult is the server's _result/_error for createStream.
	CreateStreamResult Phase = "create_stream_result"
	// Publish is the client's "publish" command; Detail is the stream key as sent.
	Publish Phase = "publish"
	// OnStatus is the server's first onStatus; Detail is its code.
	OnStatus Phase = "on_status"
	// FirstAudio is the first audio message from the client.
	FirstAudio Phase = "first_audio"
	// FirstVideo is the first video message from the client.
	FirstVideo Phase = "first_video"
	// ServerClose means the server ended the connection first (EOF, reset, or the
	// upstream dial failed); Detail says how.
	ServerClose Phase = "server_close"
	// ClientClose means the client ended the connection first; Detail says how.
	ClientClose Phase = "client_close"
	// Unparsed means parsing gave up in one direction; Detail is "client: reason" or
	// "server: reason". Forwarding is not affected.
	Unparsed Phase = "unparsed"
)

// Mark is one phase observed at the wire time of the read that completed it, as
// the server's leg shows it: a client message when the tap sends it on, a server
// message when it arrived from the server (the kernel's receive stamp, so a late
// wake-up of the tap does not move it).
type Mark struct {
	Phase  Phase
	At     time.Time
	Detail string
}

// Conn is what the tap saw of one client connection.
type Conn struct {
	ID uint64
	// Attempt is the rtmpload=<id> query parameter of the publish command's stream
	// key, or else of connect's tcUrl.
	Attempt string
	// App is connect's app and Stream the publish stream key, both without query.
	App, Stream string
	// Marks are in time order, each phase at most once (its first occurrence).
	Marks []Mark
	// BytesUp is client to server, BytesDown server to client, as forwarded.
	BytesUp, BytesDown uint64
	Unparsed           bool
	// Start is when the client connected, End when both directions were closed.
	Start, End time.Time
}

// At returns the time of phase p, if it was seen.
func (c *Conn) At(p Phase) (time.Time, bool) {
	m, ok := c.Mark(p)
	return m.At, ok
}

// Mark returns the mark of phase p, if it was seen.
func (c *Conn) Mark(p Phase) (Mark, bool) {
	for _, m := range c.Marks {
		if m.Phase == p {
			return m, true
		}
	}
	return Mark{}, false
}

// Config configures a Tap.
type Config struct {
	// Listen is the tap's address; default "127.0.0.1:0".
	Listen string
	// Target is the "host:port" of the real server.
	Target string
	// OnMark, if set, is called live for each mark, from the tap's goroutines (possibly
	// concurrently for one connection); it must not block long. c is a snapshot taken
	// when m was recorded and may be kept.
	OnMark func(c *Conn, m Mark)
	// OnDone, if set, is called once per connection after both directions are closed,
	// with the complete Conn, which the tap does not touch afterwards.
	OnDone func(c *Conn)
	// DialTimeout bounds the upstream dial; default 5s. If the dial fails the client
	// connection is reset at once and the Conn carries a ServerClose mark whose
	// Detail is the dial error.
	DialTimeout time.Duration
}

const (
	defaultListen      = "127.0.0.1:0"
	defaultDialTimeout = 5 * time.Second
	// closeWait bounds how long Close waits for connection goroutines (and OnDone).
	closeWait = 5 * time.Second
)

// Tap accepts publisher connections and relays each to Config.Target.
type Tap struct {
	cfg    Config
	ln     net.Listener
	ctx    context.Context // cancelled by Close: aborts pending upstream dials
	cancel context.CancelFunc
	nextID atomic.Uint64
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	live   map[*session]struct{}

	closeOnce sync.Once
	closeErr  error

	// lastMedia is when the tap last forwarded bytes of a client whose
	// publish had started (unix ns); writing counts the client-to-server
	// writes under way. See Forwarding.
	lastMedia atomic.Int64
	writing   atomic.Int32
}

// Start listens on cfg.Listen and relays every accepted connection to cfg.Target
// until Close.
func Start(cfg Config) (*Tap, error) {
	if cfg.Target == "" {
		return nil, errors.New("tap: Config.Target is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("tap: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tap{cfg: cfg, ln: ln, ctx: ctx, cancel: cancel, live: make(map[*session]struct{})}
	t.wg.Go(t.acceptLoop)
	return t, nil
}

// Addr is the "host:port" publishers should connect to.
func (t *Tap) Addr() string { return t.ln.Addr().String() }

// Close stops accepting, closes live connections and waits (at most a few seconds)
// for their goroutines, OnDone calls included. Connections it ends get no
// ClientClose or ServerClose mark. It is safe to call more than once.
func (t *Tap) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		err := t.ln.Close()
		t.mu.Lock()
		t.closed = true
		live := make([]*session, 0, len(t.live))
		for s := range t.live {
			live = append(live, s)
		}
		t.mu.Unlock()
		for _, s := range live {
			s.closeConns()
		}
		done := make(chan struct{})
		go func() { t.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeWait):
			err = errors.Join(err, fmt.Errorf("tap: connections still running after %v", closeWait))
		}
		t.closeErr = err
	})
	return t.closeErr
}

func (t *Tap) acceptLoop() {
	var backoff time.Duration
	for {
		nc, err := t.ln.Accept()
		at := time.Now()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient failures (EMFILE under load) must not end the tap; back
			// off as net/http's server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		s := newSession(t, nc, at)
		if !t.track(s) {
			nc.Close()
			return
		}
		// Adding while acceptLoop itself is counted keeps the WaitGroup above zero.
		t.wg.Go(func() {
			defer t.untrack(s)
			s.run()
		})
	}
}

func (t *Tap) track(s *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.live[s] = struct{}{}
	return true
}

func (t *Tap) untrack(s *session) {
	t.mu.Lock()
	delete(t.live, s)
	t.mu.Unlock()
}

// EachLive calls fn with the attempt and the client-to-server bytes so far of every live
// connection whose attempt is known (its publish command or tcUrl carried rtmpload=<id>). It is
// how a run judges each output of a fan-out process by its own connection.
func (t *Tap) EachLive(fn func(attempt string, bytesUp uint64)) {
	t.mu.Lock()
	live := make([]*session, 0, len(t.live))
	for s := range t.live {
		live = append(live, s)
	}
	t.mu.Unlock()
	for _, s := range live {
		s.mu.Lock()
		attempt := s.c.Attempt
		s.mu.Unlock()
		if attempt != "" {
			fn(attempt, s.bytesUp.Load())
		}
	}
}

// Forwarding is the tap's relay of media at this moment: how many live
// connections publish, when the tap last forwarded a publisher's bytes (zero:
// never), and whether a write to the server is under way (a server that does
// not read holds it: then a quiet tap is the server's doing, not the
// publishers').
func (t *Tap) Forwarding() (publishing int, last time.Time, writing bool) {
	t.mu.Lock()
	for s := range t.live {
		if s.publishStarted.Load() {
			publishing++
		}
	}
	t.mu.Unlock()
	if ns := t.lastMedia.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return publishing, last, t.writing.Load() > 0
}
