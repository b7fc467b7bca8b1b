package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// TestStreamOrder: events sent before the stream runs wait for it; every
// sink sees every event in order, a derived event right after the one it
// came from; events after close are dropped.
func TestStreamOrder(t *testing.T) {
	s := newStream()
	att := func(id, phase string) event {
		return event{Event: schema.Event{Type: schema.TypeAttempt, Time: time.Now(),
			Attempt: &schema.AttemptEvent{ID: id, Phase: phase}}}
	}
	s.emit(att("a", schema.PhaseSpawn))
	var first, second []string
	name := func(e event) string { return e.Attempt.ID + "/" + e.Attempt.Phase }
	deriver := sinkFunc(func(e event) {
		first = append(first, name(e))
		if e.Attempt.Phase == schema.PhaseSpawn {
			s.derive(att(e.Attempt.ID, schema.PhaseStarved))
		}
	})
	s.run(deriver, sinkFunc(func(e event) { second = append(second, name(e)) }))
	s.emit(att("b", schema.PhaseSpawn))
	s.emit(att("a", schema.PhaseExit))
	s.close()
	s.emit(att("c", schema.PhaseSpawn))
	s.close()
	want := []string{"a/spawn", "a/starved", "b/spawn", "b/starved", "a/exit"}
	if !slices.Equal(first, want) || !slices.Equal(second, want) {
		t.Errorf("sinks saw %v and %v, want %v", first, second, want)
	}
}

// TestStreamClassifiesExit: an exit is classified with what the stream knew
// of its attempt: a publish the tap saw counts though ffmpeg never wrote a
// progress block; a starved attempt's exit says so.
func TestStreamClassifiesExit(t *testing.T) {
	s := newStream()
	var exits []exitFacts
	s.run(sinkFunc(func(e event) {
		if e.exit != nil {
			exits = append(exits, *e.exit)
		}
	}))
	at := func(id, phase string, fill func(*schema.AttemptEvent)) {
		ae := &schema.AttemptEvent{ID: id, Phase: phase}
		if fill != nil {
			fill(ae)
		}
		s.write(schema.Event{Type: schema.TypeAttempt, Attempt: ae})
	}
	stoppedExit := func(ae *schema.AttemptEvent) { ae.Class, ae.ExitCode, ae.Stopped = schema.ClassFailed, 1, true }
	// a: the server accepted it (tap), then rtmpload stopped it; ffmpeg exited 1.
	at("a", schema.PhaseSpawn, nil)
	s.emit(event{attempt: "a", onStatus: &schema.WireConn{Attempt: "a",
		Marks: []schema.WireMark{{Phase: schema.WireOnStatus, Detail: schema.PublishStartCode}}}})
	at("a", schema.PhaseExit, stoppedExit)
	// b: never published, stopped while it waited.
	at("b", schema.PhaseSpawn, nil)
	at("b", schema.PhaseExit, stoppedExit)
	// c: published, starved, failed on its own.
	at("c", schema.PhaseSpawn, nil)
	at("c", schema.PhasePublishing, nil)
	at("c", schema.PhaseStarved, nil)
	at("c", schema.PhaseExit, func(ae *schema.AttemptEvent) { ae.Class, ae.ExitCode = schema.ClassFailed, 1 })
	s.close()
	want := []exitFacts{
		{end: report.EndedStopped},
		{end: report.EndedRefused},
		{end: report.EndedDropped, progressed: true, starved: true},
	}
	if !slices.Equal(exits, want) {
		t.Errorf("exits %+v, want %+v", exits, want)
	}
	if len(s.live) != 0 {
		t.Errorf("%d attempts still known after their exits", len(s.live))
	}
}
