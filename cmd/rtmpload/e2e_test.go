package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// End-to-end tests: real ffmpeg publishers, the embedded server, the
// built-in hook. They need ffmpeg (scripts/deps.sh installs it) and skip
// with -short.

// burst is held by the tests that start 25 ffmpegs within a few seconds
// (duplicate-contest runs): ffmpeg's start costs 0.25-0.4 s of CPU, so two
// such bursts at once on two cores delay rivals past their 10 s hold and
// they never reach the server.
var burst sync.Mutex

// oneBurst makes t the only bursting test until it ends; call it after
// t.Parallel.
func oneBurst(t *testing.T) {
	burst.Lock()
	t.Cleanup(burst.Unlock)
}

// cacheDir is shared by every test of this package so the clip is encoded once.
func cacheDir(t *testing.T) string {
	d := filepath.Join(os.TempDir(), "rtmpload-test-clips")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// runInProcess runs the command in-process with a bounded context.
func runInProcess(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("run did not finish within %s\nstderr:\n%s", timeout, errb.String())
	}
	return code, out.String(), errb.String()
}

func readReport(t *testing.T, dir string) *report.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// groupAlive reports whether any process of process group pgid still runs.
// Each child rtmpload starts (an ffmpeg, a managed server) leads a group of
// its own, so this also sees what the child started itself, such as an nginx
// worker. Zombies do not count: a child whose rtmpload was killed is
// reparented, and its new reaper may be slow.
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// After the command name, in parentheses: state, ppid, pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// assertGone checks (bounded) that nothing of the process groups led by pids
// still runs.
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for groupAlive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process group %d (a child of rtmpload's) still runs after the run", pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL) // its own group: leave nothing behind
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func spawnPIDs(evs []schema.Event) []int {
	var pids []int
	for _, ev := range evs {
		if ev.Type == schema.TypeAttempt && ev.Attempt.Phase == schema.PhaseSpawn && ev.Attempt.PID > 0 {
			pids = append(pids, ev.Attempt.PID)
		}
	}
	return pids
}

func TestE2ESmoke(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runInProcess(t, 2*time.Minute, "run", "smoke", "--out", dir, "--progress", "none", "--cache-dir", cacheDir(t))
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	s := readReport(t, dir)
	if s.Attempts != 5 || s.Outcomes[schema.OutcomeOK] != 5 {
		t.Fatalf("want 5 ok attempts, got %d attempts, outcomes %v\nfailures: %+v", s.Attempts, s.Outcomes, s.Failures)
	}
	if s.EndReason != schema.EndNormal {
		t.Errorf("end reason %q", s.EndReason)
	}
	if s.Hook.Verdicts["allow"] != 5 {
		t.Errorf("hook verdicts %v, want 5 allow", s.Hook.Verdicts)
	}
	for _, want := range []string{"Outcomes", "cams", "publish_start", "hook_latency", "results.jsonl"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	evs := testkit.Events(t, filepath.Join(dir, "results.jsonl"))
	if evs[0].Type != schema.TypeRun || evs[0].Run.Schema != schema.Schema || evs[len(evs)-1].Type != schema.TypeEnd {
		t.Errorf("results stream must start with the run header and end with the end line")
	}
	// The embedded server sends on_unpublish for every accepted publisher.
	unpub := 0
	for _, ev := range evs {
		if ev.Type == schema.TypeHook && ev.Hook.Action == "on_unpublish" {
			unpub++
		}
	}
	if unpub != 5 {
		t.Errorf("on_unpublish calls: %d, want 5", unpub)
	}
	// The load machine's state, every second of the run, in the results and
	// in report.json; the tap's relay is in it while the publishers publish.
	samples, tapped := 0, 0
	for _, ev := range evs {
		if m := ev.Machine; ev.Type == schema.TypeMachine && m != nil {
			samples++
			if m.Cores < 1 || m.CPUBusy < 0 || m.CPUBusy > 1 || m.RunQueue < 0 {
				t.Errorf("machine sample %+v", m)
			}
			if m.TapPublishing > 0 {
				tapped++
			}
		}
	}
	if samples < 5 || tapped == 0 || s.Machine == nil || len(s.Machine.Samples) != samples {
		t.Errorf("%d machine samples (%d with the tap relaying), report.json's machine %v", samples, tapped, s.Machine != nil)
	}
	assertGone(t, spawnPIDs(evs))
}

// TestE2EDuplicateContest runs the built-in duplicate-contest with the hook
// allowing and with it refusing conflicts. The two runs go one after the
// other: each starts 25 ffmpegs within 8 s, and ffmpeg's start-up (0.25-0.4 s
// of CPU each) for 50 at once on two cores delayed rivals past their 10 s
// hold, so they never reached the server (stopped, rejected_unknown). For
// the same reason it does not run beside the distributed test (oneBurst).
func TestE2EDuplicateContest(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	oneBurst(t)
	for _, tc := range []struct {
		mode  string
		loser schema.Outcome
	}{
		{"allow", schema.OutcomeStreamBusy},
		{"conflict", schema.OutcomeHookDenied},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := runInProcess(t, 3*time.Minute, "run", "duplicate-contest", "--hook-mode", tc.mode,
				"--out", dir, "--progress", "none", "--cache-dir", cacheDir(t))
			if code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			s := readReport(t, dir)
			if len(s.Contests) != 10 {
				t.Fatalf("contests: %d, want 10", len(s.Contests))
			}
			evidence := make(map[string]string)
			for _, f := range s.Failures {
				evidence[f.ID] = f.Evidence
			}
			for _, c := range s.Contests {
				if len(c.Attempts) < 2 || len(c.Attempts) > 3 {
					t.Errorf("%s: %d attempts, want 2..3", c.Stream, len(c.Attempts))
				}
				if len(c.Winners) != 1 || c.TwoLive {
					t.Errorf("%s: winners %v (two live %v), want exactly one", c.Stream, c.Winners, c.TwoLive)
				}
				for _, e := range c.Attempts {
					if e.HookVerdict == "" {
						t.Errorf("%s: the hook saw no on_publish for %s (%s)", c.Stream, e.ID, evidence[e.ID])
					}
					if len(c.Winners) > 0 && e.ID == c.Winners[0] {
						if e.Outcome != schema.OutcomeOK {
							t.Errorf("%s: winner %s outcome %s", c.Stream, e.ID, e.Outcome)
						}
						continue
					}
					if e.Outcome != tc.loser {
						t.Errorf("%s: loser %s outcome %q, want %q", c.Stream, e.ID, e.Outcome, tc.loser)
					}
					if !strings.Contains(e.Message, "Input/output error") {
						t.Errorf("%s: loser %s: ffmpeg's message %q lacks Input/output error", c.Stream, e.ID, e.Message)
					}
				}
			}
			if n := s.Outcomes[tc.loser]; n != s.Attempts-10 {
				t.Errorf("%s: %d, want %d (every attempt but the 10 winners)", tc.loser, n, s.Attempts-10)
			}
			if !strings.Contains(stdout, string(tc.loser)) || !strings.Contains(stdout, "Input/output error") {
				t.Errorf("table lacks the losers' outcome or ffmpeg's message:\n%s", stdout)
			}
		})
	}
}

