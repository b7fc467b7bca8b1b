package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// publishedOnWire adds the tap's record of an accepted connection: the
// publish command at ms, Publish.Start 1 ms later, first media 40 ms after
// that, then the server's close at closed (-1: none, the publisher closed
// at end).
func (s *stream) publishedOnWire(attempt, name string, ms, closed, end int) {
	m := func(phase string, at_ int, detail string) schema.WireMark {
		return schema.WireMark{Phase: phase, At: at(at_), Detail: detail}
	}
	marks := []schema.WireMark{m(schema.WireTCPConnect, ms-10, ""), m(schema.WireC0C1, ms-10, ""), m(schema.WireS0S1S2, ms-9, ""),
		m(schema.WireConnect, ms-8, ""), m(schema.WireConnectResult, ms-7, "NetConnection.Connect.Success"),
		m(schema.WirePublish, ms, ""), m(schema.WireOnStatus, ms+1, schema.PublishStartCode),
		m(schema.WireFirstVideo, ms+41, ""), m(schema.WireFirstAudio, ms+41, "")}
	if closed >= 0 {
		marks = append(marks, m(schema.WireServerClose, closed, "EOF"))
	} else {
		marks = append(marks, m(schema.WireClientClose, end, "EOF"))
	}
	s.evs = append(s.evs, schema.Event{Type: schema.TypeWire, Time: at(end), Wire: &schema.WireConn{Attempt: attempt, Stream: name, Marks: marks}})
}

// handover is a name's owner accepted at 1 s and a rival accepted at 5 s;
// the server closes the owner delay ms after the rival's Publish.Start
// (-1: never; rtmpload stops both at 12 s). The server's API is read every
// second (apiEvery 0: never), listing the owner alone until its close, the
// rival alone after, and both from bothFrom ms on (-1: never). With tap
// false the run had no tap: ffmpeg's progress and exits are all there is.
type handover struct {
	delay, bothFrom, apiEvery int
	tap                       bool
}

func (h handover) summary(t *testing.T) *Summary {
	t.Helper()
	var s stream
	s.header(schema.GroupInfo{Name: "owner", Count: 1}, schema.GroupInfo{Name: "rival", Count: 1})
	closed := -1
	if h.delay >= 0 {
		closed = 5001 + h.delay
	}
	if closed >= 0 {
		// ffmpeg notices the close at its next write.
		s.attempt("r1-1", "owner", "cam", 0, 1100, closed+40, schema.ClassFailed, 1, "Error writing trailer: Broken pipe")
	} else {
		s.attempt("r1-1", "owner", "cam", 0, 1100, 12000, schema.ClassStopped, 255, "")
	}
	s.attempt("r1-2", "rival", "cam", 4000, 5100, 12000, schema.ClassStopped, 255, "")
	if h.tap {
		s.publishedOnWire("r1-1", "cam", 1000, closed, 12000)
		s.publishedOnWire("r1-2", "cam", 5000, -1, 12000)
	}
	for ms := h.apiEvery; h.apiEvery > 0 && ms < 12000; ms += h.apiEvery {
		var pubs []string
		switch {
		case h.bothFrom >= 0 && ms >= h.bothFrom && (closed < 0 || ms < closed):
			pubs = []string{"1", "2"}
		case ms >= 1000 && (closed < 0 || ms < closed):
			pubs = []string{"1"}
		case closed >= 0 && ms >= closed:
			pubs = []string{"2"}
		}
		s.snap(ms, "cam", pubs...)
	}
	s.end(12500, schema.EndNormal)
	return s.summary(t)
}

// TestTakeoverAfterTheNewerWasAccepted: the server closed the older
// publisher 0.1 s, 2.2 s (MediaMTX reads about 2 s of the newer's media
// first) or 5 s after the newer's Publish.Start, and its API never listed
// both: a takeover, whatever the delay, with the API read or not, with the
// tap or without it. Before, the rule allowed 1 s and called MediaMTX's
// 2.2 s two live publishers.
func TestTakeoverAfterTheNewerWasAccepted(t *testing.T) {
	for _, delay := range []int{100, 2200, 5000} {
		for _, h := range []handover{
			{delay: delay, bothFrom: -1, apiEvery: 1000, tap: true},
			{delay: delay, bothFrom: -1, tap: true}, // no --api
			{delay: delay, bothFrom: -1, apiEvery: 200},
		} {
			t.Run(fmt.Sprintf("%dms/api%dms/tap=%v", delay, h.apiEvery, h.tap), func(t *testing.T) {
				sum := h.summary(t)
				if len(sum.Contests) != 1 {
					t.Fatalf("contests %+v", sum.Contests)
				}
				c := sum.Contests[0]
				if !c.Takeover || c.TwoLive || c.Attempts[0].TakenOverBy != "r1-2" || len(sum.Anomalies) != 0 {
					t.Errorf("want r1-1 taken over by r1-2 and no anomaly: contest %+v, anomalies %v", c, sum.Anomalies)
				}
				f := failureOf(t, sum, "r1-1")
				if f.Outcome != schema.OutcomeDropped || !strings.Contains(f.Evidence, "taken over by r1-2 (rival)") {
					t.Errorf("owner %s %q, want dropped, taken over by r1-2", f.Outcome, f.Evidence)
				}
			})
		}
	}
}

// TestTwoLiveNeedsTheServersWord: two live publishers only when an API
// snapshot taken after both were accepted lists both, or when both stayed
// live until rtmpload stopped them.
func TestTwoLiveNeedsTheServersWord(t *testing.T) {
	for _, h := range []handover{
		// Listed together 1 s after the newer's acceptance; the server
		// closed the older 2.2 s after it: two live, then a close.
		{delay: 2200, bothFrom: 6000, apiEvery: 1000, tap: true},
		{delay: 2200, bothFrom: 6000, apiEvery: 1000},
		// Never closed: both lived until rtmpload stopped them, whatever
		// the API said (here, the older alone: it is not read as a takeover).
		{delay: -1, bothFrom: -1, apiEvery: 1000, tap: true},
		{delay: -1, bothFrom: -1, tap: true},
		{delay: -1, bothFrom: -1},
	} {
		t.Run(fmt.Sprintf("close%dms/both%dms/api%dms/tap=%v", h.delay, h.bothFrom, h.apiEvery, h.tap), func(t *testing.T) {
			sum := h.summary(t)
			if len(sum.Contests) != 1 {
				t.Fatalf("contests %+v", sum.Contests)
			}
			if c := sum.Contests[0]; !c.TwoLive || c.Takeover {
				t.Errorf("want two live, no takeover: %+v", c)
			}
			if len(sum.Anomalies) == 0 || !strings.Contains(sum.Anomalies[0], "cam had two live publishers") {
				t.Errorf("anomalies %v, want cam's duplicate_accepted", sum.Anomalies)
			}
		})
	}
}
