package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// conformCase is one built-in scenario, scaled down so that every case fits
// in well under a minute, with the outcome mix it must give on any server
// that behaves as SRS does. Publishers hold their names for 2 s or more
// (the built-ins: 1-1.5 s), so that an ffmpeg slow to start on a busy
// machine still publishes before its time is up.
type conformCase struct {
	name string // the built-in it stands for
	yaml string // the scaled copy; what changed is said beside it
	// mix checks one run's outcomes (checkMix and the like).
	mix func(t *testing.T, s *report.Summary)
	// skipSRS, when set, names the known fault (an issue's fault being fixed
	// elsewhere) that keeps the SRS run from agreeing yet.
	skipSRS string
}

func conformCases() []conformCase {
	up, down := schema.StateUp, schema.StateDown
	return []conformCase{
		{name: "smoke", yaml: `
# smoke as shipped but 8 s instead of 15 s.
name: smoke
duration: 8s
hook: {mode: allow}
publishers:
  - {group: cams, count: 5, name: "smoke-{i:02}", ramp: 2s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}}, map[mix]int{{schema.OutcomeOK, up}: 5})
		}},
		{name: "duplicate-contest", yaml: `
# duplicate-contest with 4 names instead of 10 (2 or 3 publishers each, the
# owner first), rivals 3 s after the owners instead of 5 s, 10 s instead of
# 20 s; the 360p clip the other cases use.
name: duplicate-contest
duration: 10s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: allow}
publishers:
  - {group: owners, count: 4, name: "dup-{i:02}", ramp: 1s}
  - {group: rivals, count: 6, name: "dup-{i%4:02}", start: 3s, ramp: 2s, hold: 4s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeStreamBusy: {up}},
				map[mix]int{{schema.OutcomeOK, up}: 4, {schema.OutcomeStreamBusy, up}: 6})
			if len(s.Contests) != 4 {
				t.Errorf("contests: %d, want 4", len(s.Contests))
			}
			for _, c := range s.Contests {
				if len(c.Winners) != 1 || c.TwoLive || !strings.HasPrefix(groupOf(s, c.Winners[0]), "owners") {
					t.Errorf("%s: winners %v (two live %v), want its owner alone", c.Stream, c.Winners, c.TwoLive)
				}
			}
		}},
		{name: "conflict-detection", yaml: `
# conflict-detection with 3 names instead of 4 and shorter times: owners
# hold 5 s, rivals come at 2.5 s (owners live), late ones at 8.5 s (owners
# gone since 5.7 s, their on_unpublish freed the names).
name: conflict-detection
duration: 12s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: conflict}
publishers:
  - {group: owners, count: 3, name: "cd-{i}", ramp: 1s, hold: 5s}
  - {group: rivals, count: 3, name: "cd-{i}", start: 2500ms, ramp: 1s, hold: 2s}
  - {group: late, count: 3, name: "cd-{i}", start: 8500ms, ramp: 1s}
`, mix: func(t *testing.T, s *report.Summary) {
			for group, want := range map[string]map[schema.Outcome]int{
				"owners": {schema.OutcomeOK: 3},
				"rivals": {schema.OutcomeHookDenied: 3},
				"late":   {schema.OutcomeOK: 3},
			} {
				if got := groupOutcomes(s, group); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("group %s: %v, want %v", group, got, want)
				}
			}
		}},
		{name: "hook-down", yaml: `
# hook-down with the callback down from 4 s to 9 s instead of 10-20 s, and
# 10 publishers 1.2 s apart for 3 s each instead of 14 2 s apart for 1.5 s.
name: hook-down
duration: 15s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 4s, for: 5s, kind: down}]
publishers:
  - {group: cams, count: 10, name: "down-{i:02}", ramp: 12s, hold: 3s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeHookUnreachable: {down}},
				map[mix]int{{schema.OutcomeOK, up}: 4, {schema.OutcomeHookUnreachable, down}: 3})
		}},
		{name: "hook-500", yaml: `
# hook-500 with HTTP 500 from 3 s to 7 s instead of 8-16 s, and 8
# publishers 1.1 s apart for 3 s each instead of 12 2 s apart for 1.5 s.
name: hook-500
duration: 12s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 3s, for: 4s, kind: "status:500"}]
publishers:
  - {group: cams, count: 8, name: "err-{i:02}", ramp: 9s, hold: 3s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeHookErrorStatus: {schema.StateErroring}},
				map[mix]int{{schema.OutcomeOK, up}: 3, {schema.OutcomeHookErrorStatus, schema.StateErroring}: 3})
		}},
		{name: "hook-deny", yaml: `
# hook-deny scaled as hook-500.
name: hook-deny
duration: 12s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 3s, for: 4s, kind: deny}]
publishers:
  - {group: cams, count: 8, name: "deny-{i:02}", ramp: 9s, hold: 3s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeHookDenied: {schema.StateDenying}},
				map[mix]int{{schema.OutcomeOK, up}: 3, {schema.OutcomeHookDenied, schema.StateDenying}: 3})
		}},
		{name: "hook-flap", yaml: `
# hook-flap with the same 2 s flap from 3 s to 11 s instead of 6-18 s, and
# 20 publishers 0.55 s apart for 2 s each instead of 40 0.5 s apart for 1 s.
name: hook-flap
duration: 14s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 3s, for: 8s, kind: "flap:2s"}]
publishers:
  - {group: cams, count: 20, name: "flap-{i:02}", ramp: 11s, hold: 2s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeHookUnreachable: {down}},
				map[mix]int{{schema.OutcomeOK, up}: 6, {schema.OutcomeHookUnreachable, down}: 4})
		}},
		{name: "mixed-faults", yaml: `
# mixed-faults with 3 s windows instead of 5 s (flap 4 s instead of 8 s),
# 28 cams 1 s apart instead of 40, 33 s instead of 45 s. The first window
# opens at 7.5 s, not 3.5 s: the owners (0 s) and rivals (4 s) are decided
# with the callback up even when ffmpeg takes 3 s to start, and an attempt
# is judged by the callback's state at its own decisive time. The cams hold
# 8 s (not 4 s) and the rivals 3 s (not 1 s): a hold counts from the
# scheduled start, and a publisher whose ffmpeg took longer to start was
# stopped before the server saw it (rejected_unknown, no word from ffmpeg).
name: mixed-faults
duration: 33s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  mode: conflict
  faults:
    - {at: 7500ms, for: 3s, kind: down}
    - {at: 10500ms, for: 3s, kind: "status:500"}
    - {at: 13500ms, for: 3s, kind: "delay:3s"}
    - {at: 16500ms, for: 3s, kind: deny}
    - {at: 19500ms, for: 3s, kind: garbage}
    - {at: 22500ms, for: 4s, kind: "flap:2s"}
publishers:
  - {group: cams, count: 28, name: "mix-{i:02}", ramp: 28s, hold: 8s}
  - {group: owners, count: 2, name: "mixdup-{i}"}
  - {group: rivals, count: 2, name: "mixdup-{i}", start: 4s, hold: 3s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{
				schema.OutcomeOK:              {up, schema.StateSlow},
				schema.OutcomeHookUnreachable: {down},
				schema.OutcomeHookErrorStatus: {schema.StateErroring},
				schema.OutcomeHookDenied:      {up, schema.StateDenying}, // conflict, deny
				schema.OutcomeHookBadAnswer:   {schema.StateMisanswering},
			}, map[mix]int{
				{schema.OutcomeOK, up}: 6, {schema.OutcomeOK, schema.StateSlow}: 2,
				{schema.OutcomeHookUnreachable, down}:                   2,
				{schema.OutcomeHookErrorStatus, schema.StateErroring}:   2,
				{schema.OutcomeHookDenied, schema.StateDenying}:         2,
				{schema.OutcomeHookBadAnswer, schema.StateMisanswering}: 2,
			})
			if got := groupOutcomes(s, "rivals"); got[schema.OutcomeHookDenied] != 2 {
				t.Errorf("rivals of live names: %v, want both refused by the conflict-detecting callback", got)
			}
		}},
		{name: "hook-slow", yaml: `
# hook-slow with SRS's 30 s kept: the callback answers after 35 s from
# 3.5 s on; 2 early publishers (before, gone by 2 s) and 2 in the slow
# window instead of 3, 42 s instead of 45 s (SRS gives up on them at about
# 34.5 s: the rest is room for an ffmpeg slow to start).
name: hook-slow
duration: 42s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 3500ms, for: 38500ms, kind: "delay:35s"}]
publishers:
  - {group: before, count: 2, name: "early-{i}", ramp: 1s, hold: 1500ms}
  - {group: slow, count: 2, name: "slow-{i}", start: 4s, ramp: 1s}
