package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

func TestViewerOutcomes(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	b := NewBuilder()
	add := func(ev schema.Event) {
		if err := b.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	add(schema.Event{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{ID: "r", Scenario: schema.ScenarioInfo{
		Groups: []schema.GroupInfo{{Name: "cams", Count: 1}}, Viewers: []schema.GroupInfo{{Name: "web", Count: 1}, {Name: "rt", Count: 7}},
	}}})
	add(schema.Event{Type: schema.TypeState, Time: t0, State: &schema.StateChange{Source: "hook", State: schema.StateUp}})
	// The load machine: saturated in the second before 5 s, idle after.
	for i := 1; i <= 10; i++ {
		busy := 0.2
		if i == 5 {
			busy = 0.99
		}
		add(schema.Event{Type: schema.TypeMachine, Time: t0.Add(time.Duration(i) * time.Second), Machine: &schema.MachineSample{
			Span: time.Second, Cores: 2, CPUBusy: busy, RunQueue: 1}})
	}
	add(schema.Event{Type: schema.TypeState, Time: t0.Add(20 * time.Second), State: &schema.StateChange{Source: "hook", State: schema.StateDown}})
	deny, e500 := `{"code":1}`, "oops"
	add(schema.Event{Type: schema.TypeHook, Hook: &schema.HookCall{Action: schema.ActionPlay, Attempt: "r-v2", Arrived: t0.Add(time.Second),
		Answered: t0.Add(time.Second + time.Millisecond), Status: 200, Verdict: "deny", Body: &deny, BodyBytes: len(deny)}})
	add(schema.Event{Type: schema.TypeHook, Hook: &schema.HookCall{Action: schema.ActionPlay, Attempt: "r-v3", Arrived: t0.Add(time.Second),
		Answered: t0.Add(time.Second + time.Millisecond), Status: 500, Verdict: "error", Body: &e500, BodyBytes: len(e500)}})
	view := func(id, group, proto, ending string, start time.Duration, f func(v *schema.ViewEvent)) {
		v := &schema.ViewEvent{ID: id, Group: group, Stream: "cam", Protocol: proto, Engine: "native", Start: t0.Add(start),
			Dial: time.Millisecond, PlaySent: 2 * time.Millisecond, End: 10 * time.Second, Ending: ending}
		if f != nil {
			f(v)
		}
		add(schema.Event{Type: schema.TypeView, Time: v.Start.Add(v.End), View: v})
	}
	played := func(v *schema.ViewEvent) {
		v.PlayStart, v.FirstFrame, v.FirstKeyframe = 40*time.Millisecond, 41*time.Millisecond, 41*time.Millisecond
		v.MediaBytes, v.VideoFrames = 375_000, 250
	}
	view("r-v1", "rt", "rtmp", schema.ViewHeld, 0, func(v *schema.ViewEvent) {
		played(v)
		v.Latency = &schema.LatencySample{Count: 3, Buckets: []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}}
	})
	view("r-v2", "rt", "rtmp", schema.ViewClosedBeforeMedia, time.Second, func(v *schema.ViewEvent) { v.PlayStart = 3 * time.Millisecond })
	view("r-v3", "web", "http-flv", schema.ViewClosedInSetup, time.Second, nil)
	view("r-v4", "rt", "rtmp", schema.ViewHeld, 0, func(v *schema.ViewEvent) {
		played(v)
		v.Stalls, v.StallAfter, v.StallTime, v.MaxLag = 2, time.Second, 3*time.Second, 2*time.Second
		v.StallAt = []time.Duration{5 * time.Second, 9 * time.Second}
	})
	view("r-v5", "rt", "rtmp", schema.ViewHeld, 0, func(v *schema.ViewEvent) { v.PlayStart = 40 * time.Millisecond })
	view("r-v6", "rt", "rtmp", schema.ViewClosed, 0, played)
	view("r-v7", "rt", "rtmp", schema.ViewClosedBeforeMedia, 21*time.Second, func(v *schema.ViewEvent) { v.PlayStart = 3 * time.Millisecond })
	view("r-v8", "rt", "rtmp", schema.ViewUnreachable, 0, func(v *schema.ViewEvent) { v.Dial = 0; v.Message = "connection refused" })

	s := b.Summary()
	v := s.Viewers
	if v == nil {
		t.Fatal("no viewer summary")
	}
	want := map[schema.Outcome]int{
		schema.OutcomeOK: 1, schema.OutcomeHookDenied: 1, schema.OutcomeHookErrorStatus: 1, schema.OutcomeStalled: 1,
		schema.OutcomeNoSuchStream: 1, schema.OutcomeDropped: 1, schema.OutcomeHookUnreachable: 1, schema.OutcomeServerUnreachable: 1,
	}
	for o, n := range want {
		if v.Outcomes[o] != n {
			t.Errorf("%s: %d, want %d (all %v)", o, v.Outcomes[o], n, v.Outcomes)
		}
	}
	if v.Plays != 8 || v.ByState[schema.OutcomeHookUnreachable][schema.StateDown] != 1 {
		t.Errorf("plays %d, by state %v", v.Plays, v.ByState)
	}
	if len(v.Groups) != 2 || v.Groups[0].Name != "web" || v.Groups[1].Plays != 7 || v.Groups[1].StalledPlays != 1 ||
		v.Groups[1].BitrateKbps < 299 || v.Groups[1].BitrateKbps > 302 {
		t.Errorf("groups %+v", v.Groups)
	}
	if g := v.Groups[1]; g.Stalls != 2 || g.StallsInStrain != 1 {
		t.Errorf("rt: %d stalls, %d in strain; want 2 and 1 (at 5 s, the machine saturated; not at 9 s)", g.Stalls, g.StallsInStrain)
	}
	var lat *LatencyRow
	for i, l := range v.Latency {
		if l.Metric == MetricPublisherToViewer && l.Group == "all" {
			lat = &v.Latency[i]
		}
	}
	if lat == nil || lat.Count != 3 || lat.P50 < 30 || lat.P50 > 40 {
		t.Errorf("publisher_to_viewer row %+v in %+v", lat, v.Latency)
	}
	var out bytes.Buffer
	if err := Table(&out, s); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Viewers", "2 (1 in strain)", "no_such_stream", "hook_denied", "Viewers vs callback availability", "publisher_to_viewer", "Viewer failures"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table report lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := Markdown(&out, s, Extras{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "## Viewers") || !strings.Contains(out.String(), "| rt | rtmp | 7 |") {
		t.Errorf("markdown lacks the viewers:\n%s", out.String())
	}
	out.Reset()
	if err := HTML(&out, s, Extras{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `<h2 id="viewers">Viewers</h2>`) || !strings.Contains(out.String(), "publisher_to_viewer") {
		t.Errorf("HTML lacks the viewers")
	}
}

