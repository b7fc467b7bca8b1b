package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// stream builds a results stream the way a run writes it.
type stream struct{ evs []schema.Event }

func (s *stream) header(groups ...schema.GroupInfo) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{Schema: schema.Schema, ID: "r1", Started: t0,
		Scenario: schema.ScenarioInfo{Name: "t", Groups: groups}, HookMode: "allow"}})
}

func (s *stream) attempt(id, group, name string, spawn, publishing, exit int, class schema.ExitClass, code int, msg string) {
	// Each attempt of these tests is its own publisher: slot from its id.
	var slot int
	fmt.Sscanf(id[strings.LastIndexByte(id, '-')+1:], "%d", &slot)
	base := schema.AttemptEvent{ID: id, Group: group, Stream: name, Slot: slot}
	add := func(ms int, phase string, fill func(*schema.AttemptEvent)) {
		ae := base
		ae.Phase = phase
		if fill != nil {
			fill(&ae)
		}
		s.evs = append(s.evs, schema.Event{Type: schema.TypeAttempt, Time: at(ms), Attempt: &ae})
	}
	add(spawn, schema.PhaseSpawn, nil)
	if publishing >= 0 {
		add(publishing, schema.PhasePublishing, nil)
	}
	if exit >= 0 {
		add(exit, schema.PhaseExit, func(ae *schema.AttemptEvent) {
			ae.Class, ae.ExitCode, ae.Message = class, code, msg
			ae.Stopped = class == schema.ClassStopped
		})
	}
}

func (s *stream) hook(attempt, name string, arrived, answered, status int, verdict string) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeHook, Time: at(answered), Hook: &schema.HookCall{
		Action: "on_publish", Attempt: attempt, Stream: name, Arrived: at(arrived), Answered: at(answered),
		Status: status, Verdict: verdict,
	}})
}

func (s *stream) end(ms int, reason string) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeEnd, Time: at(ms), Reason: reason})
}

