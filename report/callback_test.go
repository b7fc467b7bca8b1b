package report

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// state adds a change of the callback's state.
func (s *stream) state(ms int, source string, st schema.CallbackState) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeState, Time: at(ms), State: &schema.StateChange{Source: source, State: st}})
}

// refusedOnWire adds the tap's record of a connection the server closed
// after its publish command, without an onStatus: how a refusal by SRS looks.
func (s *stream) refusedOnWire(attempt, name string, publish, closed int) {
	m := func(phase string, ms int) schema.WireMark { return schema.WireMark{Phase: phase, At: at(ms)} }
	s.evs = append(s.evs, schema.Event{Type: schema.TypeWire, Time: at(closed), Wire: &schema.WireConn{Attempt: attempt, Stream: name, Marks: []schema.WireMark{
		m(schema.WireTCPConnect, publish-10), m(schema.WireC0C1, publish-10), m(schema.WireS0S1S2, publish-9),
		m(schema.WireConnect, publish-8), m(schema.WireConnectResult, publish-7), m(schema.WirePublish, publish),
		m(schema.WireServerClose, closed),
	}}})
}

// serverReject adds the embedded server's refusal at ms, its hook call
// having taken latency ms.
func (s *stream) serverReject(attempt string, ms, latency int, reason schema.Outcome) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeServer, Time: at(ms), Server: &schema.ServerEvent{
		Kind: "reject", Attempt: attempt, Reason: string(reason), HookLatency: int64(time.Duration(latency) * time.Millisecond),
		HookErr: "connect: connection refused",
	}})
}

