package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

// smallScenario writes the scenario the hardening tests run: 2 publishers,
// 6 s, the small clip.
func smallScenario(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "small.yaml")
	y := "name: small\nduration: 6s\nmedia:\n  clip: testsrc-360p\n  bitrate: 300k\npublishers:\n  - group: g\n    count: 2\n    name: \"s-{i}\"\n" + extra
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// answerVersion starts the body of a testkit.FakeFFmpeg that answers
// -version and runs the rest otherwise. rtmpload asks "ffmpeg -hide_banner
// -version": -version is not always $1.
const answerVersion = "case \" $* \" in *\" -version \"*) echo 'ffmpeg version fake'; exit 0;; esac\n"

// Ctrl-C while an ffmpeg hangs encoding the clip is an interrupt: exit 2,
// not a setup error with "context canceled".
func TestInterruptDuringClipEncodeExits2(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	ff := testkit.FakeFFmpeg(t, answerVersion+"touch '"+started+"'\nexec sleep 60\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "out")
	go func() {
		done <- run(ctx, []string{"run", smallScenario(t, ""), "--ffmpeg", ff, "--cache-dir", t.TempDir(), "--out", out, "--progress", "none"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run ended before the encode started: exit %d\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	code := <-done
	if code != exitAborted || strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("exit %d, want %d\n%s", code, exitAborted, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an interrupted setup left %s", out)
	}
}

// Options that used to be accepted without a word (and ignored, or found
// only after the whole run) fail before the run with exit 1, and leave no
// --out directory behind.
func TestRefusedBeforeTheRun(t *testing.T) {
	ff := testkit.FakeFFmpeg(t, answerVersion+"exit 1\n")
	sc := smallScenario(t, "")
	c15 := filepath.Join(t.TempDir(), "c15.yaml")
	if err := os.WriteFile(c15, []byte("name: x\nduration: 6s\npublishers:\n  - group: g\n    count: 1.5\n    name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"probe not a url", []string{"--hook", "external", "--target", "rtmp://127.0.0.1:1/live", "--hook-probe", "not a url"}, "not an http"},
		{"probe without external", []string{"--hook-probe", "http://127.0.0.1:9/hook"}, "external"},
		{"probe method", []string{"--hook-probe-method", "bogus"}, "bogus"},
		{"probe method with url", []string{"--hook", "external", "--target", "rtmp://127.0.0.1:1/live", "--hook-probe", "http://127.0.0.1:9/hook", "--hook-probe-method", "bogus"}, "bogus"},
		{"progress", []string{"--progress", "sideways"}, "sideways"},
		{"grace", []string{"--grace", "-5s"}, "--grace -5s is negative"},
		{"grace too long", []string{"--grace", "1000000h"}, "--grace 1000000h0m0s is more than 5m0s"},
		{"latency metric", []string{"--expect", "p95(nonsense) < 1s"}, "nonsense"},
		{"baseline", []string{"--expect", "rate(ok) >= baseline*1.2"}, "afterwards, with 'rtmpload report RESULTS --baseline EARLIER"},
		// The library names the option; the message names the flag.
		{"target not rtmp", []string{"--target", "http://127.0.0.1:1/live"}, `rtmpload: --target "http://127.0.0.1:1/live": want rtmp://`},
		{"target refused", []string{"--target", "rtmp://127.0.0.1:1/live"}, "rtmpload: --target rtmp://127.0.0.1:1/live: cannot connect"},
		{"parallel without a view", []string{"--fanout-parallel", "--tap=false", "--target", "rtmp://127.0.0.1:1/live"}, "rtmpload: --fanout-parallel learns that each output opened from the tap or the embedded server in this process: drop --tap=false"},
		{"server fails", []string{"--server", "srs=/nonexistent/srs"}, "nonexistent"},
		{"takeover with target", []string{"--takeover", "--target", "rtmp://127.0.0.1:1/live"}, "drop --takeover"},
		{"takeover with srs", []string{"--takeover", "--server", "srs=/nonexistent/srs"}, "drop --takeover"},
		{"takeover with nginx", []string{"--takeover", "--server", "nginx-rtmp"}, "drop --takeover"},
		{"race with target", []string{"--duplicate-race", "--target", "rtmp://127.0.0.1:1/live"}, "drop --duplicate-race"},
		{"race with serve", []string{"--duplicate-race", "--server", "serve"}, "drop --duplicate-race"},
		{"hook mode with external", []string{"--hook", "external", "--target", "rtmp://127.0.0.1:1/live", "--hook-mode", "deny"}, "--hook-mode"},
		{"hook mode with proxy", []string{"--hook", "proxy=http://127.0.0.1:9/hook", "--hook-mode", "deny"}, "drop --hook-mode"},
		{"scenario faults with external", []string{"--hook", "external", "--target", "rtmp://127.0.0.1:1/live", "--scenario-faults"}, "faults"},
		{"api without target", []string{"--api", "http://127.0.0.1:1985"}, "--api"},
		{"api with a server", []string{"--api", "http://127.0.0.1:1985", "--server", "nginx-rtmp"}, "--api"},
		{"fanout 0", []string{"--fanout", "0"}, "--fanout 0"},
		{"shards -1", []string{"--shards", "-1"}, "--shards -1"},
		{"run id too long", []string{"--run-id", strings.Repeat("r", 400)}, "--run-id of 400 bytes: at most 64"},
		{"run id with an escape", []string{"--run-id", "r\x1b[2J"}, "--run-id \"r\\x1b[2J\": control characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			sc := sc
			if i := slices.Index(c.args, "--scenario-faults"); i >= 0 {
				sc = smallScenario(t, "hook:\n  faults:\n    - {at: 1s, for: 1s, kind: deny}\n")
				c.args = slices.Delete(slices.Clone(c.args), i, i+1)
			}
			args := append([]string{"run", sc, "--ffmpeg", ff, "--cache-dir", t.TempDir(), "--out", out}, c.args...)
			if !slices.Contains(c.args, "--progress") {
				args = append(args, "--progress", "none")
			}
			code, _, stderr := runInProcess(t, time.Minute, args...)
			if code != exitSetup || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, want %d with %q in one line\n%s", code, exitSetup, c.want, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s left behind", out)
			}
		})
	}
	if code, _, stderr := runInProcess(t, time.Minute, "run", c15, "--ffmpeg", ff, "--progress", "none"); code != exitSetup || !strings.Contains(stderr, c15+":5:") {
		t.Errorf("count 1.5: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runInProcess(t, time.Minute, "serve", "--on-publish", "not a url", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"); code != exitSetup || !strings.Contains(stderr, "not a url") {
		t.Errorf("serve --on-publish 'not a url': exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runReport(t, "", dupResults, "--expect", "rate(ok) >= baseline*1.2"); code != exitSetup || !strings.Contains(stderr, "--baseline") {
		t.Errorf("report baseline*F without --baseline: exit %d\n%s", code, stderr)
	}
}

// wholeClip is a tiny but whole FLV clip (a video keyframe and an audio tag),
// enough for the clip check; publishers never read it in these tests.
func wholeClip(t *testing.T, cache string) {
	t.Helper()
	b := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	for _, tag := range [][2]byte{{9, 0x17}, {8, 0xaf}} {
		b = append(b, tag[0], 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, tag[1], 0, 0, 0, 0, 0, 0, 15)
	}
	if err := os.WriteFile(filepath.Join(cache, "testsrc-360p_300000bps_10s_r1.flv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A run in which not one ffmpeg could be started measured nothing: exit 1
// with one line, and the failed spawns' exits are dated.
func TestEverySpawnFailing(t *testing.T) {
	cache := t.TempDir()
	wholeClip(t, cache)
	ff := filepath.Join(t.TempDir(), "ffmpeg")
	// Executable, but the kernel cannot run it: every spawn fails.
	if err := os.WriteFile(ff, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runInProcess(t, time.Minute, "run", smallScenario(t, ""), "--ffmpeg", ff, "--cache-dir", cache, "--out", out, "--progress", "none")
	if code != exitSetup || !strings.Contains(stderr, "not one ffmpeg could be started") {
		t.Errorf("exit %d, want %d\n%s", code, exitSetup, stderr)
	}
	exits := 0
	for _, ev := range testkit.Events(t, filepath.Join(out, "results.jsonl")) {
		if ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseExit {
			exits++
			if ev.Time.Year() < 2000 {
				t.Errorf("exit event of %s dated %v", ev.Attempt.ID, ev.Time)
			}
		}
	}
	if exits != 2 {
		t.Errorf("%d exit events, want 2", exits)
	}
}

// Request fields reach the terminal escaped: a stream name with an escape
// sequence is shown, not obeyed.
func TestHookLinesEscapeControls(t *testing.T) {
	var out bytes.Buffer
	l := &hookLog{out: &out, readable: true, sum: newHookSummary()}
	l.call(hook.Call{Action: schema.ActionPublish, App: "live", Stream: "cam\x1b]0;owned\x07\x1b[2J", ClientID: "1\u009b31m", Verdict: "allow", Status: 200})
	for i := range 40 {
		l.call(hook.Call{Action: schema.HookAction(fmt.Sprintf("on_\x1b[%dm", i))})
	}
	l.sum.write(&out, []string{"live/app/\x1b[31mred"})
	s := out.String()
	if strings.ContainsAny(s, "\x1b\x07") || strings.ContainsRune(s, '\u009b') {
		t.Errorf("raw control characters reach the terminal:\n%q", s)
	}
	if !strings.Contains(s, `cam\x1b]0;owned\x07\x1b[2J`) || !strings.Contains(s, "(other)") {
		t.Errorf("escaped fields or the bounded action count missing:\n%s", s)
	}
}

// The CPU line counts rtmpload's own ffmpegs only: not what the process that
// started rtmpload (here the test) had already waited for.
func TestChildCPUIsOnlyOurFFmpegs(t *testing.T) {
	// Burn CPU in a child this process waits for, before the run.
	burn := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
	if err := burn.Run(); err != nil {
		t.Fatal(err)
	}
	burned := burn.ProcessState.UserTime() + burn.ProcessState.SystemTime()
	cache := t.TempDir()
	wholeClip(t, cache)
	ff := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(ff, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	runInProcess(t, time.Minute, "run", smallScenario(t, ""), "--ffmpeg", ff, "--cache-dir", cache, "--out", out, "--progress", "none")
	for _, ev := range testkit.Events(t, filepath.Join(out, "results.jsonl")) {
		if ev.Type == schema.TypeEnd {
			if ev.Usage == nil || ev.Usage.ChildCPU >= burned {
				t.Errorf("children's CPU %v: it counts the %v burned before the run, by no ffmpeg of it", ev.Usage, burned)
			}
			return
		}
	}
	t.Error("no end event")
}

// A results directory that holds an earlier run is refused before anything
// starts, and the earlier report stays as it was.
func TestOutHoldsEarlierRun(t *testing.T) {
	for _, name := range []string{"results.jsonl", "report.json", "report.html"} {
		out := t.TempDir()
		old := filepath.Join(out, name)
		if err := os.WriteFile(old, []byte("earlier\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runInProcess(t, time.Minute, "run", smallScenario(t, ""), "--ffmpeg", testkit.FakeFFmpeg(t, answerVersion+"exit 1\n"), "--out", out, "--progress", "none")
		if code != exitSetup || !strings.Contains(stderr, "holds an earlier run ("+name+")") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--out with %s: exit %d\n%s", name, code, stderr)
		}
		if b, _ := os.ReadFile(old); string(b) != "earlier\n" {
			t.Errorf("%s changed: %q", name, b)
		}
	}
}

// A run whose end cannot be written (the report path taken by a directory,
// the results directory removed while it ran) exits 1, not 2 (interrupted),
// with one line that says what was lost and where the rest is.
func TestEndNotWrittenExits1(t *testing.T) {
	cache := t.TempDir()
	wholeClip(t, cache)
	sc := filepath.Join(t.TempDir(), "short.yaml")
	if err := os.WriteFile(sc, []byte("name: short\nduration: 1s\nmedia:\n  clip: testsrc-360p\n  bitrate: 300k\npublishers:\n  - group: g\n    count: 1\n    name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"report path a directory", "mkdir -p \"$OUT/report.json\"\nexit 1\n",
			[]string{"report.json and report.html were not written", "the results are whole in", "results.jsonl"}},
		{"results directory removed", "rm -rf \"$OUT\"\nexit 1\n",
			[]string{"no report", "cannot be read back", "nothing of the run is kept"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			t.Setenv("OUT", out)
			code, stdout, stderr := runInProcess(t, time.Minute, "run", sc, "--ffmpeg", testkit.FakeFFmpeg(t, answerVersion+c.body), "--cache-dir", cache, "--out", out, "--progress", "none")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code != exitSetup {
				t.Errorf("exit %d, want %d\n%s", code, exitSetup, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(last, w) {
					t.Errorf("last line lacks %q: %s", w, last)
				}
			}
			if strings.Contains(stdout, "report:") {
				t.Errorf("stdout names a report that was not written:\n%s", stdout)
			}
		})
	}
}

// A binary that is not ffmpeg is refused at the version check, even with a
// warm clip cache (nothing else would run it before the publishers, each of
// which would end in an ffmpeg_error with an empty message).
func TestNotFFmpegRefused(t *testing.T) {
	cache := t.TempDir()
	wholeClip(t, cache)
	for _, bin := range []string{"/bin/true", "/bin/false", testkit.FakeFFmpeg(t, "echo 'Lavf wrapper 1.0'\n")} {
		out := filepath.Join(t.TempDir(), "out")
		code, _, stderr := runInProcess(t, time.Minute, "run", smallScenario(t, ""), "--ffmpeg", bin, "--cache-dir", cache, "--out", out, "--progress", "none")
		if code != exitSetup || !strings.Contains(stderr, bin+" is not ffmpeg") || !strings.Contains(stderr, "pass --ffmpeg") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--ffmpeg %s: exit %d\n%s", bin, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "results.jsonl")); err == nil {
			t.Errorf("--ffmpeg %s: a run was recorded", bin)
		}
	}
}