// summary round-trips the events through the JSON lines a run writes.
func (s *stream) summary(t *testing.T) *Summary {
	t.Helper()
	var buf bytes.Buffer
	w := schema.NewWriter(&buf)
	for _, ev := range s.evs {
		w.Write(ev)
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	sum, err := Summarize(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func outcomes(sum *Summary) map[string]schema.Outcome {
	out := make(map[string]schema.Outcome)
	for _, c := range sum.Contests {
		for _, e := range c.Attempts {
			out[e.ID] = e.Outcome
		}
	}
	for _, f := range sum.Failures {
		out[f.ID] = f.Outcome
	}
	return out
}

const ioErr = "rtmp://127.0.0.1:1935/live/x?rtmpload=r1-2: Input/output error"

func TestClassifyOutcomes(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 7})
	// ok: published, stopped by us.
	s.hook("r1-1", "a", 100, 102, 200, "allow")
	s.attempt("r1-1", "cams", "a", 0, 200, 5000, schema.ClassStopped, 255, "")
	// stream_busy: hook allowed while r1-1 held "a", then refused.
	s.hook("r1-2", "a", 1100, 1102, 200, "allow")
	s.attempt("r1-2", "cams", "a", 1000, -1, 1400, schema.ClassFailed, 1, ioErr)
	// hook_denied
	s.hook("r1-3", "b", 100, 103, 200, "deny")
	s.attempt("r1-3", "cams", "b", 0, -1, 400, schema.ClassFailed, 1, ioErr)
	// hook_error_status
	s.hook("r1-4", "c", 100, 103, 500, "allow")
	s.attempt("r1-4", "cams", "c", 0, -1, 400, schema.ClassFailed, 1, ioErr)
	// server_unreachable
	s.attempt("r1-5", "cams", "d", 0, -1, 170, schema.ClassFailed, 1, "rtmp://127.0.0.1:1/live/d: Connection refused")
	// dropped: published, then ended on its own
	s.hook("r1-6", "e", 100, 101, 200, "allow")
	s.attempt("r1-6", "cams", "e", 0, 200, 3000, schema.ClassFailed, 1, "Broken pipe")
	// hook_timeout: the hook answered after SRS's 30 s
	s.hook("r1-7", "f", 100, 35100, 200, "allow")
	s.attempt("r1-7", "cams", "f", 0, -1, 30500, schema.ClassFailed, 1, ioErr)
	// hook_unreachable: the call arrived as the down window began and the
	// hook dropped it.
	s.evs = append(s.evs, schema.Event{Type: schema.TypeHook, Time: at(3001), Hook: &schema.HookCall{
		Action: "on_publish", Attempt: "r1-9", Stream: "h", Arrived: at(2999), Answered: at(3001),
		Canceled: true, Reason: "connection dropped by fault down",
	}})
	s.attempt("r1-9", "cams", "h", 2500, -1, 3100, schema.ClassFailed, 1, ioErr)
	// stopped by its hold before anything shows it reached the server.
	s.attempt("r1-8", "cams", "g", 0, -1, 1500, schema.ClassStopped, 255, "")
	s.end(40000, schema.EndNormal)

	sum := s.summary(t)
	want := map[string]schema.Outcome{
		"r1-2": schema.OutcomeStreamBusy, "r1-3": schema.OutcomeHookDenied, "r1-4": schema.OutcomeHookErrorStatus,
		"r1-5": schema.OutcomeServerUnreachable, "r1-6": schema.OutcomeDropped, "r1-7": schema.OutcomeHookTimeout,
		"r1-8": schema.OutcomeRejectedUnknown, "r1-9": schema.OutcomeHookUnreachable,
	}
	got := outcomes(sum)
	for id, o := range want {
		if got[id] != o {
			t.Errorf("%s: outcome %q, want %q", id, got[id], o)
		}
	}
	if sum.Outcomes[schema.OutcomeOK] != 1 || sum.Attempts != 9 {
		t.Errorf("ok=%d attempts=%d, want 1 and 9", sum.Outcomes[schema.OutcomeOK], sum.Attempts)
	}
	for _, f := range sum.Failures {
		if f.ID == "r1-8" && !strings.HasPrefix(f.Evidence, "stopped by rtmpload 1.5s after its spawn, before anything shows it reached the server") {
			t.Errorf("r1-8: evidence %q does not say that nothing reached the server", f.Evidence)
		}
	}
	if sum.EndReason != schema.EndNormal {
		t.Errorf("end reason %q", sum.EndReason)
	}
	for _, f := range sum.Failures {
		if f.ID == "r1-2" && !strings.Contains(f.Evidence, "r1-1") {
			t.Errorf("stream_busy evidence should name the holder: %q", f.Evidence)
		}
	}
}

func TestContestWinnerAndTwoLive(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "owners", Count: 2}, schema.GroupInfo{Name: "rivals", Count: 2})
	// "x": r1-1 wins, r1-3 denied.
	s.hook("r1-1", "x", 10, 12, 200, "allow")
	s.attempt("r1-1", "owners", "x", 0, 150, 9000, schema.ClassStopped, 255, "")
	s.hook("r1-3", "x", 2010, 2012, 200, "deny")
	s.attempt("r1-3", "rivals", "x", 2000, -1, 2300, schema.ClassFailed, 1, ioErr)
	// "y": both accepted and both live at once: the anomaly.
	s.hook("r1-2", "y", 10, 12, 200, "allow")
	s.attempt("r1-2", "owners", "y", 0, 150, 9000, schema.ClassStopped, 255, "")
	s.hook("r1-4", "y", 2010, 2012, 200, "allow")
	s.attempt("r1-4", "rivals", "y", 2000, 2150, 9000, schema.ClassStopped, 255, "")
	s.end(9500, schema.EndNormal)

	sum := s.summary(t)
	if len(sum.Contests) != 2 {
		t.Fatalf("contests: %d, want 2", len(sum.Contests))
	}
	x, y := sum.Contests[0], sum.Contests[1]
	if x.Stream != "x" || len(x.Winners) != 1 || x.Winners[0] != "r1-1" || x.TwoLive {
		t.Errorf("contest x: %+v", x)
	}
	if x.Attempts[1].HookVerdict != "deny" || x.Attempts[1].Outcome != schema.OutcomeHookDenied || !strings.Contains(x.Attempts[1].Message, "Input/output error") {
		t.Errorf("contest x loser: %+v", x.Attempts[1])
	}
	if !y.TwoLive || len(sum.Anomalies) != 1 || !strings.Contains(sum.Anomalies[0], string(schema.OutcomeDuplicateAccepted)) {
		t.Errorf("contest y should be flagged two-live: %+v anomalies %v", y, sum.Anomalies)
	}
	g := sum.Groups
	if len(g) != 2 || g[1].Name != "rivals" || g[1].Outcomes[schema.OutcomeHookDenied] != 1 || g[1].Outcomes[schema.OutcomeOK] != 1 {
		t.Errorf("groups: %+v", g)
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "g", Count: 100})
	for i := range 100 {
		id := "r1-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s.hook(id, id, 0, i+1, 200, "allow") // hook latency 1..100 ms
		s.attempt(id, "g", id, 0, 100+i, 5000, schema.ClassStopped, 255, "")
	}
	s.end(6000, schema.EndNormal)
	sum := s.summary(t)
	var hookAll, pubAll *LatencyRow
	for i := range sum.Latency {
		l := &sum.Latency[i]
		if l.Group == "all" && l.Metric == MetricHookLatency {
			hookAll = l
		}
		if l.Group == "all" && l.Metric == MetricPublishStart {
			pubAll = l
		}
	}
	if hookAll == nil || pubAll == nil {
		t.Fatalf("latency rows missing: %+v", sum.Latency)
	}
	if hookAll.Count != 100 || hookAll.P50 < 49.9 || hookAll.P50 > 50.1 || hookAll.Max < 99.9 || hookAll.Max > 100.1 {
		t.Errorf("hook latency: %+v", hookAll)
	}
	if pubAll.P99 < 197.9 || pubAll.P99 > 198.2 { // 99th of 100..199 ms
		t.Errorf("publish start p99 %.2f, want ~198", pubAll.P99)
	}
}

