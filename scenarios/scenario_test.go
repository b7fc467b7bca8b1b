package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/schema"
)

func TestLoadValid(t *testing.T) {
	s, err := Load(t.Context(), "testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name:        "valid-example",
		Description: "a scenario that uses every key this version knows",
		Duration:    90 * time.Second,
		Media:       Media{Clip: "testsrc-360p", Bitrate: "1.5M", BitrateBps: 1500000},
		Hook:        Hook{Mode: schema.HookConflict, Latency: 250 * time.Millisecond},
		Publishers: []Group{
			{Group: "cams", Count: 3, Name: "cam-{i:03}", Ramp: 3 * time.Second, Hold: time.Minute},
			{Group: "intruders", Count: 4, Name: "cam-{i%2:03}", Start: 10 * time.Second},
		},
		Source: "testdata/valid.yaml",
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("Load = %+v\nwant %+v", *s, want)
	}
}

func TestParseDefaults(t *testing.T) {
	s, err := Parse("dir/my-run.yml", []byte("duration: 5s\npublishers:\n  - {group: g, count: 1, name: n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "my-run" || s.Media.Clip != schema.DefaultClip || s.Media.Bitrate != "500k" || s.Media.BitrateBps != 500000 || s.Hook.Mode != schema.HookAllow {
		t.Errorf("defaults not applied: %+v", s)
	}
}

// Every strict error must start with FILE:LINE:COL pointing at the offending key or value.
func TestParseErrorsCarryPosition(t *testing.T) {
	tests := []struct {
		file      string
		line, col int
		msg       string
	}{
		{"unknown-top.yaml", 7, 1, `unknown field "expectations"`},
		{"unknown-group.yaml", 7, 5, `unknown field "reconnects"`},
		{"bad-duration.yaml", 7, 11, `invalid duration "2"`},
		{"bad-pattern.yaml", 9, 5, `group "others": name pattern "other-{i%0}"`},
		{"bad-mode.yaml", 5, 9, `unknown hook mode "maybe"`},
		{"start-beyond.yaml", 7, 5, `start 25s is not before the end of the run`},
		{"duplicate-group.yaml", 7, 5, `duplicate group "cams"`},
		{"count-zero.yaml", 6, 5, `count must be between 1`},
		{"no-duration.yaml", 1, 1, `duration is required`},
	}
	for _, tt := range tests {
		path := filepath.Join("testdata", tt.file)
		_, err := Load(t.Context(), path)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a *ParseError", tt.file, err)
			continue
		}
		prefix := fmt.Sprintf("%s:%d:%d: ", path, tt.line, tt.col)
		if got := err.Error(); !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) || strings.Contains(got, "\n") {
			t.Errorf("%s: error %q; want one line starting %q containing %q", tt.file, got, prefix, tt.msg)
		}
		if !strings.Contains(pe.Excerpt, "^") {
			t.Errorf("%s: excerpt has no caret: %q", tt.file, pe.Excerpt)
		}
	}
}

