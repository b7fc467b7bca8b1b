package testplayer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultStallThreshold is how far a viewer's media clock may fall behind
// the wall clock before it counts as a stall. It is above SRS's merged
// write (350 ms, docs/srs-behaviour.md, "Play"), which delivers media in
// batches by design.
const DefaultStallThreshold = time.Second

// Options configure Play.
type Options struct {
	// Watch is how long to play; 0 plays until ctx ends or the server ends
	// the play.
	Watch time.Duration
	// StallThreshold: default DefaultStallThreshold.
	StallThreshold time.Duration
	// HTTPClient plays HTTP-FLV; default http.DefaultClient.
	HTTPClient *http.Client
	// OnFrame, if set, sees every frame as it arrives, from the play's
	// goroutine: what a latency measure joins with the publisher's send
	// times. It must be quick.
	OnFrame func(Frame)
}

// Frame is one media frame a viewer received.
type Frame struct {
	At    time.Time     // when it was read
	TS    time.Duration // its timestamp, as the server sent it
	Video bool
	Key   bool // a video keyframe
}

// Stats is what one play saw. Durations are from the start of Play.
type Stats struct {
	Protocol string // "rtmp" or "http-flv"
	// Connect is the TCP connect (RTMP) or the response head (HTTP-FLV);
	// PlayStart is NetStream.Play.Start (RTMP) or the response head.
	Connect, PlayStart time.Duration
	// FirstFrame is the first audio or video frame (not a sequence header),
	// FirstKeyframe the first video keyframe; 0 when none came.
	FirstFrame, FirstKeyframe time.Duration
	Played                    time.Duration // from the start to the end of the play
	Bytes                     uint64        // received, headers included
	VideoFrames, AudioFrames  int
	// MediaTime is the span of the media timestamps received.
	MediaTime time.Duration
	// Stalls counts the times the media clock fell behind the wall clock by
	// more than the threshold since its best point (each stall rebases it;
	// a play that ends starved counts one more); StallTime sums how far.
	Stalls    int
	StallTime time.Duration
	// End is why the play ended: nil when Watch ran out, else the error
	// (ErrClosedWithoutStatus: refused the way SRS refuses).
	End error
}

// Kbps is the received bitrate over the play.
func (s Stats) Kbps() float64 {
	if s.Played <= 0 {
		return 0
	}
	return float64(s.Bytes) * 8 / 1000 / s.Played.Seconds()
}

// clock follows a viewer's media clock against the wall clock.
type clock struct {
	start     time.Time
	threshold time.Duration
	st        *Stats
	wall0     time.Time
	ts0, last int64 // ms
	minLag    time.Duration
	started   bool
	onFrame   func(Frame)
}

// frame records a media frame with timestamp ts (ms) arriving at now.
func (c *clock) frame(now time.Time, ts int64, video, key bool) {
	st := c.st
	if c.onFrame != nil {
		c.onFrame(Frame{At: now, TS: time.Duration(ts) * time.Millisecond, Video: video, Key: key})
	}
	if !c.started {
		c.started, c.wall0, c.ts0, c.last = true, now, ts, ts
		st.FirstFrame = now.Sub(c.start)
	}
	if key && st.FirstKeyframe == 0 {
		st.FirstKeyframe = now.Sub(c.start)
	}
	if video {
		st.VideoFrames++
	} else {
		st.AudioFrames++
	}
	c.last = max(c.last, ts)
	st.MediaTime = time.Duration(c.last-c.ts0) * time.Millisecond
	c.check(now.Sub(c.wall0) - time.Duration(ts-c.ts0)*time.Millisecond)
}

func (c *clock) check(lag time.Duration) {
	if lag < c.minLag {
		c.minLag = lag
	}
	if d := lag - c.minLag; d > c.threshold {
		c.st.Stalls++
		c.st.StallTime += d
		c.minLag = lag
	}
}

// end closes the books: a play that starved at its end stalled too.
func (c *clock) end(now time.Time) {
	c.st.Played = now.Sub(c.start)
	if c.started {
		c.check(now.Sub(c.wall0) - time.Duration(c.last-c.ts0)*time.Millisecond)
	}
}

// Play plays rawURL (rtmp://host:port/app/stream or
// http://host:port/app/stream.flv) for opt.Watch and measures it.
func Play(ctx context.Context, rawURL string, opt Options) Stats {
	start := time.Now()
	if opt.StallThreshold <= 0 {
		opt.StallThreshold = DefaultStallThreshold
	}
	if opt.Watch > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Watch)
		defer cancel()
	}
	st := Stats{}
	c := &clock{start: start, threshold: opt.StallThreshold, st: &st, onFrame: opt.OnFrame}
	switch {
	case strings.HasPrefix(rawURL, "rtmp://"):
		st.Protocol = "rtmp"
		st.End = playRTMP(ctx, rawURL, c)
	case strings.HasPrefix(rawURL, "http://"):
		st.Protocol = "http-flv"
		st.End = playFLV(ctx, rawURL, opt.HTTPClient, c)
	default:
		st.End = fmt.Errorf("player: %q is neither rtmp:// nor http://", rawURL)
	}
	c.end(time.Now())
	if opt.Watch > 0 && ctx.Err() != nil && errors.Is(st.End, context.DeadlineExceeded) {
		st.End = nil // watched as long as asked
	}
	return st
}

func playRTMP(ctx context.Context, u string, c *clock) error {
	p, err := DialRTMP(ctx, u)
	if p != nil {
		defer p.Close()
	}
	if err != nil {
		return err
	}
	st := c.st
	st.Connect, st.PlayStart = p.Timings.Dial, p.Timings.PlayStart
	stop := context.AfterFunc(ctx, func() { p.NetConn().SetReadDeadline(time.Now()) })
	defer stop()
	defer func() { st.Bytes = p.BytesReceived() }()
	for {
		m, err := p.ReadRaw()
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return ctx.Err()
			}
			if isClosed(err) {
				if st.FirstFrame == 0 {
					// Play.Start, then the close: SRS's refusal of a play.
					return ErrClosedWithoutStatus
				}
				return io.EOF
			}
			return err
		}
		if frame, video, key := classify(m.Type, m.Body); frame {
			c.frame(time.Now(), m.Timestamp.Milliseconds(), video, key)
		}
	}
}

// classify tells a media frame from a sequence header or another message,
// by the FLV tag body that RTMP audio and video messages share: for AVC and
// HEVC (and AAC) the packet type byte says 1 for a frame; other legacy
// codecs have only frames.
func classify(typ uint8, b []byte) (frame, video, key bool) {
	switch {
	case typ == TagVideo && len(b) >= 2 && b[0]&0x80 == 0:
		codec := b[0] & 0x0f
		if (codec == 7 || codec == 12) && b[1] != 1 {
			return false, true, false
		}
		return true, true, b[0]>>4 == 1
	case typ == TagAudio && len(b) >= 2:
		return b[0]>>4 != 10 || b[1] == 1, false, false
	}
	return false, false, false
}

func playFLV(ctx context.Context, u string, client *http.Client, c *clock) error {
	f, err := DialFLV(ctx, client, u)
	if err != nil {
		return err
	}
	defer f.Close()
	st := c.st
	st.Connect, st.PlayStart = f.Head, f.Head
	counted := &countingReader{r: f.Resp.Body}
	f.FLVReader = NewFLVReader(counted)
	defer func() { st.Bytes = counted.n }()
	for {
		tag, err := f.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if frame, video, key := classify(tag.Type, tag.Body); frame {
			c.frame(time.Now(), int64(tag.Timestamp), video, key)
		}
	}
}

type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}