func TestReadTornLastLine(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "g", Count: 1})
	s.attempt("r1-1", "g", "a", 0, 100, -1, "", 0, "")
	var buf bytes.Buffer
	w := schema.NewWriter(&buf)
	for _, ev := range s.evs {
		w.Write(ev)
	}
	buf.WriteString(`{"type":"attempt","t":"2026-11-25T20:00:01Z","attempt":{"id":"r1-1","ph`)
	sum, err := Summarize(&buf)
	if err != nil {
		t.Fatalf("a torn last line must be tolerated: %v", err)
	}
	if sum.EndReason != "unfinished" || sum.Attempts != 1 || sum.Outcomes[schema.OutcomeRejectedUnknown] != 1 {
		t.Errorf("unfinished run: %+v", sum)
	}
	if _, err := Summarize(strings.NewReader("{\"type\":\"run\"}\nnot json\n{}\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a bad middle line must be an error naming it, got %v", err)
	}
}

func TestRenderTableAndJSON(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 2})
	s.hook("r1-1", "a", 10, 12, 200, "allow")
	s.attempt("r1-1", "cams", "a", 0, 150, 9000, schema.ClassStopped, 255, "")
	s.hook("r1-2", "a", 1010, 1012, 200, "allow")
	s.attempt("r1-2", "cams", "a", 1000, -1, 1300, schema.ClassFailed, 1, ioErr)
	s.end(9500, schema.EndNormal)
	sum := s.summary(t)

	var tbl bytes.Buffer
	if err := Table(&tbl, sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stream_busy", "Input/output error", "publish_start", "hook_latency", "#1", "cams"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	var js bytes.Buffer
	if err := JSON(&js, sum); err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Outcomes[schema.OutcomeStreamBusy] != 1 || len(back.Contests) != 1 || back.Contests[0].Winners[0] != "r1-1" {
		t.Errorf("report.json round trip: %+v", back)
	}
}
