// Package health judges whether an ffmpeg publisher keeps up, from its -progress blocks.
//
// A publisher that cannot send in real time is "starved": the machine (or the server, through
// TCP back-pressure) does not keep up. It shows as ffmpeg's speed falling below 1x, or as output
// that stops growing. Tracker turns the stream of blocks into starved/healthy transitions with
// hysteresis, so that one slow block does not flap the state.
package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/publisher"
)

const (
	// MinSpeed is the lowest speed that counts as real time: ffmpeg's own estimate wobbles a
	// little around 1x on a healthy publisher.
	MinSpeed = 0.98
	// WarmUp is how long speed is not judged after the first block: ffmpeg's speed is an
	// average since its start, and that starts low while the output connects.
	WarmUp = 3 * time.Second
	// StallAfter is how long neither total_size nor out_time may stay still.
	StallAfter = 5 * time.Second
	// RecoverAfter is how long speed and output must both be fine before a starved publisher
	// counts as healthy again.
	RecoverAfter = 2 * time.Second
)

// Tracker follows one publisher. The zero value is ready; it is safe for concurrent use, because
// blocks arrive on the publisher's goroutine while Check runs on a timer.
type Tracker struct {
	mu        sync.Mutex
	started   bool
	first     time.Time // the first block
	advanced  time.Time // the last block in which total_size or out_time grew
	size, out int64
	starved   bool
	reason    string
	goodSince time.Time // while starved: since when everything has been fine; zero if not
}

// Observe takes one -progress block. It returns whether the state changed with this block, the
// state after it, and why the publisher is starved ("" when healthy). The final block
// (progress=end) is not judged: ffmpeg's figures at its exit say nothing about keeping up.
func (t *Tracker) Observe(p publisher.Progress) (changed, starved bool, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.started, t.first, t.advanced = true, p.At, p.At
		t.size, t.out = p.TotalSize, p.OutTimeUS
	}
	if p.TotalSize > t.size || p.OutTimeUS > t.out {
		t.advanced = p.At
	}
	t.size, t.out = max(t.size, p.TotalSize), max(t.out, p.OutTimeUS)
	if p.End {
		return false, t.starved, t.reason
	}

	var bad string
	switch stalled := p.At.Sub(t.advanced); {
	case stalled >= StallAfter:
		bad = fmt.Sprintf("no output for %s", stalled.Round(100*time.Millisecond))
	// Speed 0 is ffmpeg's N/A: unknown, not slow; a publisher that sends nothing stalls instead.
	case p.Speed > 0 && p.Speed < MinSpeed && p.At.Sub(t.first) >= WarmUp:
		bad = fmt.Sprintf("speed %.2fx", p.Speed)
	}
	return t.judge(p.At, bad)
}

// Check applies the stall rule at now, for when no block comes at all (ffmpeg hung, or its
// progress pipe is stuck). Before the first block there is nothing to judge: a publisher that
// never starts is a failed attempt, not a starved one.
func (t *Tracker) Check(now time.Time) (changed, starved bool, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started || t.starved {
		// Recovery needs fresh blocks; the absence of one proves nothing new.
		return false, t.starved, t.reason
	}
	if stalled := now.Sub(t.advanced); stalled >= StallAfter {
		return t.judge(now, fmt.Sprintf("no progress from ffmpeg for %s", stalled.Round(100*time.Millisecond)))
	}
	return false, false, ""
}

// Stalled records that the publisher's media could not have flowed at now for
// a reason found elsewhere: rtmpload itself stood still for StallAfter or more
// while its tap relayed the publisher, so the server got nothing, however
// much the tap relayed once it ran again (a block after the stall shows
// growth and hides it). Before the first block there is nothing to judge.
func (t *Tracker) Stalled(now time.Time, reason string) (changed, starved bool, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		return false, t.starved, t.reason
	}
	return t.judge(now, reason)
}

// State is the current state and its reason, without a new observation.
func (t *Tracker) State() (starved bool, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.starved, t.reason
}

// judge moves the state given what is wrong at now ("" for nothing).
func (t *Tracker) judge(now time.Time, bad string) (changed, starved bool, reason string) {
	switch {
	case bad != "":
		changed = !t.starved
		t.starved, t.reason, t.goodSince = true, bad, time.Time{}
	case t.starved && t.goodSince.IsZero():
		t.goodSince = now
	}
	if t.starved && !t.goodSince.IsZero() && now.Sub(t.goodSince) >= RecoverAfter {
		changed = true
		t.starved, t.reason, t.goodSince = false, "", time.Time{}
	}
	return changed, t.starved, t.reason
}
