package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// wire adds the tap's record of an attempt: handshake at spawn+100 ms, the
// publish command at +110, the verdict (Publish.Start, or the server's close
// when refused) wait ms later, first media 40 ms after a start.
func (s *stream) wire(attempt, name string, spawn, wait int, refused bool) {
	m := func(phase string, ms int, detail string) schema.WireMark {
		return schema.WireMark{Phase: phase, At: at(spawn + ms), Detail: detail}
	}
	marks := []schema.WireMark{m(schema.WireTCPConnect, 100, ""), m(schema.WireC0C1, 100, ""), m(schema.WireS0S1S2, 101, ""),
		m(schema.WireConnect, 102, ""), m(schema.WireConnectResult, 103, "NetConnection.Connect.Success"), m(schema.WirePublish, 110, "")}
	if refused {
		marks = append(marks, m(schema.WireServerClose, 110+wait, "EOF"))
	} else {
		marks = append(marks, m(schema.WireOnStatus, 110+wait, schema.PublishStartCode),
			m(schema.WireFirstVideo, 150+wait, ""), m(schema.WireFirstAudio, 150+wait, ""), m(schema.WireClientClose, 9000, "EOF"))
	}
	s.evs = append(s.evs, schema.Event{Type: schema.TypeWire, Time: at(spawn + 9000), Wire: &schema.WireConn{Attempt: attempt, Stream: name, Marks: marks}})
}

func TestSlowestAndTimelines(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 12})
	// Twelve attempts waiting 1..12 ms for their verdict (attempt 12 the
	// longest), attempt 6 refused; two more tie at 5 ms.
	for i := 1; i <= 12; i++ {
		id, name := fmt.Sprintf("r1-%d", i), fmt.Sprintf("cam-%02d", i)
		spawn := 10 * i
		refused := i == 6
		exit, class, code, msg := 9000, schema.ClassStopped, 255, ""
		publishing := spawn + 300
		if refused {
			exit, class, code, msg, publishing = spawn+400, schema.ClassFailed, 1, name+": Input/output error", -1
		}
		s.attempt(id, "cams", name, spawn, publishing, exit, class, code, msg)
		wait := i
		if i == 3 {
			wait = 5
		}
		// The hook is asked as the publish command arrives and answers 1 ms
		// before the server's verdict.
		s.hook(id, name, spawn+110, spawn+110+wait-1, 200, map[bool]string{false: "allow", true: "deny"}[refused])
		s.wire(id, name, spawn, wait, refused)
	}
	s.end(10000, schema.EndNormal)
	sum := s.summary(t)

	var got []string
	for _, sl := range sum.Slowest {
		got = append(got, fmt.Sprintf("%s:%.0f", shortID(sl.ID), sl.MS))
		if sl.Metric != schema.MetricHookWait {
			t.Errorf("%s ranked by %s, want %s", sl.ID, sl.Metric, schema.MetricHookWait)
		}
	}
	// Ten kept, longest first; of the equal waits (#3 and #5) the earlier start first.
	want := []string{"#12:12", "#11:11", "#10:10", "#9:9", "#8:8", "#7:7", "#6:6", "#3:5", "#5:5", "#4:4"}
	if !slices.Equal(got, want) {
		t.Fatalf("slowest %v, want %v", got, want)
	}
	ok := sum.Slowest[0]
	var phases []string
	for i, m := range ok.Timeline {
		phases = append(phases, m.Phase)
		if i > 0 && m.MS < ok.Timeline[i-1].MS {
			t.Errorf("timeline out of order at %d: %+v", i, ok.Timeline)
		}
	}
	// Until the first media only, the hook's call inside the wait.
	wantPhases := "spawn tcp_connect c0c1 s0s1s2 connect connect_result publish hook_arrived hook_answered on_status first_video first_audio"
	if strings.Join(phases, " ") != wantPhases {
		t.Errorf("slowest timeline %q, want %q", strings.Join(phases, " "), wantPhases)
	}
	if last := ok.Timeline[len(ok.Timeline)-1]; last.MS != 162 {
		t.Errorf("timeline ends at %.1f ms, want 162 (first media)", last.MS)
	}

	if len(sum.Failures) != 1 || sum.Failures[0].ID != "r1-6" {
		t.Fatalf("failures %+v, want only r1-6", sum.Failures)
	}
	ft := sum.Failures[0].Timeline
	if len(ft) == 0 || ft[len(ft)-1].Phase != PhaseMarkExit || ft[len(ft)-1].MS != 400 || ft[len(ft)-1].Detail != "failed 1" {
		t.Errorf("failure timeline should end with its exit at 400 ms (failed 1): %+v", ft)
	}
	var sb strings.Builder
	if err := HTML(&sb, sum, Extras{}); err != nil {
		t.Fatal(err)
	}
	html := sb.String()
	for _, want := range []string{`id="slowest"`, `<svg class="phases"`, "waiting for the verdict: publish to on_status, 12.0 ms", `id="availability"`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestLatencyBuckets(t *testing.T) {
	hs := newHistograms()
	for _, d := range []time.Duration{50 * time.Microsecond, 150 * time.Microsecond, 180 * time.Microsecond,
		time.Millisecond, 3 * time.Millisecond, 31 * time.Second, 40 * time.Minute} {
		hs.record(schema.MetricHookWait, "wire", "all", d)
	}
	rows := hs.rows()
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	var got []string
	var n int64
	for _, b := range rows[0].Histogram {
		got = append(got, fmt.Sprintf("%g:%d", b.LeMS, b.Count))
		n += b.Count
	}
	// From the first bucket with a sample to the last; a bound is inclusive
	// (1 ms is in ≤1); past 50 s is the open bucket (0).
	want := "0.1:1 0.2:2 0.5:0 1:1 2:0 5:1 10:0 20:0 50:0 100:0 200:0 500:0 1000:0 2000:0 5000:0 10000:0 20000:0 50000:1 0:1"
	if strings.Join(got, " ") != want {
		t.Errorf("buckets %s\nwant    %s", strings.Join(got, " "), want)
	}
	if n != rows[0].Count {
		t.Errorf("buckets hold %d samples, the row %d", n, rows[0].Count)
	}
	for _, c := range []struct {
		b           LatencyBucket
		label, span string
	}{
		{LatencyBucket{LeMS: 0.1}, "≤0.1", "in (0, 0.1] ms"},
		{LatencyBucket{LeMS: 2}, "≤2", "in (1, 2] ms"},
		{LatencyBucket{LeMS: 0}, ">50000", "over 50000 ms"},
	} {
		if label, span := bucketSpan(c.b); label != c.label || span != c.span {
			t.Errorf("bucket %g: %q %q, want %q %q", c.b.LeMS, label, span, c.label, c.span)
		}
	}
}

func TestTimelineStarved(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 2})
	s.attempt("r1-1", "cams", "a", 0, 500, 9000, schema.ClassStopped, 255, "")
	s.attempt("r1-2", "cams", "b", 0, 500, 7000, schema.ClassFailed, 1, "")
	phase := func(id string, ms int, p string) {
		s.evs = append(s.evs, schema.Event{Type: schema.TypeAttempt, Time: at(ms), Attempt: &schema.AttemptEvent{ID: id, Group: "cams", Stream: id, Phase: p}})
	}
	phase("r1-1", 2000, schema.PhaseStarved)
	phase("r1-2", 3500, schema.PhaseStarved)
	phase("r1-1", 5000, schema.PhaseRecovered)
	s.end(10000, schema.EndNormal)
	slices.SortStableFunc(s.evs, func(x, y schema.Event) int { return x.Time.Compare(y.Time) })

	tl := NewTimeline()
	for _, ev := range s.evs {
		if err := tl.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for _, b := range tl.Buckets() {
		got = append(got, b.Starved)
	}
	// Most starved at once per second: a from 2 s, b from 3.5 s, a back at
	// 5 s (that second still saw both), b gone at 7 s.
	want := []int{0, 0, 1, 2, 2, 2, 1, 1, 0, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("starved per bucket %v, want %v", got, want)
	}
	var sb strings.Builder
	if err := timelineTable(&sb, s.summary(t), tl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "starved") {
		t.Errorf("the timeline table should have a starved column:\n%s", sb.String())
	}
}

