// Package testplayer plays streams over RTMP (on gortmplib's pkg/
// packages) and HTTP-FLV (net/http and an FLV tag reader) for the tests and
// benchmarks that compare the embedded server with SRS and nginx-rtmp: it
// shows what a player receives message by message (Read), and measures a
// play (Play): connect and play timings, time to the first frame and the
// first keyframe, received bitrate and stalls.
package testplayer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// ErrClosedWithoutStatus is a play the server ended by closing the
// connection before any onStatus: how SRS refuses a play
// (docs/srs-behaviour.md, "Play").
var ErrClosedWithoutStatus = errors.New("server closed the connection without a play status")

// StatusError is a play answered with an onStatus of level "error".
type StatusError struct{ Code, Description string }

func (e *StatusError) Error() string { return "play refused: " + e.Code + " " + e.Description }

// RTMPTimings are the steps of an RTMP play, each measured from the dial.
type RTMPTimings struct {
	Dial, Handshake, Connect, CreateStream, PlayStart time.Duration
}

// RTMP is a playing RTMP connection. Create it with DialRTMP.
//
// It reads raw messages (gortmplib's rawmessage) and handles the protocol's
// control messages itself, so that a media message costs no decoding: a
// player of thousands of viewers must cost less than the server it loads.
type RTMP struct {
	nc       net.Conn
	bc       *bytecounter.ReadWriter
	w        *message.Writer
	r        *rawmessage.Reader
	Timings  RTMPTimings
	Statuses []string // onStatus codes received, in order, up to the play's start
}

// DialRTMP connects to rawURL (rtmp://host:port/app/stream?query) and plays
// it: handshake, connect, createStream, play; it returns once the server
// sent NetStream.Play.Start. ctx bounds the whole setup.
func DialRTMP(ctx context.Context, rawURL string) (*RTMP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "rtmp" || u.Host == "" {
		return nil, fmt.Errorf("player: %q is not an rtmp://host:port/app/stream URL", rawURL)
	}
	app, stream, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || app == "" || stream == "" {
		return nil, fmt.Errorf("player: %q names no app/stream", rawURL)
	}
	if u.RawQuery != "" {
		stream += "?" + u.RawQuery
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	start := time.Now()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := &RTMP{nc: nc}
	c.Timings.Dial = time.Since(start)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	if err := c.setup(start, "rtmp://"+u.Host+"/"+app, app, stream); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("player: %w (%w)", ctx.Err(), err)
		}
		return nil, err
	}
	if !stop() {
		nc.Close()
		return nil, ctx.Err()
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *RTMP) setup(start time.Time, tcURL, app, stream string) error {
	// gortmplib reads through a 4 kB bufio.Reader: one syscall per 4 kB
	// of media. A larger buffer under it takes a merged write (SRS sends
	// ~350 ms at once) in a few reads.
	c.bc = bytecounter.NewReadWriter(&bufferedConn{Reader: bufio.NewReaderSize(c.nc, 64<<10), Conn: c.nc})
	if _, _, err := handshake.DoClient(c.bc, false, false); err != nil {
		return fmt.Errorf("player: handshake: %w", err)
	}
	c.Timings.Handshake = time.Since(start)
	c.w = message.NewWriter(c.bc, c.bc.Writer, false)
	c.r = rawmessage.NewReader(c.bc, c.bc.Reader, func(n uint32) error {
		return c.w.Write(&message.Acknowledge{Value: n})
	})
	for _, m := range []message.Message{
		&message.SetWindowAckSize{Value: 2500000},
		&message.SetChunkSize{Value: 65536},
		&message.CommandAMF0{ChunkStreamID: 3, Name: "connect", CommandID: 1, Arguments: []any{amf0.Object{
			{Key: "app", Value: app},
			{Key: "flashVer", Value: "LNX 9,0,124,2"},
			{Key: "tcUrl", Value: tcURL},
			{Key: "fpad", Value: false},
			{Key: "capabilities", Value: float64(15)},
			{Key: "audioCodecs", Value: float64(4071)},
			{Key: "videoCodecs", Value: float64(252)},
			{Key: "videoFunction", Value: float64(1)},
		}}},
	} {
		if err := c.w.Write(m); err != nil {
			return fmt.Errorf("player: connect: %w", err)
		}
	}
	if _, err := c.result(1, "connect"); err != nil {
		return err
	}
	c.Timings.Connect = time.Since(start)
	err := c.w.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "createStream", CommandID: 2, Arguments: []any{nil}})
	if err != nil {
		return fmt.Errorf("player: createStream: %w", err)
	}
	res, err := c.result(2, "createStream")
	if err != nil {
		return err
	}
	streamID := uint32(1)
	if len(res.Arguments) >= 2 {
		if f, ok := res.Arguments[1].(float64); ok {
			streamID = uint32(f)
		}
	}
	c.Timings.CreateStream = time.Since(start)
	err = c.w.Write(&message.CommandAMF0{
		ChunkStreamID: 8, MessageStreamID: streamID, Name: "play", CommandID: 0,
		Arguments: []any{nil, stream, float64(-2000)},
	})
	if err != nil {
		return fmt.Errorf("player: play: %w", err)
	}
	for {
		raw, err := c.ReadRaw()
		if err != nil {
			if isClosed(err) && len(c.Statuses) == 0 {
				return ErrClosedWithoutStatus
			}
			return fmt.Errorf("player: waiting for NetStream.Play.Start: %w", err)
		}
		cmd := command(raw)
		if cmd == nil || cmd.Name != "onStatus" || len(cmd.Arguments) < 2 {
			continue
		}
		info, _ := cmd.Arguments[1].(amf0.Object)
		code, _ := info.GetString("code")
		level, _ := info.GetString("level")
		c.Statuses = append(c.Statuses, code)
		if level == "error" {
			desc, _ := info.GetString("description")
			return &StatusError{Code: code, Description: desc}
		}
		if code == "NetStream.Play.Start" {
			c.Timings.PlayStart = time.Since(start)
			return nil
		}
	}
}

