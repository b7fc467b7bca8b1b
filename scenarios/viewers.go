package scenarios

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Viewer protocols and engines (ViewerGroup.Protocol, ViewerGroup.Engine).
const (
	ViewRTMP    = "rtmp"
	ViewHTTPFLV = "http-flv"
	// ViewNative plays with rtmpload's own player (package player), which
	// measures every step; ViewFFmpeg runs `ffmpeg -i URL -f null -`, a
	// witness that a real player plays what the native one does.
	ViewNative = "native"
	ViewFFmpeg = "ffmpeg"
)

// ViewerGroup is a set of viewers that play the streams a name pattern
// gives, beside the publishers.
type ViewerGroup struct {
	Group string // unique among publisher and viewer groups
	Count int    // >= 1
	// Watch is the name pattern of the streams to play, as publishers'
	// Name: viewer i plays Watch expanded for i ("cam-{i%20:03}": 20
	// streams, each watched by Count/20 viewers).
	Watch    string
	Protocol string // rtmp (default) | http-flv
	Engine   string // native (default) | ffmpeg
	Start    time.Duration
	Ramp     time.Duration // viewer i starts at Start + Ramp*i/Count
	Hold     time.Duration // 0: until the run ends
	// Reconnect plays again after a play that ended on its own (refused,
	// dropped, silent) before its stop time; zero: no reconnects.
	Reconnect Reconnect
}

// ViewerSlot is one scheduled viewer.
type ViewerSlot struct {
	Seq      int // 0.. over the scenario's viewers in schedule order
	Group    string
	Index    int
	Stream   string
	Protocol string
	Engine   string
	Start    time.Duration
	Stop     time.Duration // Start+Hold, capped at the run's Duration
}

type fileViewerGroup struct {
	Group     string        `yaml:"group"`
	Count     whole         `yaml:"count"`
	Watch     string        `yaml:"watch"`
	Protocol  string        `yaml:"protocol"`
	Engine    string        `yaml:"engine"`
	Start     Duration      `yaml:"start"`
	Ramp      Duration      `yaml:"ramp"`
	Hold      Duration      `yaml:"hold"`
	Reconnect fileReconnect `yaml:"reconnect"`
}

func (g fileViewerGroup) group() ViewerGroup {
	return ViewerGroup{
		Group: g.Group, Count: int(g.Count), Watch: g.Watch,
		Protocol: cmp.Or(g.Protocol, ViewRTMP), Engine: cmp.Or(g.Engine, ViewNative),
		Start: time.Duration(g.Start), Ramp: time.Duration(g.Ramp), Hold: time.Duration(g.Hold),
		Reconnect: Reconnect{Delay: time.Duration(g.Reconnect.Delay), Max: int(g.Reconnect.Max), Backoff: g.Reconnect.Backoff},
	}
}

// ViewerSchedule lists every viewer of a valid scenario, sorted by Start,
// then group order, then Index: a pure function of the scenario, as
// Schedule is for publishers.
func (s *Scenario) ViewerSchedule() []ViewerSlot {
	var slots []ViewerSlot
	for _, g := range s.Viewers {
		pat, err := compilePattern(g.Watch)
		for i := range g.Count {
			v := ViewerSlot{Group: g.Group, Index: i, Stream: g.Watch, Protocol: g.Protocol, Engine: g.Engine,
				Start: g.Start + spread(g.Ramp, i, g.Count), Stop: s.Duration}
			if err == nil {
				v.Stream = pat.expand(i)
			}
			if g.Hold > 0 && v.Start+g.Hold < s.Duration {
				v.Stop = v.Start + g.Hold
			}
			slots = append(slots, v)
		}
	}
	slices.SortStableFunc(slots, func(a, b ViewerSlot) int { return cmp.Compare(a.Start, b.Start) })
	for i := range slots {
		slots[i].Seq = i
	}
	return slots
}

// checkViewers checks the viewer groups: their names apart from the
// publishers', their patterns, protocols and times.
func (s *Scenario) checkViewers() *problem {
	if len(s.Viewers) > 0 && s.Mode == ModeCapacity {
		return problemAt("$", "viewers", "mode capacity steps publishers only: leave viewers out, or use mode load")
	}
	seen := make(map[string]bool)
	for _, g := range s.Publishers {
		seen[g.Group] = true
	}
	for i, g := range s.Viewers {
		path := fmt.Sprintf("$.viewers[%d]", i)
		switch {
		case g.Group == "":
			return problemAt(path, "group", "group is required (a unique label for these viewers)")
		case seen[g.Group]:
			return problemAt(path, "group", "duplicate group %q (viewer groups are named apart from publisher groups)", g.Group)
		case g.Count < 1 || g.Count > MaxGroupCount:
			return problemAt(path, "count", "group %q: count must be between 1 and %d, got %d", g.Group, MaxGroupCount, g.Count)
		case g.Watch == "":
			return problemAt(path, "watch", "group %q: watch is required: the streams to play, such as \"cam-{i%%20:03}\"", g.Group)
		case g.Protocol != ViewRTMP && g.Protocol != ViewHTTPFLV:
			return problemAt(path, "protocol", "group %q: unknown protocol %q (want rtmp or http-flv)", g.Group, g.Protocol)
		case g.Engine != ViewNative && g.Engine != ViewFFmpeg:
			return problemAt(path, "engine", "group %q: unknown engine %q (want native or ffmpeg)", g.Group, g.Engine)
		case g.Start < 0 || g.Ramp < 0 || g.Hold < 0:
			return problemAt(path, "", "group %q: start, ramp and hold must not be negative", g.Group)
		case g.Start >= s.Duration:
			return problemAt(path, "start", "group %q: start %v is not before the end of the run (%v)", g.Group, g.Start, s.Duration)
		case g.Start+g.Ramp > s.Duration:
			return problemAt(path, "ramp", "group %q: start %v + ramp %v is beyond the end of the run (%v)", g.Group, g.Start, g.Ramp, s.Duration)
		}
		if _, err := compilePattern(g.Watch); err != nil {
			return problemAt(path, "watch", "group %q: %v", g.Group, err)
		}
		if rc := g.Reconnect; rc.Max < 0 || rc.Delay < 0 || (rc.Backoff != 0 && (rc.Backoff < 1 || rc.Backoff > 10)) {
			return problemAt(path+".reconnect", "", "group %q: reconnect wants max >= 0, delay >= 0 and backoff from 1 to 10", g.Group)
		}
		seen[g.Group] = true
	}
	return nil
}