// TestViewerRefusedByTheEmbeddedServer: with no on_play call on record (the
// callback was down), the embedded server's refusal says why.
func TestViewerRefusedByTheEmbeddedServer(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	b := NewBuilder()
	for _, ev := range []schema.Event{
		{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{ID: "r"}},
		{Type: schema.TypeServer, Time: t0.Add(time.Second), Server: &schema.ServerEvent{Kind: schema.ServerPlayReject, Attempt: "r-v1",
			Stream: "cam", Reason: string(schema.OutcomeHookUnreachable), HookErr: "connection refused"}},
		{Type: schema.TypeView, Time: t0.Add(time.Second), View: &schema.ViewEvent{ID: "r-v1", Group: "g", Stream: "cam", Protocol: "rtmp",
			Start: t0, Dial: time.Millisecond, PlaySent: 2 * time.Millisecond, PlayStart: 3 * time.Millisecond, End: time.Second,
			Ending: schema.ViewClosedBeforeMedia}},
	} {
		if err := b.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	v := b.Summary().Viewers
	if v == nil || v.Outcomes[schema.OutcomeHookUnreachable] != 1 || !strings.Contains(v.Failures[0].Evidence, "server: hook_unreachable") {
		t.Errorf("viewers %+v", v)
	}
}

// TestPlaySideStates: with a window on the play side only, the hook reports
// each side's state; a refused play is judged by the play side's (down),
// the publishers' availability stays the publish side's (up), and the
// viewers' summary carries the play side's.
func TestPlaySideStates(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	b := NewBuilder()
	st := func(at time.Duration, action string, state schema.CallbackState) schema.Event {
		return schema.Event{Type: schema.TypeState, Time: t0.Add(at), State: &schema.StateChange{Source: "hook", State: state, Action: action}}
	}
	refused := func(id string, start time.Duration) schema.Event {
		return schema.Event{Type: schema.TypeView, Time: t0.Add(start + time.Second), View: &schema.ViewEvent{ID: id, Group: "g", Stream: "cam",
			Protocol: "rtmp", Start: t0.Add(start), Dial: time.Millisecond, PlaySent: 2 * time.Millisecond, PlayStart: 3 * time.Millisecond,
			End: 10 * time.Millisecond, Ending: schema.ViewClosedBeforeMedia}}
	}
	for _, ev := range []schema.Event{
		{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{ID: "r"}},
		st(0, "publish", schema.StateUp), st(0, "play", schema.StateUp),
		st(time.Second, "play", schema.StateDown), st(3*time.Second, "play", schema.StateUp),
		refused("r-v1", 2*time.Second), refused("r-v2", 4*time.Second),
	} {
		if err := b.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	s := b.Summary()
	v := s.Viewers
	if v == nil || v.Outcomes[schema.OutcomeHookUnreachable] != 1 || v.ByState[schema.OutcomeHookUnreachable][schema.StateDown] != 1 ||
		v.Outcomes[schema.OutcomeRejectedUnknown] != 1 {
		t.Fatalf("viewers %+v", v)
	}
	if len(v.Availability) != 3 || v.Availability[1].State != schema.StateDown {
		t.Errorf("viewers' availability %+v, want the play side's 3 states", v.Availability)
	}
	if len(s.Availability) != 1 || s.Availability[0].State != schema.StateUp || s.Availability[0].Action != "publish" {
		t.Errorf("availability %+v, want the publish side's alone", s.Availability)
	}
}
