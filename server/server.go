// Package server is the embedded SRS-like RTMP server: RTMP publish ingest on
// gortmplib, SRS's on_publish/on_unpublish HTTP callbacks and an SRS-shaped
// HTTP API. It reproduces the behaviour of SRS 7 described in
// docs/srs-behaviour.md.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/srs"
)

// Defaults taken from SRS 7 so that timing-sensitive classification behaves
// the same against the embedded server as against a real one.
const (
	DefaultHookTimeout        = 30 * time.Second // SRS_HTTP_CLIENT_TIMEOUT
	DefaultFirstPacketTimeout = 20 * time.Second // publish.firstpkt_timeout
	DefaultNormalTimeout      = 5 * time.Second  // publish.normal_timeout
	DefaultVersion            = srs.Version

	// handshakeTimeout bounds handshake, connect and createStream, like
	// SRS_CONSTS_RTMP_TIMEOUT.
	handshakeTimeout = 30 * time.Second
	// unpublishDelay mirrors the ~5 ms SRS takes between a publisher's TCP
	// close and its on_unpublish call.
	unpublishDelay = 5 * time.Millisecond
	// closeWait bounds how long Close waits for handlers and on_unpublish calls.
	closeWait = 5 * time.Second
	// defaultVhost is the vhost name SRS reports when the URL names none.
	defaultVhost = srs.DefaultVhost
)

// Config configures Start. Zero values take SRS's defaults.
type Config struct {
	RTMPListen  string   // default "127.0.0.1:0"
	APIListen   string   // default "127.0.0.1:0"; the API is always served
	OnPublish   []string // on_publish hook URLs, called in order, all must allow; empty = allow
	OnUnpublish []string // on_unpublish hook URLs, called in order
	OnPlay      []string // on_play hook URLs, called in order, all must allow; empty = allow
	OnStop      []string // on_stop hook URLs, called in order; answers are ignored
	// FLVListen is the HTTP-FLV listener (GET /app/stream.flv, SRS's
	// http_server with http_remux); "" = none, port 0 = a free port.
	FLVListen string
	// MergedWrite: an RTMP player is written once more than 8 messages
	// spanning more than this are queued (default DefaultMergedWrite, SRS's
	// mw_sleep); negative: write each message at once.
	MergedWrite time.Duration
	// QueueLength bounds a player's queue in media time (default
	// DefaultQueueLength); a longer queue drops all but the sequence headers.
	QueueLength        time.Duration
	HookTimeout        time.Duration // default 30s, covers connect and response
	FirstPacketTimeout time.Duration // default 20s
	NormalTimeout      time.Duration // default 5s: a stalled publisher is dropped
	Version            string        // default "7.0.18"; User-Agent "SRS/"+Version
	ServerID           string        // default random "vid-xxxxxxx"
	ServiceID          string        // default random 8 characters
	// DuplicateRace reproduces SRS 7.0.18's duplicate-accept race
	// (docs/srs-behaviour.md, "Duplicate names"): a publisher looks its
	// source up before its on_publish hook and is accepted on that source
	// after it, while SRS's 3 s cleanup tick drops sources nobody publishes
	// yet. A tick during the owner's hook leaves the owner on a source the
	// pool forgot; the next publisher of the name, if it looks up after that
	// tick, gets a new source and is accepted too. Off by default.
	DuplicateRace bool
	// Takeover lets the newest publisher of a name take it over, as
	// MediaMTX does by default: the new one is accepted at once, and the
	// live publisher's connection is closed after the new one's first
	// takeoverMedia of media (its unpublish reason is EndTakenOver). Off by
	// default: SRS refuses the newcomer with StreamBusy.
	Takeover bool
	// MergedRead lets a publishing socket fill this long between reads once
	// media flows (default DefaultMergedRead; negative: read each message at
	// once).
	MergedRead time.Duration
	OnEvent    func(Event)  // optional; called from many goroutines at once
	Logger     *slog.Logger // optional; nil discards

	apiReadTimeout time.Duration // 0: apiReadTimeout; tests shorten it

	// cleanupEvery is SRS's source cleanup period (sourceCleanup); tests
	// shorten it.
	cleanupEvery time.Duration

	// clock times the publish timeouts' looks (nil: the wall clock); tests
	// step a fake one through them.
	clock clock
}

