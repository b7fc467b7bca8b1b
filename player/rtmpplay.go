package player

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// readBuffer is each viewer's buffered reader: small, since media payloads
// are skipped in it.
const readBuffer = 4096

// rtmpPlay is an RTMP viewer's wire state.
type rtmpPlay struct {
	v        *viewer
	c        *conn
	cr       *chunkReader
	w        *message.Writer
	ackWin   uint32
	ackedAt  uint64
	streamID uint32
}

// errSetupStatus carries an error status or an _error answer of the setup.
type errSetupStatus struct{ code, desc string }

func (e *errSetupStatus) Error() string { return "refused: " + e.code + " " + e.desc }

func (v *viewer) playRTMP(ctx context.Context, u *url.URL) {
	app, stream, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || app == "" || stream == "" {
		v.fail(EndError, fmt.Errorf("player: %q names no app/stream", v.o.URL))
		return
	}
	if u.RawQuery != "" {
		stream += "?" + u.RawQuery
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	setupEnd := v.res.Start.Add(v.o.SetupTimeout)
	dctx, cancel := context.WithDeadline(ctx, setupEnd)
	ok = v.dial(dctx, host)
	cancel()
	if !ok {
		return
	}
	defer v.nc.Close()
	stop := v.watch(ctx)
	defer stop()
	p := &rtmpPlay{v: v, c: &conn{Conn: v.nc, ctx: ctx, deadline: func() time.Time { return v.readDeadline(setupEnd) }}}
	br := bufio.NewReaderSize(p.c, readBuffer)
	defer func() { v.res.Bytes = p.c.n }()

	v.nc.SetWriteDeadline(setupEnd)
	if _, _, err := handshake.DoClient(struct {
		io.Reader
		io.Writer
	}{br, v.nc}, false, false); err != nil {
		v.setupErr(ctx, fmt.Errorf("handshake: %w", err))
		return
	}
	v.res.Timeline.Handshake = v.since()
	p.cr = newChunkReader(br)
	p.w = message.NewWriter(v.nc, bytecounter.NewWriter(v.nc), false)
	if err := p.setup(u, app, stream); err != nil {
		var st *errSetupStatus
		if errors.As(err, &st) {
			v.res.Status = st.code
			v.fail(EndRefused, err)
			return
		}
		v.setupErr(ctx, err)
		return
	}
	v.nc.SetWriteDeadline(time.Time{})
	for {
		m, err := p.cr.next()
		if err != nil {
			if !v.ctxEnded(ctx) {
				v.readErr(err)
			}
			return
		}
		if err := p.handle(m); err != nil {
			var st *errSetupStatus
			if errors.As(err, &st) {
				v.res.Status = st.code
				v.fail(EndRefused, err)
				return
			}
			if !v.ctxEnded(ctx) {
				v.readErr(err)
			}
			return
		}
	}
}

func (p *rtmpPlay) write(m message.Message) error {
	if p.v.setupDone {
		p.v.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
	return p.w.Write(m)
}

// setup runs connect, createStream and play, and returns once the server
// said NetStream.Play.Start.
func (p *rtmpPlay) setup(u *url.URL, app, stream string) error {
	err := p.write(&message.CommandAMF0{ChunkStreamID: 3, Name: "connect", CommandID: 1, Arguments: []any{amf0.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: "rtmp://" + u.Host + "/" + app},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: float64(15)},
		{Key: "audioCodecs", Value: float64(4071)},
		{Key: "videoCodecs", Value: float64(252)},
		{Key: "videoFunction", Value: float64(1)},
	}}})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := p.result(1, "connect"); err != nil {
		return err
	}
	p.v.res.Timeline.Connect = p.v.since()
	if err := p.write(&message.SetWindowAckSize{Value: 2500000}); err != nil {
		return err
	}
	if err := p.write(&message.CommandAMF0{ChunkStreamID: 3, Name: "createStream", CommandID: 2, Arguments: []any{nil}}); err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	res, err := p.result(2, "createStream")
	if err != nil {
		return err
	}
	p.streamID = 1
	if len(res) >= 4 {
		if f, ok := res[3].(float64); ok {
			p.streamID = uint32(f)
		}
	}
	err = p.write(&message.CommandAMF0{ChunkStreamID: 8, MessageStreamID: p.streamID, Name: "play", CommandID: 3,
		Arguments: []any{nil, stream, float64(-2000)}})
	if err != nil {
		return fmt.Errorf("play: %w", err)
	}
	// ffmpeg says how much it buffers right after play; some servers wait
	// for it.
	if err := p.write(&message.UserControlSetBufferLength{StreamID: p.streamID, BufferLength: 3000}); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	p.v.res.Timeline.PlaySent = p.v.since()
	for !p.v.setupDone {
		m, err := p.cr.next()
		if err != nil {
			return fmt.Errorf("waiting for NetStream.Play.Start: %w", err)
		}
		if err := p.handle(m); err != nil {
			return err
		}
	}
	return nil
}

