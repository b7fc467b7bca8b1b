// Package player plays streams the way viewers do, over RTMP and HTTP-FLV,
// and measures what a viewer sees: the steps of its setup, the time to the
// first frame and the first keyframe, the received bitrate, stalls, and how
// the server ended the play. Play is the measured viewer; it keeps a few
// kilobytes per viewer (media payloads are skipped, not copied), so that a
// process can hold thousands.
package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"time"
)

// Protocol is how a viewer plays.
type Protocol string

// The protocols Play speaks.
const (
	ProtoRTMP    Protocol = "rtmp"
	ProtoHTTPFLV Protocol = "http-flv"
)

// Ending says how a play ended: what the server did, or that the viewer
// stopped as planned. The runner turns it, with the hook's record, into an
// outcome.
type Ending string

// The endings of a play.
const (
	// Held: the viewer played until its hold ended (or its context did).
	EndHeld Ending = "held"
	// Unreachable: the TCP connection was refused or could not be made.
	EndUnreachable Ending = "unreachable"
	// SetupTimeout: the setup (handshake, connect, play; or the HTTP
	// response head) did not finish within Options.SetupTimeout. An SRS
	// HTTP-FLV play of a stream without publisher and a play behind a slow
	// on_play look like this (docs/srs-behaviour.md, "Play").
	EndSetupTimeout Ending = "setup_timeout"
	// Refused: the server answered the play (or connect) with an error
	// status (Result.Status), or HTTP with a status other than 200
	// (Result.HTTPStatus).
	EndRefused Ending = "refused"
	// ClosedInSetup: the server closed the connection before the play
	// started (RTMP: before NetStream.Play.Start; HTTP: with no response).
	// SRS refuses an HTTP-FLV play this way.
	EndClosedInSetup Ending = "closed_in_setup"
	// ClosedBeforeMedia: the play started, then the server closed the
	// connection before any media: how SRS refuses an RTMP play.
	EndClosedBeforeMedia Ending = "closed_before_media"
	// Silent: no media for Options.Silence: before the first frame, a play
	// of a stream without publisher ("no such stream", inferred); after it,
	// a stream that stopped while the server kept the viewer.
	EndSilent Ending = "silent"
	// Closed: the server closed the connection (EOF) after media came.
	EndClosed Ending = "closed"
	// Reset: the connection was reset after media came (before, a reset
	// is a close: ClosedInSetup, ClosedBeforeMedia).
	EndReset Ending = "reset"
	// Error: anything else (a malformed stream, a local error).
	EndError Ending = "error"
)

// Options configure one Play. Zero values take the defaults shown.
type Options struct {
	// URL: rtmp://host:port/app/stream?query or
	// http://host:port/app/stream.flv?query (the protocol follows the
	// scheme).
	URL string
	// Hold is how long to play after the play started; 0 plays until ctx
	// ends.
	Hold time.Duration
	// SetupTimeout bounds the setup; default 10 s.
	SetupTimeout time.Duration
	// Silence ends a play that received no media for this long; default 10 s.
	Silence time.Duration
	// StallAfter is how far the media clock may fall behind the wall clock
	// before it counts as a stall; default 1 s (SRS writes to a player in
	// batches of up to 350 ms by design, docs/srs-behaviour.md, "Slow
	// players").
	StallAfter time.Duration
	// Arrivals, when set, is told every media message's arrival: the
	// latency sample (see Pairer).
	Arrivals Arrivals
	// Dial makes the connection; default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o Options) withDefaults() Options {
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = 10 * time.Second
	}
	if o.Silence <= 0 {
		o.Silence = 10 * time.Second
	}
	if o.StallAfter <= 0 {
		o.StallAfter = time.Second
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	return o
}

// Timeline holds the steps of a play, each measured from Result.Start; 0 is
// a step not reached.
type Timeline struct {
	Dial      time.Duration // TCP connected
	Handshake time.Duration // RTMP handshake done
	Connect   time.Duration // RTMP connect's _result
	PlaySent  time.Duration // RTMP play written; HTTP request written
	PlayStart time.Duration // RTMP NetStream.Play.Start; HTTP response head (200)
	// FirstTag is the first message of the stream (RTMP: after Play.Start;
	// HTTP: the first FLV tag, usually onMetaData).
	FirstTag      time.Duration
	FirstFrame    time.Duration // first audio or video frame (not a sequence header)
	FirstKeyframe time.Duration // first video keyframe
}

