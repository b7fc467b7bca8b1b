package health

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/publisher"
)

// step is one block (or, with check set, one Check call) at t0+at, and what must follow.
type step struct {
	at      time.Duration
	check   bool
	speed   float64
	grow    bool // total_size and out_time advance from the previous block
	end     bool
	changed bool
	starved bool
	reason  string // a substring of the reason
}

func TestTracker(t *testing.T) {
	ok := func(at time.Duration) step { return step{at: at, speed: 1, grow: true} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"healthy stays healthy", []step{ok(0), ok(time.Second), ok(5 * time.Second), ok(10 * time.Second)}},
		{"low speed in the warm-up is not judged", []step{
			{at: 0, speed: 0.3, grow: true},
			{at: 2 * time.Second, speed: 0.8, grow: true},
			{at: 2900 * time.Millisecond, speed: 0.9, grow: true},
			{at: 3 * time.Second, speed: 0.9, grow: true, changed: true, starved: true, reason: "speed 0.90x"},
		}},
		{"speed N/A is not slow", []step{ok(0), {at: 4 * time.Second, speed: 0, grow: true}}},
		{"slow, then recovers after 2 s of good blocks", []step{
			ok(0), ok(3 * time.Second),
			{at: 4 * time.Second, speed: 0.97, grow: true, changed: true, starved: true, reason: "speed 0.97x"},
			{at: 4500 * time.Millisecond, speed: 0.99, grow: true, starved: true, reason: "speed"},
			{at: 5 * time.Second, speed: 0.5, grow: true, starved: true, reason: "speed 0.50x"},
			{at: 6 * time.Second, speed: 1, grow: true, starved: true, reason: "speed"},
			{at: 7900 * time.Millisecond, speed: 1, grow: true, starved: true, reason: "speed"},
			{at: 8 * time.Second, speed: 1, grow: true, changed: true},
			ok(9 * time.Second),
		}},
		{"output stalled for 5 s", []step{
			ok(0), ok(time.Second),
			{at: 2 * time.Second, speed: 1},
			{at: 4 * time.Second, speed: 1},
			{at: 5900 * time.Millisecond, speed: 1},
			{at: 6 * time.Second, speed: 1, changed: true, starved: true, reason: "no output for 5s"},
			{at: 7 * time.Second, speed: 1, grow: true, starved: true, reason: "no output"},
			{at: 9 * time.Second, speed: 1, grow: true, changed: true},
		}},
		{"no blocks at all: Check finds the stall", []step{
			ok(0), ok(time.Second),
			{at: 5 * time.Second, check: true},
			{at: 6 * time.Second, check: true, changed: true, starved: true, reason: "no progress from ffmpeg for 5s"},
			{at: 20 * time.Second, check: true, starved: true, reason: "no progress"},
			{at: 21 * time.Second, speed: 1, grow: true, starved: true, reason: "no progress"},
			{at: 23 * time.Second, speed: 1, grow: true, changed: true},
			{at: 23 * time.Second, check: true},
		}},
		{"Check before the first block judges nothing", []step{
			{at: time.Minute, check: true},
			ok(time.Minute + time.Second),
			{at: time.Minute + 2*time.Second, check: true},
		}},
		{"the final block is not judged", []step{
			ok(0), ok(4 * time.Second),
			{at: 5 * time.Second, speed: 0.2, end: true},
		}},
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			var size, out int64
			for i, s := range tt.steps {
				var changed, starved bool
				var reason string
				if s.check {
					changed, starved, reason = tr.Check(t0.Add(s.at))
				} else {
					if s.grow {
						size, out = size+62500, out+500000
					}
					changed, starved, reason = tr.Observe(publisher.Progress{
						At: t0.Add(s.at), Frame: out / 40000, TotalSize: size, OutTimeUS: out, Speed: s.speed, End: s.end,
					})
				}
				if changed != s.changed || starved != s.starved || !strings.Contains(reason, s.reason) || (s.reason == "") != (reason == "") {
					t.Fatalf("step %d at %s: got changed=%v starved=%v reason=%q, want changed=%v starved=%v reason~%q",
						i, s.at, changed, starved, reason, s.changed, s.starved, s.reason)
				}
				if st, r := tr.State(); st != starved || r != reason {
					t.Fatalf("step %d: State() = %v %q, Observe/Check said %v %q", i, st, r, starved, reason)
				}
			}
		})
	}
}

// A stall found elsewhere (rtmpload stood still while its tap relayed the
// publisher) starves a publisher that has started, whatever its blocks said,
// and it recovers after good blocks as from any stall.
func TestStalledFromOutside(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	var fresh Tracker
	if changed, starved, _ := fresh.Stalled(t0, "rtmpload stood still"); changed || starved {
		t.Error("a publisher with no block yet was judged")
	}
	var tr Tracker
	block := func(at time.Duration, size int64) (bool, bool, string) {
		return tr.Observe(publisher.Progress{At: t0.Add(at), Speed: 1, TotalSize: size, OutTimeUS: size})
	}
	block(0, 1)
	block(time.Second, 2)
	if changed, starved, why := tr.Stalled(t0.Add(7*time.Second), "rtmpload stood still 6s"); !changed || !starved || why != "rtmpload stood still 6s" {
		t.Fatalf("stalled: changed %v starved %v reason %q", changed, starved, why)
	}
	block(7500*time.Millisecond, 3)
	if changed, starved, _ := block(9600*time.Millisecond, 4); !changed || starved {
		t.Errorf("after 2 s of good blocks: changed %v starved %v", changed, starved)
	}
}
