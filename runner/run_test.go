package runner

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// testCache is the clip cache every test shares (and the tests of
// cmd/rtmpload too), so that each clip is encoded once.
func testCache(t *testing.T) string {
	d := filepath.Join(os.TempDir(), "rtmpload-test-clips")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var clipMu sync.Mutex

// ensureClip encodes sc's clip into the cache unless it is there. Tests
// that run in parallel wait for one encoding instead of each making its own.
func ensureClip(ff, cache string, sc *scenarios.Scenario) error {
	clipMu.Lock()
	defer clipMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := media.Ensure(ctx, ff, cache, media.Params{Clip: sc.Media.Clip, BitrateBps: sc.Media.BitrateBps}, nil)
	return err
}

func scenario(t *testing.T, yaml string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runScenario(t *testing.T, sc *scenarios.Scenario, o Options) *Result {
	t.Helper()
	res, err := runPrepared(prepareRun(t, sc, o))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// prepareRun gives o the scenario, ffmpeg, a results directory and a cache
// holding the scenario's clip; runPrepared runs it, in any goroutine, so
// that a test may run several at once.
func prepareRun(t *testing.T, sc *scenarios.Scenario, o Options) Options {
	t.Helper()
	o.Scenario = sc
	o.FFmpeg = testkit.FFmpeg(t)
	o.ResultsDir = filepath.Join(t.TempDir(), "out")
	o.CacheDir = testCache(t)
	if err := ensureClip(o.FFmpeg, o.CacheDir, sc); err != nil {
		t.Fatal(err)
	}
	return o
}

func runPrepared(o Options) (*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.Scenario.Duration+90*time.Second)
	defer cancel()
	res, err := Run(ctx, o)
	if err == nil && ctx.Err() != nil {
		err = errors.New("run did not end within its bound")
	}
	return res, err
}

func latency(s *report.Summary, metric string) *report.LatencyRow {
	for i := range s.Latency {
		if s.Latency[i].Metric == metric && s.Latency[i].Group == "all" {
			return &s.Latency[i]
		}
	}
	return nil
}

// TestTapPhasesAndHookLatency: through the tap to the embedded server, every
// wire phase shows up in order, and a 200 ms hook shows in hook_latency and
// hook_wait but not in the handshake.
func TestTapPhasesAndHookLatency(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: tap
duration: 5s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: allow, latency: 200ms}
publishers:
  - {group: g, count: 3, name: "tap-{i}", ramp: 1s}
`)
	res := runScenario(t, sc, Options{})
	s := res.Summary
	if s.Outcomes[schema.OutcomeOK] != 3 {
		t.Fatalf("outcomes %v, failures %+v", s.Outcomes, s.Failures)
	}
	for _, m := range []string{report.MetricHookLatency, schema.MetricHookWait} {
		l := latency(s, m)
		if l == nil || l.Count != 3 || l.P50 < 200 {
			t.Errorf("%s: %+v, want 3 samples of at least 200 ms", m, l)
		}
	}
	if l := latency(s, schema.MetricHandshake); l == nil || l.Count != 3 || l.Max >= 100 {
		t.Errorf("handshake %+v: want 3 samples well under the hook's 200 ms", l)
	}
	for _, m := range []string{schema.MetricFFmpegStartup, schema.MetricConnect, schema.MetricPublish, schema.MetricFirstMedia, report.MetricPublishStart} {
		if l := latency(s, m); l == nil || l.Count != 3 {
			t.Errorf("%s: %+v, want 3 samples", m, l)
		}
	}

	// Every attempt's wire marks come in the order of a publish.
	order := []string{schema.WireTCPConnect, schema.WireC0C1, schema.WireS0S1S2, schema.WireConnect,
		schema.WireConnectResult, schema.WirePublish, schema.WireOnStatus}
	wires := 0
	for _, ev := range testkit.Events(t, res.ResultsPath) {
		if ev.Type != schema.TypeWire {
			continue
		}
		wires++
		w := ev.Wire
		if w.Attempt == "" || w.Stream == "" || w.Unparsed {
			t.Errorf("wire record %+v: want an attempt id, a stream and a parsed stream", w)
		}
		seen := make(map[string]time.Time)
		for _, m := range w.Marks {
			seen[m.Phase] = m.At
		}
		var prev time.Time
		for _, p := range order {
			at, ok := seen[p]
			if !ok {
				t.Errorf("attempt %s: no %s mark", w.Attempt, p)
				continue
			}
			if at.Before(prev) {
				t.Errorf("attempt %s: %s before the phase preceding it", w.Attempt, p)
			}
			prev = at
		}
	}
	if wires != 3 {
		t.Errorf("wire records: %d, want 3", wires)
	}
}

// TestNoTap publishes straight to the server: same outcomes, no wire figures.
func TestNoTap(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: notap
duration: 4s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: g, count: 2, name: "n-{i}"}
`)
	s := runScenario(t, sc, Options{NoTap: true}).Summary
	if s.Outcomes[schema.OutcomeOK] != 2 {
		t.Fatalf("outcomes %v, failures %+v", s.Outcomes, s.Failures)
	}
	if l := latency(s, schema.MetricHandshake); l != nil {
		t.Errorf("without the tap there is no wire figure, got %+v", l)
	}
	if l := latency(s, report.MetricPublishStart); l == nil || l.Count != 2 {
		t.Errorf("ffmpeg's own publish_start: %+v", l)
	}
}