// TestE2EInterrupt sends a real SIGINT to a real rtmpload process mid-run.
// TestE2ESignals ends a real run of rtmpload (the binary) every way a user or
// a CI runner can: Ctrl-C and SIGTERM stop it cleanly and still report; a
// second Ctrl-C kills every ffmpeg at once and still reports; SIGKILL gives it
// no say at all. In every case no ffmpeg outlives it.
func TestE2ESignals(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	bin := rtmploadBinary(t)
	cases := []struct {
		name    string
		signals []syscall.Signal
		// clean: the run stops its ffmpegs itself, writes its end line and
		// report, and exits 2.
		clean bool
		code  int // the exit code, -1 for killed by a signal
		// nginx: publish to a managed nginx-rtmp, which must end too.
		nginx bool
	}{
		{"SIGINT", []syscall.Signal{syscall.SIGINT}, true, exitAborted, false},
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}, true, exitAborted, false},
		{"SIGINT twice", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, true, exitAborted, false},
		{"SIGKILL", []syscall.Signal{syscall.SIGKILL}, false, -1, false},
		{"SIGKILL with nginx-rtmp", []syscall.Signal{syscall.SIGKILL}, false, -1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"run", "smoke", "--progress", "log", "--cache-dir", cacheDir(t)}
			if tc.nginx {
				testkit.Nginx(t, managed.FindModule)
				args = append(args, "--server", "nginx-rtmp")
			}
			dir := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(args, "--out", dir)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait (bounded) until at least one publisher is publishing.
			results := filepath.Join(dir, "results.jsonl")
			deadline := time.Now().Add(60 * time.Second)
			for !publishing(results) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("no publisher started within 60 s\nstderr:\n%s", stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			for _, sig := range tc.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tc.code {
				t.Fatalf("exit: %v, want code %d\nstderr:\n%s", err, tc.code, stderr.String())
			}
			// Whatever happened, what was written reads back.
			evs := testkit.Events(t, results)
			pids := spawnPIDs(evs)
			if len(pids) == 0 {
				t.Fatal("no ffmpeg was spawned")
			}
			if tc.nginx {
				b, err := os.ReadFile(filepath.Join(dir, "nginx", "nginx.pid"))
				pid, aerr := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil || aerr != nil {
					t.Fatalf("nginx's pid file: %v %v", err, aerr)
				}
				pids = append(pids, pid)
			}
			assertGone(t, pids)
			if !tc.clean {
				return
			}
			last := evs[len(evs)-1]
			if last.Type != schema.TypeEnd || last.Reason != schema.EndInterrupted {
				t.Errorf("last line %+v, want end with reason interrupted", last)
			}
			if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
				t.Errorf("report.json must be written after an interrupt: %v", err)
			}
			if !strings.Contains(stdout.String(), "interrupted") {
				t.Errorf("the table should show the end reason:\n%s", stdout.String())
			}
		})
	}
}