// result waits for the _result or _error of command id; it returns the
// command's values.
func (p *rtmpPlay) result(id float64, what string) (amf0.Data, error) {
	for {
		m, err := p.cr.next()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if m.typ != 20 {
			if err := p.handle(m); err != nil {
				return nil, err
			}
			continue
		}
		d, err := amf0.Unmarshal(m.body)
		if err != nil || len(d) < 2 {
			continue
		}
		name, _ := d[0].(string)
		if cid, _ := d[1].(float64); cid != id {
			continue
		}
		switch name {
		case "_result":
			return d, nil
		case "_error":
			code, desc := statusOf(d)
			return nil, &errSetupStatus{code: what + " " + code, desc: desc}
		}
	}
}

func statusOf(d amf0.Data) (code, desc string) {
	for _, a := range d[2:] {
		if o, ok := a.(amf0.Object); ok {
			code, _ = o.GetString("code")
			desc, _ = o.GetString("description")
			if code != "" || desc != "" {
				return
			}
		}
	}
	return "", ""
}

// handle acts on one message: the protocol's control messages, the play's
// statuses and the stream's media and data.
func (p *rtmpPlay) handle(m chunkMsg) error {
	switch m.typ {
	case typAudio, typVideo, typData:
		if m.typ == typData && len(m.body) > 3 && m.body[3] == '|' {
			// SRS's |RtmpSampleAccess, part of its answer to play, not of
			// the stream.
			return nil
		}
		if !p.v.setupDone && m.typ != typData {
			// Media before Play.Start: a server that skips the status.
			p.v.started()
		}
		p.v.tag(m.typ, m.ts, m.size, m.body)
	case 4: // User Control
		if len(m.body) >= 6 && m.body[0] == 0 && m.body[1] == 6 { // ping request
			if err := p.write(&message.UserControlPingResponse{ServerTime: be32(m.body[2:])}); err != nil {
				return err
			}
		}
	case 5: // Window Acknowledgement Size
		if len(m.body) >= 4 {
			p.ackWin = be32(m.body)
		}
	case 20: // AMF0 command
		d, err := amf0.Unmarshal(m.body)
		if err != nil || len(d) < 1 {
			return nil
		}
		if name, _ := d[0].(string); name != "onStatus" {
			return nil
		}
		var info amf0.Object
		for _, a := range d[1:] {
			if o, ok := a.(amf0.Object); ok {
				info = o
			}
		}
		code, _ := info.GetString("code")
		level, _ := info.GetString("level")
		if level == "error" {
			desc, _ := info.GetString("description")
			return &errSetupStatus{code: code, desc: desc}
		}
		if code == "NetStream.Play.Start" && !p.v.setupDone {
			p.v.started()
		}
	}
	// Acknowledge what was read, as players do, once a window is passed.
	if p.ackWin > 0 && p.c.n-p.ackedAt >= uint64(p.ackWin) {
		p.ackedAt = p.c.n
		if err := p.write(&message.Acknowledge{Value: uint32(p.c.n)}); err != nil {
			return err
		}
	}
	return nil
}