// Server is a running embedded server. Create it with Start.
type Server struct {
	cfg     Config
	log     *slog.Logger
	vhostID string
	pid     string

	rtmpLn  net.Listener
	apiLn   net.Listener
	apiSrv  *http.Server
	flvLn   net.Listener // nil without FLVListen
	flvSrv  *http.Server
	hookCli *http.Client

	// ctx is cancelled by Close; on_publish calls and handlers derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	// unpubCtx outlives ctx by a grace period so that on_unpublish calls for
	// publishers ended by Close are still delivered.
	unpubCtx    context.Context
	unpubCancel context.CancelFunc

	nextCID atomic.Uint64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	clients map[string]*client      // by client id: publishers from publish command to disconnect
	live    map[string]*client      // by stream url: the accepted publisher
	sources map[string]*source      // by stream url: SRS's source pool
	streams map[string]*streamEntry // by stream url: exists while any client uses it
	players map[*viewer]struct{}    // playing (attached to their source)
	viewers map[string]*client      // by client id: players from play command to disconnect
	// unpubClosed stops new on_unpublish calls once Close waits for them.
	unpubClosed bool

	handlers  sync.WaitGroup
	unpublish sync.WaitGroup
	stopAfter func() bool // unregisters Start's ctx watcher
	closeOnce sync.Once
	closeErr  error
}

// Start opens both listeners and serves until Close or until ctx is done.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := checkHookURLs(cfg); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		vhostID: randomID("vid-", 7),
		pid:     strconv.Itoa(syscall.Getpid()),
		conns:   map[net.Conn]struct{}{},
		clients: map[string]*client{},
		live:    map[string]*client{},
		sources: map[string]*source{},
		streams: map[string]*streamEntry{},
		players: map[*viewer]struct{}{},
		viewers: map[string]*client{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.unpubCtx, s.unpubCancel = context.WithCancel(context.Background())
	s.hookCli = newHookClient(cfg.HookTimeout)

	var err error
	if s.rtmpLn, err = listen("RTMP", cfg.RTMPListen); err != nil {
		return nil, err
	}
	if s.apiLn, err = listen("HTTP API", cfg.APIListen); err != nil {
		s.rtmpLn.Close()
		return nil, err
	}
	if cfg.FLVListen != "" {
		if s.flvLn, err = listen("HTTP-FLV", cfg.FLVListen); err != nil {
			s.rtmpLn.Close()
			s.apiLn.Close()
			return nil, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", s.handleFLV)
		// No write timeout: a response lasts as long as its play; each
		// write has its own deadline (playSendTimeout).
		s.flvSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			if err := s.flvSrv.Serve(s.flvLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http-flv stopped", "err", err)
			}
		}()
	}
	// The API answers at once: a request that takes longer to arrive, or a
	// connection idle longer, is a caller holding it; bodies are not read.
	s.apiSrv = &http.Server{
		Handler:           http.MaxBytesHandler(s.apiHandler(), maxAPIBody),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cmp.Or(cfg.apiReadTimeout, apiReadTimeout),
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}

	s.handlers.Add(2)
	go func() {
		defer s.handlers.Done()
		s.acceptLoop()
	}()
	go func() {
		defer s.handlers.Done()
		if err := s.apiSrv.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http api stopped", "err", err)
		}
	}()
	if cfg.DuplicateRace {
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			s.cleanupSources()
		}()
	}
	s.stopAfter = context.AfterFunc(ctx, func() { s.Close() })
	s.log.Info("server started", "rtmp", s.RTMPAddr(), "api", s.APIAddr(), "http-flv", s.FLVAddr())
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.RTMPListen == "" {
		cfg.RTMPListen = "127.0.0.1:0"
	}
	if cfg.APIListen == "" {
		cfg.APIListen = "127.0.0.1:0"
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = DefaultHookTimeout
	}
	if cfg.FirstPacketTimeout <= 0 {
		cfg.FirstPacketTimeout = DefaultFirstPacketTimeout
	}
	if cfg.NormalTimeout <= 0 {
		cfg.NormalTimeout = DefaultNormalTimeout
	}
	if cfg.MergedRead == 0 {
		cfg.MergedRead = DefaultMergedRead
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.ServerID == "" {
		cfg.ServerID = randomID("vid-", 7)
	}
	if cfg.ServiceID == "" {
		cfg.ServiceID = randomID("", 8)
	}
	if cfg.clock == nil {
		cfg.clock = wallClock{}
	}
	if cfg.MergedWrite == 0 {
		cfg.MergedWrite = DefaultMergedWrite
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.cleanupEvery <= 0 {
		cfg.cleanupEvery = sourceCleanup
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

func listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s listen %s: address already in use: choose another port or stop what is using it: %w", what, addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s listen %s: %w", what, addr, err)
	}
	return ln, nil
}

