package report

import (
	"slices"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// timelineBuckets bounds a Timeline's memory: when a run outgrows them,
// neighbouring buckets merge and each covers twice the time.
const timelineBuckets = 120

// Bucket is one slice of a run's time.
type Bucket struct {
	Start     time.Duration `json:"start_ns"` // since the run started
	Started   int           `json:"started"`  // attempts spawned
	Published int           `json:"published"`
	Refused   int           `json:"refused"` // exited without publishing
	Dropped   int           `json:"dropped"` // published, then ended on their own
	// Active is the most publishers publishing at once within the bucket.
	Active   int `json:"active"`
	HookOK   int `json:"hook_ok"`   // on_publish calls answered 2xx
	HookFail int `json:"hook_fail"` // on_publish calls that failed, timed out or answered an error status
	// Starved is the most publishers below real time at once within the
	// bucket (runner/health): a machine or server that cannot keep up.
	Starved int `json:"starved"`
}

// Timeline buckets a results stream by time since the run started: attempts
// and failures over time, active publishers, and the callback's answers.
// Its memory is bounded by the bucket count and by how many attempts are in
// flight at once, not by the run's length.
type Timeline struct {
	start   time.Time
	width   time.Duration
	buckets []Bucket
	pending map[string]bool // spawned, not exited: true once publishing
	active  int
	starved map[string]bool // starved now, not recovered or exited
}

// NewTimeline returns an empty Timeline with one-second buckets.
func NewTimeline() *Timeline {
	return &Timeline{width: time.Second, pending: make(map[string]bool), starved: make(map[string]bool)}
}

// HadStarved reports whether any publisher was starved at some point.
func (t *Timeline) HadStarved() bool {
	return slices.ContainsFunc(t.buckets, func(b Bucket) bool { return b.Starved > 0 })
}

// Width is how much time each bucket covers now.
func (t *Timeline) Width() time.Duration { return t.width }

// Buckets returns the buckets from the run's start to its last event.
func (t *Timeline) Buckets() []Bucket {
	out := make([]Bucket, len(t.buckets))
	for i, b := range t.buckets {
		b.Start = time.Duration(i) * t.width
		out[i] = b
	}
	return out
}

func (t *Timeline) bucket(at time.Time) *Bucket {
	if t.start.IsZero() {
		t.start = at
	}
	off := max(at.Sub(t.start), 0)
	i := int(off / t.width)
	for i >= timelineBuckets {
		t.coarsen()
		i = int(off / t.width)
	}
	for len(t.buckets) <= i {
		// A new bucket starts with the publishers still live, and still starved.
		t.buckets = append(t.buckets, Bucket{Active: t.active, Starved: len(t.starved)})
	}
	return &t.buckets[i]
}

func (t *Timeline) coarsen() {
	merged := make([]Bucket, 0, timelineBuckets)
	for i := 0; i < len(t.buckets); i += 2 {
		b := t.buckets[i]
		if i+1 < len(t.buckets) {
			o := t.buckets[i+1]
			b.Started += o.Started
			b.Published += o.Published
			b.Refused += o.Refused
			b.Dropped += o.Dropped
			b.Active = max(b.Active, o.Active)
			b.HookOK += o.HookOK
			b.HookFail += o.HookFail
			b.Starved = max(b.Starved, o.Starved)
		}
		merged = append(merged, b)
	}
	t.buckets = merged
	t.width *= 2
}

// Add takes one event of the stream, in stream order.
func (t *Timeline) Add(ev schema.Event) error {
	switch {
	case ev.Type == schema.TypeRun && ev.Run != nil && t.start.IsZero():
		t.start = ev.Run.Started
	case ev.Type == schema.TypeAttempt && ev.Attempt != nil:
		a := ev.Attempt
		switch a.Phase {
		case schema.PhaseSpawn:
			t.pending[a.ID] = false
			t.bucket(ev.Time).Started++
		case schema.PhasePublishing:
			if published, ok := t.pending[a.ID]; ok && !published {
				t.pending[a.ID] = true
				t.active++
				b := t.bucket(ev.Time)
				b.Published++
				b.Active = max(b.Active, t.active)
			}
		// Buckets up to an event's are made before the event changes what is
		// live: the seconds before it saw the state before it.
		case schema.PhaseStarved:
			b := t.bucket(ev.Time)
			t.starved[a.ID] = true
			b.Starved = max(b.Starved, len(t.starved))
		case schema.PhaseRecovered:
			t.bucket(ev.Time)
			delete(t.starved, a.ID)
		case schema.PhaseExit:
			b := t.bucket(ev.Time)
			delete(t.starved, a.ID)
			published, known := t.pending[a.ID]
			delete(t.pending, a.ID)
			switch {
			case published:
				t.active--
				if Ended(true, a.Class, a.Stopped) == EndedDropped {
					b.Dropped++
				}
			case a.Stopped && a.Class != schema.ClassSpawnError:
				// Stopped by rtmpload (run end, hold, churn) while it still
				// waited, e.g. on a server that never answered its
				// handshake: nobody refused it.
			case known || a.Class == schema.ClassSpawnError:
				b.Refused++
			}
		}
	case ev.Type == schema.TypeHook && ev.Hook != nil && ev.Hook.Action == schema.ActionPublish:
		h := ev.Hook
		at := h.Answered
		if at.IsZero() {
			at = ev.Time
		}
		b := t.bucket(at)
		if h.Verdict == "error" || h.Canceled || h.Status < 200 || h.Status > 299 {
			b.HookFail++
		} else {
			b.HookOK++
		}
	}
	return nil
}
