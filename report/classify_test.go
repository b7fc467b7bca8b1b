package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// TestClassifyRecorded classifies timelines recorded from real runs (real
// ffmpeg, the embedded server or nginx-rtmp, the built-in hook with faults):
// testdata/classify/*.jsonl. Each expectation is by attempt number.
func TestClassifyRecorded(t *testing.T) {
	cases := map[string]struct {
		outcomes  map[string]schema.Outcome       // attempt number -> outcome
		states    map[string]schema.CallbackState // attempt number -> callback state
		evidence  map[string]string               // attempt number -> text in its evidence
		anomalies int
	}{
		// One publisher in each window of a fault schedule (down, status:500,
		// deny, garbage) and two outside them. Recorded before the hook kept
		// its answer: the garbage call says "deny", the server hook_invalid.
		"faults": {
			outcomes: map[string]schema.Outcome{"1": schema.OutcomeOK, "2": schema.OutcomeHookUnreachable, "3": schema.OutcomeHookErrorStatus,
				"4": schema.OutcomeHookDenied, "5": schema.OutcomeHookBadAnswer, "6": schema.OutcomeOK},
			states: map[string]schema.CallbackState{"2": schema.StateDown, "3": schema.StateErroring, "4": schema.StateDenying, "5": schema.StateErroring},
			evidence: map[string]string{"2": "hook: no call", "3": "status:500", "4": "hook answered deny",
				"5": `answered 200 in a format SRS does not take (body not recorded); SRS allows only 0 or {"code":0}`},
		},
		// Real SRS 7.0.18 with the built-in hook's garbage fault ("OK") for
		// 4 s, then allowing: no server events, the hook's record only.
		"badanswer-srs": {
			outcomes: map[string]schema.Outcome{"1": schema.OutcomeHookBadAnswer, "2": schema.OutcomeHookBadAnswer, "3": schema.OutcomeOK},
			states:   map[string]schema.CallbackState{"1": schema.StateMisanswering, "2": schema.StateMisanswering},
			evidence: map[string]string{"1": "the callback answered 200 with `OK`; SRS allows only 0 or {\"code\":0}",
				"2": "under fault garbage"},
		},
		// The hook answers after 35 s; SRS's 30 s timeout refuses the publish.
		"timeout": {
			outcomes: map[string]schema.Outcome{"1": schema.OutcomeHookTimeout},
			states:   map[string]schema.CallbackState{"1": schema.StateSlow},
			evidence: map[string]string{"1": "SRS gives up at 30s"},
		},
		// SRS 7.0.x's duplicate-accept race: both accepted, flagged twice.
		"race": {
			outcomes:  map[string]schema.Outcome{"1": schema.OutcomeOK, "2": schema.OutcomeOK},
			anomalies: 2,
		},
		// A target that accepts TCP and never answers the handshake: two
		// publishers stopped at the run's end while they waited. The tap
		// could not name their connections (no RTMP command got through).
		"handshake-stall": {
			outcomes: map[string]schema.Outcome{"1": schema.OutcomeServerUnreachable, "2": schema.OutcomeServerUnreachable},
			evidence: map[string]string{"1": "server never answered the RTMP handshake", "2": "server never answered the RTMP handshake"},
		},
		// nginx-rtmp refuses a duplicate with an RTMP error status.
		"ngdup": {
			outcomes: map[string]schema.Outcome{"1": schema.OutcomeOK, "2": schema.OutcomeStreamBusy},
			evidence: map[string]string{"2": "onStatus NetStream.Publish.BadName"},
		},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "classify", name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := Summarize(f)
			if err != nil {
				t.Fatal(err)
			}
			got := make(map[string]Failure)
			for _, fl := range s.Failures {
				got[fl.ID[strings.LastIndexByte(fl.ID, '-')+1:]] = fl
			}
			ok := 0
			for n, o := range want.outcomes {
				if o == schema.OutcomeOK {
					ok++
					if _, failed := got[n]; failed {
						t.Errorf("attempt %s: %+v, want ok", n, got[n])
					}
					continue
				}
				if got[n].Outcome != o {
					t.Errorf("attempt %s: outcome %q, want %q (evidence %s)", n, got[n].Outcome, o, got[n].Evidence)
				}
			}
			if s.Outcomes[schema.OutcomeOK] != ok || s.Attempts != len(want.outcomes) {
				t.Errorf("outcomes %v over %d attempts", s.Outcomes, s.Attempts)
			}
			for n, st := range want.states {
				if got[n].State != st {
					t.Errorf("attempt %s: callback %q, want %q", n, got[n].State, st)
				}
			}
			for n, e := range want.evidence {
				if !strings.Contains(got[n].Evidence, e) {
					t.Errorf("attempt %s: evidence %q lacks %q", n, got[n].Evidence, e)
				}
			}
			if len(s.Anomalies) != want.anomalies {
				t.Errorf("anomalies %v, want %d", s.Anomalies, want.anomalies)
			}
			if name == "race" && (len(s.Contests) != 1 || s.Contests[0].ServerMax != 2 || !s.Contests[0].TwoLive) {
				t.Errorf("the race's contest should show two live publishers, two in the server's API: %+v", s.Contests)
			}
		})
	}
}
