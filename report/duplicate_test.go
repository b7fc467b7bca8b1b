package report

import (
	"io"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

func (s *stream) hookClient(attempt, client, name string, arrived, answered int, verdict string) {
	s.hook(attempt, name, arrived, answered, 200, verdict)
	s.evs[len(s.evs)-1].Hook.ClientID = client
}

// snap records one API snapshot listing a stream's publishing clients.
func (s *stream) snap(ms int, name string, publishers ...string) {
	snap := &schema.Snapshot{}
	if len(publishers) > 0 {
		snap.Streams = []schema.SnapStream{{Name: name, App: "live", Clients: len(publishers), Publishers: publishers}}
	}
	s.evs = append(s.evs, schema.Event{Type: schema.TypeSnap, Time: at(ms), Snapshot: snap})
}

// TestDuplicateNeedsAcceptance is SRS 7.0.18 refusing a rival 0.5 s after
// the owner with a 2 s hook: SRS lists the rival in its API while the
// rival's hook runs (two snapshots in a row show two publishers), then
// refuses it with StreamBusy. That is a stream_busy, not duplicate_accepted.
func TestDuplicateNeedsAcceptance(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "owner", Count: 1}, schema.GroupInfo{Name: "rival", Count: 1})
	s.snap(0, "race-0")
	s.hookClient("r1-1", "c1", "race-0", 100, 2100, "allow")
	s.attempt("r1-1", "owner", "race-0", 0, 2200, 9000, schema.ClassStopped, 255, "")
	s.snap(1000, "race-0", "c1")
	s.snap(2000, "race-0", "c1", "c2") // the rival listed, its hook running
	s.hookClient("r1-2", "c2", "race-0", 600, 2600, "allow")
	s.snap(2550, "race-0", "c1", "c2") // still running (SRS decides on the answer)
	s.attempt("r1-2", "rival", "race-0", 500, -1, 2900, schema.ClassFailed, 1, ioErr)
	s.snap(3000, "race-0", "c1")
	s.snap(4000, "race-0", "c1")
	s.end(9500, schema.EndNormal)

	sum := s.summary(t)
	if o := outcomes(sum)["r1-2"]; o != schema.OutcomeStreamBusy {
		t.Errorf("rival: %q, want %q", o, schema.OutcomeStreamBusy)
	}
	if len(sum.Anomalies) != 0 || len(sum.Server.Duplicates) != 0 {
		t.Errorf("a refused rival listed while its hook ran is no duplicate: anomalies %v, server duplicates %v",
			sum.Anomalies, sum.Server.Duplicates)
	}
	if len(sum.Contests) != 1 || sum.Contests[0].TwoLive || sum.Contests[0].ServerMax != 2 {
		t.Errorf("contest: %+v", sum.Contests)
	}
}

// TestDuplicateAcceptedByAPI is the real race as only the server's API shows
// it (no tap, and the second publisher's ffmpeg never printed progress): two
// publishers listed well after both hooks allowed them.
func TestDuplicateAcceptedByAPI(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "owner", Count: 1}, schema.GroupInfo{Name: "rival", Count: 1})
	s.hookClient("r1-1", "c1", "race-0", 100, 2100, "allow")
	s.attempt("r1-1", "owner", "race-0", 0, 2200, 9000, schema.ClassStopped, 255, "")
	s.hookClient("r1-2", "c2", "race-0", 600, 2600, "allow")
	s.attempt("r1-2", "rival", "race-0", 500, -1, 9000, schema.ClassStopped, 255, "")
	for ms := 1000; ms <= 8000; ms += 1000 {
		s.snap(ms, "race-0", "c1", "c2")
	}
	s.end(9500, schema.EndNormal)

	sum := s.summary(t)
	if len(sum.Server.Duplicates) != 1 || !strings.Contains(sum.Server.Duplicates[0], "race-0 (clients c1, c2)") {
		t.Errorf("server duplicates %v, want race-0 with c1 and c2", sum.Server.Duplicates)
	}
	if len(sum.Anomalies) != 1 || !strings.Contains(sum.Anomalies[0], string(schema.OutcomeDuplicateAccepted)) {
		t.Errorf("anomalies %v, want one duplicate_accepted", sum.Anomalies)
	}
	if len(sum.Contests) != 1 || !sum.Contests[0].TwoLive {
		t.Errorf("the API's two accepted publishers make the contest two-live (thresholds count those): %+v", sum.Contests)
	}
}

// TestTakeoverIsNotADuplicate is a server that lets the newest publisher
// take a name over (MediaMTX): the owner is closed as the rival is accepted.
// The contest names the takeover, the owner's evidence names the rival, and
// there is no duplicate_accepted. A pair that stayed live together is still
// the anomaly.
func TestTakeoverIsNotADuplicate(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "owners", Count: 2}, schema.GroupInfo{Name: "rivals", Count: 2})
	// "x": r1-3 takes x over; r1-1 ends 40 ms later on its own.
	s.hook("r1-1", "x", 10, 12, 200, "allow")
	s.attempt("r1-1", "owners", "x", 0, 150, 5140, schema.ClassFailed, 1, "Error writing trailer: Broken pipe")
	s.hook("r1-3", "x", 5010, 5100, 200, "allow")
	s.attempt("r1-3", "rivals", "x", 5000, 5200, 9000, schema.ClassStopped, 255, "")
	// "y": both live together for 4 s: two live.
	s.hook("r1-2", "y", 10, 12, 200, "allow")
	s.attempt("r1-2", "owners", "y", 0, 150, 9000, schema.ClassStopped, 255, "")
	s.hook("r1-4", "y", 5010, 5100, 200, "allow")
	s.attempt("r1-4", "rivals", "y", 5000, 5200, 9000, schema.ClassStopped, 255, "")
	s.end(9500, schema.EndNormal)

	sum := s.summary(t)
	if len(sum.Contests) != 2 {
		t.Fatalf("contests: %+v", sum.Contests)
	}
	x, y := sum.Contests[0], sum.Contests[1]
	if !x.Takeover || x.TwoLive || x.Attempts[0].TakenOverBy != "r1-3" {
		t.Errorf("contest x should be a takeover of r1-1 by r1-3: %+v", x)
	}
	if !y.TwoLive || y.Takeover {
		t.Errorf("contest y should be two live: %+v", y)
	}
	if len(sum.Anomalies) != 1 || !strings.Contains(sum.Anomalies[0], "y had two live") {
		t.Errorf("anomalies %v, want only y's", sum.Anomalies)
	}
	var owner Failure
	for _, f := range sum.Failures {
		if f.ID == "r1-1" {
			owner = f
		}
	}
	if owner.Outcome != schema.OutcomeDropped || !strings.Contains(owner.Evidence, "taken over by r1-3 (rivals)") {
		t.Errorf("owner: %+v", owner)
	}
	// Every format names it.
	renders := map[string]func(io.Writer) error{
		"table":    func(w io.Writer) error { return Table(w, sum) },
		"markdown": func(w io.Writer) error { return Markdown(w, sum, Extras{}) },
		"html":     func(w io.Writer) error { return HTML(w, sum, Extras{}) },
		"json":     func(w io.Writer) error { return JSON(w, sum) },
	}
	for format, render := range renders {
		var buf strings.Builder
		if err := render(&buf); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		want := []string{"TAKEOVER", "taken over by"}
		if format == "json" {
			want = []string{`"takeover": true`, `"taken_over_by": "r1-3"`}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s report lacks %q", format, w)
			}
		}
	}
}
