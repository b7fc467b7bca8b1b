package report

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Viewer is one play attempt, joined with its on_play call through its id.
type Viewer struct {
	*schema.ViewEvent
	Hook      *schema.HookCall     `json:"hook,omitempty"`   // its on_play call, when the hook saw one
	Server    *schema.ServerEvent  `json:"server,omitempty"` // the embedded server's refusal, when it refused
	HookState schema.CallbackState `json:"callback_state,omitempty"`
	Outcome   schema.Outcome       `json:"outcome"`
	Evidence  string               `json:"evidence,omitempty"`
}

// ViewerSummary is what the viewers saw: their outcomes beside the
// callback's state, per group, and their timings.
type ViewerSummary struct {
	Plays    int                                             `json:"plays"`
	Outcomes map[schema.Outcome]int                          `json:"outcomes"`
	ByState  map[schema.Outcome]map[schema.CallbackState]int `json:"by_state"`
	Groups   []ViewerGroupSummary                            `json:"groups"`
	// Latency holds, for all viewers ("all") and per protocol when both
	// played (its group: rtmp, http-flv), the percentiles of
	// play_start, first_frame and first_keyframe (from the dial), and
	// publisher_to_viewer (the latency sample's frames).
	Latency  []LatencyRow `json:"latency"`
	Failures []Viewer     `json:"failures"` // the first MaxViewerFailures plays that were not ok
	// Availability is the play side's states when a fault window targeted
	// one side (the summary's own Availability is then the publish
	// side's); nil when one state held for every call.
	Availability []TimedState `json:"availability,omitempty"`
}

// ViewerGroupSummary is one viewer group's figures.
type ViewerGroupSummary struct {
	Name     string                 `json:"name"`
	Protocol string                 `json:"protocol"`
	Plays    int                    `json:"plays"`
	Outcomes map[schema.Outcome]int `json:"outcomes"`
	// Stalls sums the plays' stalls; StalledPlays counts plays with any.
	// StallsInStrain counts the stalls on record (a play's first 16) that
	// ended in, or within StallStrainWindow after, a stretch when the load
	// machine was strained: the generator may not have kept up.
	Stalls         int           `json:"stalls"`
	StallsInStrain int           `json:"stalls_in_strain,omitempty"`
	StalledPlays   int           `json:"stalled_plays"`
	StallTime      time.Duration `json:"stall_time_ns"`
	MaxLag         time.Duration `json:"max_lag_ns"`
	// BitrateKbps is the mean received media rate of the plays that
	// played.
	BitrateKbps float64 `json:"bitrate_kbps"`
}

// Viewer metrics (LatencyRow.Metric of ViewerSummary.Latency).
const (
	MetricPlayStart         = "play_start"
	MetricFirstFrame        = "first_frame"
	MetricFirstKeyframe     = "first_keyframe"
	MetricPublisherToViewer = "publisher_to_viewer"
)

// StallStrainWindow is how long after a strained stretch a stall still
// counts as in it: a stall is seen when the media comes again, at its end.
const StallStrainWindow = 2 * time.Second

// stallsInStrain counts e's stalls on record that ended in a strained
// stretch of the load machine or within StallStrainWindow after one.
func stallsInStrain(e *schema.ViewEvent, m *MachineView) int {
	if m == nil {
		return 0
	}
	n := 0
	for _, d := range e.StallAt {
		at := e.Start.Add(d)
		for _, st := range m.Strained {
			// A sample covers the second before its time.
			if !at.Before(st.From.Add(-time.Second)) && !at.After(st.To.Add(StallStrainWindow)) {
				n++
				break
			}
		}
	}
	return n
}

// MaxViewerFailures bounds ViewerSummary.Failures.
const MaxViewerFailures = 200

