package runner

import (
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/player"
	"github.com/rtmpload/rtmpload/report"
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

func TestViewerURLs(t *testing.T) {
	if err := checkFLV(Options{FLV: "rtmp://x:1"}); err == nil || !strings.Contains(err.Error(), "want http://host:port") {
		t.Errorf("checkFLV(rtmp://) = %v", err)
	}
	if err := checkFLV(Options{FLV: "http://127.0.0.1:8080"}); err != nil {
		t.Error(err)
	}
	v := newViewers(&target{addr: "127.0.0.1:1935", app: "live", query: "token=a"}, Options{FLV: "http://127.0.0.1:8080/"})
	for _, c := range []struct{ proto, want string }{
		{scenarios.ViewRTMP, "rtmp://127.0.0.1:1935/live/cam%201?token=a&rtmpload=r-v1"},
		{scenarios.ViewHTTPFLV, "http://127.0.0.1:8080/live/cam%201.flv?token=a&rtmpload=r-v1"},
	} {
		if got, err := v.playURL(scenarios.ViewerSlot{Stream: "cam 1", Protocol: c.proto}, "r-v1"); err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.proto, got, err, c.want)
		}
	}
	v = newViewers(&target{addr: "127.0.0.1:1935", app: "live"}, Options{})
	if _, err := v.playURL(scenarios.ViewerSlot{Stream: "c", Protocol: scenarios.ViewHTTPFLV}, "r-v1"); err == nil {
		t.Error("an http-flv viewer without an HTTP-FLV address got a URL")
	}
}

// TestViewEndingsAreSchemaWords: the runner writes player's endings as they
// are; the report reads them as schema's words.
func TestViewEndingsAreSchemaWords(t *testing.T) {
	for e, w := range map[player.Ending]string{
		player.EndHeld: schema.ViewHeld, player.EndUnreachable: schema.ViewUnreachable, player.EndSetupTimeout: schema.ViewSetupTimeout,
		player.EndRefused: schema.ViewRefused, player.EndClosedInSetup: schema.ViewClosedInSetup,
		player.EndClosedBeforeMedia: schema.ViewClosedBeforeMedia, player.EndSilent: schema.ViewSilent,
		player.EndClosed: schema.ViewClosed, player.EndReset: schema.ViewReset, player.EndError: schema.ViewError,
	} {
		if string(e) != w {
			t.Errorf("player's %q is schema's %q", e, w)
		}
	}
}

func TestViewerSlotsShard(t *testing.T) {
	sc := scenario(t, `
duration: 10s
publishers:
  - {group: cams, count: 1, name: c}
viewers:
  - {group: v, count: 7, watch: c}
`)
	seen := map[int]int{}
	for i := range 3 {
		p := &plan{sc: sc, o: Options{Shard: i, Shards: 3}}
		for _, s := range p.viewerSlots() {
			seen[s.Seq]++
			if s.Seq%3 != i {
				t.Errorf("shard %d got viewer %d", i, s.Seq)
			}
		}
	}
	if len(seen) != 7 {
		t.Errorf("the shards hold viewers %v, want each of 7 once", seen)
	}
	for seq, n := range seen {
		if n != 1 {
			t.Errorf("viewer %d in %d shards", seq, n)
		}
	}
}

// TestViewersConformance plays the embedded server and SRS 7.0.18 (when
// RTMPLOAD_SRS names one) over RTMP and HTTP-FLV, behind the built-in
// hook's on_play: every play's call names it. The callback is down from 4 s
// to 6 s: the plays that start then are refused, hook_unreachable, while the
// publishers go on. Each play has the same outcome on both servers. The
// publishers are native: the sampled viewer's latency from publisher to
// viewer is measured.
func TestViewersConformance(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: viewers-conformance
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 4s, for: 2s, kind: down}]
publishers:
  - {group: cams, count: 2, name: "ev-{i}", engine: native}
viewers:
  - {group: rt, count: 2, watch: "ev-{i%2}", start: 2s}
  - {group: web, count: 2, watch: "ev-{i%2}", protocol: http-flv, start: 2s}
  - {group: lost, count: 1, watch: "nobody", protocol: http-flv, start: 2s}
  - {group: late, count: 2, watch: "ev-0", start: 4500ms}
  - {group: late-web, count: 1, watch: "ev-1", protocol: http-flv, start: 4500ms}
`)
	servers := map[string]ServerSpec{"embedded": {}}
	if bin, _ := testkit.SRSBinary(); bin != "" {
		servers["srs"] = ServerSpec{Kind: ServerSRS, Binary: bin}
	}
	outcomes := map[string]map[int]schema.Outcome{}
	var mu sync.Mutex
	// The servers' runs in parallel; the group returns when both are done.
	t.Run("servers", func(t *testing.T) {
		for name, spec := range servers {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				res := runScenario(t, sc, Options{Server: spec})
				plays := map[string]int{}
				for _, ev := range testkit.Events(t, res.ResultsPath) {
					if ev.Type == schema.TypeHook && ev.Hook.Action == schema.ActionPlay {
						plays[ev.Hook.Attempt]++
					}
				}
				v := res.Summary.Viewers
				if v == nil || v.Plays != 8 || v.Outcomes[schema.OutcomeOK] != 4 || v.Outcomes[schema.OutcomeNoSuchStream] != 1 ||
					v.Outcomes[schema.OutcomeHookUnreachable] != 3 || v.ByState[schema.OutcomeHookUnreachable][schema.StateDown] != 3 ||
					res.Summary.Outcomes[schema.OutcomeOK] != 2 {
					var b strings.Builder
					_ = report.Table(&b, res.Summary)
					t.Errorf("%s: viewer outcomes %+v\n%s", name, v, b.String())
					return
				}
				if len(plays) != 5 {
					t.Errorf("%s: on_play calls by play %v, want one for each of the 5 that started while the callback was up", name, plays)
				}
				for _, g := range v.Groups {
					if (g.Name == "rt" || g.Name == "web") && (g.BitrateKbps < 150 || g.BitrateKbps > 1000) {
						t.Errorf("%s: %s: %.0f kbit/s", name, g.Name, g.BitrateKbps)
					}
				}
				// The first viewer is in the latency sample, its publisher native.
				var lat *report.LatencyRow
				for i, l := range v.Latency {
					if l.Metric == report.MetricPublisherToViewer && l.Group == "all" {
						lat = &v.Latency[i]
					}
				}
				if lat == nil || lat.Count < 50 || lat.P50 <= 0 || lat.P99 > 1000 {
					t.Errorf("%s: publisher_to_viewer %+v, want about 4 s of frames under a second", name, lat)
				} else {
					t.Logf("%s: publisher_to_viewer n %d p50 %.1f ms p99 %.1f ms", name, lat.Count, lat.P50, lat.P99)
				}
				byPlay := map[int]schema.Outcome{}
				for _, f := range v.Failures {
					byPlay[f.Slot] = f.Outcome
				}
				mu.Lock()
				outcomes[name] = byPlay
				mu.Unlock()
			})
		}
	})
	if len(outcomes) == 2 && !maps.Equal(outcomes["embedded"], outcomes["srs"]) {
		t.Errorf("plays that were not ok, by slot: embedded %v, SRS %v", outcomes["embedded"], outcomes["srs"])
	}
}
