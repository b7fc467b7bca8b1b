package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

// TestTakeoverNotDuplicate: the embedded server in takeover mode (MediaMTX's
// way) accepts the rival at once and closes the owner after the rival's
// first 2 s of media, its API listing the owner alone meanwhile. The owner
// is dropped with evidence naming the rival, the contest is a takeover, and
// no duplicate_accepted is raised (a rule that allowed 1 s between the
// rival's acceptance and the owner's close called MediaMTX's 2.2 s two live
// publishers).
func TestTakeoverNotDuplicate(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: takeover
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: owner, count: 1, name: "cam"}
  - {group: rival, count: 1, name: "cam", start: 3s}
`)
	s := runScenario(t, sc, Options{Takeover: true}).Summary
	if s.Outcomes[schema.OutcomeOK] != 1 || s.Outcomes[schema.OutcomeDropped] != 1 {
		t.Fatalf("outcomes %v, want the owner dropped and the rival ok; failures %+v", s.Outcomes, s.Failures)
	}
	if len(s.Anomalies) != 0 {
		t.Errorf("a takeover is no duplicate: anomalies %v", s.Anomalies)
	}
	if len(s.Contests) != 1 || !s.Contests[0].Takeover || s.Contests[0].TwoLive {
		t.Fatalf("contest should be a takeover: %+v", s.Contests)
	}
	c := s.Contests[0]
	if c.Attempts[0].TakenOverBy != c.Attempts[1].ID {
		t.Errorf("owner %+v should be taken over by %s", c.Attempts[0], c.Attempts[1].ID)
	}
	if len(s.Failures) != 1 || !strings.Contains(s.Failures[0].Evidence, "taken over by "+c.Attempts[1].ID) {
		t.Fatalf("the dropped owner's evidence should name the rival: %+v", s.Failures)
	}
	var ms int
	if _, err := fmt.Sscanf(s.Failures[0].Evidence[strings.Index(s.Failures[0].Evidence, "closed this one "):], "closed this one %d ms later", &ms); err != nil || ms < 2000 {
		t.Errorf("the owner was closed %d ms after the rival's acceptance (%v), want after the rival's first 2 s of media: %s", ms, err, s.Failures[0].Evidence)
	}
}
