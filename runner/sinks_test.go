package runner

import (
	"bufio"
	"bytes"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/runner/metrics"
	"github.com/rtmpload/rtmpload/schema"
)

// stoppedRun is a recorded run (the fault-window run of TestHookFaults) in
// which two attempts published and rtmpload then stopped them: attempt 1
// answered SIGINT with status 1 (still flushing to the server), attempt 6
// outlived the grace and was killed. The other four were refused.
const (
	stoppedRun   = "testdata/stopped.jsonl"
	stoppedRunID = "20261125T204635-aa07"
)

// counts is how one sink counted the attempts it saw end.
type counts struct{ ok, failed int }

// replay feeds the recorded run's events that keep passes through every
// sink of a run, as the run's stream hands them over, and returns how each
// sink counted the attempts: the report (report.json's outcomes), its
// timeline, the live progress counters, Prometheus and the capacity steps.
func replay(t *testing.T, keep func(schema.Event) bool) map[string]counts {
	t.Helper()
	sc := scenario(t, `
name: faults
duration: 14s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: g, count: 6, name: "f-{i}", start: 1s, ramp: 12s, hold: 1500ms}
`)
	p, err := prepare(Options{Scenario: sc, RunID: stoppedRunID, CacheDir: t.TempDir()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var results bytes.Buffer
	s, m := newStream(), metrics.New()
	steps := newStepsSink(p, s.derive, func() {})
	s.run(newHealthSink(s.derive), resultsSink(schema.NewWriter(&results)), p.o.Live, steps, promSink{m: m, groupOf: p.groupOf})
	for _, ev := range testkit.Events(t, stoppedRun) {
		if ev.Type == schema.TypeRun || ev.Type == schema.TypeEnd || keep(ev) {
			s.emit(event{Event: ev})
		}
	}
	s.close()

	got := make(map[string]counts)
	sum, tl, err := report.SummarizeTimeline(&results)
	if err != nil {
		t.Fatal(err)
	}
	var c counts
	for outcome, n := range sum.Outcomes {
		if outcome == schema.OutcomeOK {
			c.ok += n
		} else {
			c.failed += n
		}
	}
	got["report"] = c
	c = counts{}
	for _, b := range tl.Buckets() {
		c.ok += b.Published - b.Dropped
		c.failed += b.Refused + b.Dropped
	}
	got["timeline"] = c
	c = counts{}
	for _, g := range p.o.Live.Snapshot() {
		c.ok += g.Done - g.Failed
		c.failed += g.Failed
	}
	got["progress"] = c
	res := scrapeResults(t, m)
	got["prometheus"] = counts{ok: res[report.EndedPublished] + res[report.EndedStopped], failed: res[report.EndedRefused] + res[report.EndedDropped]}
	st := steps.step(0)
	got["capacity"] = counts{ok: st.started - st.refused - st.dropped, failed: st.refused + st.dropped}
	return got
}

// scrapeResults reads rtmpload_attempt_results_total by result label.
func scrapeResults(t *testing.T, m *metrics.Metrics) map[string]int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := make(map[string]int)
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "rtmpload_attempt_results_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		_, result, _ := strings.Cut(labels, `result="`)
		result, _, _ = strings.Cut(result, `"`)
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", sc.Text(), err)
		}
		out[result] += int(n)
	}
	return out
}

func agree(t *testing.T, got map[string]counts, want counts) {
	t.Helper()
	for sink, c := range got {
		if c != want {
			t.Errorf("%s counted %d ok and %d failed, want %d and %d", sink, c.ok, c.failed, want.ok, want.failed)
		}
	}
}

// TestSinksAgree: every sink of a run counts the recorded run's attempts
// the same way as report.json.
func TestSinksAgree(t *testing.T) {
	agree(t, replay(t, func(schema.Event) bool { return true }), counts{ok: 2, failed: 4})
}

// TestStoppedAttemptAgrees: an attempt that published and that rtmpload
// then stopped is ok in every sink, whether ffmpeg exited 1 on SIGINT or was
// killed after the grace.
func TestStoppedAttemptAgrees(t *testing.T) {
	for _, n := range []string{"1", "6"} {
		t.Run("attempt "+n, func(t *testing.T) {
			id := stoppedRunID + "-" + n
			only := func(ev schema.Event) bool {
				switch {
				case ev.Attempt != nil:
					return ev.Attempt.ID == id
				case ev.Hook != nil:
					return ev.Hook.Attempt == id
				case ev.Server != nil:
					return ev.Server.Attempt == id
				case ev.Wire != nil:
					return ev.Wire.Attempt == id
				}
				return true
			}
			agree(t, replay(t, only), counts{ok: 1})
		})
	}
}

// TestResultLabels: the live result label is report.Ended's value.
func TestResultLabels(t *testing.T) {
	for _, c := range [][2]string{
		{metrics.ResultPublished, report.EndedPublished}, {metrics.ResultStopped, report.EndedStopped},
		{metrics.ResultRefused, report.EndedRefused}, {metrics.ResultDropped, report.EndedDropped},
	} {
		if c[0] != c[1] {
			t.Errorf("metrics result %q != report %q", c[0], c[1])
		}
	}
}

// A machine sample whose timer woke 5 s late or more starves every running
// publisher through the tap (its media stood still with rtmpload), and none
// without the tap (ffmpeg's media went straight to the server).
func TestHealthSinkStarvesOnRtmploadStall(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	for _, tapped := range []bool{true, false} {
		var derived []schema.Event
		h := newHealthSink(func(e event) { derived = append(derived, e.Event) })
		h.tapped = tapped
		h.add(event{Event: schema.Event{Type: schema.TypeAttempt, Time: t0, Attempt: &schema.AttemptEvent{ID: "a", Group: "g", Phase: schema.PhaseSpawn}}})
		h.add(event{attempt: "a", progress: &publisher.Progress{At: t0.Add(time.Second), Speed: 1, TotalSize: 10, OutTimeUS: 10}})
		for _, late := range []time.Duration{4 * time.Second, 6 * time.Second} {
			h.add(event{Event: schema.Event{Type: schema.TypeMachine, Time: t0.Add(8 * time.Second), Machine: &schema.MachineSample{TimerLate: late}}})
		}
		switch {
		case tapped && (len(derived) != 1 || derived[0].Attempt.Phase != schema.PhaseStarved ||
			derived[0].Attempt.Message != "rtmpload itself stood still 6s: its tap relayed no media"):
			t.Errorf("through the tap: derived %+v", derived)
		case !tapped && len(derived) != 0:
			t.Errorf("without the tap: derived %+v", derived)
		}
	}
}
