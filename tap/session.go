package tap

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmpload/rtmpload/internal/netbuf"
)

// side is the peer a direction's bytes come from.
type side int

const (
	clientSide side = iota
	serverSide
)

func (d side) String() string {
	if d == clientSide {
		return "client"
	}
	return "server"
}

func (d side) closePhase() Phase {
	if d == clientSide {
		return ClientClose
	}
	return ServerClose
}

// readBufs are the buffers both directions of every connection read into, one
// per read in flight (internal/netbuf): a connection that waits for its peer holds
// none. One read takes a whole gather (mediaGather) of a publisher up to
// ~700 kb/s; a full read is read again at once, so the size bounds nothing but
// the syscalls per gather.
var readBufs = netbuf.NewPool(32 << 10)

const (
	// mediaGather is how long media from a publishing client may gather in
	// the socket before the tap relays it; the server sees it this much later
	// at most, in the same order. SRS's own merged read waits as long
	// (mr_latency 350 ms).
	mediaGather = 350 * time.Millisecond
	// maxUnclaimed bounds remembered command results nobody asked for (releaseStream's,
	// FCPublish's, or a misbehaving server's).
	maxUnclaimed = 64
)

type answer struct {
	at     time.Time
	detail string
}

// session is one relayed connection.
type session struct {
	t      *Tap
	client net.Conn

	bytesUp, bytesDown atomic.Uint64
	// publishStarted lets the client parser go quiet once nothing more can be learned.
	publishStarted atomic.Bool

	mu       sync.Mutex
	upstream net.Conn
	aborted  bool
	c        Conn
	// A result's phase depends on the request it answers, and the two directions
	// are parsed independently: whichever side arrives second resolves the pair.
	pending map[int]Phase
	answers map[int]answer
}

func newSession(t *Tap, nc net.Conn, at time.Time) *session {
	return &session{
		t:       t,
		client:  nc,
		c:       Conn{ID: t.nextID.Add(1), Start: at},
		pending: make(map[int]Phase),
		answers: make(map[int]answer),
	}
}

func (s *session) run() {
	s.mark(TCPConnect, s.c.Start, "")
	d := net.Dialer{Timeout: s.t.cfg.DialTimeout}
	up, err := d.DialContext(s.t.ctx, "tcp", s.t.cfg.Target)
	at := time.Now()
	if err != nil {
		if s.t.ctx.Err() == nil { // a dial cut short by Tap.Close is not the server's doing
			s.mark(ServerClose, at, "dial: "+err.Error())
		}
		// A reset is the closest the tap can come to the refusal the publisher
		// would have seen connecting directly.
		reset(s.client)
		s.finish(at)
		return
	}
	if !s.setUpstream(up) {
		up.Close()
		s.client.Close()
		s.finish(at)
		return
	}
	s.mark(UpstreamConnect, at, "")

	cp := newParser(s, clientSide)
	sp := newParser(s, serverSide)
	var parsers, down sync.WaitGroup
	parsers.Go(cp.run)
	parsers.Go(sp.run)
	// One goroutine per direction: this one relays the publisher's.
	down.Go(func() { s.pump(up, s.client, serverSide, sp, &s.bytesDown) })
	s.pump(s.client, up, clientSide, cp, &s.bytesUp)
	down.Wait()
	end := time.Now()
	s.client.Close()
	up.Close()
	parsers.Wait()
	s.finish(end)
}

func (s *session) setUpstream(up net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return false
	}
	s.upstream = up
	return true
}

// closeConns ends the connection from the tap's side (Tap.Close).
func (s *session) closeConns() {
	s.mu.Lock()
	s.aborted = true
	up := s.upstream
	s.mu.Unlock()
	s.client.Close()
	if up != nil {
		up.Close()
	}
}

