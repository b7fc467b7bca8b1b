package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// splitShards cuts a one-process run into the n streams its shards would
// have written: each attempt's events (its hook calls and server events
// too) go to shard Slot%n, like scenarios.Shard; every shard gets the header
// and end line. With hookLog set, hook calls go to a hook log instead, as
// with --hook external.
func splitShards(t *testing.T, evs []schema.Event, n int, hookLog *bytes.Buffer) [][]schema.Event {
	t.Helper()
	slotOf := make(map[string]int)
	for _, ev := range evs {
		if ev.Type == schema.TypeAttempt {
			slotOf[ev.Attempt.ID] = ev.Attempt.Slot
		}
	}
	out := make([][]schema.Event, n)
	for _, ev := range evs {
		var id string
		switch ev.Type {
		case schema.TypeRun:
			for i := range n {
				h := *ev.Run
				h.Shard, h.Shards = i, n
				e := ev
				e.Run = &h
				out[i] = append(out[i], e)
			}
			continue
		case schema.TypeEnd:
			for i := range n {
				out[i] = append(out[i], ev)
			}
			continue
		case schema.TypeAttempt:
			id = ev.Attempt.ID
		case schema.TypeHook:
			if hookLog != nil {
				b, err := json.Marshal(struct {
					Type      string  `json:"type"`
					LatencyMS float64 `json:"latency_ms"`
					schema.HookCall
				}{"call", 1, *ev.Hook})
				if err != nil {
					t.Fatal(err)
				}
				hookLog.Write(append(b, '\n'))
				continue
			}
			id = ev.Hook.Attempt
		case schema.TypeServer:
			id = ev.Server.Attempt
		}
		slot, ok := slotOf[id]
		if !ok {
			t.Fatalf("event %s not tied to an attempt", ev.Type)
		}
		out[slot%n] = append(out[slot%n], ev)
	}
	return out
}

func sources(t *testing.T, streams [][]schema.Event) []report.Source {
	t.Helper()
	var srcs []report.Source
	for i, evs := range streams {
		var buf bytes.Buffer
		w := schema.NewWriter(&buf)
		for _, ev := range evs {
			w.Write(ev)
		}
		if w.Err() != nil {
			t.Fatal(w.Err())
		}
		srcs = append(srcs, report.Source{Name: "shard" + string(rune('0'+i)), R: &buf})
	}
	return srcs
}

func wholeSummary(t *testing.T) *report.Summary {
	t.Helper()
	s, err := report.Load("testdata/dup.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameCounts compares everything that must not depend on how a run was cut.
func sameCounts(t *testing.T, got, want *report.Summary) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"attempts", got.Attempts, want.Attempts},
		{"outcomes", got.Outcomes, want.Outcomes},
		{"groups", got.Groups, want.Groups},
		{"latency", got.Latency, want.Latency},
		{"hook", got.Hook, want.Hook},
		{"contests", got.Contests, want.Contests},
		{"failures", got.Failures, want.Failures},
		{"by state", got.ByState, want.ByState},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s differ:\n got %+v\nwant %+v", c.what, c.got, c.want)
		}
	}
}

