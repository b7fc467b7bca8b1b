package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxStream bounds how much of each direction is kept: every phase checked
// here happens in the first few KiB, before the media.
const maxStream = 256 << 10

// segment is one captured packet's payload, placed in its direction's stream.
type segment struct {
	at     time.Time
	off, n int // byte offset in the stream and payload length
}

// direction is one side of a TCP connection as the capture saw it.
type direction struct {
	isn     uint32
	haveISN bool
	segs    []segment
	data    []byte
}

func (d *direction) add(at time.Time, seq uint32, syn bool, payload []byte) {
	if syn {
		d.isn, d.haveISN = seq, true
		return
	}
	if !d.haveISN { // the capture began mid-connection: count from here
		d.isn, d.haveISN = seq-1, true
	}
	if len(payload) == 0 {
		return
	}
	off := int(seq - d.isn - 1) // uint32 wrap-around is what TCP sequence numbers do
	d.segs = append(d.segs, segment{at: at, off: off, n: len(payload)})
	if off > maxStream {
		return
	}
	end := min(off+len(payload), maxStream)
	if end > len(d.data) {
		d.data = append(d.data, make([]byte, end-len(d.data))...)
	}
	copy(d.data[off:end], payload[:end-off])
}

// byteAt is when the capture first saw the stream byte at offset off:
// retransmissions do not move it.
func (d *direction) byteAt(off int) (time.Time, bool) {
	var t time.Time
	for _, s := range d.segs {
		if off >= s.off && off < s.off+s.n && (t.IsZero() || s.at.Before(t)) {
			t = s.at
		}
	}
	return t, !t.IsZero()
}

// capConn is one TCP connection to the server.
type capConn struct {
	peerPort   uint16
	up, down   direction // up: to the server (from the tap), down: from it
	first      time.Time
	attemptID  string
	c0c1, s012 time.Time
	publish    time.Time
	start      time.Time // the packet completing "NetStream.Publish.Start"
}

var (
	// AMF0 string marker + 16-bit length + name: "publish" exactly, not
	// "FCPublish", whose length byte differs.
	publishCmd = []byte("\x02\x00\x07publish")
	attemptRe  = regexp.MustCompile(`rtmpload=([0-9A-Za-z_.-]+)`)
	startCode  = []byte("NetStream.Publish.Start")
)

// phases finds the handshake and publish phases in the rebuilt streams.
func (c *capConn) phases() {
	const c0c1Len, s0s1s2Len = 1 + 1536, 1 + 2*1536
	c.c0c1, _ = c.up.byteAt(c0c1Len - 1)
	c.s012, _ = c.down.byteAt(s0s1s2Len - 1)
	if i := bytes.Index(c.up.data, publishCmd); i >= 0 {
		// The publish command is a few dozen bytes, far below any chunk
		// size, so its stream key is contiguous right after the name.
		rest := c.up.data[i:min(len(c.up.data), i+512)]
		if m := attemptRe.FindSubmatchIndex(rest); m != nil {
			c.attemptID = string(rest[m[2]:m[3]])
			c.publish, _ = c.up.byteAt(i + m[1] - 1)
		}
	}
	if i := bytes.Index(c.down.data, startCode); i >= 0 {
		c.start, _ = c.down.byteAt(i + len(startCode) - 1)
	}
}

// readCapture parses `tcpdump -tt -nn -x` output of IPv4 TCP packets and
// returns the connections to serverPort, in order of their first packet.
func readCapture(r io.Reader, serverPort uint16) ([]*capConn, error) {
	live := make(map[uint16]*capConn)
	var all []*capConn
	var at time.Time
	var pkt []byte
	flush := func() error {
		if pkt == nil {
			return nil
		}
		defer func() { pkt = nil }()
		return addPacket(pkt, at, serverPort, live, &all)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(strings.TrimSpace(line), "0x"); ok && (line[0] == '\t' || line[0] == ' ') {
			_, words, found := strings.Cut(h, ":")
			if !found {
				return nil, fmt.Errorf("bad hex line %q", line)
			}
			b, err := hex.DecodeString(strings.Join(strings.Fields(words), ""))
			if err != nil {
				return nil, fmt.Errorf("bad hex line %q: %v", line, err)
			}
			pkt = append(pkt, b...)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		ts, _, _ := strings.Cut(line, " ")
		sec, frac, _ := strings.Cut(ts, ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line without a -tt timestamp: %q", line)
		}
		at = time.Unix(s, ns)
		pkt = []byte{}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, c := range all {
		c.phases()
	}
	return all, nil
}

func addPacket(p []byte, at time.Time, serverPort uint16, live map[uint16]*capConn, all *[]*capConn) error {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 6 {
		return nil // not IPv4 TCP: the filter should have kept it out
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if len(p) < total || total < ihl+20 {
		return fmt.Errorf("packet at %v is truncated (%d of %d bytes): capture without a snap length", at, len(p), total)
	}
	t := p[ihl:total]
	src, dst := binary.BigEndian.Uint16(t[0:2]), binary.BigEndian.Uint16(t[2:4])
	seq := binary.BigEndian.Uint32(t[4:8])
	doff := int(t[12]>>4) * 4
	syn := t[13]&0x02 != 0
	if doff < 20 || doff > len(t) {
		return fmt.Errorf("packet at %v: bad TCP header length %d", at, doff)
	}
	payload := t[doff:]
	var peer uint16
	var toServer bool
	switch serverPort {
	case dst:
		peer, toServer = src, true
	case src:
		peer = dst
	default:
		return nil
	}
	c := live[peer]
	// A SYN to the server opens a new connection, even on a reused port.
	if toServer && syn && c != nil && len(c.up.segs) > 0 {
		c = nil
	}
	if c == nil {
		c = &capConn{peerPort: peer, first: at}
		live[peer] = c
		*all = append(*all, c)
	}
	if toServer {
		c.up.add(at, seq, syn, payload)
	} else {
		c.down.add(at, seq, syn, payload)
	}
	return nil
}
