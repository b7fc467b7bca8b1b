package server

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/rtmpload/rtmpload/internal/netbuf"
)

// DefaultMergedRead is how long a publisher's socket is left to fill before
// the next read once media flows. SRS has the same knob (publish.mr,
// mr_latency 350 ms): with -re, ffmpeg writes each audio and video message
// on its own, about 70 a second, and reading them one by one costs a
// wake-up and a syscall each; letting them gather costs the server nothing
// a publisher can see (TCP keeps them in order, the window is far larger).
const DefaultMergedRead = 350 * time.Millisecond

// readBufs are the buffers merged reads take from the socket, one per read
// being consumed (internal/netbuf): a publisher waiting between gathers holds
// none. One read takes 350 ms of a ~700 kb/s publisher, so merged reads are one
// syscall each; a faster one fills it and is read again at once.
var readBufs = netbuf.NewPool(32 << 10)

// mergedConn reads a connection through a pooled buffer. Once merging is on, a
// refill that follows a read which drained the socket (a short read) first
// waits for the delay. A full read means more is waiting: the next refill goes
// at once, so a publisher faster than the buffer per delay is never held back.
type mergedConn struct {
	net.Conn
	delay time.Duration
	on    atomic.Bool

	rd    *netbuf.Reader // made at the first merged read
	buf   *[]byte        // held from a refill until its bytes are consumed
	r, w  int
	short bool // the last refill drained the socket
}

func (c *mergedConn) Read(p []byte) (int, error) {
	if c.buf == nil {
		if !c.on.Load() {
			return c.Conn.Read(p) // handshake and commands: no buffering, no wait
		}
		if c.short {
			time.Sleep(c.delay)
		}
		if c.rd == nil {
			c.rd = readBufs.NewReader(c.Conn)
		}
		buf, n, err := c.rd.Read()
		if n == 0 {
			return 0, err
		}
		c.buf, c.r, c.w = buf, 0, n
		c.short = n < readBufs.Size()
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		readBufs.Put(c.buf)
		c.buf = nil
	}
	return n, nil
}
