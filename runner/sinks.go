package runner

import (
	"fmt"
	"time"

	"github.com/rtmpload/rtmpload/schema"

	"github.com/rtmpload/rtmpload/runner/health"

	"github.com/rtmpload/rtmpload/runner/metrics"
)

// resultsSink writes every recorded event to results.jsonl.
func resultsSink(w *schema.Writer) sink {
	return sinkFunc(func(e event) {
		if e.Type != "" {
			w.Write(e.Event)
		}
	})
}

// healthSink follows every running publisher's -progress blocks and turns
// them into starved and recovered events (runner/health), also for output
// that stopped with no block at all (found on each tick). Its memory is
// bounded by the publishers running at once.
type healthSink struct {
	derive  func(event)
	running map[string]*healthOf
	// tapped: the publishers' media goes through the tap in this process,
	// so a stall of this process (a machine event whose timer woke
	// health.StallAfter late) stalled every publisher's media.
	tapped bool
}

type healthOf struct {
	base    schema.AttemptEvent // id, group, stream, slot
	tracker health.Tracker
}

func newHealthSink(derive func(event)) *healthSink {
	return &healthSink{derive: derive, running: make(map[string]*healthOf)}
}

func (h *healthSink) add(e event) {
	switch {
	case e.progress != nil:
		if r := h.running[e.attempt]; r != nil {
			if changed, starved, reason := r.tracker.Observe(*e.progress); changed {
				h.starved(r, e.progress.At, starved, reason)
			}
		}
	case e.tick != nil:
		for _, r := range h.running {
			if changed, starved, reason := r.tracker.Check(e.tick.at); changed {
				h.starved(r, e.tick.at, starved, reason)
			}
		}
	case e.Type == schema.TypeMachine && e.Machine != nil:
		// The ticks and the tap stood still together: at the first tick
		// after, the tap has relayed the backlog and every connection
		// shows growth, while the server saw nothing all along.
		if late := e.Machine.TimerLate; h.tapped && late >= health.StallAfter {
			reason := fmt.Sprintf("rtmpload itself stood still %s: its tap relayed no media", late.Round(100*time.Millisecond))
			for _, r := range h.running {
				if changed, starved, why := r.tracker.Stalled(e.Time, reason); changed {
					h.starved(r, e.Time, starved, why)
				}
			}
		}
	case e.Type == schema.TypeAttempt && e.Attempt != nil:
		switch a := e.Attempt; a.Phase {
		case schema.PhaseSpawn:
			h.running[a.ID] = &healthOf{base: schema.AttemptEvent{ID: a.ID, Group: a.Group, Stream: a.Stream, Slot: a.Slot}}
		case schema.PhaseExit:
			delete(h.running, a.ID)
		}
	}
}

// starved records a publisher falling below real time, or recovering.
func (h *healthSink) starved(r *healthOf, at time.Time, starved bool, reason string) {
	ae := r.base
	ae.Phase, ae.Message = schema.PhaseRecovered, reason
	if starved {
		ae.Phase = schema.PhaseStarved
	}
	h.derive(event{Event: schema.Event{Type: schema.TypeAttempt, Time: at, Attempt: &ae}})
}

// promSink feeds the live Prometheus metrics (--metrics).
type promSink struct {
	m       *metrics.Metrics
	groupOf func(attempt string) string
}

func (s promSink) add(e event) {
	m := s.m
	switch {
	case e.tick != nil:
		m.ToolCPU(e.tick.selfCPU.Seconds())
	case e.onStatus != nil:
		group := s.groupOf(e.attempt)
		e.onStatus.Durations(time.Time{}, func(metric string, d time.Duration) { m.Wire(metric, group, d) })
	case e.Type == schema.TypeAttempt && e.Attempt != nil:
		s.attempt(e)
	case e.Type == schema.TypeHook && e.Hook != nil:
		if c := e.Hook; c.Action == schema.ActionPublish && !c.Answered.IsZero() {
			m.HookLatency(s.groupOf(c.Attempt), c.Latency())
		}
	case e.Type == schema.TypeState && e.State != nil:
		m.CallbackState(string(e.State.State))
	}
}

func (s promSink) attempt(e event) {
	m, a := s.m, e.Attempt
	switch a.Phase {
	case schema.PhaseSpawn:
		m.AttemptStarted(a.Group)
		m.Active(a.Group, 1)
	case schema.PhasePublishing:
		m.Publishing(a.Group, 1)
	case schema.PhaseStarved:
		m.Starved(a.Group, 1)
	case schema.PhaseRecovered:
		m.Starved(a.Group, -1)
	case schema.PhaseExit:
		m.Active(a.Group, -1)
		if e.exit.progressed {
			m.Publishing(a.Group, -1)
		}
		if e.exit.starved {
			m.Starved(a.Group, -1)
		}
		m.AttemptOutcome(a.Group, e.exit.end)
	}
}