`, mix: func(t *testing.T, s *report.Summary) {
			checkMix(t, s, outcomeStates{schema.OutcomeOK: {up}, schema.OutcomeHookTimeout: {schema.StateSlow}},
				map[mix]int{{schema.OutcomeOK, up}: 2, {schema.OutcomeHookTimeout, schema.StateSlow}: 2})
		}},
	}
}

func groupOf(s *report.Summary, id string) string {
	for _, c := range s.Contests {
		for _, a := range c.Attempts {
			if a.ID == id {
				return a.Group
			}
		}
	}
	return ""
}

// TestConformance runs every built-in but capacity (scaled down) on the
// embedded server and, with RTMPLOAD_SRS set, on SRS at the same time, and
// holds the embedded server to SRS: each run gives its scenario's outcome
// mix; the same attempt has the same outcome on both servers unless the
// report judged it within edgeTolerance of a change of the callback's state
// (either side of the edge is right then); contests have the same winners; and both
// servers keep SRS's timings: a refusal comes after the publish command,
// hook_timeout about 30 s after it, on_unpublish only for accepted
// publishers, after they stop.
//
// The cases run one after another (each one's two runs at the same time),
// and every case's duration leaves its last publisher its whole hold plus
// about 2 s: ffmpeg's start-up costs 0.25-0.4 s of CPU, and with several
// cases at once on two cores it reached 2-3 s, so that publishers were
// stopped before the server saw them (rejected_unknown) and the outcome mix
// was the machine's, not the server's.
func TestConformance(t *testing.T) {
	ff := testkit.FFmpeg(t)
	t.Parallel()
	srs, skip := testkit.SRSBinary()
	cache := testCache(t)
	for _, c := range conformCases() {
		t.Run(c.name, func(t *testing.T) {
			sc := scenario(t, c.yaml)
			if sc.Name != c.name {
				t.Fatalf("the scaled copy is named %q", sc.Name)
			}
			if err := ensureClip(ff, cache, sc); err != nil {
				t.Fatal(err)
			}
			servers := []string{"embedded"}
			if srs != "" {
				servers = append(servers, "srs")
			}
			// Every case runs with both engines at once, on each server: the
			// native publishers cost next to nothing beside the ffmpegs, so
			// the case takes no longer, and each native attempt must meet
			// the outcome its ffmpeg twin met (edges of fault windows
			// excepted).
			runs := map[string]*conformRun{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, server := range servers {
				for _, engine := range []string{schema.EngineFFmpeg, schema.EngineNative} {
					o := Options{Engine: engine}
					if server == "srs" {
						o.Server = ServerSpec{Kind: ServerSRS, Binary: srs}
					}
					key := conformKey(server, engine)
					wg.Go(func() {
						r := startConformRun(t, sc, o, ff, cache, key)
						mu.Lock()
						runs[key] = r
						mu.Unlock()
					})
				}
			}
			wg.Wait()
			for _, server := range []string{"embedded", "srs"} {
				for _, engine := range []string{schema.EngineFFmpeg, schema.EngineNative} {
					key := conformKey(server, engine)
					t.Run(key, func(t *testing.T) {
						r := runs[key]
						if server == "srs" && srs == "" {
							t.Skip(skip)
						}
						if server == "srs" && c.skipSRS != "" {
							t.Skip(c.skipSRS)
						}
						if r.err != nil {
							t.Fatal(r.err)
						}
						t.Logf("%s on %s: %d attempts %v, ran %s", c.name, key, r.sum.Attempts, r.sum.Outcomes, r.took.Round(100*time.Millisecond))
						c.mix(t, r.sum)
						checkSRSTimings(t, r)
					})
				}
			}
			for _, server := range servers {
				ff, nat := runs[conformKey(server, schema.EngineFFmpeg)], runs[conformKey(server, schema.EngineNative)]
				if ff.err != nil || nat.err != nil || (server == "srs" && c.skipSRS != "") {
					continue
				}
				t.Run(server+"/engines", func(t *testing.T) { compareRuns(t, ff, nat) })
			}
			if srs == "" || c.skipSRS != "" || runs["embedded"].err != nil || runs["srs"].err != nil {
				return
			}
			t.Run("same", func(t *testing.T) { compareRuns(t, runs["embedded"], runs["srs"]) })
		})
	}
}

// conformRun is one run of a case, read back attempt by attempt.
type conformRun struct {
	server string
	err    error
	took   time.Duration
	sum    *report.Summary
	// attempts by key: the attempt id without the run id, the same for the
	// same publisher slot in every run of the scenario.
	attempts map[string]*conformAttempt
	edges    []time.Time // the callback's state changes
	states   []report.TimedState
}

type conformAttempt struct {
	key, group string
	outcome    schema.Outcome
	// judged is the interval the report judged the callback's state over
	// (from the publish command to the server's decision; one instant, the
	// hook's call): zero for an attempt that ended ok.
	judged         [2]time.Time
	publish, close time.Time // the wire's publish command and the server's close
	exit           time.Time
	unpublish      []time.Time // on_unpublish calls for it
}

// conformKey names a run of a case: the server, and "-native" for the run
// with native publishers.
func conformKey(server, engine string) string {
	if engine == schema.EngineNative {
		return server + "-native"
	}
	return server
}

func startConformRun(t *testing.T, sc *scenarios.Scenario, o Options, ff, cache, server string) *conformRun {
	r := &conformRun{server: server}
	ctx, cancel := context.WithTimeout(context.Background(), sc.Duration+90*time.Second)
	defer cancel()
	o.Scenario, o.FFmpeg, o.CacheDir = sc, ff, cache
	o.ResultsDir = filepath.Join(t.TempDir(), server)
	begin := time.Now()
	res, err := Run(ctx, o)
	r.took = time.Since(begin)
	switch {
	case err != nil:
		r.err = err
		return r
	case ctx.Err() != nil:
		r.err = fmt.Errorf("the run did not end within %s", sc.Duration+90*time.Second)
		return r
	}
	r.sum = res.Summary
	r.err = r.read(res.ResultsPath)
	return r
}

func (r *conformRun) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	prefix := r.sum.Run.ID + "-"
	r.attempts = map[string]*conformAttempt{}
	get := func(id string) *conformAttempt {
		k := strings.TrimPrefix(id, prefix)
		a := r.attempts[k]
		if a == nil {
			a = &conformAttempt{key: k}
			r.attempts[k] = a
		}
		return a
	}
	err = schema.Read(f, func(ev schema.Event) error {
		switch {
		case ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseSpawn:
			get(ev.Attempt.ID).group = ev.Attempt.Group
		case ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseExit:
			get(ev.Attempt.ID).exit = ev.Time
		case ev.Type == schema.TypeHook && ev.Hook.Attempt != "":
			if ev.Hook.Action == schema.ActionUnpublish {
				a := get(ev.Hook.Attempt)
				a.unpublish = append(a.unpublish, ev.Hook.Arrived)
			}
		case ev.Type == schema.TypeWire && ev.Wire.Attempt != "":
			a := get(ev.Wire.Attempt)
			for _, m := range ev.Wire.Marks {
				switch m.Phase {
				case schema.WirePublish:
					a.publish = m.At
				case schema.WireServerClose:
					a.close = m.At
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	failed := map[string]report.Failure{}
	for _, f := range r.sum.Failures {
		failed[strings.TrimPrefix(f.ID, prefix)] = f
	}
	for k, a := range r.attempts {
		a.outcome = schema.OutcomeOK
		if f, ok := failed[k]; ok {
			a.outcome, a.judged = f.Outcome, [2]time.Time{f.StateFrom, f.StateTo}
		}
	}
	for i, st := range r.sum.Availability {
		if i > 0 { // the first is the state at the start
			r.edges = append(r.edges, st.At)
		}
	}
	r.states = r.sum.Availability
	return nil
}

// unreachableNear reports whether the callback was down or slow at some
// moment within edgeTolerance of at: an on_unpublish sent then never
// reached it or was not answered before the run ended.
func (r *conformRun) unreachableNear(at time.Time) bool {
	for i, st := range r.states {
		end := time.Unix(1<<40, 0)
		if i+1 < len(r.states) {
			end = r.states[i+1].At
		}
		if (st.State == schema.StateDown || st.State == schema.StateSlow) && st.At.Before(at.Add(edgeTolerance)) && end.After(at.Add(-edgeTolerance)) {
			return true
		}
	}
	return false
}

// edgeTolerance is how close to a change of the callback's state an attempt
// may be judged for either side of the change to be right: the two servers
// run at once, each with its own callback and schedule, and an ffmpeg that
// starts later on one of them meets the edge on the other side.
const edgeTolerance = time.Second

// nearEdge reports whether the report judged a (a failure: its interval
// from the publish command to the server's decision) within edgeTolerance
// of a change of the callback's state. The side that ended ok is judged by
// the other's: the attempt flips at an edge of the run that failed it.
func (r *conformRun) nearEdge(a *conformAttempt) bool {
	if a.judged[0].IsZero() {
		return false
	}
	for _, e := range r.edges {
		if !e.Before(a.judged[0].Add(-edgeTolerance)) && !e.After(a.judged[1].Add(edgeTolerance)) {
			return true
		}
	}
	return false
}

// checkSRSTimings holds a run to SRS's timings: a refused publish is refused
// after its publish command (the server asks the hook then), hook_timeout
// about 30 s after it, and an accepted publisher gets exactly one
// on_unpublish, after it published and by the time rtmpload saw it exit
// (plus 2 s for the call to arrive: conflict-detection's late publishers
// come 3 s after the owners leave), unless the callback was down when it
// ended; a refused one gets none.
func checkSRSTimings(t *testing.T, r *conformRun) {
	t.Helper()
	for _, a := range sortedAttempts(r) {
		refused := a.outcome != schema.OutcomeOK && a.outcome != schema.OutcomeRejectedUnknown
		if refused && !a.publish.IsZero() && !a.close.IsZero() && a.close.Before(a.publish) {
			t.Errorf("%s (%s): the server closed the connection before the publish command", a.key, a.outcome)
		}
		if refused && a.publish.IsZero() {
			t.Errorf("%s (%s): refused, but the wire saw no publish command", a.key, a.outcome)
		}
		if a.outcome == schema.OutcomeHookTimeout {
			if a.close.IsZero() || a.publish.IsZero() {
				t.Errorf("%s: hook_timeout, but the wire has no publish command (%v) or no close by the server (%v)", a.key, !a.publish.IsZero(), !a.close.IsZero())
			} else if w := a.close.Sub(a.publish); w < 29500*time.Millisecond || w > 32*time.Second {
				t.Errorf("%s: hook_timeout after %s from the publish command, want about 30 s", a.key, w)
			}
		}
		switch {
		case a.outcome == schema.OutcomeOK && len(a.unpublish) == 0 && r.unreachableNear(a.exit):
			// The server's on_unpublish found the callback down or slow.
		case a.outcome == schema.OutcomeOK && len(a.unpublish) != 1:
			t.Errorf("%s: accepted, %d on_unpublish calls, want 1", a.key, len(a.unpublish))
		case a.outcome == schema.OutcomeOK:
			if u := a.unpublish[0]; u.Before(a.publish) || u.After(a.exit.Add(2*time.Second)) {
				t.Errorf("%s: on_unpublish at %s, want after its publish (%s) and by its exit (%s)",
					a.key, u.Format("15:04:05.000"), a.publish.Format("15:04:05.000"), a.exit.Format("15:04:05.000"))
			}
		case refused && len(a.unpublish) != 0:
			t.Errorf("%s: refused (%s), yet %d on_unpublish calls", a.key, a.outcome, len(a.unpublish))
		}
	}
	for _, an := range r.sum.Anomalies {
		t.Errorf("anomaly: %s", an)
	}
}

func sortedAttempts(r *conformRun) []*conformAttempt {
	out := make([]*conformAttempt, 0, len(r.attempts))
	for _, a := range r.attempts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// compareRuns wants the same outcome per attempt, and the same contest
// winners, from two runs of one case: two servers, or two engines.
func compareRuns(t *testing.T, emb, srs *conformRun) {
	t.Helper()
	for _, a := range sortedAttempts(emb) {
		b, ok := srs.attempts[a.key]
		if !ok {
			t.Errorf("%s: attempted on %s only", a.key, emb.server)
			continue
		}
		if a.outcome == b.outcome {
			continue
		}
		if emb.nearEdge(a) || srs.nearEdge(b) {
			t.Logf("%s: %s on %s, %s on %s: judged within %s of a change of the callback's state", a.key, a.outcome, emb.server, b.outcome, srs.server, edgeTolerance)
			continue
		}
		t.Errorf("%s (%s): %s on %s, %s on %s", a.key, a.group, a.outcome, emb.server, b.outcome, srs.server)
	}
	for k := range srs.attempts {
		if _, ok := emb.attempts[k]; !ok {
			t.Errorf("%s: attempted on %s only", k, srs.server)
		}
	}
	winners := func(r *conformRun) map[string][]string {
		out := map[string][]string{}
		for _, c := range r.sum.Contests {
			var w []string
			for _, id := range c.Winners {
				w = append(w, strings.TrimPrefix(id, r.sum.Run.ID+"-"))
			}
			slices.Sort(w)
			out[c.Stream] = w
		}
		return out
	}
	if we, ws := winners(emb), winners(srs); fmt.Sprint(we) != fmt.Sprint(ws) {
		t.Errorf("contest winners differ:\n%s: %v\n%s: %v", emb.server, we, srs.server, ws)
	}
}
