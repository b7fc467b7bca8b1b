package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// probeEvery is how often the probe of a callback rtmpload does not serve
// (--hook external) looks at it (hook.ProbeConfig's default): a state the
// probe reports is known to within that, and a shorter stretch can pass
// unseen.
const probeEvery = time.Second

// judged is the callback's state over an attempt's decisive interval: from
// its publish command to the server's decision, each end stamped by the
// side that saw it (the tap, the hook, the embedded server). When the
// server asked the callback, it did so inside that interval; the state
// that explains the outcome must have held somewhere in it.
type judged struct {
	from, to   time.Time
	fromWhat   string // what stamped from: "the publish command", ...
	toWhat     string // what stamped to: "the server's refusal", ...
	point      bool   // the hook saw the call: the state at its arrival decided
	states     []schema.CallbackState
	stretches  []stretch // the states over [from, to], in order
	probed     bool      // the states come from a probe, not the built-in hook
	probeClose bool      // a probe's change lies within probeEvery of the interval
}

// stretch is one state held over [from, to] within an interval.
type stretch struct {
	state    schema.CallbackState
	from, to time.Time
}

// decisiveInterval is when the callback's state mattered for a: a point
// when the hook saw its call (its arrival; the drop, for a call cut as the
// callback went down), else from the publish command (the tap's mark; the
// embedded server's call, from its refusal less the call's latency; the
// spawn, without either) to the server's decision (the embedded server's
// refusal, the server's close as the tap saw it, its NetStream.Publish.Start,
// ffmpeg's first progress; its exit, when none was seen).
func (a *Attempt) decisiveInterval() (from, to time.Time, fromWhat, toWhat string, point bool) {
	if h := a.Hook; h != nil {
		if droppedByDown(h) {
			// Arrived as the down window began: the drop is what decided.
			return h.Answered, h.Answered, "the call's drop", "the call's drop", true
		}
		return h.Arrived, h.Arrived, "the call's arrival", "the call's arrival", true
	}
	switch {
	case hasMark(a.Wire, schema.WirePublish):
		from, _, _ = a.Wire.Mark(schema.WirePublish)
		fromWhat = "the publish command"
	case a.Server != nil && !a.ServerAt.IsZero() && a.Server.HookLatency > 0:
		from = a.ServerAt.Add(-time.Duration(a.Server.HookLatency))
		fromWhat = "the server's call"
	case !a.Spawn.IsZero():
		from, fromWhat = a.Spawn, "the spawn"
	default:
		from, fromWhat = a.Exit, "the exit"
	}
	to, toWhat = a.decidedAt()
	if to.IsZero() || to.Before(from) {
		to = from
	}
	return from, to, fromWhat, toWhat, false
}

// decidedAt is when the server decided on an attempt that the hook never
// saw, and what says so.
func (a *Attempt) decidedAt() (time.Time, string) {
	if a.Server != nil && !a.ServerAt.IsZero() {
		if a.Server.Kind == schema.ServerReject {
			return a.ServerAt, "the server's refusal"
		}
		return a.ServerAt, "the server's acceptance"
	}
	if t, ok := a.Wire.PublishStarted(); ok {
		return t, "Publish.Start"
	}
	if t, _, ok := a.Wire.Mark(schema.WireServerClose); ok {
		return t, "the server's close"
	}
	if !a.Publishing.IsZero() {
		return a.Publishing, "ffmpeg's first progress"
	}
	return a.Exit, "ffmpeg's exit"
}

func hasMark(w *schema.WireConn, phase string) bool {
	_, _, ok := w.Mark(phase)
	return ok
}

// judge finds the callback's states over a's decisive interval.
func judge(a *Attempt, states []TimedState) judged {
	j := judged{}
	j.from, j.to, j.fromWhat, j.toWhat, j.point = a.decisiveInterval()
	if len(states) == 0 || j.from.IsZero() {
		return j
	}
	i, _ := slices.BinarySearchFunc(states, j.from, func(s TimedState, t time.Time) int {
		if s.At.After(t) {
			return 1
		}
		return -1
	})
	// The state at from: the last change at or before it (before the first
	// change, the first's: the schedule is armed as the run starts).
	start := max(i-1, 0)
	for k := start; k < len(states) && (k == start || !states[k].At.After(j.to)); k++ {
		st := states[k]
		from := st.At
		if from.Before(j.from) {
			from = j.from
		}
		if n := len(j.stretches); n > 0 {
			if j.stretches[n-1].state == st.State {
				continue
			}
			j.stretches[n-1].to = from
		}
		j.stretches = append(j.stretches, stretch{state: st.State, from: from, to: j.to})
		if !slices.Contains(j.states, st.State) {
			j.states = append(j.states, st.State)
		}
	}
	for _, st := range states {
		if st.Source != "probe" {
			continue
		}
		j.probed = true
		if !st.At.Before(j.from.Add(-probeEvery)) && !st.At.After(j.to.Add(probeEvery)) && !st.At.Equal(states[0].At) {
			j.probeClose = true
		}
	}
	return j
}

