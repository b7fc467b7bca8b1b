package server

import (
	"net"
	"sync/atomic"
	"time"
)

// DefaultMergedRead is how long a publisher's socket is left to fill before
// the next read once media flows. SRS has the same knob (publish.mr,
// mr_latency 350 ms): with -re, ffmpeg writes each audio and video message
// on its own, about 70 a second, and reading them one by one costs a
// wake-up and a syscall each; letting them gather costs the server nothing
// a publisher can see (TCP keeps them in order, the window is far larger).
const DefaultMergedRead = 350 * time.Millisecond

// mergedReadBuf is what one read may take from the socket: 350 ms of a
// ~700 kb/s publisher, so merged reads are one syscall each; a
// faster one fills it and is read again at once.
const mergedReadBuf = 32 << 10

// mergedConn reads a connection through its own buffer. Once merging is on,
// a refill that follows a read which drained the socket (a short read)
// first waits for the delay. A full read means more is waiting: the next
// refill goes at once, so a publisher faster than the buffer per delay is
// never held back.
type mergedConn struct {
	net.Conn
	delay time.Duration
	on    atomic.Bool

	buf        []byte
	r, w       int
	short      bool  // the last refill drained the socket
	pendingErr error // an error that came with the last bytes
}

func (c *mergedConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if c.pendingErr != nil {
			err := c.pendingErr
			c.pendingErr = nil
			return 0, err
		}
		if !c.on.Load() {
			return c.Conn.Read(p) // handshake and commands: no buffering, no wait
		}
		if c.buf == nil {
			c.buf = make([]byte, mergedReadBuf)
		}
		if c.short {
			time.Sleep(c.delay)
		}
		n, err := c.Conn.Read(c.buf)
		c.short = n < len(c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
		c.pendingErr = err
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}
