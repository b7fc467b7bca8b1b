// Package hook is rtmpload's built-in callback server (on_publish, on_unpublish,
// on_play, on_stop; nginx-rtmp's publish, play and their _done): it answers
// the HTTP hooks SRS (or the embedded SRS-like server) sends, the way a
// real callback service would, and records every call so that each rejected
// publish can be tied to what the callback saw and answered.
package hook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// Paths of the callback URLs handed to the RTMP server. Any path is
// accepted, because the action is in the body, not the URL.
const (
	OnPublishPath   = "/api/v1/hooks/on_publish"
	OnUnpublishPath = "/api/v1/hooks/on_unpublish"
	OnPlayPath      = "/api/v1/hooks/on_play"
	OnStopPath      = "/api/v1/hooks/on_stop"
)

// Verdicts of a Call: how the calling server takes the answer, by its
// dialect's allow rule (for SRS, srs.JudgeAnswer).
const (
	VerdictAllow     = string(srs.Allow)
	VerdictDeny      = string(srs.Deny)        // a refusal in the dialect's own terms (SRS: 2xx with a non-zero code; nginx-rtmp: 403)
	VerdictBadAnswer = string(srs.BadAnswer)   // SRS only: a 2xx in another format ({"status":"ok"}, "ok"), which SRS refuses
	VerdictError     = string(srs.ErrorStatus) // a refusal by error status, or a request that was not a hook call
)

// Dialects of a Call.
const (
	DialectSRS   = "srs"   // JSON body (docs/srs-behaviour.md, "Hook request")
	DialectNginx = "nginx" // nginx-rtmp's form-encoded fields (docs/srs-behaviour.md, "nginx-rtmp")
)

// defaultVhost is what SRS sends when the publish URL names no vhost; it is
// also used for the live key when a caller leaves vhost out.
const defaultVhost = "__defaultVhost__"

// Config configures a Server. The zero value is a usable allow-all server
// on a free loopback port.
type Config struct {
	Listen  string          // default "127.0.0.1:0"
	Mode    schema.HookMode // default allow
	Latency time.Duration   // sleep before answering; ends early if the caller goes away

	// OnCall, if set, is called once per call after the answer is written
	// (or failed). Calls run concurrently, so OnCall must be safe for
	// concurrent use; a slow OnCall holds its caller's connection open.
	OnCall func(Call)

	Now func() time.Time // clock for Arrived and Answered; default time.Now

	// Faults is a schedule over the time since Arm; before Arm no fault
	// applies. Where windows overlap the first in the list wins.
	Faults []Fault

	// OnState, if set, is told the callback's availability at Arm and at
	// every change. Changes are reported one at a time, in order.
	OnState func(StateChange)

	// Upstream, if set, is the URL of a real callback service: every call
	// is forwarded to it and its answer relayed, and Mode is ignored.
	Upstream string

	bodyTimeout time.Duration // 0: bodyTimeout; tests shorten it
	// clock runs the fault schedule (nil: the wall clock); tests step a
	// fake one through the windows' edges.
	clock clock
}

