package player

import (
	"sync"
	"time"
)

// Arrivals is told each video message a viewer receives, when it arrived:
// Play calls Arrived from the viewer's goroutine, at once after the read,
// so it must be quick. Pairer is the one rtmpload uses.
type Arrivals interface {
	Arrived(ts uint32, key bool, at time.Time)
}

// sendRing is how many video messages a SendTimes remembers: 4096 are 164 s
// at 25 fps, more than any GOP cache's burst and any latency on loopback.
const sendRing = 4096

// SendTimes is one stream's record of when its publisher sent each video
// message, by timestamp (ms, as on the wire). A native publisher fills it
// with Sent as it writes; viewers' Pairers read it. The newest sendRing
// messages are kept. Safe for one writer and many readers.
type SendTimes struct {
	mu   sync.RWMutex
	n    uint64 // messages recorded
	ts   [sendRing]uint32
	at   [sendRing]int64 // unix ns
	keys [sendRing]bool
}

// Sent records that the video message of timestamp ts (key: a keyframe)
// left at at. Timestamps must not decrease.
func (s *SendTimes) Sent(ts uint32, key bool, at time.Time) {
	s.mu.Lock()
	i := s.n % sendRing
	s.ts[i], s.at[i], s.keys[i] = ts, at.UnixNano(), key
	s.n++
	s.mu.Unlock()
}

// lookup returns when the message of timestamp ts was sent; future says
// ts is more than futureMargin after every message sent so far: not sent
// yet, beyond what a record's lag behind its write explains.
func (s *SendTimes) lookup(ts uint32) (at int64, ok, future bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.n == 0 {
		return 0, false, true
	}
	lo := uint64(0)
	if s.n > sendRing {
		lo = s.n - sendRing
	}
	hi := s.n - 1
	if d := int32(ts - s.ts[hi%sendRing]); d > 0 {
		return 0, false, d > futureMargin
	}
	// Binary search over the ring's order (timestamps rise).
	for lo < hi {
		mid := lo + (hi-lo)/2
		if int32(s.ts[mid%sendRing]-ts) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if s.ts[lo%sendRing] != ts {
		return 0, false, false
	}
	return s.at[lo%sendRing], true, false
}

// keyBefore returns the timestamp of the newest keyframe sent at or before
// at (unix ns) and older than ts (exclusive, when before is set).
func (s *SendTimes) keyBefore(at int64, before uint32, useBefore bool) (uint32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo := uint64(0)
	if s.n > sendRing {
		lo = s.n - sendRing
	}
	for i := s.n; i > lo; i-- {
		j := (i - 1) % sendRing
		if !s.keys[j] || s.at[j] > at {
			continue
		}
		if useBefore && int32(s.ts[j]-before) >= 0 {
			continue
		}
		return s.ts[j], true
	}
	return 0, false
}

// Pairing's margins: a viewer's frame can arrive before its publisher
// recorded sending it (the record follows the write), so the offset is
// chosen only settle after the first arrival, when the keyframe the GOP
// cache began with is surely on record; and a frame maps "not sent yet"
// only when it is futureMargin (ms) past the newest record, which a wrong
// offset (a whole GOP) is and a record's lag is not.
const (
	settle       = 100 * time.Millisecond
	futureMargin = 250
)

// Pairer pairs one viewer's arrivals with its stream's SendTimes and gives
// each video frame's latency from publisher to viewer to Record.
//
// A server may give a player timestamps of its own (SRS's time_jitter full
// starts each player at 0, docs/srs-behaviour.md, "Play"), keeping the
// publisher's deltas; the Pairer finds the offset from the viewer's first
// keyframe, which starts the GOP cache: it is the publisher's newest
// keyframe, or an earlier one when the newest maps the viewer's frames to
// frames not sent yet. The GOP cache's burst (frames sent before the
// viewer's first arrival) is left out of the figure.
type Pairer struct {
	Times  *SendTimes
	Record func(latency time.Duration)
	// Unpaired counts frames whose send time was not found (the ring
	// passed them, the record came late, or the server changed a
	// timestamp).
	Unpaired int

	first   int64 // the first arrival, unix ns
	key     uint32
	haveKey bool
	offset  uint32
	aligned bool
}

// Arrived implements Arrivals.
func (p *Pairer) Arrived(ts uint32, key bool, at time.Time) {
	now := at.UnixNano()
	if p.first == 0 {
		p.first = now
	}
	if !p.haveKey {
		if !key {
			return
		}
		p.key, p.haveKey = ts, true
	}
	if !p.aligned {
		if now-p.first < int64(settle) {
			return // the burst, or too soon to trust the records
		}
		pub, ok := p.Times.keyBefore(now, 0, false)
		if !ok {
			return
		}
		p.offset, p.aligned = pub-p.key, true
		for range 16 {
			if _, _, future := p.Times.lookup(ts + p.offset); !future {
				break
			}
			// Mapped to a frame not sent yet: the offset is a GOP too late.
			if pub, ok = p.Times.keyBefore(now, p.key+p.offset, true); !ok {
				p.aligned = false
				return
			}
			p.offset = pub - p.key
		}
	}
	sent, ok, _ := p.Times.lookup(ts + p.offset)
	if !ok {
		p.Unpaired++
		return
	}
	if sent < p.first {
		return // the GOP cache's burst
	}
	if p.Record != nil {
		p.Record(time.Duration(now - sent))
	}
}