func TestParseErrorsInline(t *testing.T) {
	const group = "publishers:\n  - {group: g, count: 1, name: n}\n"
	tests := []struct {
		name, src string
		want      string
	}{
		{"bare number", "duration: 60\n" + group, `src.yaml:1:11: invalid duration "60"`},
		{"negative", "duration: -5s\n" + group, `src.yaml:1:11: invalid duration "-5s": must not be negative`},
		{"float", "duration: 1.5\n" + group, `src.yaml:1:11: invalid duration "1.5"`},
		{"list as duration", "duration: [1s]\n" + group, `src.yaml:1:11: want a duration`},
		{"count not a number", "duration: 5s\npublishers:\n  - group: g\n    count: many\n    name: n\n", `src.yaml:4:12: "many" is not a whole number`},
		{"duplicate key", "duration: 5s\nduration: 6s\n" + group, `src.yaml:2:1: mapping key "duration" already defined`},
		{"bad clip", "duration: 5s\nmedia:\n  clip: hd\n" + group, `src.yaml:3:9: unknown clip "hd"`},
		{"bad bitrate", "duration: 5s\nmedia:\n  bitrate: 1m\n" + group, `src.yaml:3:3: invalid bitrate "1m"`},
		{"ramp past end", "duration: 5s\npublishers:\n  - group: g\n    count: 2\n    name: n\n    start: 2s\n    ramp: 4s\n", `src.yaml:7:5: group "g": start 2s + ramp 4s is beyond the end`},
		{"no publishers", "duration: 5s\n", `src.yaml:1:1: publishers: at least one group`},
		{"missing name", "duration: 5s\npublishers:\n  - group: g\n    count: 2\n", `src.yaml:3:5: group "g": name is required`},
		{"missing group", "duration: 5s\npublishers:\n  - count: 2\n    name: n\n", `src.yaml:3:5: group is required`},
		{"two line description", "description: |\n  a\n  b\nduration: 5s\n" + group, `src.yaml:1:1: description must be one line`},
		{"not a mapping", "- a\n- b\n", `src.yaml:1:1:`},
		{"empty", "", `src.yaml:1:1: want exactly one YAML document`},
		{"two documents", "duration: 5s\n" + group + "---\nduration: 6s\n", `src.yaml:1:1: want exactly one YAML document`},
		// Accepted without a word before: a run too short to publish (no
		// attempt, exit 0) and a fanout of 0 read as "left out".
		{"duration 1ns", "duration: 1ns\n" + group, `src.yaml:1:1: duration 1ns is shorter than 1s`},
		{"duration 999ms", "duration: 999ms\n" + group, `src.yaml:1:1: duration 999ms is shorter than 1s`},
		{"fanout 0", "duration: 5s\npublishers:\n  - group: g\n    count: 2\n    name: n\n    fanout: 0\n", `src.yaml:6:13: fanout 0: want 1 to 32`},
	}
	for _, tt := range tests {
		_, err := Parse("src.yaml", []byte(tt.src))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: got %v; want an error starting %q", tt.name, err, tt.want)
		}
	}
}