// Call is the server's record of one hook call.
type Call struct {
	Seq     int64             `json:"seq"`     // 1.. in arrival order
	Dialect string            `json:"dialect"` // "srs" | "nginx"
	Action  schema.HookAction `json:"action"`  // on_publish | on_unpublish | another action | "" if the body was unreadable

	ClientID string `json:"client_id,omitempty"`
	IP       string `json:"ip,omitempty"`
	Vhost    string `json:"vhost,omitempty"`
	App      string `json:"app,omitempty"`
	Stream   string `json:"stream,omitempty"`
	Param    string `json:"param,omitempty"`
	TcURL    string `json:"tc_url,omitempty"`
	StreamID string `json:"stream_id,omitempty"`

	// Attempt is the rtmpload=... field of Param: the publish attempt that
	// caused this call ("" if none).
	Attempt string `json:"attempt,omitempty"`

	Arrived  time.Time `json:"arrived"`
	Answered time.Time `json:"answered"`

	Status  int    `json:"status"`            // HTTP status written; 0 if nothing was written
	Answer  string `json:"answer"`            // body written
	Verdict string `json:"verdict,omitempty"` // "allow" | "deny" | "bad_answer" | "error"; "" if canceled before a decision
	Reason  string `json:"reason,omitempty"`  // why denied, failed or canceled

	// Fault is the Spec of the fault window that shaped the answer ("" if
	// none did, also in the up half of a flap).
	Fault string `json:"fault,omitempty"`

	// Upstream is the real callback's answer in proxy mode (nil when it
	// was not asked, e.g. a fault answered instead).
	Upstream *UpstreamResult `json:"upstream,omitempty"`

	// LiveOwner is the client_id that already had this stream live when an
	// on_publish arrived for it ("" if the name was free): a duplicate,
	// whatever the mode answered.
	LiveOwner string `json:"live_owner,omitempty"`

	// Canceled means the caller went away (or the server closed) before
	// the answer reached it, e.g. the RTMP server's hook timeout.
	Canceled bool `json:"canceled,omitempty"`
}

// Server is a running callback server.
type Server struct {
	mode    schema.HookMode
	latency time.Duration
	onCall  func(Call)
	now     func() time.Time

	srv  *http.Server
	addr string // fixed at Start, so a down fault re-listens where callers point

	// lnMu guards the listener, which a down fault closes and reopens, and
	// the connections it cuts when it does.
	lnMu     sync.Mutex
	ln       net.Listener // nil while a down fault holds the port closed
	conns    map[net.Conn]struct{}
	closed   bool
	serving  sync.WaitGroup // one per Serve on a listener
	serveErr error

	// closing is the parent of every request context: canceling it wakes
	// handlers waiting out their latency, so Close need not wait for them.
	closing    context.Context
	stop       context.CancelFunc
	closeGrace time.Duration
	closeOnce  sync.Once
	closeErr   error

	sched *schedule

	upstream string
	client   *http.Client // to the upstream

	mu       sync.Mutex
	seq      int64
	bodyWait time.Duration // bounds reading one body

	calls     []Call
	callBytes int               // the size of calls
	live      map[string]string // live key -> client_id of its publisher
}

// closeGrace bounds how long Close waits for in-flight calls to finish.
const closeGrace = 2 * time.Second

// Start listens on cfg.Listen and serves hook calls until Close.
func Start(cfg Config) (*Server, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = schema.HookAllow
	}
	if _, err := schema.ParseHookMode(string(mode)); err != nil {
		return nil, err
	}
	if cfg.Latency < 0 {
		return nil, fmt.Errorf("hook: negative latency %s", cfg.Latency)
	}
	sched, err := newSchedule(cfg.Faults, cfg.OnState, cfg.clock)
	if err != nil {
		return nil, err
	}
	if cfg.Upstream != "" {
		if err := checkUpstream(cfg.Upstream); err != nil {
			return nil, err
		}
	}
	addr := cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("hook: cannot listen on %s: the port is already in use; stop what is using it or choose another address (port 0 picks a free one): %w", addr, err)
		}
		return nil, fmt.Errorf("hook: cannot listen on %s (want host:port, e.g. 127.0.0.1:0): %w", addr, err)
	}

	s := &Server{
		mode:       mode,
		latency:    cfg.Latency,
		onCall:     cfg.OnCall,
		now:        cfg.Now,
		addr:       ln.Addr().String(),
		conns:      make(map[net.Conn]struct{}),
		closeGrace: closeGrace,
		sched:      sched,
		upstream:   cfg.Upstream,
		live:       make(map[string]string),
		bodyWait:   cmp.Or(cfg.bodyTimeout, bodyTimeout),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.upstream != "" {
		s.client = newUpstreamClient()
	}
	s.closing, s.stop = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout: it would cancel a call held by a latency fault
		// (35 s and more) once its body is read; serve bounds the body.
		IdleTimeout:    30 * time.Second,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return s.closing },
		ConnState:      s.track,
	}
	s.lnMu.Lock()
	s.listenOn(ln)
	s.lnMu.Unlock()
	return s, nil
}

