package tap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
)

const (
	// queueCap is how far (in bytes) a parser may fall behind its read loop.
	queueCap = 4 << 20
	// queueSegments bounds the number of queued reads, so many tiny reads cannot
	// pile up either.
	queueSegments = 1024
)

var errStopped = errors.New("parser stopped")

type segment struct {
	at time.Time
	b  []byte
}

// queue carries one direction's reads to its parser. push never blocks; the reader
// side is an io.Reader that returns bytes of one read at a time and remembers that
// read's timestamp, so whatever the parser completes after a Read happened at the
// wire time of the read that delivered its last byte.
//
// Its memory follows what is queued: a connection has two queues for its whole life,
// and a channel sized for the worst case cost 64 KiB each before any byte was queued.
type queue struct {
	queued   atomic.Int64
	cap      int64
	maxSegs  int
	ready    chan struct{} // cap 1: something was pushed, or the queue closed
	stop     chan struct{}
	stopOnce sync.Once

	mu     sync.Mutex
	segs   []segment // oldest first
	closed bool

	// reader side
	cur  segment
	off  int
	last time.Time
}

func newQueue(capBytes int64, segments int) *queue {
	return &queue{cap: capBytes, maxSegs: segments, ready: make(chan struct{}, 1), stop: make(chan struct{})}
}

// push queues b (which the queue now owns); false means a cap was reached.
func (q *queue) push(at time.Time, b []byte) bool {
	n := int64(len(b))
	if q.queued.Add(n) > q.cap {
		q.queued.Add(-n)
		return false
	}
	q.mu.Lock()
	if len(q.segs) >= q.maxSegs {
		q.mu.Unlock()
		q.queued.Add(-n)
		return false
	}
	q.segs = append(q.segs, segment{at: at, b: b})
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // the reader has a wake-up pending already
	}
}

// close ends the stream: the reader gets io.EOF after the queued bytes. Only the
// pushing goroutine may call it.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// abandon makes the reader stop at once with errStopped.
func (q *queue) abandon() { q.stopOnce.Do(func() { close(q.stop) }) }

// next takes the oldest segment; ok false with closed true is the end.
func (q *queue) next() (seg segment, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.segs) == 0 {
		q.segs = nil // let an array grown by a burst go
		return segment{}, false, q.closed
	}
	seg = q.segs[0]
	q.segs[0] = segment{}
	q.segs = q.segs[1:]
	return seg, true, false
}

// Read implements io.Reader for the parser.
func (q *queue) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for q.off == len(q.cur.b) {
		// An abandoned queue stops even if segments are still waiting.
		select {
		case <-q.stop:
			return 0, errStopped
		default:
		}
		seg, ok, closed := q.next()
		if ok {
			q.queued.Add(-int64(len(seg.b)))
			q.cur, q.off, q.last = seg, 0, seg.at
			continue
		}
		if closed {
			return 0, io.EOF
		}
		select {
		case <-q.ready:
		case <-q.stop:
			return 0, errStopped
		}
	}
	n := copy(p, q.cur.b[q.off:])
	q.off += n
	return n, nil
}

// at is the timestamp of the read the most recently consumed bytes came from.
func (q *queue) at() time.Time { return q.last }

// drain drops whatever is still queued so its memory is released early.
func (q *queue) drain() {
	q.mu.Lock()
	q.segs = nil
	q.mu.Unlock()
	q.cur = segment{}
	q.off = 0
}

// parser follows one direction of the RTMP conversation.
type parser struct {
	s      *session
	from   side
	q      *queue
	active atomic.Bool

	sawAudio, sawVideo bool
}

func newParser(s *session, from side) *parser {
	p := &parser{s: s, from: from, q: newQueue(queueCap, queueSegments)}
	p.active.Store(true)
	return p
}

// feed hands one forwarded read to the parser; called by the read loop only.
func (p *parser) feed(at time.Time, b []byte) {
	if !p.active.Load() {
		return
	}
	if !p.q.push(at, bytes.Clone(b)) {
		p.giveUp(at, fmt.Errorf("parser fell behind (%d MiB queued)", queueCap>>20))
	}
}

func (p *parser) giveUp(at time.Time, err error) {
	if p.active.Swap(false) {
		p.s.mark(Unparsed, at, p.from.String()+": "+err.Error())
		p.q.abandon()
	}
}

func (p *parser) run() {
	err := p.parse()
	switch {
	case err == nil, errors.Is(err, errStopped):
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The connection ended, possibly mid-message: that is the peer's close,
		// which the read loop records, not a parse failure.
	default:
		p.giveUp(p.q.at(), err)
	}
	p.active.Store(false)
	p.q.drain()
}