// result waits for the _result or _error of command id.
func (c *RTMP) result(id int, what string) (*message.CommandAMF0, error) {
	for {
		raw, err := c.ReadRaw()
		if err != nil {
			return nil, fmt.Errorf("player: %s: %w", what, err)
		}
		cmd := command(raw)
		if cmd == nil || cmd.CommandID != id {
			continue
		}
		if cmd.Name == "_error" {
			return nil, fmt.Errorf("player: %s refused: %v", what, cmd.Arguments)
		}
		return cmd, nil
	}
}

// command decodes an AMF0 command message, nil for another message.
func command(raw *rawmessage.Message) *message.CommandAMF0 {
	if raw.Type != uint8(message.TypeCommandAMF0) {
		return nil
	}
	d, err := amf0.Unmarshal(raw.Body)
	if err != nil || len(d) < 2 {
		return nil
	}
	name, _ := d[0].(string)
	id, _ := d[1].(float64)
	return &message.CommandAMF0{ChunkStreamID: raw.ChunkStreamID, MessageStreamID: raw.MessageStreamID,
		Name: name, CommandID: int(id), Arguments: d[2:]}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errConnReset)
}

// ReadRaw returns the next message other than protocol control: chunk
// size, abort and window changes are applied, pings answered,
// acknowledgements sent, user control and bandwidth messages dropped.
func (c *RTMP) ReadRaw() (*rawmessage.Message, error) {
	for {
		m, err := c.r.Read()
		if err != nil {
			return nil, err
		}
		var v uint32
		if len(m.Body) >= 4 {
			v = binary.BigEndian.Uint32(m.Body)
		}
		switch message.Type(m.Type) {
		case message.TypeSetChunkSize:
			if err := c.r.SetChunkSize(v & 0x7fffffff); err != nil {
				return nil, err
			}
		case message.TypeAbortMessage:
			c.r.AbortChunkStream(v)
		case message.TypeSetWindowAckSize:
			c.r.SetWindowAckSize(v)
		case message.TypeUserControl:
			if len(m.Body) >= 6 && message.UserControlType(v>>16) == message.UserControlTypePingRequest {
				if err := c.w.Write(&message.UserControlPingResponse{ServerTime: binary.BigEndian.Uint32(m.Body[2:])}); err != nil {
					return nil, err
				}
			}
		case message.TypeAcknowledge, message.TypeSetPeerBandwidth:
		default:
			return m, nil
		}
	}
}

// Read returns the next audio, video, data or command message, decoded
// for a caller that wants fields (tests): the video and audio messages of
// the legacy FLV codecs with their header fields and AU (sequence headers
// are not parsed into AVCConfig or AACConfig), data and commands in AMF0.
// Other messages are skipped.
func (c *RTMP) Read() (message.Message, error) {
	for {
		m, err := c.ReadRaw()
		if err != nil {
			return nil, err
		}
		if d := decode(m); d != nil {
			return d, nil
		}
	}
}

func decode(m *rawmessage.Message) message.Message {
	b := m.Body
	switch message.Type(m.Type) {
	case message.TypeVideo:
		if len(b) < 5 || b[0]&0x80 != 0 {
			return nil
		}
		v := &message.Video{ChunkStreamID: m.ChunkStreamID, DTS: m.Timestamp, MessageStreamID: m.MessageStreamID,
			Codec: b[0] & 0x0f, IsKeyFrame: b[0]>>4 == 1, Type: message.VideoType(b[1]),
			PTSDelta: time.Duration(int32(uint32(b[2])<<24|uint32(b[3])<<16|uint32(b[4])<<8)>>8) * time.Millisecond}
		if v.Type == message.VideoTypeAU {
			v.AU = b[5:]
		}
		return v
	case message.TypeAudio:
		if len(b) < 2 {
			return nil
		}
		a := &message.Audio{ChunkStreamID: m.ChunkStreamID, DTS: m.Timestamp, MessageStreamID: m.MessageStreamID,
			Codec: b[0] >> 4, Rate: message.AudioRate((b[0] >> 2) & 3), Depth: message.AudioDepth((b[0] >> 1) & 1),
			IsStereo: b[0]&1 != 0, AU: b[1:]}
		if a.Codec == message.CodecMPEG4Audio {
			a.AACType, a.AU = message.AudioAACType(b[1]), b[2:]
		}
		return a
	case message.TypeDataAMF0:
		d, err := amf0.Unmarshal(b)
		if err != nil || len(d) == 0 {
			return nil
		}
		return &message.DataAMF0{ChunkStreamID: m.ChunkStreamID, MessageStreamID: m.MessageStreamID, Payload: d}
	case message.TypeCommandAMF0:
		if cmd := command(m); cmd != nil {
			return cmd
		}
	}
	return nil
}

// BytesReceived counts every byte read from the server.
func (c *RTMP) BytesReceived() uint64 { return c.bc.Reader.Count() }

// NetConn is the connection, for deadlines.
func (c *RTMP) NetConn() net.Conn { return c.nc }

// Close ends the play.
func (c *RTMP) Close() error { return c.nc.Close() }

var errConnReset = syscall.ECONNRESET

// bufferedConn reads a connection through a buffer and writes it directly.
type bufferedConn struct {
	*bufio.Reader
	net.Conn
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.Reader.Read(p) }