// Result is what a play did and saw.
type Result struct {
	Protocol Protocol
	Start    time.Time
	Timeline Timeline
	// End is when the play ended, from Start.
	End    time.Duration
	Ending Ending
	// Err details Ending (the error, the status); "" when held.
	Err string
	// Status is the RTMP error status or the _error of connect.
	Status string
	// HTTPStatus is the response's status code (0 for RTMP, or none).
	HTTPStatus int

	Bytes       uint64 // every byte read from the server
	MediaBytes  uint64 // audio and video payloads
	VideoFrames int
	AudioFrames int
	Keyframes   int
	// MediaSpan is the span of the media timestamps received.
	MediaSpan time.Duration
	// Stalls counts the times the media clock fell more than StallAfter
	// behind the wall clock after the first frame; StallTime sums how far;
	// MaxLag is the most it ever fell behind.
	Stalls    int
	StallTime time.Duration
	MaxLag    time.Duration
	// StallAt are the moments (from Start) the first MaxStallTimes stalls
	// were seen, at their end: for the report to set beside the load
	// machine's state.
	StallAt []time.Duration
}

// MaxStallTimes bounds Result.StallAt.
const MaxStallTimes = 16

// Playing is the time from the first frame to the end (0 without frames).
func (r *Result) Playing() time.Duration {
	if r.Timeline.FirstFrame == 0 {
		return 0
	}
	return r.End - r.Timeline.FirstFrame
}

// BitrateBps is the media received per second of playing, in bits.
func (r *Result) BitrateBps() float64 {
	p := r.Playing()
	if p <= 0 {
		return 0
	}
	return float64(r.MediaBytes) * 8 / p.Seconds()
}

// Play plays o.URL until o.Hold has passed after the play started, ctx ends
// or the server ends it, and returns what it saw. It never fails: a failure
// is an Ending.
func Play(ctx context.Context, o Options) Result {
	o = o.withDefaults()
	v := &viewer{o: o}
	v.res.Start = time.Now()
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || u.Host == "":
		v.fail(EndError, fmt.Errorf("player: %q is not a URL to play", o.URL))
	case u.Scheme == "rtmp":
		v.res.Protocol = ProtoRTMP
		v.playRTMP(ctx, u)
	case u.Scheme == "http":
		v.res.Protocol = ProtoHTTPFLV
		v.playFLV(ctx, u)
	default:
		v.fail(EndError, fmt.Errorf("player: %q: the scheme must be rtmp or http", o.URL))
	}
	if v.res.Ending == "" {
		v.fail(EndError, errors.New("player: the play ended without a reason (a bug)"))
	}
	v.res.End = time.Since(v.res.Start)
	return v.res
}

// viewer is one play's state, shared by both protocols.
type viewer struct {
	o   Options
	res Result
	nc  net.Conn

	// holdEnd is when the hold ends (zero: no hold, ctx ends the play).
	holdEnd time.Time
	// The stall clock: refWall and refMedia are a moment when the media
	// clock was level with the wall clock or ahead of it (the GOP cache's
	// burst puts it ahead; it is not counted as lead), and lag is how far
	// the media fell behind since.
	refWall            time.Time
	refMedia           uint32
	firstTS, lastTS    uint32
	haveTS             bool
	lastMedia          time.Time
	playing, setupDone bool
}

func (v *viewer) since() time.Duration { return time.Since(v.res.Start) }

func (v *viewer) fail(e Ending, err error) {
	if v.res.Ending != "" {
		return
	}
	v.res.Ending = e
	if err != nil {
		v.res.Err = err.Error()
	}
}

// dial connects to host, bounded by the setup deadline.
func (v *viewer) dial(ctx context.Context, host string) bool {
	nc, err := v.o.Dial(ctx, "tcp", host)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			v.fail(EndSetupTimeout, err)
		} else {
			v.fail(EndUnreachable, err)
		}
		return false
	}
	v.nc = nc
	v.res.Timeline.Dial = v.since()
	return true
}

// readDeadline is when the next read must have returned: the setup's end
// before the play started, then the earlier of the hold's end and the
// silence limit.
func (v *viewer) readDeadline(setupEnd time.Time) time.Time {
	if !v.setupDone {
		return setupEnd
	}
	d := v.lastMedia.Add(v.o.Silence)
	if !v.holdEnd.IsZero() && v.holdEnd.Before(d) {
		d = v.holdEnd
	}
	return d
}

// started marks the play as started (Play.Start, or the 200) and starts the
// hold and the silence clock.
func (v *viewer) started() {
	v.setupDone = true
	v.res.Timeline.PlayStart = v.since()
	now := time.Now()
	v.lastMedia = now
	if v.o.Hold > 0 {
		v.holdEnd = now.Add(v.o.Hold)
	}
}

