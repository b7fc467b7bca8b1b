package report

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// An API that answered nothing usable is said to have done so: its
// unanswered snapshots do not "agree with rtmpload's outcomes".
func TestServerViewWithoutUsableAnswers(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "g", Count: 1})
	s.attempt("r1-1", "g", "cam", 0, 200, 6000, schema.ClassStopped, 255, "")
	for ms := 0; ms < 5000; ms += 1000 {
		s.evs = append(s.evs, schema.Event{Type: schema.TypeSnap, Time: at(ms), Snapshot: &schema.Snapshot{Err: "srsapi: GET /api/v1/streams: invalid character '<' looking for beginning of value"}})
	}
	s.end(6000, schema.EndNormal)
	sum := s.summary(t)
	var out bytes.Buffer
	if err := TableWith(&out, sum, Extras{}); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if strings.Contains(line, "agrees") || !strings.Contains(line, "no usable answer (5 snapshots, all unanswered: invalid character") {
		t.Errorf("server view line:\n%s", line)
	}
	if sum.Server.FirstError == "" {
		t.Error("report.json does not say why the API answered nothing")
	}
}

// Publishers stopped while a server sat on their handshake were not
// refused: the timeline does not count them so.
func TestTimelineStalledIsNotRefused(t *testing.T) {
	f, err := os.Open("testdata/classify/handshake-stall.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl := NewTimeline()
	if err := schema.Read(f, tl.Add); err != nil {
		t.Fatal(err)
	}
	started, refused := 0, 0
	for _, b := range tl.Buckets() {
		started += b.Started
		refused += b.Refused
	}
	if started != 2 || refused != 0 {
		t.Errorf("%d started, %d refused; want 2 and 0", started, refused)
	}
}