func (p *parser) parse() error {
	if err := p.handshake(); err != nil {
		return err
	}
	// Each direction has its own Reader, so each applies the SetChunkSize and
	// SetWindowAckSize its own peer sent. Acknowledgements are the peers' business.
	bc := bytecounter.NewReader(p.q)
	mr := message.NewReader(bc, bc, func(uint32) error { return nil })
	for p.active.Load() {
		msg, err := mr.Read()
		if err != nil {
			return err
		}
		var done bool
		if p.from == clientSide {
			done = p.fromClient(msg, p.q.at())
		} else {
			done = p.fromServer(msg, p.q.at())
		}
		if done {
			return nil
		}
	}
	return nil
}

// handshake consumes the fixed-size handshake: C0+C1 then C2 from the client,
// S0+S1+S2 from the server.
func (p *parser) handshake() error {
	var c0 handshake.C0S0
	if err := c0.Read(p.q); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if c0.Version != 3 {
		return fmt.Errorf("handshake: encrypted RTMP (version %d) is not parsed", c0.Version)
	}
	var c1 handshake.C1S1
	if err := c1.Read(p.q); err != nil {
		return err
	}
	var c2 handshake.C2S2
	if p.from == clientSide {
		p.s.mark(C0C1, p.q.at(), "")
		if err := c2.Read(p.q); err != nil {
			return err
		}
		p.s.mark(C2, p.q.at(), "")
		return nil
	}
	if err := c2.Read(p.q); err != nil {
		return err
	}
	p.s.mark(S0S1S2, p.q.at(), "")
	return nil
}

// fromClient handles one client message; true means nothing more is to be learned
// from this direction.
func (p *parser) fromClient(msg message.Message, at time.Time) bool {
	switch m := msg.(type) {
	case *message.CommandAMF0:
		switch m.Name {
		case "connect":
			var tcURL, app string
			if len(m.Arguments) > 0 {
				if o, ok := object(m.Arguments[0]); ok {
					app, _ = o.GetString("app")
					if tcURL, ok = o.GetString("tcUrl"); !ok {
						tcURL, _ = o.GetString("tcurl")
					}
				}
			}
			app, _, _ = strings.Cut(app, "?")
			attempt := ""
			if u, err := url.Parse(tcURL); err == nil {
				attempt = u.Query().Get(attemptParam)
			}
			p.s.setConnect(app, attempt)
			p.s.expect(m.CommandID, ConnectResult)
			p.s.mark(Connect, at, tcURL)
		case "releaseStream":
			p.s.mark(ReleaseStream, at, "")
		case "FCPublish":
			p.s.mark(FCPublish, at, "")
		case "createStream":
			p.s.expect(m.CommandID, CreateStreamResult)
			p.s.mark(CreateStream, at, "")
		case "publish":
			var key string
			if len(m.Arguments) > 1 {
				key, _ = m.Arguments[1].(string)
			}
			stream, query, _ := strings.Cut(key, "?")
			// A malformed query still yields the pairs that parsed.
			vals, _ := url.ParseQuery(query)
			p.s.setPublish(stream, vals.Get(attemptParam))
			p.s.mark(Publish, at, key)
		}
	case *message.Audio, *message.AudioExSequenceStart, *message.AudioExSequenceEnd,
		*message.AudioExMultichannelConfig, *message.AudioExCodedFrames, *message.AudioExMultitrack:
		if !p.sawAudio {
			p.sawAudio = true
			p.s.mark(FirstAudio, at, "")
		}
	case *message.Video, *message.VideoExSequenceStart, *message.VideoExSequenceEnd,
		*message.VideoExCodedFrames, *message.VideoExFramesX, *message.VideoExMetadata,
		*message.VideoExMultitrack:
		if !p.sawVideo {
			p.sawVideo = true
			p.s.mark(FirstVideo, at, "")
		}
	default:
		return false
	}
	// Once publishing with both media, the rest is media: stop decoding it so a
	// tap costs little with hundreds of publishers.
	return p.sawAudio && p.sawVideo && p.s.publishStarted.Load()
}

// fromServer handles one server message; true means nothing more is to be learned.
func (p *parser) fromServer(msg message.Message, at time.Time) bool {
	m, ok := msg.(*message.CommandAMF0)
	if !ok {
		return false
	}
	switch m.Name {
	case "_result", "_error":
		detail := m.Name
		if code, ok := statusCode(m.Arguments); ok {
			detail = code
		}
		p.s.answer(m.CommandID, at, detail)
	case "onStatus":
		code, _ := statusCode(m.Arguments)
		if code == "NetStream.Publish.Start" {
			p.s.publishStarted.Store(true)
		}
		p.s.mark(OnStatus, at, code)
		// Only the first onStatus is a phase, and every result precedes it.
		return true
	}
	return false
}

const attemptParam = "rtmpload"

// statusCode is the "code" of the first info object among a command's arguments.
func statusCode(args []any) (string, bool) {
	for _, a := range args {
		if o, ok := object(a); ok {
			if code, ok := o.GetString("code"); ok {
				return code, true
			}
		}
	}
	return "", false
}

func object(v any) (amf0.Object, bool) {
	switch o := v.(type) {
	case amf0.Object:
		return o, true
	case amf0.ECMAArray:
		return amf0.Object(o), true
	}
	return nil, false
}