// tag accounts one message of the stream: typ 8 audio, 9 video, 18 data;
// head is its first bytes (two at least for media, when it has them).
func (v *viewer) tag(typ uint8, ts uint32, size int, head []byte) {
	now := time.Now()
	if v.res.Timeline.FirstTag == 0 {
		v.res.Timeline.FirstTag = now.Sub(v.res.Start)
	}
	if typ != typAudio && typ != typVideo {
		return
	}
	v.res.MediaBytes += uint64(size)
	if isSequenceHeader(typ, head) {
		return
	}
	key := false
	if typ == typVideo {
		v.res.VideoFrames++
		if key = isKeyframe(head); key {
			v.res.Keyframes++
			if v.res.Timeline.FirstKeyframe == 0 {
				v.res.Timeline.FirstKeyframe = now.Sub(v.res.Start)
			}
		}
	} else {
		v.res.AudioFrames++
	}
	v.lastMedia = now
	if !v.haveTS {
		v.haveTS = true
		v.firstTS, v.lastTS = ts, ts
		v.refWall, v.refMedia = now, ts
		v.res.Timeline.FirstFrame = now.Sub(v.res.Start)
	} else {
		// Audio and video interleave with small inversions; the clock is
		// the newest timestamp seen.
		if int32(ts-v.lastTS) > 0 {
			v.lastTS = ts
		}
		lag := now.Sub(v.refWall) - time.Duration(int32(v.lastTS-v.refMedia))*time.Millisecond
		switch {
		case lag <= 0:
			// Level or ahead (a burst): the new reference.
			v.refWall, v.refMedia = now, v.lastTS
		case lag > v.o.StallAfter:
			// A stall: a player would have run dry and buffered again from
			// here.
			v.res.Stalls++
			v.res.StallTime += lag
			if len(v.res.StallAt) < MaxStallTimes {
				v.res.StallAt = append(v.res.StallAt, now.Sub(v.res.Start))
			}
			v.refWall, v.refMedia = now, v.lastTS
		}
		if lag > v.res.MaxLag {
			v.res.MaxLag = lag
		}
	}
	v.res.MediaSpan = time.Duration(int32(v.lastTS-v.firstTS)) * time.Millisecond
	if v.o.Arrivals != nil && typ == typVideo {
		v.o.Arrivals.Arrived(ts, key, now)
	}
}

// readErr turns an error of a read after the play started into the ending.
func (v *viewer) readErr(err error) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !v.holdEnd.IsZero() && !time.Now().Before(v.holdEnd) {
			v.fail(EndHeld, nil)
			v.res.Err = ""
			return
		}
		v.fail(EndSilent, fmt.Errorf("no media for %v", v.o.Silence))
	case errors.Is(err, syscall.ECONNRESET) && v.res.Timeline.FirstFrame > 0:
		v.fail(EndReset, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET):
		// Before any media a reset is the server's close of a connection
		// with our last command unread (a refusal), as an EOF is.
		if v.res.Timeline.FirstFrame == 0 {
			v.fail(EndClosedBeforeMedia, err)
		} else {
			v.fail(EndClosed, err)
		}
	default:
		v.fail(EndError, err)
	}
}

// setupErr turns an error of the setup into the ending.
func (v *viewer) setupErr(ctx context.Context, err error) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil:
		v.fail(EndSetupTimeout, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET):
		v.fail(EndClosedInSetup, err)
	default:
		v.fail(EndError, err)
	}
}

// watch closes the connection when ctx ends, so that a blocked read
// returns; the returned stop undoes it.
func (v *viewer) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { v.nc.SetDeadline(time.Now()) })
}

// ctxEnded tells whether the play ended because ctx did: a planned end.
func (v *viewer) ctxEnded(ctx context.Context) bool {
	if ctx.Err() == nil || !v.setupDone {
		return false
	}
	v.res.Ending, v.res.Err = EndHeld, ""
	return true
}

// RTMP message types, which FLV tags share.
const (
	typAudio = 8
	typVideo = 9
	typData  = 18
)

// isSequenceHeader tells an AVC/HEVC or AAC sequence header (the codec's
// configuration, sent first and repeated by the GOP cache) from a frame.
func isSequenceHeader(typ uint8, head []byte) bool {
	if len(head) < 2 {
		return false
	}
	switch typ {
	case typVideo:
		if head[0]&0x80 != 0 { // enhanced RTMP: packet type in the low nibble
			return head[0]&0x0f == 0
		}
		return head[1] == 0 && (head[0]&0x0f == 7 || head[0]&0x0f == 12)
	case typAudio:
		return head[0]>>4 == 10 && head[1] == 0
	}
	return false
}

// isKeyframe tells a video keyframe (frame type 1).
func isKeyframe(head []byte) bool {
	return len(head) >= 1 && (head[0]>>4)&0x7 == 1
}