// randomID makes SRS-looking ids; they only need to differ between runs.
func randomID(prefix string, n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return prefix + string(b)
}

// RTMPAddr is the RTMP listener's address, "127.0.0.1:PORT".
func (s *Server) RTMPAddr() string { return s.rtmpLn.Addr().String() }

// APIAddr is the HTTP API listener's address, "127.0.0.1:PORT".
func (s *Server) APIAddr() string { return s.apiLn.Addr().String() }

// FLVAddr is the HTTP-FLV listener's address, "" without Config.FLVListen.
func (s *Server) FLVAddr() string {
	if s.flvLn == nil {
		return ""
	}
	return s.flvLn.Addr().String()
}

// Close stops listening, closes every connection and waits (at most a few
// seconds) for handlers and pending on_unpublish calls. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.stopAfter()
	s.rtmpLn.Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := s.apiSrv.Shutdown(shutCtx); err != nil {
		s.apiSrv.Close()
	}
	cancel()
	s.cancel()
	if s.flvSrv != nil {
		s.flvSrv.Close()
	}

	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	for p := range s.players {
		p.stop(EndServerClosed)
	}
	s.mu.Unlock()

	var errs []error
	if !waitTimeout(&s.handlers, closeWait) {
		errs = append(errs, fmt.Errorf("server: connection handlers still running after %v", closeWait))
	}
	s.mu.Lock()
	s.unpubClosed = true
	s.mu.Unlock()
	if !waitTimeout(&s.unpublish, closeWait) {
		s.unpubCancel()
		if !waitTimeout(&s.unpublish, time.Second) {
			errs = append(errs, fmt.Errorf("server: on_unpublish calls still running after %v", closeWait))
		}
	}
	s.unpubCancel()
	s.hookCli.CloseIdleConnections()
	s.log.Info("server closed")
	return errors.Join(errs...)
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func (s *Server) acceptLoop() {
	for {
		nc, err := s.rtmpLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE under load) must not end the server.
			s.log.Warn("rtmp accept", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !s.track(nc) {
			nc.Close()
			return
		}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			defer s.untrack(nc)
			s.handleConn(nc)
		}()
	}
}

// track registers a connection so Close can end it; false once closing.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

func (s *Server) emit(ev Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	s.cfg.OnEvent(ev)
}

// Bounds of the embedded API's requests.
const (
	apiReadTimeout = 10 * time.Second
	maxAPIBody     = 64 << 10
)

// checkHookURLs refuses a hook URL SRS could not call, and a negative hook
// timeout, before anything listens: a bad one would only show as every
// publish refused.
func checkHookURLs(cfg Config) error {
	for _, hooks := range []struct {
		name string
		urls []string
	}{{"on_publish", cfg.OnPublish}, {"on_unpublish", cfg.OnUnpublish}, {"on_play", cfg.OnPlay}, {"on_stop", cfg.OnStop}} {
		for _, s := range hooks.urls {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s hook %q is not an http:// or https:// URL with a host", hooks.name, s)
			}
		}
	}
	if cfg.HookTimeout < 0 {
		return fmt.Errorf("hook timeout %v is negative", cfg.HookTimeout)
	}
	return nil
}

// clock is the time the publish timeouts' looks run on: the wall clock, or
// in tests a fake one (internal/testkit's Clock), so that the looks hold on
// a loaded machine and take no real time.
type clock interface {
	Now() time.Time
	// AfterFunc runs f after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