// TestHookFaults checks that each failure is classified by its cause and
// linked to the callback's state at the moment it was decided. The
// publishers start 1 s apart from 0 s to 12 s and the fault windows (2 s
// each) start at 4 s: ffmpeg's start-up (1-12 s on a loaded machine) moves
// where an attempt lands, so every attempt is judged by the state at its
// own decisive time, and every window still gets attempts unless ffmpeg
// starts more than 4 s late. A hold counts from the scheduled start, so a
// refused publisher's hold is no shorter than ffmpeg's start-up: with
// 1.5 s, ffmpegs that took longer were stopped before they reached the
// server (rejected_unknown, no hook call).
func TestHookFaults(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: faults
duration: 19s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults:
    - {at: 4s, for: 2s, kind: down}
    - {at: 6s, for: 2s, kind: "status:500"}
    - {at: 8s, for: 2s, kind: deny}
    - {at: 10s, for: 2s, kind: garbage}
publishers:
  - {group: g, count: 13, name: "f-{i}", ramp: 13s, hold: 6s}
`)
	s := runScenario(t, sc, Options{}).Summary
	if s.Attempts != 13 {
		t.Errorf("%d attempts, want 13", s.Attempts)
	}
	// Each outcome only in its own window, at least one in every window
	// (checkMix also wants ffmpeg's Input/output error on each failure).
	checkMix(t, s, outcomeStates{
		schema.OutcomeOK:              {schema.StateUp},
		schema.OutcomeHookUnreachable: {schema.StateDown},
		schema.OutcomeHookErrorStatus: {schema.StateErroring},
		schema.OutcomeHookDenied:      {schema.StateDenying},
		schema.OutcomeHookBadAnswer:   {schema.StateMisanswering},
	}, map[mix]int{
		{schema.OutcomeOK, schema.StateUp}:                      2,
		{schema.OutcomeHookUnreachable, schema.StateDown}:       1,
		{schema.OutcomeHookErrorStatus, schema.StateErroring}:   1,
		{schema.OutcomeHookDenied, schema.StateDenying}:         1,
		{schema.OutcomeHookBadAnswer, schema.StateMisanswering}: 1,
	})
	// The garbage window's 200 "OK" is a bad answer, quoted, not a deny.
	for _, f := range s.Failures {
		if f.Outcome == schema.OutcomeHookBadAnswer && !strings.Contains(f.Evidence, "the callback answered 200 with `OK`; SRS allows only 0 or {\"code\":0}") {
			t.Errorf("%s: evidence %q does not quote the answer", f.ID, f.Evidence)
		}
	}
	// The availability record has every window's edges, in order.
	var states []string
	for _, c := range s.Availability {
		states = append(states, string(c.State))
	}
	if strings.Join(states, ",") != "up,down,erroring,denying,misanswering,up" {
		t.Errorf("availability %v", states)
	}
}

// TestDuplicateRaceDetected: with the embedded server's SRS 7.0.18 race on,
// a 3.5 s hook (longer than SRS's 3 s source cleanup, so a tick surely falls
// in the owner's hook) and a second publisher after the owner was accepted,
// the second is accepted too; rtmpload must raise duplicate_accepted from
// its own timeline and from the server's API.
func TestDuplicateRaceDetected(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: race
duration: 13s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: allow, latency: 3500ms}
publishers:
  - {group: first, count: 1, name: "dup"}
  - {group: second, count: 1, name: "dup", start: 5s}
`)
	s := runScenario(t, sc, Options{DuplicateRace: true}).Summary
	if s.Outcomes[schema.OutcomeOK] != 2 {
		t.Fatalf("with the race both publishers are accepted; outcomes %v failures %+v", s.Outcomes, s.Failures)
	}
	if len(s.Contests) != 1 || !s.Contests[0].TwoLive {
		t.Errorf("contest should show two live publishers: %+v", s.Contests)
	}
	if s.Server == nil || len(s.Server.Duplicates) != 1 || !strings.HasPrefix(s.Server.Duplicates[0], "dup ") {
		t.Errorf("the server's API should show two publishers of dup: %+v", s.Server)
	}
	n := 0
	for _, a := range s.Anomalies {
		if strings.HasPrefix(a, string(schema.OutcomeDuplicateAccepted)) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("anomalies %v: want duplicate_accepted from the timeline and from the API", s.Anomalies)
	}
}