// listenOn serves ln; lnMu is held, so Close cannot be waiting on serving.
func (s *Server) listenOn(ln net.Listener) {
	s.ln = ln
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		err := s.srv.Serve(ln)
		// A listener a down fault closed ends Serve with ErrClosed: expected.
		if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
			return
		}
		s.lnMu.Lock()
		if s.serveErr == nil {
			s.serveErr = err
		}
		s.lnMu.Unlock()
	}()
}

// track keeps the open connections, so a down fault can cut keep-alive
// ones: a caller reusing one would otherwise still be answered.
func (s *Server) track(c net.Conn, state http.ConnState) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	switch state {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// Addr is the address the server listens on, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.addr }

// OnPublishURL is the URL to configure as the RTMP server's on_publish hook.
func (s *Server) OnPublishURL() string { return s.url(OnPublishPath) }

// OnUnpublishURL is the URL to configure as the RTMP server's on_unpublish hook.
func (s *Server) OnUnpublishURL() string { return s.url(OnUnpublishPath) }

// OnPlayURL is the URL to configure as the RTMP server's on_play hook
// (nginx-rtmp: on_play).
func (s *Server) OnPlayURL() string { return s.url(OnPlayPath) }

// OnStopURL is the URL to configure as the RTMP server's on_stop hook
// (nginx-rtmp: on_play_done).
func (s *Server) OnStopURL() string { return s.url(OnStopPath) }

func (s *Server) url(path string) string {
	return (&url.URL{Scheme: "http", Host: s.Addr(), Path: path}).String()
}

// Bounds on what the server remembers: the calls Calls returns, in number
// and in bytes, and the names it holds live.
const (
	keptCalls     = 10000
	keptCallBytes = 16 << 20
	maxLive       = 100000
)

// size is about what c holds in memory.
func (c Call) size() int {
	n := 256 + len(c.Dialect) + len(c.Action) + len(c.ClientID) + len(c.IP) + len(c.Vhost) + len(c.App) +
		len(c.Stream) + len(c.Param) + len(c.TcURL) + len(c.StreamID) + len(c.Attempt) + len(c.Answer) +
		len(c.Verdict) + len(c.Reason) + len(c.Fault) + len(c.LiveOwner)
	if u := c.Upstream; u != nil {
		n += 128 + len(u.Body) + len(u.Err)
	}
	return n
}

// Calls returns a snapshot of the finished calls in arrival order: all of
// them, or the latest of a long run (at least keptCalls/2).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	calls := slices.Clone(s.calls)
	s.mu.Unlock()
	slices.SortFunc(calls, func(a, b Call) int { return cmp.Compare(a.Seq, b.Seq) })
	return calls
}

// Live returns the streams ("vhost/app/stream") the server believes are
// being published: allowed by an on_publish and not yet freed by their
// publisher's on_unpublish. Sorted.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.live))
}

// Close stops listening and the fault schedule, aborts calls still
// waiting out their latency and waits a bounded time for handlers to
// finish. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.sched.disarm()
		s.lnMu.Lock()
		s.closed = true
		s.lnMu.Unlock()
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), s.closeGrace)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
			s.closeErr = fmt.Errorf("hook: calls still running after %s; their connections were closed", s.closeGrace)
		}
		s.serving.Wait()
		if s.closeErr == nil && s.serveErr != nil {
			s.closeErr = fmt.Errorf("hook: serving stopped early: %w", s.serveErr)
		}
	})
	return s.closeErr
}

// AttemptFromParam returns the rtmpload=... field of an SRS param (the
// publish URL's query, with or without its leading "?"), "" if none.
// Malformed neighbouring fields do not hide it.
func AttemptFromParam(param string) string {
	// ParseQuery keeps every well-formed pair even when it reports an error
	// for another one, so the error only means "something else was odd".
	q, _ := url.ParseQuery(strings.TrimPrefix(param, "?"))
	return q.Get("rtmpload")
}
