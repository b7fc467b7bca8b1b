package server

import (
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
)

// Takeovers (Config.Takeover, as MediaMTX does): the newest publisher of a
// name reads its first seconds of media, then takes the name over from the
// older one, which is closed.

// takeOver makes c the publisher of its name once it has learnt its
// tracks, closing the publisher it replaces (MediaMTX's log words: "closing
// existing publisher"). That one is no longer listed by the API from then.
func (s *Server) takeOver(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.learning = false
	if old := c.src.publisher; old != nil && old != c {
		old.mu.Lock()
		old.takenOver = true
		old.mu.Unlock()
		old.nc.Close()
		s.log.Info("closing existing publisher", "stream", c.streamURL, "old", old.id, "new", c.id)
	}
	s.publishLocked(c)
}

// takeoverMedia is how much of a newer publisher's media (by its time
// stamps) the server reads before it takes the name over: MediaMTX reads
// that much to learn the tracks (gortmplib's reader, its analyze period)
// and only then closes the older publisher. Seen on MediaMTX: the older
// closed 2.15-2.31 s after the newer's Publish.Start.
const takeoverMedia = 2 * time.Second

// learnTracks reads c's first takeoverMedia of media, counting it, then
// takes the name over. A publisher that ends first, or sends no message
// within the first-packet timeout, ends with that reason and never takes
// the name (its older one lives on).
func (s *Server) learnTracks(c *client) (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(s.cfg.FirstPacketTimeout))
	defer c.nc.SetReadDeadline(time.Time{})
	var first, last time.Duration
	seen := false
	for {
		msg, err := c.sc.Read()
		if err != nil {
			if reason, final := endReason(err); final {
				return reason, err
			}
			continue
		}
		c.count(msg, time.Now())
		dts, ok := mediaDTS(msg)
		if !ok {
			continue
		}
		if !seen {
			first, seen = dts, true
		}
		last = dts
		if last-first >= takeoverMedia {
			s.takeOver(c)
			return "", nil
		}
	}
}

// mediaDTS is a media message's decoding time stamp.
func mediaDTS(msg message.Message) (time.Duration, bool) {
	switch m := msg.(type) {
	case *message.Video:
		return m.DTS, true
	case *message.Audio:
		return m.DTS, true
	case *message.VideoExCodedFrames:
		return m.DTS, true
	case *message.VideoExFramesX:
		return m.DTS, true
	}
	return 0, false
}
