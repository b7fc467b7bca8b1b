package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/report"
)

// TestStreamOrder: events sent before the stream runs wait for it; every
// sink sees every event in order, a derived event right after the one it
// came from; events after close are dropped.
func TestStreamOrder(t *testing.T) {
	s := newStream()
	att := func(id, phase string) event {
		return event{Event: report.Event{Type: report.TypeAttempt, Time: time.Now(),
			Attempt: &report.AttemptEvent{ID: id, Phase: phase}}}
	}
	s.emit(att("a", report.PhaseSpawn))
	var first, second []string
	name := func(e event) string { return e.Attempt.ID + "/" + e.Attempt.Phase }
	deriver := sinkFunc(func(e event) {
		first = append(first, name(e))
		if e.Attempt.Phase == report.PhaseSpawn {
			s.derive(att(e.Attempt.ID, report.PhaseStarved))
		}
	})
	s.run(deriver, sinkFunc(func(e event) { second = append(second, name(e)) }))
	s.emit(att("b", report.PhaseSpawn))
	s.emit(att("a", report.PhaseExit))
	s.close()
	s.emit(att("c", report.PhaseSpawn))
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
	at := func(id, phase string, fill func(*report.AttemptEvent)) {
		ae := &report.AttemptEvent{ID: id, Phase: phase}
		if fill != nil {
			fill(ae)
		}
		s.write(report.Event{Type: report.TypeAttempt, Attempt: ae})
	}
	stoppedExit := func(ae *report.AttemptEvent) { ae.Class, ae.ExitCode, ae.Stopped = report.ClassFailed, 1, true }
	// a: the server accepted it (tap), then rtmpload stopped it; ffmpeg exited 1.
	at("a", report.PhaseSpawn, nil)
	s.emit(event{attempt: "a", onStatus: &report.WireConn{Attempt: "a",
		Marks: []report.WireMark{{Phase: report.WireOnStatus, Detail: report.PublishStartCode}}}})
	at("a", report.PhaseExit, stoppedExit)
	// b: never published, stopped while it waited.
	at("b", report.PhaseSpawn, nil)
	at("b", report.PhaseExit, stoppedExit)
	// c: published, starved, failed on its own.
	at("c", report.PhaseSpawn, nil)
	at("c", report.PhasePublishing, nil)
	at("c", report.PhaseStarved, nil)
	at("c", report.PhaseExit, func(ae *report.AttemptEvent) { ae.Class, ae.ExitCode = report.ClassFailed, 1 })
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
