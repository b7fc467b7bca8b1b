package netbuf

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Read gives what was written, in order, then io.EOF at the peer's close, like c.Read.
func TestReadBytesThenEOF(t *testing.T) {
	p := NewPool(8)
	c, s := tcpPair(t)
	go func() {
		c.Write([]byte("0123456789abc")) //nolint:errcheck
		c.Close()
	}()
	r := p.NewReader(s)
	var got []byte
	for {
		buf, n, err := r.Read()
		if n > 0 {
			if buf == nil || err != nil {
				t.Fatalf("n %d with buf %v, err %v", n, buf, err)
			}
			got = append(got, (*buf)[:n]...)
			p.Put(buf)
			continue
		}
		if buf != nil {
			t.Fatal("a buffer with no bytes")
		}
		if !errors.Is(err, io.EOF) {
			t.Fatalf("err %v, want io.EOF", err)
		}
		break
	}
	if string(got) != "0123456789abc" {
		t.Fatalf("read %q", got)
	}
}

// A reset is the error c.Read gives (net.OpError around ECONNRESET).
func TestReadReset(t *testing.T) {
	c, s := tcpPair(t)
	c.Write([]byte("x")) //nolint:errcheck
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	r := NewPool(4).NewReader(s)
	var err error
	for err == nil {
		_, _, err = r.Read()
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err %v, want a read OpError with ECONNRESET", err)
	}
}

// Deadlines apply, and a connection closed by its owner says net.ErrClosed.
func TestReadDeadlineAndClose(t *testing.T) {
	_, s := tcpPair(t)
	r := NewPool(4).NewReader(s)
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, n, err := r.Read(); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("n %d err %v, want a deadline error", n, err)
	}
	s.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Close()
	}()
	if _, n, err := r.Read(); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("n %d err %v, want net.ErrClosed", n, err)
	}
}

// A connection that is not a socket is read with its own Read.
func TestReadPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		a.Write([]byte("hi")) //nolint:errcheck
		a.Close()
	}()
	r := NewPool(16).NewReader(b)
	buf, n, err := r.Read()
	if err != nil || string((*buf)[:n]) != "hi" {
		t.Fatalf("read %q %v", (*buf)[:n], err)
	}
	if _, n, err := r.Read(); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("n %d err %v, want io.EOF", n, err)
	}
}

// With StampArrivals, Arrived is when the bytes reached the socket, not when
// they were read: bytes that waited 30 ms in the socket are stamped 30 ms
// before the read. The kernel turns its receive stamps on a moment after the
// first socket asks, so a few rounds are allowed for the first stamp.
func TestArrivedIsTheKernelsReceiveTime(t *testing.T) {
	p := NewPool(64)
	c, s := tcpPair(t)
	r := p.NewReader(s)
	if err := r.StampArrivals(); err != nil {
		t.Skipf("no receive stamps here: %v", err)
	}
	const wait = 30 * time.Millisecond
	var early time.Duration
	for range 5 {
		sent := time.Now()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait)
		read := time.Now()
		buf, n, err := r.Read()
		if n != 1 || err != nil {
			t.Fatalf("n %d, err %v", n, err)
		}
		p.Put(buf)
		at := r.Arrived()
		if at.Before(sent.Add(-time.Millisecond)) {
			t.Fatalf("stamped %v before the write", sent.Sub(at))
		}
		if early = read.Sub(at); early >= wait*2/3 {
			return
		}
	}
	t.Fatalf("the last read was stamped %v before it ran, want about %v: the stamp is the read's, not the arrival's", early, wait)
}

// The receive stamp is found among other control messages, and a truncated
// or empty one gives none.
func TestRxTimeParsesControlMessages(t *testing.T) {
	ne := binary.NativeEndian
	msg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, 16, 16+len(data)+8)
		ne.PutUint64(b[0:], uint64(16+len(data)))
		ne.PutUint32(b[8:], uint32(level))
		ne.PutUint32(b[12:], uint32(typ))
		b = append(b, data...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		return b
	}
	ts := make([]byte, 16)
	ne.PutUint64(ts[0:], 1_765_000_000)
	ne.PutUint64(ts[8:], 123_456_789)
	oob := append(msg(syscall.SOL_IP, 8, []byte{1, 2, 3, 4}), msg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts)...)
	got, ok := rxTime(oob)
	if !ok || !got.Equal(time.Unix(1_765_000_000, 123_456_789)) {
		t.Errorf("stamp %v %v", got, ok)
	}
	if _, ok := rxTime(oob[:len(oob)-4]); ok {
		t.Error("a truncated message gave a stamp")
	}
	if _, ok := rxTime(msg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, make([]byte, 16))); ok {
		t.Error("a zero stamp was taken")
	}
	if _, ok := rxTime(nil); ok {
		t.Error("no messages gave a stamp")
	}
}