func TestMergeShardsEqualsOneRun(t *testing.T) {
	whole := wholeSummary(t)
	if whole.Outcomes[schema.OutcomeStreamBusy] == 0 || len(whole.Contests) == 0 {
		t.Fatalf("fixture has no contests: %+v", whole.Outcomes)
	}
	for _, n := range []int{2, 3, 4, 7} {
		runs, err := report.Merge(sources(t, splitShards(t, testkit.Events(t, "testdata/dup.jsonl"), n, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 {
			t.Fatalf("n=%d: %d runs, want 1", n, len(runs))
		}
		s := runs[0].Summary
		sameCounts(t, s, whole)
		if s.EndReason != schema.EndNormal || len(s.Anomalies) != 0 {
			t.Errorf("n=%d: end %q anomalies %q", n, s.EndReason, s.Anomalies)
		}
		if s.Shards == nil || s.Shards.Count != n || len(s.Shards.Present) != n || s.Shards.Missing != nil || s.Shards.Unfinished != nil {
			t.Errorf("n=%d: shards %+v", n, s.Shards)
		}
		if got, want := timelineTotal(runs[0].Timeline), 25; got != want {
			t.Errorf("n=%d: the merged timeline starts %d attempts, want %d", n, got, want)
		}
	}
}

func timelineTotal(tl *report.Timeline) int {
	n := 0
	for _, b := range tl.Buckets() {
		n += b.Started
	}
	return n
}

// A single stream merges into exactly the summary it has alone, so that
// `rtmpload report` of one file is unchanged.
func TestMergeOneStreamUnchanged(t *testing.T) {
	data, err := os.ReadFile("testdata/dup.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := report.Merge([]report.Source{{Name: "dup", R: bytes.NewReader(data)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(runs[0].Summary)
	want, _ := json.Marshal(wholeSummary(t))
	if !bytes.Equal(got, want) {
		t.Errorf("merge of one stream differs from its summary:\n got %s\nwant %s", got, want)
	}
}

func TestMergeJoinsHookLog(t *testing.T) {
	// An external server leaves no server events: only the hook's log can
	// tell a refused rival (the hook allowed it, its owner was live) from an
	// unexplained refusal.
	var evs []schema.Event
	for _, ev := range testkit.Events(t, "testdata/dup.jsonl") {
		if ev.Type != schema.TypeServer {
			evs = append(evs, ev)
		}
	}
	var log bytes.Buffer
	streams := splitShards(t, evs, 4, &log)
	whole := wholeSummary(t)
	// Calls of another run on the same hook, and one tied to no attempt
	// long before this run: neither belongs to it.
	log.WriteString(`{"type":"call","action":"on_publish","attempt":"other-1","verdict":"allow","status":200,"arrived":"2026-11-25T20:09:50Z","answered":"2026-11-25T20:09:50Z"}` + "\n")
	log.WriteString(`{"type":"call","action":"on_publish","attempt":"` + whole.Run.ID + `-x1","verdict":"allow","status":200,"arrived":"2026-11-25T20:09:50Z","answered":"2026-11-25T20:09:50Z"}` + "\n")
	log.WriteString(`{"type":"call","action":"on_publish","verdict":"allow","status":200,"arrived":"2020-01-01T00:00:00Z","answered":"2020-01-01T00:00:00Z"}` + "\n")
	log.WriteString(`{"type":"state","source":"hook","state":"up"}` + "\n")
	log.WriteString(`{"type":"call","action":"on_pub`) // torn by a kill

	hooks, err := report.ReadHookLog(&log)
	if err != nil {
		t.Fatal(err)
	}
	if hooks.Len() != whole.Hook.Calls+3 {
		t.Fatalf("hook log: %d calls, want %d", hooks.Len(), whole.Hook.Calls+3)
	}
	without, err := report.Merge(sources(t, streams), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := without[0].Summary; s.Hook.Calls != 0 || s.Outcomes[schema.OutcomeRejectedUnknown] != whole.Outcomes[schema.OutcomeStreamBusy] {
		t.Fatalf("without the log: %d hook calls, outcomes %v", s.Hook.Calls, s.Outcomes)
	}
	runs, err := report.Merge(sources(t, streams), hooks)
	if err != nil {
		t.Fatal(err)
	}
	s := runs[0].Summary
	if !reflect.DeepEqual(s.Outcomes, whole.Outcomes) || !reflect.DeepEqual(s.Groups, whole.Groups) || !reflect.DeepEqual(s.Hook, whole.Hook) {
		t.Errorf("with the log:\n got %v %+v %+v\nwant %v %+v %+v", s.Outcomes, s.Groups, s.Hook, whole.Outcomes, whole.Groups, whole.Hook)
	}
	if len(s.Contests) != len(whole.Contests) {
		t.Fatalf("%d contests, want %d", len(s.Contests), len(whole.Contests))
	}
	for i, c := range s.Contests {
		if w := whole.Contests[i]; !reflect.DeepEqual(c.Winners, w.Winners) {
			t.Errorf("contest %s: winners %v, want %v", c.Stream, c.Winners, w.Winners)
		}
	}
}

func TestReadHookLogRejectsReadableOutput(t *testing.T) {
	_, err := report.ReadHookLog(strings.NewReader("12:00:00.000 on_publish   live/cam client=1 -> allow 200 in 1ms\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "--json") {
		t.Errorf("readable hook output: %v", err)
	}
}

func TestMergeNamesMissingAndUnfinishedShards(t *testing.T) {
	streams := splitShards(t, testkit.Events(t, "testdata/dup.jsonl"), 4, nil)
	streams[1] = streams[1][:len(streams[1])-1] // killed: no end line
	kept := 0
	for _, ev := range streams[2] {
		if ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseSpawn {
			kept++
		}
	}
	srcs := sources(t, streams)
	runs, err := report.Merge([]report.Source{srcs[3], srcs[1], srcs[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := runs[0].Summary
	want := &report.ShardInfo{Count: 4, Present: []int{0, 1, 3}, Missing: []int{2}, Unfinished: []int{1}}
	if !reflect.DeepEqual(s.Shards, want) {
		t.Errorf("shards %+v, want %+v", s.Shards, want)
	}
	if s.Attempts != 25-kept {
		t.Errorf("%d attempts, want %d", s.Attempts, 25-kept)
	}
	if s.EndReason != report.EndIncomplete || !strings.Contains(s.EndError, "missing: 2") || !strings.Contains(s.EndError, "unfinished: 1") {
		t.Errorf("end %q %q", s.EndReason, s.EndError)
	}
	joined := strings.Join(s.Anomalies, "\n")
	if !strings.Contains(joined, "shards 2 of 4 missing") || !strings.Contains(joined, "shards 1 of 4 unfinished") {
		t.Errorf("anomalies do not name the shards:\n%s", joined)
	}
	if got := runs[0].Sources; !reflect.DeepEqual(got, []string{"shard0", "shard1", "shard3"}) {
		t.Errorf("sources %q", got)
	}
}

func TestMergeSeparatesRunsAndRefusesDoubles(t *testing.T) {
	evs := testkit.Events(t, "testdata/dup.jsonl")
	other := testkit.Events(t, "testdata/smoke.jsonl")
	shards := sources(t, splitShards(t, evs, 2, nil))
	runs, err := report.Merge([]report.Source{shards[0], sources(t, [][]schema.Event{other})[0], shards[1]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != evs[0].Run.ID || runs[1].ID != other[0].Run.ID {
		t.Fatalf("runs %+v", runs)
	}
	if runs[1].Summary.Shards != nil || runs[0].Summary.Attempts != 25 {
		t.Errorf("one-process run got shards %+v; sharded run %d attempts", runs[1].Summary.Shards, runs[0].Summary.Attempts)
	}

	twice := sources(t, splitShards(t, evs, 2, nil))
	again := sources(t, splitShards(t, evs, 2, nil))
	if _, err := report.Merge([]report.Source{twice[0], twice[1], again[1]}, nil); err == nil || !strings.Contains(err.Error(), "shard 1 is also in") {
		t.Errorf("a shard given twice: %v", err)
	}
	a, b := sources(t, splitShards(t, evs, 2, nil)), sources(t, splitShards(t, evs, 3, nil))
	if _, err := report.Merge([]report.Source{a[0], b[1]}, nil); err == nil || !strings.Contains(err.Error(), "says 3 shards") {
		t.Errorf("shard counts disagree: %v", err)
	}
	// Two runs that share a --run-id but not a scenario are not one run.
	for _, change := range []func(*schema.ScenarioInfo){
		func(s *schema.ScenarioInfo) { s.Name = "other" },
		func(s *schema.ScenarioInfo) { s.Duration *= 2 },
		func(s *schema.ScenarioInfo) {
			s.Groups = append([]schema.GroupInfo(nil), s.Groups...)
			s.Groups[0].Count++
		},
	} {
		split := splitShards(t, evs, 2, nil)
		h := *split[1][0].Run
		change(&h.Scenario)
		h.Scenario.Source = "elsewhere.yaml"
		split[1][0].Run = &h
		ss := sources(t, split)
		if _, err := report.Merge(ss, nil); err == nil || !strings.Contains(err.Error(), "two runs share one --run-id") || strings.Contains(err.Error(), "\n") {
			t.Errorf("different scenarios under one id: %v", err)
		}
	}
	moved := splitShards(t, evs, 2, nil)
	h := *moved[1][0].Run
	h.Scenario.Source = "/config/elsewhere.yaml"
	moved[1][0].Run = &h
	if _, err := report.Merge(sources(t, moved), nil); err != nil {
		t.Errorf("one scenario read from two paths: %v", err)
	}
	if _, err := report.Merge([]report.Source{{Name: "e", R: strings.NewReader("")}}, nil); err == nil {
		t.Error("an empty stream merged")
	}
	if _, err := report.Merge([]report.Source{{Name: "h", R: strings.NewReader(`{"type":"end","t":"` + time.Now().Format(time.RFC3339) + `"}` + "\n")}}, nil); err == nil || !strings.Contains(err.Error(), "run header") {
		t.Errorf("a stream without header: %v", err)
	}
}

// A header's shard count sizes nothing before it is checked: a file that
// claims a billion shards is refused, and a run of many shards with one
// present names the missing ones as ranges, not one by one.
func TestMergeBoundsClaimedShards(t *testing.T) {
	evs := testkit.Events(t, "testdata/smoke.jsonl")
	claim := func(shards int) report.Source {
		h := *evs[0].Run
		h.Shards = shards
		cp := append([]schema.Event{{Type: schema.TypeRun, Time: evs[0].Time, Run: &h}}, evs[1:]...)
		return sources(t, [][]schema.Event{cp})[0]
	}
	for _, n := range []int{report.MaxShards + 1, 1000000000} {
		if _, err := report.Merge([]report.Source{claim(n)}, nil); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("header claiming %d shards: %v", n, err)
		}
	}
	runs, err := report.Merge([]report.Source{claim(report.MaxShards)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := runs[0].Summary
	want := fmt.Sprintf("shards missing: 1-%d", report.MaxShards-1)
	if !strings.Contains(s.EndError, want) || len(s.EndError) > 200 {
		t.Errorf("end error %.300q, want %q", s.EndError, want)
	}
	for _, a := range s.Anomalies {
		if len(a) > 200 {
			t.Errorf("anomaly of %d bytes: %.200q", len(a), a)
		}
	}
}

// endless is a reader of one line that never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// A hook log line longer than any rtmpload writes is refused once it passes
// the limit, not read whole (a 100 MB line took 414 MB).
func TestReadHookLogCapsLines(t *testing.T) {
	r := &endless{}
	_, err := report.ReadHookLog(io.MultiReader(strings.NewReader(`{"type":"call"}`+"\n"), r))
	if err == nil || !strings.Contains(err.Error(), "hook log line 2 is longer than") {
		t.Fatalf("err %v", err)
	}
	if r.n > 2*schema.MaxLine {
		t.Errorf("read %d bytes of one line", r.n)
	}
}
