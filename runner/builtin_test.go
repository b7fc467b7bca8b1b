package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/scenarios"
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

// TestBuiltinFaultScenarios runs each built-in callback-fault scenario on
// the embedded server and checks the outcome mix it must produce.
func TestBuiltinFaultScenarios(t *testing.T) {
	needFFmpeg(t)
	up := report.StateUp
	cases := map[string]func(t *testing.T, s *report.Summary){
		"hook-down": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{report.OutcomeOK: {up}, report.OutcomeHookUnreachable: {report.StateDown}},
				map[[2]string]int{{report.OutcomeOK, up}: 6, {report.OutcomeHookUnreachable, report.StateDown}: 4})
		},
		"hook-500": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{report.OutcomeOK: {up}, report.OutcomeHookErrorStatus: {report.StateErroring}},
				map[[2]string]int{{report.OutcomeOK, up}: 5, {report.OutcomeHookErrorStatus, report.StateErroring}: 3})
		},
		"hook-deny": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{report.OutcomeOK: {up}, report.OutcomeHookDenied: {report.StateDenying}},
				map[[2]string]int{{report.OutcomeOK, up}: 5, {report.OutcomeHookDenied, report.StateDenying}: 3})
		},
		"hook-flap": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{report.OutcomeOK: {up}, report.OutcomeHookUnreachable: {report.StateDown}},
				map[[2]string]int{{report.OutcomeOK, up}: 10, {report.OutcomeHookUnreachable, report.StateDown}: 6})
		},
		"hook-slow": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{report.OutcomeOK: {up}, report.OutcomeHookTimeout: {report.StateSlow}},
				map[[2]string]int{{report.OutcomeOK, up}: 2, {report.OutcomeHookTimeout, report.StateSlow}: 3})
			// The refusal comes about 30 s after the publish command: SRS's
			// timeout, seen on the wire.
			for _, l := range s.Latency {
				if l.Metric == report.MetricHookWait && l.Group == "slow" && (l.Count != 3 || l.P50 < 29500 || l.Max > 32000) {
					t.Errorf("hook_wait of the slow group: %+v, want 3 near 30 s", l)
				}
			}
		},
		"conflict-detection": func(t *testing.T, s *report.Summary) {
			for group, want := range map[string]map[string]int{
				"owners": {report.OutcomeOK: 4},
				"rivals": {report.OutcomeHookDenied: 4},
				"late":   {report.OutcomeOK: 4},
			} {
				if got := groupOutcomes(s, group); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("group %s: %v, want %v", group, got, want)
				}
			}
		},
		"mixed-faults": func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{
				report.OutcomeOK:              {up, report.StateSlow},
				report.OutcomeHookUnreachable: {report.StateDown},
				report.OutcomeHookErrorStatus: {report.StateErroring},
				report.OutcomeHookDenied:      {up, report.StateDenying}, // conflict, deny
				report.OutcomeHookBadAnswer:   {report.StateMisanswering},
			}, map[[2]string]int{
				{report.OutcomeOK, up}: 10, {report.OutcomeOK, report.StateSlow}: 2,
				{report.OutcomeHookUnreachable, report.StateDown}:       4,
				{report.OutcomeHookErrorStatus, report.StateErroring}:   2,
				{report.OutcomeHookDenied, report.StateDenying}:         2,
				{report.OutcomeHookBadAnswer, report.StateMisanswering}: 2,
			})
			if got := groupOutcomes(s, "rivals"); got[report.OutcomeHookDenied] != 2 {
				t.Errorf("rivals of live names: %v, want both refused by the conflict-detecting callback", got)
			}
		},
	}
	for name, check := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := scenarios.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			check(t, runScenario(t, sc, Options{}).Summary)
		})
	}
}