// TestNginxRTMP runs scenarios against a real nginx-rtmp started for the
// run, with the built-in hook speaking nginx's form-encoded dialect.
func TestNginxRTMP(t *testing.T) {
	testkit.FFmpeg(t)
	testkit.Nginx(t, managed.FindModule)
	t.Parallel()
	cases := []struct {
		name, yaml string
		check      func(t *testing.T, s *report.Summary)
	}{
		{"smoke", `
name: ng-smoke
duration: 5s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: g, count: 3, name: "ng-{i}", ramp: 1s}
`, func(t *testing.T, s *report.Summary) {
			if s.Outcomes[schema.OutcomeOK] != 3 {
				t.Errorf("outcomes %v failures %+v", s.Outcomes, s.Failures)
			}
			if s.Server == nil || s.Server.Snapshots == 0 || len(s.Server.NotSeen)+len(s.Server.Foreign)+len(s.Server.Duplicates) != 0 {
				t.Errorf("nginx's /stat should agree with the outcomes: %+v", s.Server)
			}
		}},
		{"duplicate", `
name: ng-dup
duration: 6s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: first, count: 1, name: "same"}
  - {group: second, count: 1, name: "same", start: 2s}
`, func(t *testing.T, s *report.Summary) {
			if s.Outcomes[schema.OutcomeOK] != 1 || s.Outcomes[schema.OutcomeStreamBusy] != 1 {
				t.Fatalf("outcomes %v failures %+v", s.Outcomes, s.Failures)
			}
			// Unlike SRS, nginx-rtmp says why: an RTMP error status.
			if f := s.Failures[0]; !strings.Contains(f.Message, "Operation not permitted") || !strings.Contains(f.Evidence, "onStatus") {
				t.Errorf("nginx refuses a duplicate with an error status: %+v", f)
			}
		}},
		{"deny", `
name: ng-deny
duration: 4s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: deny}
publishers:
  - {group: g, count: 2, name: "d-{i}"}
`, func(t *testing.T, s *report.Summary) {
			if s.Outcomes[schema.OutcomeHookDenied] != 2 {
				t.Errorf("outcomes %v failures %+v", s.Outcomes, s.Failures)
			}
		}},
		{"hook-down", `
name: ng-down
duration: 4s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 0s, for: 4s, kind: down}]
publishers:
  - {group: g, count: 2, name: "x-{i}", start: 500ms}
`, func(t *testing.T, s *report.Summary) {
			if s.Outcomes[schema.OutcomeHookUnreachable] != 2 {
				t.Errorf("outcomes %v failures %+v", s.Outcomes, s.Failures)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runScenario(t, scenario(t, tc.yaml), Options{Server: ServerSpec{Kind: ServerNginx}})
			tc.check(t, res.Summary)
			if !strings.HasPrefix(res.Summary.Run.Target, "managed nginx-rtmp") {
				t.Errorf("target %q", res.Summary.Run.Target)
			}
			if _, err := os.Stat(filepath.Join(res.Dir, "nginx", "error.log")); err != nil {
				t.Errorf("nginx's log should be kept with the results: %v", err)
			}
		})
	}
}

// TestShortSoak is CI's soak: 40 s with churn and reconnects on and the
// callback down for a while, then flapping. Nothing may be lost: every
// attempt that was started appears in the results with an exit and an
// outcome.
func TestShortSoak(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: short-soak
duration: 40s
media: {clip: testsrc-360p, bitrate: 300k}
churn: {every: 8s, share: 30%}
hook:
  faults:
    - {at: 14s, for: 6s, kind: down}
    - {at: 26s, for: 8s, kind: "flap:2s"}
publishers:
  - group: cams
    count: 10
    name: "soak-{i:02}"
    ramp: 5s
    reconnect: {delay: 1s, max: 20, backoff: 1.5}
`)
	res := runScenario(t, sc, Options{})
	s := res.Summary
	spawned, exited := map[string]bool{}, map[string]bool{}
	for _, ev := range testkit.Events(t, res.ResultsPath) {
		if ev.Type == schema.TypeAttempt {
			switch ev.Attempt.Phase {
			case schema.PhaseSpawn:
				spawned[ev.Attempt.ID] = true
			case schema.PhaseExit:
				exited[ev.Attempt.ID] = true
			}
		}
	}
	reconnected := 0
	for id := range spawned {
		if !exited[id] {
			t.Errorf("attempt %s started but has no exit in the results", id)
		}
		if strings.Contains(id, ".") {
			reconnected++
		}
	}
	if len(spawned) != s.Attempts {
		t.Errorf("%d attempts started, %d in the summary", len(spawned), s.Attempts)
	}
	total := 0
	for _, n := range s.Outcomes {
		total += n
	}
	if total != s.Attempts {
		t.Errorf("outcomes add up to %d of %d attempts", total, s.Attempts)
	}
	for _, fl := range s.Failures {
		if strings.Contains(fl.Evidence, "no exit recorded") {
			t.Errorf("attempt %s has no outcome: %s", fl.ID, fl.Evidence)
		}
	}
	// 10 publishers, churn of 30% at 4 ticks and the callback down twice:
	// there must be restarts, and refusals while it was down.
	if reconnected < 10 {
		t.Errorf("only %d restarted attempts (churn and reconnects)", reconnected)
	}
	if s.ByState[schema.OutcomeHookUnreachable][schema.StateDown] == 0 {
		t.Errorf("no hook_unreachable while the callback was down: %v", s.ByState)
	}
	if s.EndReason != schema.EndNormal {
		t.Errorf("end %q", s.EndReason)
	}
}

// TestCapacityKnee: steps of 4 publishers every 5 s; from the second step
// the hook answers after 1.5 s, so the step's p95 publish latency breaks the
// 1 s rule: the knee is the first step, and the run stops there.
func TestCapacityKnee(t *testing.T) {
	testkit.FFmpeg(t)
	sc := scenario(t, `
name: cap
mode: capacity
media: {clip: testsrc-360p, bitrate: 300k}
capacity:
  step: 4
  every: 5s
  ramp: 1s
  stop: {p95_publish: 1s, cpu: 4, generator_cpu: 4, machine_cpu: 1}
hook:
  faults: [{at: 5s, for: 30s, kind: "delay:1500ms"}]
publishers:
  - {group: cap, count: 16, name: "cap-{i:02}"}
`)
	begin := time.Now()
	s := runScenario(t, sc, Options{}).Summary
	c := s.Capacity
	if c == nil || len(c.Steps) != 2 {
		t.Fatalf("capacity: %+v", c)
	}
	if !c.Steps[0].Held || c.Steps[1].Held || c.Knee != 4 {
		t.Errorf("steps %+v knee %d: want step 1 to hold and step 2 to break", c.Steps, c.Knee)
	}
	for _, st := range c.Steps {
		// Judged as the next step starts: its first publisher is not this step's.
		if st.Active > st.Publishers {
			t.Errorf("step %d: %d active of %d publishers", st.Step, st.Active, st.Publishers)
		}
	}
	if last := c.Steps[len(c.Steps)-1]; last.Side != schema.SideServer || last.GeneratorCPU <= 0 {
		t.Errorf("step %d: side %q, generator %.2f cores: want the server's side and the generator measured", last.Step, last.Side, last.GeneratorCPU)
	}
	if !strings.Contains(c.Limit, "p95 publish") || c.Steps[1].P95Ms < 1500 {
		t.Errorf("limit %q, step 2 p95 %.1f ms: want the p95 rule with at least 1.5 s", c.Limit, c.Steps[1].P95Ms)
	}
	if s.EndReason != schema.EndKnee {
		t.Errorf("end reason %q, want %q", s.EndReason, schema.EndKnee)
	}
	// Stopped at the knee, as step 3 began (its first publisher may have
	// started): counted, not timed, since a loaded machine makes the run
	// longer, not its steps more.
	if s.Attempts >= 12 {
		t.Errorf("%d attempts (took %v): it should stop at the knee (2 steps of 4), not run on", s.Attempts, time.Since(begin).Round(time.Second))
	}
}

// TestHookProxy puts the built-in hook in front of a (test) callback
// service: the service decides, and the report shows its latency and
// answers.
func TestHookProxy(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Action, Stream string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		calls++
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		if body.Action == "on_publish" && body.Stream == "px-deny" {
			w.Write([]byte(`{"code":403,"msg":"no"}`))
			return
		}
		w.Write([]byte(`{"code":0,"msg":null}`))
	}))
	defer svc.Close()
	sc := scenario(t, `
name: proxy
duration: 4s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: g, count: 2, name: "px-{i}"}
  - {group: d, count: 1, name: "px-deny"}
`)
	s := runScenario(t, sc, Options{Hook: HookPlan{Proxy: svc.URL + "/callback"}}).Summary
	if s.Outcomes[schema.OutcomeOK] != 2 || s.Outcomes[schema.OutcomeHookDenied] != 1 {
		t.Errorf("outcomes %v: the service allows px-0/1 and denies px-deny", s.Outcomes)
	}
	u := s.Hook.Upstream
	if u == nil || u.Calls != 3 || u.Allowed != 2 || u.Unreachable != 0 || u.Statuses["200"] != 3 {
		t.Errorf("upstream summary %+v", u)
	}
	l := latency(s, report.MetricUpstreamLatency)
	if l == nil || l.Count != 3 || l.P50 < 30 {
		t.Errorf("upstream latency %+v, want 3 calls of at least 30 ms", l)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 5 { // 3 on_publish, 2 on_unpublish
		t.Errorf("the service got %d calls, want 5", calls)
	}
	if !strings.HasPrefix(s.Run.HookMode, "proxy to "+svc.URL) {
		t.Errorf("run header hook %q", s.Run.HookMode)
	}
}
