package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/native"
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

// TestNativeWire: a native attempt's phases become the tap's marks, so the
// report's wire rules read them: the server's close as server_close EOF, a
// refusing status as on_status with its code, a stop as client_close.
func TestNativeWire(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	base := native.Timeline{Start: at(0), Connected: at(1), Handshaked: at(2), ConnectResult: at(3), PublishSent: at(4), End: at(9)}
	phases := func(w *schema.WireConn) string {
		var p []string
		for _, m := range w.Marks {
			p = append(p, m.Phase+"="+m.Detail)
		}
		return strings.Join(p, " ")
	}
	closed := native.Result{Timeline: base, Failure: &native.Failure{What: native.WhatClose, Phase: native.PhasePublish}}
	w := nativeWire("r-1", "cam", closed)
	if got := phases(w); got != "tcp_connect= c0c1= s0s1s2= connect= connect_result= publish= server_close=EOF" || w.Attempt != "r-1" {
		t.Errorf("closed: %s", got)
	}
	if _, ok := w.PublishStarted(); ok {
		t.Error("a closed publish did not start")
	}
	denied := native.Result{Timeline: base, Failure: &native.Failure{What: native.WhatStatus, Code: "NetStream.Publish.BadName"}}
	if got := phases(nativeWire("r-2", "cam", denied)); !strings.HasSuffix(got, "publish= on_status=NetStream.Publish.BadName") {
		t.Errorf("denied: %s", got)
	}
	ok := base
	ok.PublishStart, ok.FirstMedia = at(5), at(6)
	w = nativeWire("r-3", "cam", native.Result{Timeline: ok, Stopped: true, BytesSent: 1234})
	if got := phases(w); !strings.HasSuffix(got, "on_status=NetStream.Publish.Start first_video= first_audio= client_close=") || w.BytesUp != 1234 {
		t.Errorf("stopped: %s", got)
	}
	if d, ok := w.Between(schema.WirePublish, schema.WireOnStatus); !ok || d != time.Millisecond {
		t.Errorf("publish latency %v %v", d, ok)
	}
}
