// Package testkit holds the helpers the tests of several packages share, so
// that each is written once and every test skips, waits and reads results
// the same way:
//
//   - FFmpeg, FFmpegOrStub, StubFFmpeg and FakeFFmpeg give a test its
//     ffmpeg: the real one (skipped with -short, since the quick tier starts
//     no ffmpeg, and when none is on PATH), or a shell script standing in
//     for it.
//   - SRS and SRSBinary give the real SRS binary that RTMPLOAD_SRS names
//     (scripts/test.sh sets it when one is installed); Nginx skips unless
//     nginx and its RTMP module are installed (scripts/deps.sh --test).
//   - Events reads a results file with schema.Read, as every reader of
//     results does.
//   - Poll and WaitFor wait, bounded in time, for a condition.
//   - Clock is a fake clock for code whose timers are injected (the
//     callback's fault schedule, the embedded server's publish timeouts).
//
// It imports only the standard library and schema, so that the tests of
// any other package can use it without an import cycle; what it would need
// from elsewhere (the nginx module lookup of managed) its caller passes in.
package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// FFmpeg returns the ffmpeg on PATH for a test that starts a real one. With
// -short, or without ffmpeg, the test is skipped and says why.
func FFmpeg(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real ffmpeg: skipped with -short")
	}
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH: run scripts/deps.sh")
	}
	return p
}

// FFmpegOrStub returns the ffmpeg on PATH, or with -short a StubFFmpeg: for
// tests that only ask ffmpeg what it is and can do, so that they run in the
// quick tier too. Without ffmpeg on PATH the test is skipped.
func FFmpegOrStub(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		return StubFFmpeg(t)
	}
	return FFmpeg(t)
}

// stubScript answers -version, -encoders and -muxers as Debian's ffmpeg
// does (H.264, AAC and FLV in), and fails on anything else.
const stubScript = `for a in "$@"; do
	case "$a" in
	-version) echo "ffmpeg version 5.1-stub Copyright (c) 2000-2022 the FFmpeg developers"; exit 0 ;;
	-encoders) printf ' V....D libx264              libx264 H.264 / AVC\n A....D aac                  AAC (Advanced Audio Coding)\n'; exit 0 ;;
	-muxers) printf '  E flv             FLV (Flash Video)\n'; exit 0 ;;
	esac
done
exit 1
`

// StubFFmpeg writes a stand-in for ffmpeg that answers -version, -encoders
// and -muxers as Debian's does and fails on anything else (it publishes
// nothing), and returns its path.
func StubFFmpeg(t testing.TB) string {
	t.Helper()
	return FakeFFmpeg(t, stubScript)
}

// FakeFFmpeg writes a shell script named ffmpeg, "#!/bin/sh" then body,
// into a directory of the test's own and returns its path.
func FakeFFmpeg(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// SRSEnv names the variable that gives the SRS binary the SRS tests run
// against. scripts/test.sh sets it when it finds one; without it those
// tests skip.
const SRSEnv = "RTMPLOAD_SRS"

// SRSBinary returns the SRS binary to test against, or "" and the reason
// the SRS tests (or a test's SRS half) are skipped.
func SRSBinary() (path, why string) {
	if p := os.Getenv(SRSEnv); p != "" {
		return p, ""
	}
	return "", SRSEnv + " is unset: set it to the path of an SRS 7 binary (built from ossrs/srs, " +
		"with RTMP, the HTTP API and hooks; scripts/test.sh sets it when one is installed)"
}

// SRS returns the SRS binary for a test that runs real SRS. With -short, or
// without RTMPLOAD_SRS, the test is skipped and says why.
func SRS(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real SRS: skipped with -short")
	}
	p, why := SRSBinary()
	if p == "" {
		t.Skip(why)
	}
	return p
}

// Nginx skips the test with -short, or unless nginx is on PATH and
// findModule (managed.FindModule, passed in so that managed's own tests can
// use this) finds its RTMP module.
func Nginx(t testing.TB, findModule func() (string, error)) {
	t.Helper()
	if testing.Short() {
		t.Skip("real nginx-rtmp: skipped with -short")
	}
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx not on PATH: run scripts/deps.sh --test")
	}
	if _, err := findModule(); err != nil {
		t.Skipf("%v: run scripts/deps.sh --test", err)
	}
}

// Events returns every event of the results file at path, read with
// schema.Read (so as rtmpload's own readers see it: redacted, a torn last
// line dropped). Results of tests are small enough to hold in memory.
func Events(t testing.TB, path string) []schema.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []schema.Event
	if err := schema.Read(f, func(ev schema.Event) error { evs = append(evs, ev); return nil }); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return evs
}

// pollEvery is how often Poll tries its condition: often enough that a
// wait ends within a few milliseconds of the condition, seldom enough to
// leave the CPU to what the test waits for.
const pollEvery = 5 * time.Millisecond

// Poll tries cond until it holds or d has passed, and reports whether it
// held. For a test that says more than WaitFor when the wait fails.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// WaitFor waits at most d for cond to hold and fails the test, naming what
// it waited for, when it does not.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// HangingFFmpeg writes a stand-in for an ffmpeg that hangs on every call,
// ignoring SIGINT and SIGTERM, with a child of its own (a sleep): only a
// kill of its whole process group ends both. Once running it writes its pid,
// the leader of that group, to pidFile.
func HangingFFmpeg(t testing.TB) (ff, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	ff, pidFile = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "pid")
	script := "#!/bin/sh\ntrap '' INT TERM\nsleep 300 &\necho $$ > " + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nwhile kill -0 $! 2>/dev/null; do wait $!; done\n"
	if err := os.WriteFile(ff, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return ff, pidFile
}

// GroupGone waits (at most 5 s) until the process group led by the pid in
// pidFile (HangingFFmpeg's) has no process left; otherwise it kills the
// group and fails the test.
func GroupGone(t testing.TB, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake ffmpeg never ran: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("process group %d of the fake ffmpeg outlived the check", pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