// at is the state at the decisive moment, before the outcome is known: the
// call's, or, for an attempt the hook never saw, down when a down stretch
// lies in the interval (the server's call was refused then), else the state
// at the publish command.
func (j judged) at() schema.CallbackState {
	if len(j.stretches) == 0 {
		return schema.StateUnknown
	}
	if !j.point && slices.Contains(j.states, schema.StateDown) {
		return schema.StateDown
	}
	return j.stretches[0].state
}

// explainedBy is the callback's states that make an outcome (none: it does
// not depend on the callback).
func explainedBy(o schema.Outcome) []schema.CallbackState {
	switch o {
	case schema.OutcomeHookUnreachable:
		return []schema.CallbackState{schema.StateDown}
	case schema.OutcomeHookTimeout:
		return []schema.CallbackState{schema.StateSlow}
	case schema.OutcomeHookErrorStatus:
		return []schema.CallbackState{schema.StateErroring}
	case schema.OutcomeHookDenied:
		return []schema.CallbackState{schema.StateDenying, schema.StateUp}
	case schema.OutcomeHookBadAnswer:
		return []schema.CallbackState{schema.StateMisanswering}
	}
	return nil
}

// state is the callback's state that the report gives an attempt with
// outcome o, and a note for its evidence. With the hook's own record of the
// call, the state at its arrival. Otherwise the state in the interval that
// explains the outcome; when none does, the state that held throughout
// (or unknown, when several did), and the note says that nothing in the
// interval explains it.
func (j judged) state(o schema.Outcome) (schema.CallbackState, string) {
	if len(j.stretches) == 0 {
		return schema.StateUnknown, ""
	}
	note := j.probeNote()
	if j.point {
		return j.stretches[0].state, note
	}
	want := explainedBy(o)
	for _, s := range j.stretches {
		if slices.Contains(want, s.state) {
			if len(j.stretches) > 1 {
				note = joinNonEmpty("; ", j.describe(), note)
			}
			return s.state, note
		}
	}
	if len(want) == 0 {
		return j.stretches[0].state, note
	}
	names := make([]string, len(want))
	for i, s := range want {
		names[i] = string(s)
	}
	why := fmt.Sprintf("the callback was never %s from %s to %s (%s): %s", strings.Join(names, " or "),
		j.fromWhat, j.toWhat, j.to.Sub(j.from).Round(time.Millisecond), j.describe())
	if j.probed && note == "" {
		note = fmt.Sprintf("the callback's state is a probe's, which looks every %s: a shorter stretch passes unseen", probeEvery)
	}
	note = joinNonEmpty("; ", why, note)
	if len(j.stretches) == 1 {
		return j.stretches[0].state, note
	}
	return schema.StateUnknown, note
}

// describe lists the interval's stretches: "up, then down 5 ms after the
// publish command".
func (j judged) describe() string {
	parts := make([]string, len(j.stretches))
	for i, s := range j.stretches {
		if i == 0 {
			parts[i] = string(s.state)
			if len(j.stretches) == 1 {
				parts[i] += " throughout"
			}
			continue
		}
		parts[i] = fmt.Sprintf("%s %s after %s", s.state, s.from.Sub(j.from).Round(time.Millisecond), j.fromWhat)
	}
	out := strings.Join(parts, ", then ")
	if len(j.stretches) > 1 {
		out += fmt.Sprintf(", before %s %s after it", j.toWhat, j.to.Sub(j.from).Round(time.Millisecond))
	}
	return out
}

// probeNote says when the state rests on a probe's resolution.
func (j judged) probeNote() string {
	if !j.probed {
		return ""
	}
	if j.probeClose {
		return fmt.Sprintf("the callback's state is a probe's, which looks every %s: it changed within that of this decision", probeEvery)
	}
	return ""
}

// judgeAndClassify gives a its callback state over its decisive interval
// and its outcome. The outcome of an attempt the hook never saw can hang on
// a down stretch in the interval; the state reported is then the one that
// explains the outcome, so the classification runs again with it for the
// evidence (it cannot change the outcome: only down does, and down stays
// down when it explains it).
func judgeAndClassify(a *Attempt, states []TimedState, liveOther func(a *Attempt, at time.Time) *Attempt) {
	j := judge(a, states)
	a.StateFrom, a.StateTo = j.from, j.to
	a.HookState, a.StateNote = j.at(), ""
	o, ev := classify(a, liveOther)
	st, note := j.state(o)
	if st != a.HookState || note != "" {
		a.HookState, a.StateNote = st, note
		o, ev = classify(a, liveOther)
	}
	a.Outcome, a.Evidence = o, ev
}
