package player

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// flvPlay is an HTTP-FLV viewer's reading state.
type flvPlay struct {
	body    io.Reader
	hdr     [13]byte
	scratch [512]byte
}

func (v *viewer) playFLV(ctx context.Context, u *url.URL) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	setupEnd := v.res.Start.Add(v.o.SetupTimeout)
	dctx, cancel := context.WithDeadline(ctx, setupEnd)
	ok := v.dial(dctx, host)
	cancel()
	if !ok {
		return
	}
	defer v.nc.Close()
	stop := v.watch(ctx)
	defer stop()
	c := &conn{Conn: v.nc, ctx: ctx, deadline: func() time.Time { return v.readDeadline(setupEnd) }}
	defer func() { v.res.Bytes = c.n }()

	// The request by hand on our own connection (net/http's client would
	// hide the dial and pool connections); net/http reads the response and
	// its chunked body.
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"User-Agent": {"rtmpload"}, "Accept": {"*/*"}}}
	v.nc.SetWriteDeadline(setupEnd)
	if err := req.Write(v.nc); err != nil {
		v.setupErr(ctx, fmt.Errorf("request: %w", err))
		return
	}
	v.res.Timeline.PlaySent = v.since()
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, readBuffer), req)
	if err != nil {
		v.setupErr(ctx, fmt.Errorf("response: %w", err))
		return
	}
	defer resp.Body.Close()
	v.res.HTTPStatus = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		v.fail(EndRefused, fmt.Errorf("HTTP %s", resp.Status))
		return
	}
	v.started()
	f := &flvPlay{body: resp.Body}
	if err := f.header(); err != nil {
		if !v.ctxEnded(ctx) {
			v.readErr(err)
		}
		return
	}
	for {
		typ, ts, size, head, err := f.tag()
		if err != nil {
			if !v.ctxEnded(ctx) {
				v.readErr(err)
			}
			return
		}
		v.tag(typ, ts, size, head)
	}
}

var errNotFLV = errors.New("the response is not FLV (no FLV header)")

func (f *flvPlay) header() error {
	b := f.hdr[:13] // the FLV header, then PreviousTagSize0
	if _, err := io.ReadFull(f.body, b); err != nil {
		return err
	}
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return errNotFLV
	}
	if off := be32(b[5:9]); off != 9 {
		return f.skip(int(off) - 9)
	}
	return nil
}

// tag reads one FLV tag and the size field after it; head is the first two
// bytes of its body, valid until the next call.
func (f *flvPlay) tag() (typ uint8, ts uint32, size int, head []byte, err error) {
	h := f.hdr[:11]
	if _, err = io.ReadFull(f.body, h); err != nil {
		return
	}
	typ, size = h[0]&0x1f, int(be24(h[1:]))
	ts = uint32(h[7])<<24 | be24(h[4:])
	n := min(size, 2)
	head = f.scratch[:n]
	if _, err = io.ReadFull(f.body, head); err != nil {
		return
	}
	// Copy the head out of the scratch buffer, which skip reuses.
	f.hdr[11], f.hdr[12] = 0, 0
	copy(f.hdr[11:], head)
	head = f.hdr[11 : 11+n]
	err = f.skip(size - n + 4)
	return
}

func (f *flvPlay) skip(n int) error {
	for n > 0 {
		m, err := f.body.Read(f.scratch[:min(n, len(f.scratch))])
		n -= m
		if err != nil {
			if err == io.EOF && n > 0 {
				return io.ErrUnexpectedEOF
			}
			if n == 0 && err == io.EOF {
				return nil
			}
			return err
		}
	}
	return nil
}
