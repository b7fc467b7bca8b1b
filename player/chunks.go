package player

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"
)

// conn is the viewer's connection as its readers see it: it counts the
// bytes read and sets the read deadline the viewer's phase asks for before
// each read from the socket, so that a buffered reader above it never
// blocks past the setup's end, the hold's end or the silence limit.
type conn struct {
	net.Conn
	ctx      context.Context
	n        uint64
	deadline func() time.Time
	set      time.Time
}

func (c *conn) Read(p []byte) (int, error) {
	if d := c.deadline(); !d.Equal(c.set) {
		c.Conn.SetReadDeadline(d)
		c.set = d
		// The context's watcher moves the deadline to now when ctx ends; if
		// that came before the line above, this read must not block.
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	c.n += uint64(n)
	return n, err
}

// maxKeptBody bounds a message that is kept whole (commands, data): RTMP
// allows 16 MB; a larger one is not a stream a viewer plays.
const maxKeptBody = 1 << 20

// chunkStream is one RTMP chunk stream's state: the header its chunks
// inherit and the message being received on it.
type chunkStream struct {
	ts, delta, length, sid uint32
	typ                    uint8
	ext                    bool // the header used an extended timestamp
	started                bool // a full header came
	got                    uint32
	head                   [2]byte
	nhead                  int
	body                   []byte // non-media messages, reused
}

// chunkMsg is one complete RTMP message. For audio and video, body is at
// most the first two bytes (the rest was skipped); otherwise the whole
// body. body is valid until the next read.
type chunkMsg struct {
	typ  uint8
	ts   uint32
	sid  uint32
	size int
	body []byte
}

// chunkReader reads RTMP messages from chunks, allocating nothing once its
// chunk streams and buffers exist: media payloads are skipped in the
// buffered reader, not copied (gortmplib's reader allocates every chunk,
// which thousands of viewers would pay for nothing).
type chunkReader struct {
	br        *bufio.Reader
	chunkSize uint32
	streams   []*chunkStream
	hdr       [11]byte
}

func newChunkReader(br *bufio.Reader) *chunkReader {
	return &chunkReader{br: br, chunkSize: 128}
}

func (r *chunkReader) stream(id uint32) *chunkStream {
	if int(id) >= len(r.streams) {
		n := make([]*chunkStream, id+1)
		copy(n, r.streams)
		r.streams = n
	}
	s := r.streams[id]
	if s == nil {
		s = &chunkStream{}
		r.streams[id] = s
	}
	return s
}

func (r *chunkReader) full(n int) ([]byte, error) {
	b := r.hdr[:n]
	for i := range b {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		b[i] = c
	}
	return b, nil
}

func be24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// next reads chunks until a message is complete.
func (r *chunkReader) next() (chunkMsg, error) {
	for {
		b0, err := r.br.ReadByte()
		if err != nil {
			return chunkMsg{}, err
		}
		format := b0 >> 6
		id := uint32(b0 & 0x3f)
		switch id {
		case 0:
			b, err := r.full(1)
			if err != nil {
				return chunkMsg{}, err
			}
			id = 64 + uint32(b[0])
		case 1:
			b, err := r.full(2)
			if err != nil {
				return chunkMsg{}, err
			}
			id = 64 + uint32(b[0]) + uint32(b[1])<<8
		}
		s := r.stream(id)
		if format != 3 && s.got != 0 {
			return chunkMsg{}, fmt.Errorf("rtmp: chunk stream %d: a new header in the middle of a message", id)
		}
		if format != 0 && !s.started {
			return chunkMsg{}, fmt.Errorf("rtmp: chunk stream %d: chunk of format %d before any full header", id, format)
		}
		var field uint32
		switch format {
		case 0:
			h, err := r.full(11)
			if err != nil {
				return chunkMsg{}, err
			}
			field = be24(h)
			s.length, s.typ = be24(h[3:]), h[6]
			s.sid = uint32(h[7]) | uint32(h[8])<<8 | uint32(h[9])<<16 | uint32(h[10])<<24
			s.started = true
		case 1:
			h, err := r.full(7)
			if err != nil {
				return chunkMsg{}, err
			}
			field = be24(h)
			s.length, s.typ = be24(h[3:]), h[6]
		case 2:
			h, err := r.full(3)
			if err != nil {
				return chunkMsg{}, err
			}
			field = be24(h)
		}
		if format != 3 {
			s.ext = field == 0xffffff
		}
		if s.ext {
			h, err := r.full(4)
			if err != nil {
				return chunkMsg{}, err
			}
			if format != 3 {
				field = be32(h)
			}
		}
		if s.got == 0 {
			// A new message: its timestamp.
			switch format {
			case 0:
				s.ts, s.delta = field, 0
			case 1, 2:
				s.delta = field
				s.ts += field
			case 3:
				s.ts += s.delta
			}
			s.nhead = 0
			s.body = s.body[:0]
			if s.typ != typAudio && s.typ != typVideo && s.length > maxKeptBody {
				return chunkMsg{}, fmt.Errorf("rtmp: a message of type %d and %d bytes", s.typ, s.length)
			}
		}
		n := min(r.chunkSize, s.length-s.got)
		if s.typ == typAudio || s.typ == typVideo {
			for s.nhead < len(s.head) && n > 0 {
				c, err := r.br.ReadByte()
				if err != nil {
					return chunkMsg{}, err
				}
				s.head[s.nhead] = c
				s.nhead++
				s.got++
				n--
			}
			if _, err := r.br.Discard(int(n)); err != nil {
				return chunkMsg{}, err
			}
		} else {
			l := len(s.body)
			if cap(s.body) < l+int(n) {
				nb := make([]byte, l, max(int(s.length), 64))
				copy(nb, s.body)
				s.body = nb
			}
			s.body = s.body[:l+int(n)]
			if _, err := ioReadFull(r.br, s.body[l:]); err != nil {
				return chunkMsg{}, err
			}
		}
		s.got += n
		if s.got < s.length {
			continue
		}
		s.got = 0
		m := chunkMsg{typ: s.typ, ts: s.ts, sid: s.sid, size: int(s.length), body: s.body}
		if s.typ == typAudio || s.typ == typVideo {
			m.body = s.head[:s.nhead]
		}
		if m.typ == 1 && len(m.body) >= 4 { // Set Chunk Size
			size := be32(m.body) & 0x7fffffff
			if size < 1 {
				return chunkMsg{}, fmt.Errorf("rtmp: chunk size %d", size)
			}
			r.chunkSize = size
		}
		return m, nil
	}
}

// ioReadFull is io.ReadFull on a bufio.Reader, without the interface
// conversion's allocation.
func ioReadFull(br *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := br.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