// pump relays src to dst until src ends, then passes the ending on: EOF as a
// half-close, anything else as a reset, so each peer sees what it would see directly.
func (s *session) pump(src, dst net.Conn, from side, p *parser, count *atomic.Uint64) {
	defer p.q.close()
	rd := readBufs.NewReader(src)
	if from == serverSide {
		// The server's answers are marked when they arrived from the server,
		// by the kernel's clock, however late this goroutine got to them;
		// the publisher's messages are marked as they are sent on (below).
		// Both are then times of the server's leg, as a capture of it shows
		// (bench/tap-accuracy.sh). Without receive stamps the read's own time
		// stands.
		rd.StampArrivals() //nolint:errcheck // see above
	}
	short := false
	for {
		// Once the publish has started and this direction is no longer
		// parsed, it carries only media: let it gather between reads (a
		// wake-up, a read and a write per message cost more than the rest of
		// the tap). A full read means more is waiting, so the next read goes
		// at once and no publisher is held back.
		if short && from == clientSide && !p.active.Load() && s.publishStarted.Load() {
			time.Sleep(mediaGather)
		}
		buf, n, rerr := rd.Read()
		at := time.Now()
		short = n < readBufs.Size()
		if n > 0 && from == serverSide {
			at = rd.Arrived()
		}
		if n > 0 {
			b := (*buf)[:n]
			if from == clientSide {
				s.t.writing.Add(1)
			}
			_, werr := dst.Write(b)
			if from == clientSide {
				s.t.writing.Add(-1)
				if werr == nil && s.publishStarted.Load() {
					s.t.lastMedia.Store(time.Now().UnixNano())
				}
			}
			if werr == nil {
				count.Add(uint64(n))
				p.feed(at, b)
			}
			readBufs.Put(buf)
			if werr != nil {
				s.noteClose(1-from, at, werr)
				reset(src)
				reset(dst)
				return
			}
			continue
		}
		s.noteClose(from, at, rerr)
		if errors.Is(rerr, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite() //nolint:errcheck // dst may be gone already; its own pump reports that
			}
		} else {
			reset(dst)
			src.Close()
		}
		return
	}
}

// noteClose records who ended the connection first; closes the tap made itself
// (net.ErrClosed) are not the peer's doing.
func (s *session) noteClose(by side, at time.Time, err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	detail := err.Error()
	if errors.Is(err, io.EOF) {
		detail = "EOF"
	}
	s.mark(by.closePhase(), at, detail)
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // best effort: a plain close is the fallback
	}
	c.Close()
}

// mark records phase p once; ClientClose and ServerClose exclude each other.
func (s *session) mark(p Phase, at time.Time, detail string) {
	s.mu.Lock()
	snap, ok := s.addLocked(Mark{Phase: p, At: at, Detail: detail})
	s.mu.Unlock()
	if ok && snap != nil {
		s.t.cfg.OnMark(snap, Mark{Phase: p, At: at, Detail: detail})
	}
}

// addLocked inserts m in time order and returns a snapshot for OnMark.
func (s *session) addLocked(m Mark) (*Conn, bool) {
	for _, old := range s.c.Marks {
		if old.Phase == m.Phase ||
			(m.Phase == ServerClose || m.Phase == ClientClose) &&
				(old.Phase == ServerClose || old.Phase == ClientClose) {
			return nil, false
		}
	}
	i, _ := slices.BinarySearchFunc(s.c.Marks, m.At, func(e Mark, t time.Time) int {
		if e.At.After(t) {
			return 1
		}
		return -1 // equal times keep arrival order
	})
	s.c.Marks = slices.Insert(s.c.Marks, i, m)
	if m.Phase == Unparsed {
		s.c.Unparsed = true
	}
	if s.t.cfg.OnMark == nil {
		return nil, true
	}
	snap := s.c
	snap.Marks = slices.Clone(s.c.Marks)
	snap.BytesUp, snap.BytesDown = s.bytesUp.Load(), s.bytesDown.Load()
	return &snap, true
}

// expect notes that request tid of the client wants result phase p.
func (s *session) expect(tid int, p Phase) {
	s.mu.Lock()
	a, ok := s.answers[tid]
	if !ok {
		s.pending[tid] = p
		s.mu.Unlock()
		return
	}
	delete(s.answers, tid)
	s.mu.Unlock()
	s.mark(p, a.at, a.detail)
}

// answer notes the server's result for transaction tid.
func (s *session) answer(tid int, at time.Time, detail string) {
	s.mu.Lock()
	p, ok := s.pending[tid]
	if !ok {
		if len(s.answers) < maxUnclaimed {
			s.answers[tid] = answer{at: at, detail: detail}
		}
		s.mu.Unlock()
		return
	}
	delete(s.pending, tid)
	s.mu.Unlock()
	s.mark(p, at, detail)
}

func (s *session) setConnect(app, attempt string) {
	s.mu.Lock()
	s.c.App = app
	if s.c.Attempt == "" {
		s.c.Attempt = attempt
	}
	s.mu.Unlock()
}

func (s *session) setPublish(stream, attempt string) {
	s.mu.Lock()
	s.c.Stream = stream
	if attempt != "" {
		s.c.Attempt = attempt
	}
	s.mu.Unlock()
}

func (s *session) finish(end time.Time) {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	c.End = end
	c.BytesUp, c.BytesDown = s.bytesUp.Load(), s.bytesDown.Load()
	if s.t.cfg.OnDone != nil {
		s.t.cfg.OnDone(&c)
	}
}
