package scenarios

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const viewersYAML = `duration: 60s
publishers:
  - {group: cams, count: 4, name: "cam-{i:03}"}
viewers:
  - group: watchers
    count: 6
    watch: "cam-{i%4:03}"
    ramp: 3s
    hold: 20s
    reconnect: {delay: 1s, max: 2}
  - group: web
    count: 2
    watch: "cam-000"
    protocol: http-flv
    engine: ffmpeg
    start: 5s
`

func TestParseViewers(t *testing.T) {
	s, err := Parse("v.yaml", []byte(viewersYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []ViewerGroup{
		{Group: "watchers", Count: 6, Watch: "cam-{i%4:03}", Protocol: ViewRTMP, Engine: ViewNative, Ramp: 3 * time.Second,
			Hold: 20 * time.Second, Reconnect: Reconnect{Delay: time.Second, Max: 2}},
		{Group: "web", Count: 2, Watch: "cam-000", Protocol: ViewHTTPFLV, Engine: ViewFFmpeg, Start: 5 * time.Second},
	}
	if !reflect.DeepEqual(s.Viewers, want) {
		t.Fatalf("viewers %+v\nwant %+v", s.Viewers, want)
	}
	slots := s.ViewerSchedule()
	var got []string
	for _, v := range slots {
		got = append(got, v.Group+"/"+v.Stream+"@"+v.Start.String()+"-"+v.Stop.String())
	}
	wantSlots := []string{
		"watchers/cam-000@0s-20s", "watchers/cam-001@500ms-20.5s", "watchers/cam-002@1s-21s",
		"watchers/cam-003@1.5s-21.5s", "watchers/cam-000@2s-22s", "watchers/cam-001@2.5s-22.5s",
		"web/cam-000@5s-1m0s", "web/cam-000@5s-1m0s",
	}
	if !reflect.DeepEqual(got, wantSlots) {
		t.Errorf("schedule %v\nwant %v", got, wantSlots)
	}
	for i, v := range slots {
		if v.Seq != i {
			t.Errorf("slot %d has seq %d", i, v.Seq)
		}
	}
}

func TestParseViewersErrors(t *testing.T) {
	for _, c := range []struct{ edit, line, msg string }{
		{"protocol: http-flv", "protocol: hls", `unknown protocol "hls" (want rtmp or http-flv)`},
		{"engine: ffmpeg", "engine: vlc", `unknown engine "vlc"`},
		{"group: web", "group: cams", `duplicate group "cams"`},
		{`watch: "cam-000"`, `watch: "cam-{j}"`, `group "web"`},
		{"start: 5s", "start: 60s", "is not before the end of the run"},
		{"start: 5s", "stat: 5s", "unknown field"},
	} {
		src := strings.Replace(viewersYAML, c.edit, c.line, 1)
		_, err := Parse("v.yaml", []byte(src))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Error(), c.msg) {
			t.Errorf("%s: error %v, want a positioned error with %q", c.line, err, c.msg)
			continue
		}
		if wantLine := strings.Count(viewersYAML[:strings.Index(viewersYAML, c.edit)], "\n") + 1; pe.Line != wantLine {
			t.Errorf("%s: line %d, want %d", c.line, pe.Line, wantLine)
		}
	}
	_, err := Parse("v.yaml", []byte(strings.Replace(viewersYAML, "duration: 60s\n", "duration: 60s\nmode: capacity\ncapacity: {step: 2, every: 10s}\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "mode capacity steps publishers only") {
		t.Errorf("viewers in a capacity run: %v", err)
	}
}

// A fault window may target one side of the callback; any other action is
// refused with its position.
func TestFaultAction(t *testing.T) {
	const src = "duration: 30s\nhook:\n  faults:\n    - {at: 5s, for: 5s, kind: down, action: %s}\n    - {at: 12s, for: 2s, kind: deny}\npublishers:\n  - {group: g, count: 1, name: n}\n"
	s, err := Parse("f.yaml", []byte(strings.Replace(src, "%s", "play", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hook.Faults) != 2 || s.Hook.Faults[0].Action != "play" || s.Hook.Faults[0].Kind != "down" || s.Hook.Faults[1].Action != "" {
		t.Fatalf("faults %+v", s.Hook.Faults)
	}
	_, err = Parse("f.yaml", []byte(strings.Replace(src, "%s", "view", 1)))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:4:") || !strings.Contains(err.Error(), "want publish or play") {
		t.Fatalf("action view: %v", err)
	}
}

// The play-hook-down built-in's window is on the play side only.
func TestPlayHookDownBuiltin(t *testing.T) {
	s, err := Builtin("play-hook-down")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hook.Faults) != 1 || s.Hook.Faults[0].Action != "play" || len(s.Viewers) != 2 || len(s.Publishers) != 1 {
		t.Fatalf("play-hook-down: faults %+v, %d viewer groups, %d publisher groups", s.Hook.Faults, len(s.Viewers), len(s.Publishers))
	}
}