// classifyView decides a play's outcome from its ending, its on_play call
// and the callback's state, with the publishers' words where the cause is
// the same.
func classifyView(v *Viewer) (schema.Outcome, string) {
	e := v.ViewEvent
	ev := viewEvidence(v)
	switch e.Ending {
	case schema.ViewHeld:
		switch {
		case e.FirstFrame == 0:
			return schema.OutcomeNoSuchStream, fmt.Sprintf("play accepted, no media in %s", (e.End-e.PlayStart).Round(time.Millisecond)) + ev
		case e.Stalls > 0:
			return schema.OutcomeStalled, fmt.Sprintf("%d stalls of more than %s (%s in all, the worst %s)", e.Stalls, e.StallAfter,
				e.StallTime.Round(time.Millisecond), e.MaxLag.Round(time.Millisecond)) + ev
		}
		return schema.OutcomeOK, ""
	case schema.ViewUnreachable:
		return schema.OutcomeServerUnreachable, "the server refused the connection: " + e.Message + ev
	case schema.ViewClosed, schema.ViewReset, schema.ViewSilent:
		if e.FirstFrame > 0 {
			return schema.OutcomeDropped, fmt.Sprintf("played %s, then %s", (e.End-e.FirstFrame).Round(time.Millisecond), viewEnd(e)) + ev
		}
	}
	// Refused or never got media: the callback first, as for publishers.
	if h := v.Hook; h != nil {
		// A down window on the play side only drops on_play calls without
		// closing the listener (docs/srs-behaviour.md, "A fault on one
		// side"): the same failure for the server.
		if o, why, ok := hookFailure(h, callVerdict(h), "the callback dropped the call without an answer: ", ev); ok {
			return o, why
		}
	} else if refusal(e) && v.Server != nil {
		// The embedded server says why it refused, as for a publish.
		if o := serverOutcome(v.Server); o != "" {
			return o, "server refused the play: " + v.Server.Reason + ev
		}
	} else if refusal(e) {
		switch v.HookState {
		case schema.StateDown:
			return schema.OutcomeHookUnreachable, "the callback was down when the server asked it" + ev
		case schema.StateErroring:
			return schema.OutcomeHookErrorStatus, "the callback was answering an error status" + ev
		case schema.StateDenying:
			return schema.OutcomeHookDenied, "the callback was denying every call" + ev
		case schema.StateMisanswering:
			return schema.OutcomeHookBadAnswer, "the callback was answering in a format SRS does not take" + ev
		}
	}
	switch {
	case e.Ending == schema.ViewSilent && e.FirstFrame == 0:
		return schema.OutcomeNoSuchStream, "play accepted, then " + viewEnd(e) + ev
	case e.Ending == schema.ViewSetupTimeout && e.Protocol == "http-flv" && e.PlaySent > 0 &&
		(v.Hook == nil || recordedAllow(v.Hook)):
		// SRS 7.0.18 holds an HTTP-FLV play of a name nobody publishes
		// without any answer (docs/srs-behaviour.md, "Play").
		return schema.OutcomeNoSuchStream, "no response head in " + (e.End - e.PlaySent).Round(time.Millisecond).String() + ev
	}
	return schema.OutcomeRejectedUnknown, viewEnd(e) + ev
}

// refusal tells a play the server ended before any media without saying
// why: how SRS refuses one whatever its callback did.
func refusal(e *schema.ViewEvent) bool {
	switch e.Ending {
	case schema.ViewClosedInSetup, schema.ViewClosedBeforeMedia, schema.ViewSetupTimeout:
		return true
	}
	return false
}

// viewEnd says in words how a play ended.
func viewEnd(e *schema.ViewEvent) string {
	s := e.Ending
	switch e.Ending {
	case schema.ViewClosedInSetup:
		s = "the server closed the connection before the play started"
	case schema.ViewClosedBeforeMedia:
		s = "the server closed the connection after the play started, before any media"
	case schema.ViewClosed:
		s = "the server closed the connection"
	case schema.ViewReset:
		s = "the connection was reset"
	case schema.ViewRefused:
		s = "the server refused the play"
		if e.Status != "" {
			s += " (" + e.Status + ")"
		}
		if e.HTTPStatus != 0 {
			s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
		}
	case schema.ViewSetupTimeout:
		s = "the play's setup did not finish"
	case schema.ViewSilent:
		s = "no media"
	}
	if e.Message != "" && e.Ending != schema.ViewRefused {
		s += ": " + e.Message
	}
	return s
}

func viewEvidence(v *Viewer) string {
	var parts []string
	if h := v.Hook; h != nil {
		parts = append(parts, fmt.Sprintf("on_play: %s %d in %s", h.Verdict, h.Status, h.Latency().Round(time.Millisecond)))
	} else {
		parts = append(parts, "on_play: no call")
	}
	if v.HookState != "" && v.HookState != schema.StateUnknown {
		parts = append(parts, "callback "+string(v.HookState))
	}
	if v.Server != nil {
		parts = append(parts, "server: "+v.Server.Reason)
	}
	parts = append(parts, "play: "+v.Ending)
	return " [" + strings.Join(parts, "; ") + "]"
}

