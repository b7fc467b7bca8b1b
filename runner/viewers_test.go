package runner

import (
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// TestViewersOnNginx runs publishers and viewers against nginx-rtmp: each
// viewer's play is one view event with its timeline; the viewers of
// published names play to their stop, the one of a name nobody publishes
// gets nothing.
func TestViewersOnNginx(t *testing.T) {
	testkit.Nginx(t, managed.FindModule)
	testkit.FFmpeg(t)
	t.Parallel()
	res := runScenario(t, scenario(t, `
name: ng-viewers
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: cams, count: 2, name: "vw-{i}"}
viewers:
  - {group: watchers, count: 4, watch: "vw-{i%2}", start: 2s, ramp: 1s}
  - {group: lost, count: 1, watch: "nobody", start: 2s}
  - {group: witness, count: 1, watch: "vw-0", start: 2s, engine: ffmpeg}
`), Options{Server: ServerSpec{Kind: ServerNginx}})
	var views []*schema.ViewEvent
	for _, ev := range testkit.Events(t, res.ResultsPath) {
		if ev.Type == schema.TypeView {
			views = append(views, ev.View)
		}
	}
	if len(views) != 6 {
		t.Fatalf("%d view events, want 6", len(views))
	}
	ids := map[string]bool{}
	for _, v := range views {
		ids[v.ID] = true
		if !strings.Contains(v.URL, "rtmpload="+v.ID) || v.Protocol != scenarios.ViewRTMP || (v.Engine == scenarios.ViewFFmpeg) != (v.Group == "witness") {
			t.Errorf("%s: url %s protocol %s engine %s", v.ID, v.URL, v.Protocol, v.Engine)
		}
		t.Logf("%s %s: %s; play start %v, first keyframe %v, %d frames, %d stalls, max lag %v",
			v.ID, v.Stream, v.Ending, v.PlayStart, v.FirstKeyframe, v.VideoFrames, v.Stalls, v.MaxLag)
		if v.Ending != schema.ViewHeld {
			t.Errorf("%s: ending %s (%s), want held to the run's end", v.ID, v.Ending, v.Message)
		}
		switch v.Group {
		case "watchers", "witness":
			if v.FirstFrame == 0 || v.VideoFrames < 50 || (v.Engine == scenarios.ViewNative && (v.FirstKeyframe == 0 || v.MediaBytes == 0)) {
				t.Errorf("%s: first keyframe %v, %d frames, want 4 s and more of media", v.ID, v.FirstKeyframe, v.VideoFrames)
			}
		case "lost":
			if v.PlayStart == 0 || v.FirstFrame != 0 {
				t.Errorf("%s: play start %v, first frame %v; want a started play and no media", v.ID, v.PlayStart, v.FirstFrame)
			}
		}
	}
	if len(ids) != 6 {
		t.Errorf("ids %v, want 6 distinct", ids)
	}
	v := res.Summary.Viewers
	if v == nil || v.Plays != 6 || v.Outcomes[schema.OutcomeOK] != 5 || v.Outcomes[schema.OutcomeNoSuchStream] != 1 {
		t.Errorf("viewer summary %+v", v)
	}
}
