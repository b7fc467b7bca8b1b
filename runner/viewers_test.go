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
// hook's on_play: every play's call names it. Two scenarios, all four runs
// side by side (the publishers are native and cost next to nothing):
//
//   - viewers (a scaled copy of the built-in, with the callback down from
//     4 s to 6 s): the plays that start then are refused, hook_unreachable,
//     while the publishers go on; the sampled viewer's latency from
//     publisher to viewer is measured.
//   - play-hook-down (a scaled copy of the built-in): only the play side
//     is down from 3.5 s to 5.5 s, on_play calls dropped without an answer;
//     the plays that ask then are hook_unreachable with the play side
//     "down", every other play and every publish is ok.
//
// Each play has the same outcome on both servers.
func TestViewersConformance(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	cases := []struct {
		name  string
		sc    *scenarios.Scenario
		check func(t *testing.T, server string, res *Result, plays map[string]int)
	}{{
		name: "viewers",
		sc: scenario(t, `
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
`),
		check: func(t *testing.T, name string, res *Result, plays map[string]int) {
			v := res.Summary.Viewers
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
		},
	}, {
		name: "play-hook-down",
		sc: scenario(t, `
name: play-hook-down-conformance
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults: [{at: 3500ms, for: 2s, kind: down, action: play}]
publishers:
  - {group: cams, count: 2, name: "pd-{i}", engine: native}
viewers:
  - {group: rt, count: 3, watch: "pd-{i%2}", start: 2s, ramp: 6s, hold: 1200ms}
  - {group: web, count: 3, watch: "pd-{i%2}", protocol: http-flv, start: 2400ms, ramp: 5400ms, hold: 1200ms}
`),
		check: func(t *testing.T, name string, res *Result, plays map[string]int) {
			// Every play asked, the two in the window too: their calls
			// were dropped, not refused.
			if len(plays) != 6 {
				t.Errorf("%s: on_play calls by play %v, want one for each of the 6 plays", name, plays)
			}
			for _, f := range res.Summary.Viewers.Failures {
				t.Logf("%s: %s (%s) %s: %s", name, f.ID, f.Protocol, f.Outcome, f.Evidence)
			}
			for _, st := range res.Summary.Availability {
				if st.State != schema.StateUp {
					t.Errorf("%s: the publish side was %s at %s", name, st.State, st.At)
				}
			}
		},
	}}
	want := map[string]map[schema.Outcome]int{
		"viewers":        {schema.OutcomeOK: 4, schema.OutcomeNoSuchStream: 1, schema.OutcomeHookUnreachable: 3},
		"play-hook-down": {schema.OutcomeOK: 4, schema.OutcomeHookUnreachable: 2},
	}
	servers := map[string]ServerSpec{"embedded": {}}
	if bin, _ := testkit.SRSBinary(); bin != "" {
		servers["srs"] = ServerSpec{Kind: ServerSRS, Binary: bin}
	}
	// Every run at once, whatever -parallel allows (the runs cost little
	// CPU: native publishers, a few players), then each one's checks.
	type ran struct {
		res *Result
		err error
	}
	runs := map[string]*ran{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range cases {
		for name, spec := range servers {
			o := prepareRun(t, c.sc, Options{Server: spec})
			wg.Go(func() {
				res, err := runPrepared(o)
				mu.Lock()
				runs[c.name+"/"+name] = &ran{res, err}
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	outcomes := map[string]map[string]map[int]schema.Outcome{}
	t.Run("runs", func(t *testing.T) {
		for _, c := range cases {
			for name := range servers {
				t.Run(c.name+"/"+name, func(t *testing.T) {
					r := runs[c.name+"/"+name]
					if r.err != nil {
						t.Fatal(r.err)
					}
					res := r.res
					plays := map[string]int{}
					for _, ev := range testkit.Events(t, res.ResultsPath) {
						if ev.Type == schema.TypeHook && ev.Hook.Action == schema.ActionPlay {
							plays[ev.Hook.Attempt]++
						}
					}
					v := res.Summary.Viewers
					total := 0
					for _, n := range want[c.name] {
						total += n
					}
					if v == nil || v.Plays != total || !maps.Equal(v.Outcomes, want[c.name]) ||
						v.ByState[schema.OutcomeHookUnreachable][schema.StateDown] != want[c.name][schema.OutcomeHookUnreachable] ||
						res.Summary.Outcomes[schema.OutcomeOK] != 2 {
						var b strings.Builder
						_ = report.Table(&b, res.Summary)
						t.Errorf("%s: viewer outcomes %+v\n%s", name, v, b.String())
						return
					}
					t.Logf("%s: plays %v, publishes %v", name, v.Outcomes, res.Summary.Outcomes)
					c.check(t, name, res, plays)
					byPlay := map[int]schema.Outcome{}
					for _, f := range v.Failures {
						byPlay[f.Slot] = f.Outcome
					}
					if outcomes[c.name] == nil {
						outcomes[c.name] = map[string]map[int]schema.Outcome{}
					}
					outcomes[c.name][name] = byPlay
				})
			}
		}
	})
	for _, c := range cases {
		if o := outcomes[c.name]; len(o) == 2 && !maps.Equal(o["embedded"], o["srs"]) {
			t.Errorf("%s: plays that were not ok, by slot: embedded %v, SRS %v", c.name, o["embedded"], o["srs"])
		}
	}
}