// viewerSummary joins, classifies and counts the plays (nil without any
// viewer in the scenario or the stream).
func (b *Builder) viewerSummary(m *MachineView) *ViewerSummary {
	if len(b.views) == 0 && len(b.header.Scenario.Viewers) == 0 {
		return nil
	}
	s := &ViewerSummary{
		Outcomes: make(map[schema.Outcome]int), ByState: make(map[schema.Outcome]map[schema.CallbackState]int),
		Latency: []LatencyRow{}, Failures: []Viewer{},
	}
	groups := make(map[string]*ViewerGroupSummary)
	var order []string
	group := func(name string) *ViewerGroupSummary {
		g := groups[name]
		if g == nil {
			g = &ViewerGroupSummary{Name: name, Outcomes: make(map[schema.Outcome]int)}
			groups[name] = g
			order = append(order, name)
		}
		return g
	}
	for _, g := range b.header.Scenario.Viewers {
		group(g.Name)
	}
	if slices.ContainsFunc(b.playStates, func(st TimedState) bool { return st.Action != "" }) {
		s.Availability = slices.Clone(b.playStates)
	}
	hists := newHistograms()
	lat := map[string][]int64{}
	rates := map[string][]float64{}
	for _, e := range b.views {
		v := &Viewer{ViewEvent: e, Hook: b.playHooks[e.ID], Server: b.playRejects[e.ID]}
		decisive := e.Start.Add(e.PlaySent)
		if v.Hook != nil {
			decisive = v.Hook.Arrived
		}
		v.HookState = stateAt(b.playStates, decisive)
		v.Outcome, v.Evidence = classifyView(v)
		s.Plays++
		s.Outcomes[v.Outcome]++
		if s.ByState[v.Outcome] == nil {
			s.ByState[v.Outcome] = make(map[schema.CallbackState]int)
		}
		s.ByState[v.Outcome][v.HookState]++
		g := group(e.Group)
		g.Protocol = e.Protocol
		g.Plays++
		g.Outcomes[v.Outcome]++
		g.Stalls += e.Stalls
		g.StallsInStrain += stallsInStrain(e, m)
		g.StallTime += e.StallTime
		g.MaxLag = max(g.MaxLag, e.MaxLag)
		if e.Stalls > 0 {
			g.StalledPlays++
		}
		if e.FirstFrame > 0 && e.End > e.FirstFrame {
			rates[e.Group] = append(rates[e.Group], float64(e.MediaBytes)*8/(e.End-e.FirstFrame).Seconds()/1000)
		}
		for _, m := range []struct {
			name string
			d    time.Duration
		}{{MetricPlayStart, e.PlayStart}, {MetricFirstFrame, e.FirstFrame}, {MetricFirstKeyframe, e.FirstKeyframe}} {
			// An ffmpeg witness's steps (from its start, through its probe)
			// are not the native player's: left out.
			if m.d > 0 && e.Engine != "ffmpeg" {
				hists.record(m.name, "viewer", e.Protocol, m.d)
			}
		}
		if l := e.Latency; l != nil {
			for _, key := range []string{"all", e.Protocol} {
				acc := lat[key]
				for len(acc) < len(l.Buckets) {
					acc = append(acc, 0)
				}
				for i, c := range l.Buckets {
					acc[i] += c
				}
				lat[key] = acc
			}
		}
		if v.Outcome != schema.OutcomeOK && len(s.Failures) < MaxViewerFailures {
			s.Failures = append(s.Failures, *v)
		}
	}
	for _, name := range order {
		g := groups[name]
		if r := rates[name]; len(r) > 0 {
			sum := 0.0
			for _, x := range r {
				sum += x
			}
			g.BitrateKbps = sum / float64(len(r))
		}
		s.Groups = append(s.Groups, *g)
	}
	s.Latency = hists.rows()
	keys := make([]string, 0, len(lat))
	for k := range lat {
		if k != "all" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 1 {
		keys = nil // the same figures as the all row
	}
	if len(lat) > 0 {
		keys = append([]string{"all"}, keys...)
	}
	for _, k := range keys {
		var n int64
		for _, c := range lat[k] {
			n += c
		}
		s.Latency = append(s.Latency, LatencyRow{
			Metric: MetricPublisherToViewer, Source: "viewer", Group: k, Count: n,
			P50: msOf(schema.BucketQuantile(lat[k], 0.5)), P90: msOf(schema.BucketQuantile(lat[k], 0.9)),
			P95: msOf(schema.BucketQuantile(lat[k], 0.95)), P99: msOf(schema.BucketQuantile(lat[k], 0.99)),
			P999: msOf(schema.BucketQuantile(lat[k], 0.999)), Max: msOf(schema.BucketQuantile(lat[k], 1)),
		})
	}
	return s
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
