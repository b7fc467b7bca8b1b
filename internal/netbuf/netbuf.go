// Package netbuf reads sockets into buffers that connections share: a
// connection holds a buffer only between a read that found bytes and the moment
// its caller is done with them, never while it waits for the peer.
//
// With 1,000 publishers each relayed by the tap and read by the embedded server,
// a fixed 32 KiB buffer per socket was most of rtmpload's memory (32 MiB per
// thousand per buffer), although a publisher's socket is read once per media
// gather (350 ms) and each read is done in microseconds. A sync.Pool keeps as
// many buffers as reads are in flight at once: a handful on two cores.
package netbuf

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Pool hands out buffers of one size.
type Pool struct {
	size int
	p    sync.Pool
}

// NewPool returns a pool of size-byte buffers.
func NewPool(size int) *Pool {
	p := &Pool{size: size}
	p.p.New = func() any {
		b := make([]byte, size)
		return &b
	}
	return p
}

// Size is the length of the pool's buffers.
func (p *Pool) Size() int { return p.size }

// Get takes a buffer of Size bytes; give it back with Put.
func (p *Pool) Get() *[]byte { return p.p.Get().(*[]byte) }

// Put gives a buffer back; nil is ignored.
func (p *Pool) Put(b *[]byte) {
	if b != nil {
		p.p.Put(b)
	}
}

// Reader reads one connection into its pool's buffers. It is made once per
// connection, so that a read allocates nothing.
type Reader struct {
	p  *Pool
	c  net.Conn
	rc syscall.RawConn // nil: c is not a socket (net.Pipe), read with c.Read
	fn func(fd uintptr) bool

	// stamp: the socket gives each read the kernel's receive time
	// (StampArrivals); oob holds it.
	stamp bool
	oob   [64]byte

	// the outcome of the last fn call
	buf  *[]byte
	n    int
	rerr error
	at   time.Time
}

// NewReader makes c's Reader.
func (p *Pool) NewReader(c net.Conn) *Reader {
	r := &Reader{p: p, c: c}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
		}
	}
	r.fn = r.readFD
	return r
}

// StampArrivals asks the kernel to stamp every byte this socket receives with
// the time it arrived (SO_TIMESTAMPNS), so that Arrived is the wire's time and
// not the moment this process got round to the read: a wake-up delayed by
// the scheduler, a garbage collection or an allocation of the buffer would
// otherwise move it (the tap's marks of the server's answers, measured by
// bench/tap-accuracy.sh). Without a socket, or where the kernel refuses, reads
// are stamped as they run.
func (r *Reader) StampArrivals() error {
	if r.rc == nil {
		return nil
	}
	var serr error
	err := r.rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	if err == nil {
		err = serr
	}
	r.stamp = err == nil
	return err
}

// Arrived is when the bytes of the last successful Read arrived: the kernel's
// receive time of its last segment when StampArrivals is on and the kernel gave
// one, else the moment the read found them, taken before a buffer was fetched.
func (r *Reader) Arrived() time.Time { return r.at }

// Read waits until the connection has bytes (or an error) and reads them into a
// buffer from the pool, as c.Read would: n > 0 with a buffer the caller returns
// with Put once done with buf[:n], or n == 0 with no buffer and the error
// (io.EOF at the peer's end). c's deadlines apply. A connection that is not a
// socket is read with its own Read, holding a buffer while it waits.
func (r *Reader) Read() (buf *[]byte, n int, err error) {
	if r.rc == nil {
		buf, n, err = r.p.readPlain(r.c)
		r.at = time.Now()
		return buf, n, err
	}
	r.buf, r.n, r.rerr = nil, 0, nil
	err = r.rc.Read(r.fn)
	buf, n = r.buf, r.n
	r.buf = nil
	switch {
	case err != nil: // closed, or a deadline passed, before anything was read
		return nil, 0, err
	case r.rerr != nil:
		// The same error c.Read gives, so callers can tell resets from closes.
		return nil, 0, &net.OpError{Op: "read", Net: r.c.LocalAddr().Network(), Source: r.c.LocalAddr(),
			Addr: r.c.RemoteAddr(), Err: os.NewSyscallError("read", r.rerr)}
	case n == 0:
		return nil, 0, io.EOF
	}
	return buf, n, nil
}

// readFD is called by the runtime with the socket; false makes it wait until the
// socket is readable and call again.
func (r *Reader) readFD(fd uintptr) bool {
	// The clock before the pool: getting a buffer may allocate, and an
	// allocation during a collection may be made to help it first.
	now := time.Now()
	b := r.p.Get()
	var n, oobn int
	var err error
	for {
		if r.stamp {
			n, oobn, _, _, err = syscall.Recvmsg(int(fd), *b, r.oob[:], 0)
		} else {
			n, err = syscall.Read(int(fd), *b)
		}
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		r.p.Put(b)
		return false
	}
	if n > 0 {
		r.buf, r.n, r.at = b, n, now
		if t, ok := rxTime(r.oob[:max(oobn, 0)]); ok {
			r.at = t
		}
		return true
	}
	r.p.Put(b)
	r.rerr = err
	return true
}

func (p *Pool) readPlain(c net.Conn) (*[]byte, int, error) {
	b := p.Get()
	for {
		n, err := c.Read(*b)
		if n > 0 {
			// Bytes and an error together: the bytes now, the error again at
			// the next read (a net.Conn's errors stay).
			return b, n, nil
		}
		if err != nil {
			p.Put(b)
			return nil, 0, err
		}
	}
}

// rxTime finds the kernel's receive time (SCM_TIMESTAMPNS) among a read's
// control messages. For TCP it is the time of the last segment the read took.
// The messages are read field by field (64-bit Linux's layout: a 16-byte
// header, a timespec of two int64), so that nothing depends on the buffer's
// alignment; elsewhere no stamp is found and the read's own time stands.
func rxTime(oob []byte) (time.Time, bool) {
	const hdr, align = 16, 8
	if syscall.SizeofCmsghdr != hdr {
		return time.Time{}, false
	}
	ne := binary.NativeEndian
	for len(oob) >= hdr {
		l := int(ne.Uint64(oob[0:8]))
		level, typ := int32(ne.Uint32(oob[8:12])), int32(ne.Uint32(oob[12:16]))
		if l < hdr || l > len(oob) {
			return time.Time{}, false
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec, nsec := int64(ne.Uint64(oob[hdr:hdr+8])), int64(ne.Uint64(oob[hdr+8:hdr+16]))
			if sec == 0 && nsec == 0 {
				return time.Time{}, false
			}
			return time.Unix(sec, nsec), true
		}
		next := (l + align - 1) &^ (align - 1) // CMSG_ALIGN
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return time.Time{}, false
}
