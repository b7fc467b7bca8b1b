package runner

import (
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
)

// outcomeStates lists, for each outcome a built-in may produce, the callback
// states it may be decided in. Anything else is a wrong classification.
type outcomeStates map[string][]string

// checkMix asserts that every attempt's outcome came with an allowed
// callback state, that only allowed outcomes occurred, and that each
// (outcome, state) in least occurred at least that often.
func checkMix(t *testing.T, s *report.Summary, allowed outcomeStates, least map[[2]string]int) {
	t.Helper()
	for o, byState := range s.ByState {
		states, ok := allowed[o]
		if !ok {
			t.Errorf("outcome %s occurred (%v), not expected in this scenario", o, byState)
			continue
		}
		for st, n := range byState {
			if !contains(states, st) {
				t.Errorf("%d attempts were %s while the callback was %s; want %s only in %v", n, o, st, o, states)
			}
		}
	}
	for k, n := range least {
		if got := s.ByState[k[0]][k[1]]; got < n {
			t.Errorf("%s while %s: %d attempts, want at least %d (by state %v)", k[0], k[1], got, n, s.ByState)
		}
	}
	for _, f := range s.Failures {
		if !strings.Contains(f.Message, "Input/output error") && f.Outcome != report.OutcomeStreamBusy {
			t.Errorf("%s (%s): ffmpeg said %q, want its Input/output error kept", f.ID, f.Outcome, f.Message)
		}
	}
	if t.Failed() {
		var b strings.Builder
		_ = report.Table(&b, s)
		t.Log(b.String())
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func groupOutcomes(s *report.Summary, group string) map[string]int {
	for _, g := range s.Groups {
		if g.Name == group {
			return g.Outcomes
		}
	}
	return nil
}