func TestParseDurations(t *testing.T) {
	for text, want := range map[string]time.Duration{"60s": time.Minute, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond, "0": 0, `"0s"`: 0} {
		src := "duration: 2m\npublishers:\n  - {group: g, count: 1, name: n, hold: " + text + "}\n"
		s, err := Parse("d.yaml", []byte(src))
		if err != nil {
			t.Errorf("hold %s: %v", text, err)
			continue
		}
		if got := s.Publishers[0].Hold; got != want {
			t.Errorf("hold %s = %v, want %v", text, got, want)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || time.Duration(d) != 90*time.Second {
		t.Errorf("UnmarshalText(1m30s) = %v, %v", d, err)
	}
	for _, bad := range []string{"60", "-1s", "abc", ""} {
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
	if b, _ := Duration(90 * time.Second).MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int{"500k": 500000, "500K": 500000, "1.5M": 1500000, "800000": 800000, "0.3M": 300000, "2.5k": 2500} {
		if got, err := ParseBitrate(in); err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "1m", "abc", "1e6", "0x1p20", "-5k", "+5k", "500", "1.0001k", "2000M", "1.2.3k", "Infk"} {
		if got, err := ParseBitrate(bad); err == nil {
			t.Errorf("ParseBitrate(%q) = %d, want an error", bad, got)
		}
	}
}

func TestValidate(t *testing.T) {
	s := &Scenario{
		Name: "code", Duration: 10 * time.Second,
		Media:      Media{Clip: schema.DefaultClip, Bitrate: "500k", BitrateBps: 500000},
		Hook:       Hook{Mode: schema.HookDeny},
		Publishers: []Group{{Group: "g", Count: 2, Name: "n-{i}"}},
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid scenario: %v", err)
	}
	s.Publishers = append(s.Publishers, Group{Group: "h", Count: 0, Name: "x"})
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "publishers[1].count") {
		t.Errorf("Validate = %v; want an error naming publishers[1].count", err)
	}
}

func TestResolve(t *testing.T) {
	s, err := Resolve(t.Context(), "testdata/valid.yaml")
	if err != nil || s.Name != "valid-example" {
		t.Errorf("Resolve(file) = %v, %v", s, err)
	}
	for _, arg := range []string{"smoke", "builtin:smoke"} {
		s, err := Resolve(t.Context(), arg)
		if err != nil || s.Source != "builtin:smoke" {
			t.Errorf("Resolve(%q) = %v, %v", arg, s, err)
		}
	}
	// A file in the working directory wins over a built-in of the same name.
	dir := t.TempDir()
	local := filepath.Join(dir, "smoke")
	if err := os.WriteFile(local, []byte("name: mine\nduration: 3s\npublishers:\n  - {group: g, count: 1, name: n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Resolve(t.Context(), local); err != nil || s.Name != "mine" {
		t.Errorf("Resolve(local file) = %v, %v", s, err)
	}
	_, err = Resolve(t.Context(), "no-such-scenario")
	if err == nil || !strings.Contains(err.Error(), "duplicate-contest, hook-500") || !strings.Contains(err.Error(), "smoke, viewers)") {
		t.Errorf("Resolve(unknown) = %v; want an error listing the built-ins", err)
	}
	if _, err := Resolve(t.Context(), "testdata/broken-missing.yaml"); err == nil {
		t.Error("Resolve of a missing file succeeded")
	}
	if _, err := Resolve(t.Context(), "testdata/unknown-top.yaml"); err == nil || !strings.HasPrefix(err.Error(), "testdata/unknown-top.yaml:7:1:") {
		t.Errorf("Resolve(broken file) = %v; want its parse error", err)
	}
}

func TestHookFaultsAndExpect(t *testing.T) {
	src := "name: f\nduration: 60s\nhook:\n  faults:\n    - {at: 20s, for: 10s, kind: down}\n    - {at: 30s, for: 5s, kind: \"status:500\"}\n    - {at: 40s, for: 5s, kind: \"delay:35s\"}\n    - {at: 45s, for: 10s, kind: \"flap:2s\"}\npublishers:\n  - {group: a, count: 1, name: a}\nexpect:\n  - \"rate(ok) >= 0.99\"\n"
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []hook.Fault{
		{At: 20 * time.Second, For: 10 * time.Second, Kind: hook.FaultDown, Spec: "down"},
		{At: 30 * time.Second, For: 5 * time.Second, Kind: hook.FaultStatus, Status: 500, Spec: "status:500"},
		{At: 40 * time.Second, For: 5 * time.Second, Kind: hook.FaultDelay, Delay: 35 * time.Second, Spec: "delay:35s"},
		{At: 45 * time.Second, For: 10 * time.Second, Kind: hook.FaultFlap, Period: 2 * time.Second, Spec: "flap:2s"},
	}
	if len(s.Hook.Faults) != len(want) {
		t.Fatalf("faults %+v", s.Hook.Faults)
	}
	for i := range want {
		if s.Hook.Faults[i] != want[i] {
			t.Errorf("fault %d: %+v, want %+v", i, s.Hook.Faults[i], want[i])
		}
	}
	if len(s.Expect) != 1 || s.Expect[0] != "rate(ok) >= 0.99" {
		t.Errorf("expect %v", s.Expect)
	}
	for _, tc := range []struct{ kind, at, want string }{
		{"status:200", "20s", "f.yaml:5:"},
		{"explode", "20s", "unknown fault"},
		{"delay:-1s", "20s", "delay:D"},
		{"down", "90s", "within the run"},
	} {
		bad := "name: f\nduration: 60s\nhook:\n  faults:\n    - {at: " + tc.at + ", for: 10s, kind: \"" + tc.kind + "\"}\npublishers:\n  - {group: a, count: 1, name: a}\n"
		_, err := Parse("f.yaml", []byte(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "f.yaml:5:") {
			t.Errorf("fault %s at %s: error %v, want f.yaml:5:... containing %q", tc.kind, tc.at, err, tc.want)
		}
	}
}
