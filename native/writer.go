package native

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"golang.org/x/sys/unix"
)

// maxIov bounds one write's slices: the control bytes, the head and a few
// passes of the clip (a connection that fell behind catches up the way
// ffmpeg -re does, as fast as the socket takes it).
const maxIov = 8

// writer sends media for many connections from one goroutine: on each tick
// it writes to every connection what became due since the last, in one
// non-blocking writev, and keeps what the socket did not take for the next
// tick. A full socket never holds up the other connections.
type writer struct {
	tick  time.Duration
	mu    sync.Mutex
	added []*pconn
	conns []*pconn
	iov   [][]byte // scratch for one connection's write
}

func (w *writer) add(c *pconn) {
	w.mu.Lock()
	w.added = append(w.added, c)
	w.mu.Unlock()
}

func (w *writer) run(ctx context.Context) {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.service(now)
		}
	}
}

func (w *writer) service(now time.Time) {
	w.mu.Lock()
	w.conns = append(w.conns, w.added...)
	clear(w.added)
	w.added = w.added[:0]
	w.mu.Unlock()
	keep := w.conns[:0]
	for _, c := range w.conns {
		if c.service(now, w) {
			keep = append(keep, c)
		}
	}
	clear(w.conns[len(keep):])
	w.conns = keep
}

// pconn is one publishing connection as its writer sees it.
type pconn struct {
	rc        syscall.RawConn
	enc       *encoding
	loop      uint32 // ms each pass moves the timestamps on
	t0        time.Time
	chunkSize uint32
	sid       uint32
	record    SendRecorder // nil: no send-time record (Hooks.Sent)

	mu       sync.Mutex
	detached bool
	headSent bool
	pass     uint32 // passes done
	next     int    // next message of the current pass
	pend     [][]byte
	ctrl     []byte // control messages from the reader, sent at the next message boundary
	first    time.Time
	sent     int64
	visited  uint32 // ms after t0 of the last visit
	through  uint32 // ms after t0 up to which everything due was written
	err      error  // the write error that stopped it
}

// queue sends control bytes at the next message boundary.
func (c *pconn) queue(b []byte) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, b...)
	c.mu.Unlock()
}

// detach takes the connection from its writer: what was written, and the
// rest of a message the socket did not take.
func (c *pconn) detach() (first time.Time, sent int64, pend [][]byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detached = true
	return c.first, c.sent, c.pend, c.err
}

// progress is what was written so far; false once detached. Media is
// the clip time written when the writer last caught up, Since the time of
// its last visit: their ratio is 1 while the socket takes everything, and
// falls while it does not (the speed ffmpeg's -progress reports).
func (c *pconn) progress() (Progress, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Progress{At: time.Now(), Bytes: c.sent, Media: time.Duration(c.through) * time.Millisecond,
		Since: time.Duration(c.visited) * time.Millisecond}, !c.detached
}

// service writes what is due at now; false drops the connection.
func (c *pconn) service(now time.Time, w *writer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detached || c.err != nil {
		return false
	}
	iov := w.iov[:0]
	elapsed := uint32(max(now.Sub(c.t0), 0) / time.Millisecond)
	c.visited = max(c.visited, elapsed)
	if len(c.pend) > 0 {
		iov = append(iov, c.pend...)
	} else {
		if len(c.ctrl) > 0 {
			iov = append(iov, c.ctrl)
			c.ctrl = nil
		}
		if !c.headSent {
			iov = append(iov, c.enc.head)
			c.headSent = true
		}
		// now is when the tick fired: a connection added since is ahead of
		// it (elapsed 0, not a negative number read as hours of backlog).
		iov = c.due(iov, elapsed, now)
	}
	w.iov = iov[:0]
	if len(iov) == 0 {
		c.through = c.visited
		return true
	}
	var n int
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		n, werr = unix.Writev(int(fd), iov)
		return true // never wait: the next tick tries again
	})
	if err == nil {
		err = werr
	}
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil // full, or the attempt is stopping: try again next tick
	}
	if err != nil {
		c.err = err
		return false
	}
	n = max(n, 0)
	if n > 0 && c.first.IsZero() {
		c.first = now
	}
	c.sent += int64(n)
	c.pend = rest(c.pend[:0], iov, n)
	if len(c.pend) == 0 {
		c.through = c.visited
	}
	return true
}

// due appends the slices of the messages due by elapsed ms.
func (c *pconn) due(iov [][]byte, elapsed uint32, now time.Time) [][]byte {
	for len(iov) < maxIov {
		p := &c.enc.next
		if c.pass == 0 {
			p = &c.enc.first
		}
		base := c.pass * c.loop
		j := c.next
		for j < len(p.due) && base+p.due[j] <= elapsed {
			j++
		}
		if j > c.next {
			if c.record != nil {
				// On record as the write begins: a viewer may read a frame
				// before the write returns.
				for i := c.next; i < j; i++ {
					if k := p.frame[i]; k != frameAudio {
						c.record.Sent(base+p.due[i], k == frameKey, now)
					}
				}
			}
			from := 0
			if c.next > 0 {
				from = p.ends[c.next-1]
			}
			iov = append(iov, p.bytes[from:p.ends[j-1]])
			c.next = j
		}
		if j < len(p.due) {
			break
		}
		c.pass++
		c.next = 0
	}
	return iov
}

// rest appends to dst what of iov is left after n bytes were written.
func rest(dst, iov [][]byte, n int) [][]byte {
	for _, b := range iov {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		dst = append(dst, b[n:])
		n = 0
	}
	return dst
}

// Control messages sent once media flows, each with a full (type 0) chunk
// header: the writer may put them between any two media messages.

func controlAck(count uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, count)
	return controlMessage(csControl, typeAck, 0, b, 128)
}

func controlPong(serverTime uint32) []byte {
	b := make([]byte, 6)
	binary.BigEndian.PutUint16(b, 7) // PingResponse
	binary.BigEndian.PutUint32(b[2:], serverTime)
	return controlMessage(csControl, typeUserControl, 0, b, 128)
}

func controlCommand(id int, sid uint32, name string, chunkSize uint32, args ...any) []byte {
	body, err := append(amf0.Data{name, float64(id)}, args...).Marshal()
	if err != nil {
		return nil
	}
	return controlMessage(csCommand, typeCommand, sid, body, chunkSize)
}

func controlMessage(cs, typ byte, sid uint32, body []byte, chunkSize uint32) []byte {
	b, err := marshalMessage(cs, full(cs, 0, typ, sid, len(body)), body, chunkSize)
	if err != nil {
		return nil
	}
	return b
}
