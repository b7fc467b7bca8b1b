package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// outcomeStates lists, for each outcome a built-in may produce, the callback
// states it may be decided in. Anything else is a wrong classification.
type outcomeStates map[schema.Outcome][]schema.CallbackState

// mix is one (outcome, callback state) pair.
type mix struct {
	outcome schema.Outcome
	state   schema.CallbackState
}

// checkMix asserts that every attempt's outcome came with an allowed
// callback state, that only allowed outcomes occurred, and that each
// (outcome, state) in least occurred at least that often.
func checkMix(t *testing.T, s *report.Summary, allowed outcomeStates, least map[mix]int) {
	t.Helper()
	for o, byState := range s.ByState {
		states, ok := allowed[o]
		if !ok {
			t.Errorf("outcome %s occurred (%v), not expected in this scenario", o, byState)
			continue
		}
		for st, n := range byState {
			if !slices.Contains(states, st) {
				t.Errorf("%d attempts were %s while the callback was %s; want %s only in %v", n, o, st, o, states)
			}
		}
	}
	for k, n := range least {
		if got := s.ByState[k.outcome][k.state]; got < n {
			t.Errorf("%s while %s: %d attempts, want at least %d (by state %v)", k.outcome, k.state, got, n, s.ByState)
		}
	}
	for _, f := range s.Failures {
		// ffmpeg's Input/output error, or a native attempt's close or reset.
		if !schema.ServerHungUp(f.Message) && f.Outcome != schema.OutcomeStreamBusy {
			t.Errorf("%s (%s): the publisher said %q, want its Input/output error (native: the server's close) kept", f.ID, f.Outcome, f.Message)
		}
	}
	if t.Failed() {
		var b strings.Builder
		_ = report.Table(&b, s)
		t.Log(b.String())
	}
}

func groupOutcomes(s *report.Summary, group string) map[schema.Outcome]int {
	for _, g := range s.Groups {
		if g.Name == group {
			return g.Outcomes
		}
	}
	return nil
}
