package report

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// TestFanoutSummary: two outputs of one tee process, accepted 0.3 s apart;
// media comes once both are open, so the first waited 0.3 s and the second
// none. A lone publisher beside them is not counted.
func TestFanoutSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	b := NewBuilder()
	add := func(ev schema.Event) {
		if err := b.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	add(schema.Event{Type: schema.TypeRun, Time: t0, Run: &schema.RunHeader{Schema: schema.Schema, ID: "r", Started: t0}})
	for i, id := range []string{"r-1", "r-2"} {
		add(schema.Event{Type: schema.TypeAttempt, Time: at(0), Attempt: &schema.AttemptEvent{ID: id, Phase: schema.PhaseSpawn, Group: "g", Stream: id, PID: 7, Process: "r-1", Output: i + 1, Outputs: 2}})
		add(schema.Event{Type: schema.TypeWire, Time: at(5000), Wire: &schema.WireConn{Attempt: id, Stream: id, Marks: []schema.WireMark{{Phase: "on_status", At: at(100 + 300*i), Detail: "NetStream.Publish.Start"}}}})
		add(schema.Event{Type: schema.TypeAttempt, Time: at(400), Attempt: &schema.AttemptEvent{ID: id, Phase: schema.PhasePublishing, Group: "g", Stream: id}})
		add(schema.Event{Type: schema.TypeAttempt, Time: at(5000), Attempt: &schema.AttemptEvent{ID: id, Phase: schema.PhaseExit, Group: "g", Stream: id, Class: "stopped", Stopped: true}})
	}
	add(schema.Event{Type: schema.TypeAttempt, Time: at(0), Attempt: &schema.AttemptEvent{ID: "r-3", Phase: schema.PhaseSpawn, Group: "g", Stream: "x", PID: 8}})
	add(schema.Event{Type: schema.TypeEnd, Time: at(6000), Reason: schema.EndNormal})
	s := b.Summary()
	f := s.Fanout
	if f == nil || f.Processes != 1 || f.Outputs != 2 || f.MaxOutputs != 2 || f.Waits != 2 || f.MediaWaitMaxMs != 300 {
		t.Fatalf("fanout %+v, want 1 process of 2 outputs, the longest wait 300 ms", f)
	}
	var out strings.Builder
	if err := Table(&out, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fan-out: 2 publishers as outputs of 1 ffmpeg processes") {
		t.Errorf("table lacks the fan-out line:\n%s", out.String())
	}
}