func publishing(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"phase":"publishing"`) {
			return true
		}
	}
	return false
}

func TestBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("name: x\nduration: 10s\npublishers:\n  - group: a\n    count: 1\n    name: \"a-{j}\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownKey := filepath.Join(t.TempDir(), "unknown.yaml")
	if err := os.WriteFile(unknownKey, []byte("name: x\nduration: 10s\nbogus: 1\npublishers:\n  - group: a\n    count: 1\n    name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
		ffm  bool // needs ffmpeg to reach the check
	}{
		{"unknown builtin", []string{"run", "no-such-scenario"}, []string{"no-such-scenario", "smoke"}, false},
		{"missing file", []string{"run", "./missing.yaml"}, []string{"missing.yaml"}, false},
		{"bad pattern", []string{"run", broken}, []string{broken + ":6:"}, false},
		{"unknown key", []string{"run", unknownKey}, []string{unknownKey + ":3:", "bogus"}, false},
		{"no ffmpeg", []string{"run", "smoke", "--ffmpeg", "/nonexistent/ffmpeg"}, []string{"ffmpeg"}, false},
		{"busy port", []string{"run", "smoke", "--listen", busy.Addr().String()}, []string{busy.Addr().String(), "in use"}, true},
		{"unknown command", []string{"frobnicate"}, []string{"frobnicate"}, false},
		{"bad flag", []string{"run", "smoke", "--no-such-flag"}, []string{"no-such-flag"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ffm {
				testkit.FFmpeg(t)
			}
			out := filepath.Join(t.TempDir(), "out")
			args := append(tc.args, "--out", out, "--progress", "none", "--cache-dir", cacheDir(t))
			if tc.name == "unknown command" {
				args = tc.args
			}
			code, stdout, stderr := runInProcess(t, time.Minute, args...)
			if code != exitSetup {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitSetup, stdout, stderr)
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if tc.name != "bad flag" && !strings.HasPrefix(first, "rtmpload: ") {
				t.Errorf("error should be one rtmpload line first, got %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("nothing may be written on bad input, but %s exists", out)
			}
		})
	}
}

func TestScenariosAndVersion(t *testing.T) {
	code, stdout, _ := runInProcess(t, 10*time.Second, "scenarios")
	if code != exitOK || !strings.Contains(stdout, "smoke") || !strings.Contains(stdout, "duplicate-contest") {
		t.Errorf("scenarios: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runInProcess(t, 10*time.Second, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "rtmpload ") {
		t.Errorf("version: exit %d %q", code, stdout)
	}
}

// TestE2EServeApart: `--server serve` runs the embedded server as a process
// of its own (`rtmpload serve`): the run publishes to it, its log is in the
// results directory, the usage line gives its CPU and memory apart from
// rtmpload's, and it is gone when the run ends.
func TestE2EServeApart(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(rtmploadBinary(t), "run", "smoke", "--server", "serve", "--out", dir, "--progress", "none", "--cache-dir", cacheDir(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	s := readReport(t, dir)
	if s.Outcomes[schema.OutcomeOK] != 5 {
		t.Errorf("outcomes %v, want 5 ok", s.Outcomes)
	}
	if !strings.Contains(string(out), "the server's process: cpu") {
		t.Errorf("no usage line for the server's own process:\n%s", out)
	}
	evs := testkit.Events(t, filepath.Join(dir, "results.jsonl"))
	if !strings.Contains(evs[0].Run.Target, "rtmpload serve") {
		t.Errorf("target %q, want the embedded server as its own process", evs[0].Run.Target)
	}
	if u := evs[len(evs)-1].Usage; u == nil || u.ServerCPU <= 0 || u.ServerMaxRSS <= 0 {
		t.Errorf("end usage %+v: want the server's CPU and RSS", u)
	}
	if _, err := os.Stat(filepath.Join(dir, "serve")); err != nil {
		t.Errorf("the server's log directory: %v", err)
	}
}
