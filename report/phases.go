package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// PhaseMark is one moment of an attempt: a phase on the wire, the hook's
// call, ffmpeg's first progress or its exit, as milliseconds after the
// attempt's spawn.
type PhaseMark struct {
	Phase  string  `json:"phase"`
	MS     float64 `json:"ms"`
	Detail string  `json:"detail,omitempty"`
}

// Phases of an attempt that are not the tap's (tap names those).
const (
	PhaseMarkSpawn         = "spawn"
	PhaseMarkHookArrived   = "hook_arrived"
	PhaseMarkHookAnswered  = "hook_answered"
	PhaseMarkFirstProgress = "ffmpeg_publishing"
	PhaseMarkExit          = "exit"
)

// Slow is one of the attempts that waited longest for the server's verdict.
type Slow struct {
	ID      string         `json:"id"`
	Group   string         `json:"group"`
	Stream  string         `json:"stream"`
	Outcome schema.Outcome `json:"outcome"`
	Metric  string         `json:"metric"` // what it was ranked by: hook_wait (wire) or publish_start (ffmpeg, no tap)
	MS      float64        `json:"ms"`
	// Timeline ends at the first media: a publisher that went on publishing
	// is not slow for that.
	Timeline []PhaseMark `json:"timeline"`
}

// maxSlowest is how many of the slowest attempts a summary keeps.
const maxSlowest = 10

// phases is the attempt's timeline, in time order; untilMedia leaves out
// what follows the first media message, or without a tap ffmpeg's first
// progress (the rest of a long publish).
func (a *Attempt) phases(untilMedia bool) []PhaseMark {
	if a.Spawn.IsZero() {
		return nil
	}
	var out []PhaseMark
	add := func(phase string, at time.Time, detail string) {
		if !at.IsZero() {
			out = append(out, PhaseMark{Phase: phase, MS: msSince(a.Spawn, at), Detail: detail})
		}
	}
	add(PhaseMarkSpawn, a.Spawn, "")
	if a.Wire != nil {
		for _, m := range a.Wire.Marks {
			add(m.Phase, m.At, m.Detail)
		}
	}
	if h := a.Hook; h != nil {
		add(PhaseMarkHookArrived, h.Arrived, "")
		add(PhaseMarkHookAnswered, h.Answered, h.Verdict)
	}
	add(PhaseMarkFirstProgress, a.Publishing, "")
	detail := string(a.Class)
	if a.Class != schema.ClassStopped && a.ExitCode != 0 {
		detail = fmt.Sprintf("%s %d", a.Class, a.ExitCode)
	}
	add(PhaseMarkExit, a.Exit, detail)
	slices.SortStableFunc(out, func(x, y PhaseMark) int { return cmp.Compare(x.MS, y.MS) })
	if untilMedia {
		// The first media, or without a tap ffmpeg's first progress, ends
		// the part worth showing.
		cut := -1
		for i, m := range out {
			if m.Phase == schema.WireFirstAudio || m.Phase == schema.WireFirstVideo {
				cut = i
				// Both media marks often share one read: keep the other too.
				for cut+1 < len(out) && out[cut+1].MS == m.MS && (out[cut+1].Phase == schema.WireFirstAudio || out[cut+1].Phase == schema.WireFirstVideo) {
					cut++
				}
				break
			}
			if m.Phase == PhaseMarkFirstProgress && a.Wire == nil {
				cut = i
				break
			}
		}
		if cut >= 0 {
			return out[:cut+1]
		}
	}
	return out
}

func msSince(from, at time.Time) float64 { return durMS(at.Sub(from)) }

// durMS is d in milliseconds, to the microsecond.
func durMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waited is how long the attempt waited for the server's verdict, as the
// wire saw it (publish command to onStatus or close), else, without a tap,
// how long ffmpeg took to start publishing.
func (a *Attempt) waited() (metric string, d time.Duration, ok bool) {
	a.Wire.Durations(a.Spawn, func(m string, v time.Duration) {
		if m == schema.MetricHookWait {
			metric, d, ok = m, v, true
		}
	})
	if !ok && a.Wire == nil && a.published() && !a.Spawn.IsZero() {
		return MetricPublishStart, a.Publishing.Sub(a.Spawn), true
	}
	return metric, d, ok
}

// slowest keeps the maxSlowest attempts that waited longest, longest first
// (ties in start order).
func slowest(attempts []*Attempt) []Slow {
	type ranked struct {
		a      *Attempt
		metric string
		d      time.Duration
	}
	var top []ranked
	for _, a := range attempts {
		m, d, ok := a.waited()
		if !ok {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, d, func(r ranked, d time.Duration) int {
			if r.d >= d {
				return -1 // an equal wait started earlier: it stays ahead
			}
			return 1
		})
		if i < maxSlowest {
			top = slices.Insert(top, i, ranked{a, m, d})
			if len(top) > maxSlowest {
				top = top[:maxSlowest]
			}
		}
	}
	out := make([]Slow, 0, len(top))
	for _, r := range top {
		out = append(out, Slow{
			ID: r.a.ID, Group: r.a.Group, Stream: r.a.Stream, Outcome: r.a.Outcome,
			Metric: r.metric, MS: durMS(r.d), Timeline: r.a.phases(true),
		})
	}
	return out
}

// phaseColor is the colour of the stretch of an attempt that ends at phase:
// ffmpeg starting, the handshake, the RTMP commands, the wait for the
// server's verdict, the first media, and what follows.
func phaseColor(phase string) (color, stretch string) {
	switch phase {
	case schema.WireTCPConnect, "upstream_connect":
		return "#c9ced6", "ffmpeg start"
	case schema.WireC0C1, schema.WireS0S1S2, "c2":
		return "#7aa7e0", "handshake"
	case schema.WireConnect, schema.WireConnectResult, "release_stream", "fc_publish", "create_stream", "create_stream_result", schema.WirePublish:
		return "#9ecbff", "RTMP commands"
	case schema.WireOnStatus, schema.WireServerClose:
		return "#f0883e", "waiting for the verdict"
	case schema.WireFirstAudio, schema.WireFirstVideo:
		return "#4ac26b", "first media"
	}
	return "#e6e9ef", "after"
}
