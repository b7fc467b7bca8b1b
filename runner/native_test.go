package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

// TestNativeEngine: native publishers through the whole run on the
// embedded server, beside an ffmpeg witness of the same name pattern: the
// schedule, the params, the hook and the duplicate rule apply as they do
// to ffmpeg (the witness group is native, all of it run by ffmpeg as its
// witnesses), the native refusal's evidence says what the server did
// (where ffmpeg says Input/output error), and the attempts carry their
// engine.
func TestNativeEngine(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: native
duration: 6s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: cams, count: 3, name: "n-{i}", param: "token=t{i}", engine: native}
  - {group: dup, count: 1, name: "n-0", start: 2s, hold: 2s, engine: native}
  - {group: witness, count: 1, name: "w-0", engine: native, witness: 100%}
`)
	res := runScenario(t, sc, Options{})
	s := res.Summary
	if s.Outcomes[schema.OutcomeOK] != 4 || s.Outcomes[schema.OutcomeStreamBusy] != 1 {
		t.Fatalf("outcomes %v, want 4 ok and the duplicate busy; failures %+v", s.Outcomes, s.Failures)
	}
	if len(s.Failures) != 1 || !strings.Contains(s.Failures[0].Evidence, schema.NativeClosed) {
		t.Fatalf("the duplicate's evidence should say the server closed it: %+v", s.Failures)
	}
	events := testkit.Events(t, res.ResultsPath)
	engines, hosts := map[string]string{}, map[string]string{}
	wires := 0
	for _, ev := range events {
		if ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseSpawn {
			engines[ev.Attempt.Group] = ev.Attempt.Engine
			hosts[ev.Attempt.Group] = strings.Split(ev.Attempt.URL, "/")[2]
			if ev.Attempt.Group == "cams" && (ev.Attempt.PID != 0 || !strings.Contains(ev.Attempt.URL, "token=")) {
				t.Errorf("native spawn %+v", ev.Attempt)
			}
		}
		if ev.Type == schema.TypeWire && ev.Wire.Attempt != "" {
			if _, ok := ev.Wire.PublishStarted(); ok {
				wires++
			}
		}
	}
	if engines["cams"] != schema.EngineNative || engines["dup"] != schema.EngineNative || engines["witness"] != "" {
		t.Fatalf("engines %v", engines)
	}
	// Native publishers go straight to the server; the witness through the tap.
	if hosts["cams"] == hosts["witness"] {
		t.Errorf("native and ffmpeg publish to the same address %s", hosts["cams"])
	}
	if wires != 4 {
		t.Fatalf("%d wire records with Publish.Start, want 4 (3 native, the witness's from the tap)", wires)
	}
}

// TestEngineOptions: a run's engine and native tick are checked before
// anything starts; a group that names no engine takes the run's, and the
// caller's scenario is left as it was.
func TestEngineOptions(t *testing.T) {
	sc := scenario(t, `
name: e
duration: 5s
publishers:
  - {group: a, count: 1, name: a}
  - {group: b, count: 1, name: b, engine: ffmpeg}
`)
	got, err := withEngines(sc, schema.EngineNative, 0)
	if err != nil || got.Publishers[0].Engine != schema.EngineNative || got.Publishers[1].Engine != schema.EngineFFmpeg || sc.Publishers[0].Engine != "" {
		t.Fatalf("%+v %v (the caller's: %+v)", got, err, sc.Publishers)
	}
	for _, bad := range []struct {
		engine string
		tick   time.Duration
		want   string
	}{
		{"gstreamer", 0, `engine "gstreamer": use ffmpeg or native`},
		{"native", -time.Second, "native tick -1s: want 1ms to 1s"},
		{"native", 2 * time.Second, "native tick 2s"},
	} {
		if _, err := withEngines(sc, bad.engine, bad.tick); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %v: %v, want %q", bad.engine, bad.tick, err, bad.want)
		}
	}
}