// The failures vs callback availability table is in every format a person
// reads: the terminal, Markdown and HTML.
func TestAvailabilityTableInEveryFormat(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 2})
	state := func(ms int, st schema.CallbackState) {
		s.evs = append(s.evs, schema.Event{Type: schema.TypeState, Time: at(ms), State: &schema.StateChange{Source: "hook", State: st}})
	}
	state(0, schema.StateUp)
	s.attempt("r1-1", "cams", "a", 100, 400, 9000, schema.ClassStopped, 255, "")
	s.hook("r1-1", "a", 300, 301, 200, "allow")
	state(1000, schema.StateDown)
	s.attempt("r1-2", "cams", "b", 1100, -1, 1500, schema.ClassFailed, 1, "rtmp://x/live/b: Input/output error")
	s.end(10000, schema.EndNormal)
	sum := s.summary(t)
	if sum.ByState[schema.OutcomeOK][schema.StateUp] != 1 || sum.ByState[schema.OutcomeHookUnreachable][schema.StateDown] != 1 {
		t.Fatalf("by state %v", sum.ByState)
	}
	for name, render := range map[string]func(*strings.Builder) error{
		"table":    func(b *strings.Builder) error { return Table(b, sum) },
		"markdown": func(b *strings.Builder) error { return Markdown(b, sum, Extras{}) },
		"html":     func(b *strings.Builder) error { return HTML(b, sum, Extras{}) },
	} {
		var b strings.Builder
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, "allback availability") || !strings.Contains(out, string(schema.OutcomeHookUnreachable)) {
			t.Errorf("%s has no failures vs callback availability table:\n%s", name, out)
		}
	}
}