func failureOf(t *testing.T, sum *Summary, id string) Failure {
	t.Helper()
	for _, f := range sum.Failures {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("%s is not among the failures %+v", id, sum.Failures)
	return Failure{}
}

// TestStateOverTheDecisiveInterval: the publish command at T, the hook's
// down edge at T+5 ms, the server's refusal at T+10 ms, no hook call. The
// tap marked the publish command before the server read it; the server
// asked the callback after the edge and was refused. The attempt is judged
// by the interval from its publish command to the server's decision: down.
// Before, the state at the publish command (up) was reported, and the
// "whose fault" table said the callback was up.
func TestStateOverTheDecisiveInterval(t *testing.T) {
	const T = 1000
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 4})
	s.state(0, "hook", schema.StateUp)
	s.state(T+5, "hook", schema.StateDown)
	s.state(T+2000, "hook", schema.StateUp)
	// The embedded server: its refusal is its own event.
	s.attempt("r1-1", "cams", "a", T-300, -1, T+40, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-1", "a", T, T+11)
	s.serverReject("r1-1", T+10, 1, schema.OutcomeHookUnreachable)
	// SRS: its close as the tap saw it is its decision.
	s.attempt("r1-2", "cams", "b", T-300, -1, T+40, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-2", "b", T, T+10)
	// The embedded server refused at T+3000 with the callback up from its
	// publish command (T+2500) to its refusal: nothing explains it.
	s.attempt("r1-3", "cams", "c", T+2200, -1, T+3040, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-3", "c", T+2500, T+3001)
	s.serverReject("r1-3", T+3000, 1, schema.OutcomeHookUnreachable)
	// SRS closed it with the callback up throughout: not the callback.
	s.attempt("r1-4", "cams", "d", T+2200, -1, T+3040, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-4", "d", T+2500, T+3000)
	s.end(T+5000, schema.EndNormal)
	sum := s.summary(t)

	for _, id := range []string{"r1-1", "r1-2"} {
		f := failureOf(t, sum, id)
		if f.Outcome != schema.OutcomeHookUnreachable || f.State != schema.StateDown {
			t.Errorf("%s: %s while %s, want hook_unreachable while down: %s", id, f.Outcome, f.State, f.Evidence)
		}
		if !f.StateFrom.Equal(at(T)) || !f.StateTo.Equal(at(T+10)) {
			t.Errorf("%s: judged over %s..%s, want the publish command (T) to the server's decision (T+10ms)",
				id, f.StateFrom.Sub(at(T)), f.StateTo.Sub(at(T)))
		}
		if !strings.Contains(f.Evidence, "up, then down 5ms after the publish command, before the server's") || !strings.Contains(f.Evidence, " 10ms after it") {
			t.Errorf("%s: evidence %q should say where the down stretch began", id, f.Evidence)
		}
	}
	f := failureOf(t, sum, "r1-3")
	if f.Outcome != schema.OutcomeHookUnreachable || f.State != schema.StateUp ||
		!strings.Contains(f.Evidence, "never down from the publish command to the server's refusal (500ms): up throughout") {
		t.Errorf("r1-3: %s while %s (%s), want hook_unreachable while up, saying no down stretch explains it", f.Outcome, f.State, f.Evidence)
	}
	if f := failureOf(t, sum, "r1-4"); f.Outcome == schema.OutcomeHookUnreachable {
		t.Errorf("r1-4: %s while %s: SRS's close with the callback up throughout is not the callback's doing", f.Outcome, f.State)
	}
	if got := sum.ByState[schema.OutcomeHookUnreachable]; got[schema.StateDown] != 2 || got[schema.StateUp] != 1 {
		t.Errorf("hook_unreachable by state %v, want 2 down and 1 up", got)
	}
}

// TestStateFromAProbe: with --hook external the state is a probe's, which
// looks once a second; a verdict within a second of its change says so.
func TestStateFromAProbe(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 2})
	s.state(0, "probe", schema.StateUp)
	s.state(3000, "probe", schema.StateDown)
	// Refused 400 ms before the probe saw the callback down.
	s.attempt("r1-1", "cams", "a", 2000, -1, 2700, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-1", "a", 2500, 2600)
	s.serverReject("r1-1", 2600, 1, schema.OutcomeHookUnreachable)
	// Refused well inside the probe's down stretch.
	s.attempt("r1-2", "cams", "b", 5000, -1, 5700, schema.ClassFailed, 1, ioError)
	s.refusedOnWire("r1-2", "b", 5500, 5600)
	s.end(9000, schema.EndNormal)
	sum := s.summary(t)

	f := failureOf(t, sum, "r1-1")
	if f.Outcome != schema.OutcomeHookUnreachable || !strings.Contains(f.Evidence, "probe's, which looks every 1s: it changed within that") {
		t.Errorf("r1-1: %s while %s (%s), want the probe's resolution named", f.Outcome, f.State, f.Evidence)
	}
	f = failureOf(t, sum, "r1-2")
	if f.Outcome != schema.OutcomeHookUnreachable || f.State != schema.StateDown || strings.Contains(f.Evidence, "probe") {
		t.Errorf("r1-2: %s while %s (%s), want hook_unreachable while down, nothing about the probe's resolution", f.Outcome, f.State, f.Evidence)
	}
}

// A call held by a delay when a down window began is cut by it: the
// callback was unreachable, judged at the cut (down), not a timeout judged
// at the call's arrival (up).
func TestCallCutByDown(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 1})
	s.state(0, "hook", schema.StateSlow)
	s.state(1000, "hook", schema.StateDown)
	s.attempt("r1-1", "cams", "a", 100, -1, 1100, schema.ClassFailed, 1, ioError)
	s.hook("r1-1", "a", 500, 1000, 0, "")
	h := s.evs[len(s.evs)-1].Hook
	h.Canceled, h.Reason, h.Fault = true, "connection cut by fault down", "delay:3s"
	s.end(2000, schema.EndNormal)
	f := failureOf(t, s.summary(t), "r1-1")
	if f.Outcome != schema.OutcomeHookUnreachable || f.State != schema.StateDown || !f.StateFrom.Equal(at(1000)) {
		t.Errorf("%s while %s at %s: %s; want hook_unreachable while down, at the cut", f.Outcome, f.State, f.StateFrom.Sub(t0), f.Evidence)
	}
}
