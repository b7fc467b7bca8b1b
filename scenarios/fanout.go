package scenarios

import (
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Fan-out: several publishers of a group share one ffmpeg process, which publishes to each of
// them through ffmpeg's tee muxer (each output is still its own RTMP connection).
const (
	// MaxFanout is the most publishers one process may carry. tee opens its outputs one after
	// another and sends media only once all are open, so the first output waits for the others
	// with only its headers sent. SRS drops such a publisher at its second look, 25 s after its
	// publish (docs/srs-behaviour.md, "Publish timeouts"). Measured on loopback: 0.27 s per
	// open against SRS 7.0.18 (3.6 opens/s), 0.14 s against the embedded server, so 32 outputs
	// keep the first one's wait near 9 s against SRS on a quiet machine, room for a machine
	// twice as slow; per output, 32 cost a quarter less ffmpeg CPU than 16 (docs/benchmarks-history.md,
	// "Fan-out"). Parallel outputs (--fanout-parallel) do not wait, but cost 2.4 times as much.
	MaxFanout = 32
	// FanoutWindow bounds how far apart the scheduled starts of the publishers that share a
	// process may lie: the process starts at the first one's time, and the others open in
	// turn after it, so a later publisher starts at most this much early.
	FanoutWindow = 5 * time.Second
)

// Batches splits slots (a schedule, or a shard of one, in schedule order) into the sets of
// publishers that share one ffmpeg process: consecutive slots of one group, at most the group's
// fan-out (or fanout when the group sets none; 0 or 1: one process each), whose starts lie within
// FanoutWindow of the first one's. Every slot is in exactly one batch; batches are in the order of
// their first slot. It is a pure function of its arguments.
func (s *Scenario) Batches(slots []Slot, fanout int) [][]Slot {
	k := make(map[string]int, len(s.Publishers))
	for _, g := range s.Publishers {
		k[g.Group] = max(1, fanout)
		if g.Fanout > 0 {
			k[g.Group] = g.Fanout
		}
		if g.Engine == schema.EngineNative {
			k[g.Group] = 1 // a connection each, no process to share (its witnesses too)
		}
	}
	var batches [][]Slot
	open := make(map[string]int) // group -> index of its batch still taking slots
	for _, slot := range slots {
		if i, ok := open[slot.Group]; ok {
			b := batches[i]
			if len(b) < k[slot.Group] && slot.Start-b[0].Start <= FanoutWindow {
				batches[i] = append(b, slot)
				continue
			}
		}
		batches = append(batches, []Slot{slot})
		if k[slot.Group] > 1 {
			open[slot.Group] = len(batches) - 1
		} else {
			delete(open, slot.Group)
		}
	}
	return batches
}
