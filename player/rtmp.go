// Package player plays streams the way viewers do, over RTMP (on
// gortmplib's pkg/ packages) and HTTP-FLV (net/http and an FLV tag reader),
// and measures what a viewer sees: connect and play timings, time to the
// first frame and the first keyframe, received bitrate and stalls.
package player

import (
	"context"
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
type RTMP struct {
	nc       net.Conn
	bc       *bytecounter.ReadWriter
	mrw      *message.ReadWriter
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
	c.bc = bytecounter.NewReadWriter(c.nc)
	if _, _, err := handshake.DoClient(c.bc, false, false); err != nil {
		return fmt.Errorf("player: handshake: %w", err)
	}
	c.Timings.Handshake = time.Since(start)
	c.mrw = message.NewReadWriter(c.bc, c.bc, false)
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
		if err := c.mrw.Write(m); err != nil {
			return fmt.Errorf("player: connect: %w", err)
		}
	}
	if _, err := c.result(1, "connect"); err != nil {
		return err
	}
	c.Timings.Connect = time.Since(start)
	err := c.mrw.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "createStream", CommandID: 2, Arguments: []any{nil}})
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
	err = c.mrw.Write(&message.CommandAMF0{
		ChunkStreamID: 8, MessageStreamID: streamID, Name: "play", CommandID: 0,
		Arguments: []any{nil, stream, float64(-2000)},
	})
	if err != nil {
		return fmt.Errorf("player: play: %w", err)
	}
	for {
		msg, err := c.mrw.Read()
		if err != nil {
			if isClosed(err) && len(c.Statuses) == 0 {
				return ErrClosedWithoutStatus
			}
			return fmt.Errorf("player: waiting for NetStream.Play.Start: %w", err)
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok || cmd.Name != "onStatus" || len(cmd.Arguments) < 2 {
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
		msg, err := c.mrw.Read()
		if err != nil {
			return nil, fmt.Errorf("player: %s: %w", what, err)
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok || cmd.CommandID != id {
			continue
		}
		if cmd.Name == "_error" {
			return nil, fmt.Errorf("player: %s refused: %v", what, cmd.Arguments)
		}
		return cmd, nil
	}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errConnReset)
}

// Read returns the next message the server sent.
func (c *RTMP) Read() (message.Message, error) { return c.mrw.Read() }

// BytesReceived counts every byte read from the server.
func (c *RTMP) BytesReceived() uint64 { return c.bc.Reader.Count() }

// NetConn is the connection, for deadlines.
func (c *RTMP) NetConn() net.Conn { return c.nc }

// Close ends the play.
func (c *RTMP) Close() error { return c.nc.Close() }

var errConnReset = syscall.ECONNRESET
