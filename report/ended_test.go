package report

import (
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// TestStoppedAttemptCountedOnce: an attempt that published and that
// rtmpload then stopped is an ok end, whether ffmpeg answered SIGINT with
// 255, with 1 (it was still flushing to the server), or was killed after
// the grace. The timeline must not count it as dropped while the report
// calls it ok.
func TestStoppedAttemptCountedOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	exits := []schema.AttemptEvent{
		{Class: schema.ClassStopped, ExitCode: 255, Stopped: true},
		{Class: schema.ClassFailed, ExitCode: 1, Stopped: true, Message: "Input/output error"},
		{Class: schema.ClassKilled, ExitCode: -1, Stopped: true, Killed: true},
	}
	events := []schema.Event{{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{Schema: schema.Schema, ID: "r", Started: t0,
		Scenario: schema.ScenarioInfo{Name: "s", Groups: []schema.GroupInfo{{Name: "g", Count: len(exits)}}}}}}
	for i, x := range exits {
		id := "r-" + string(rune('1'+i))
		base := schema.AttemptEvent{ID: id, Group: "g", Stream: "s" + id, Slot: i}
		at := t0.Add(time.Duration(i) * time.Second)
		spawn, pub := base, base
		spawn.Phase, pub.Phase = schema.PhaseSpawn, schema.PhasePublishing
		x.ID, x.Group, x.Stream, x.Slot, x.Phase = base.ID, base.Group, base.Stream, base.Slot, schema.PhaseExit
		events = append(events,
			schema.Event{Type: schema.TypeAttempt, Time: at, Attempt: &spawn},
			schema.Event{Type: schema.TypeAttempt, Time: at.Add(500 * time.Millisecond), Attempt: &pub},
			schema.Event{Type: schema.TypeAttempt, Time: at.Add(3 * time.Second), Attempt: &x})
		if got := Ended(true, x.Class, x.Stopped); got != EndedStopped {
			t.Errorf("%s (%s, exit %d): Ended %q, want %q", id, x.Class, x.ExitCode, got, EndedStopped)
		}
	}
	events = append(events, schema.Event{Type: schema.TypeEnd, Time: t0.Add(10 * time.Second), Reason: schema.EndNormal})

	b, tl := NewBuilder(), NewTimeline()
	for _, ev := range events {
		if err := b.Add(ev); err != nil {
			t.Fatal(err)
		}
		_ = tl.Add(ev)
	}
	s := b.Summary()
	if s.Outcomes[schema.OutcomeOK] != len(exits) {
		t.Errorf("report outcomes %v: want all %d ok", s.Outcomes, len(exits))
	}
	var published, dropped, refused int
	for _, bk := range tl.Buckets() {
		published += bk.Published
		dropped += bk.Dropped
		refused += bk.Refused
	}
	if published != len(exits) || dropped != 0 || refused != 0 {
		t.Errorf("timeline: published %d dropped %d refused %d, want %d, 0, 0", published, dropped, refused, len(exits))
	}
}
