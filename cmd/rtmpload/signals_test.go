package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

// stubbornFFmpeg writes a fake ffmpeg into dir that ignores SIGTERM and, but
// for the report stage, SIGINT (each SIGINT it gets is a line in dir/int),
// starts a child of its own, writes "PID CHILDPID" to dir/pids and waits for
// the child: only a SIGKILL to its process group ends both. Where it hangs
// depends on the stage: on -version ("version"), on the clip's encoding
// ("encode"), or as a publisher (every other stage, with a warm clip cache).
func stubbornFFmpeg(t *testing.T, dir, stage string) string {
	t.Helper()
	onInt := "echo $$ >> " + dir + "/int"
	if stage == "report" {
		onInt += "; exit 0"
	}
	version, encode := "echo 'ffmpeg version fake'; exit 0", "echo 'encode called with a warm cache' >&2; exit 1"
	switch stage {
	case "version":
		version = ":"
	case "encode":
		encode = ":"
	}
	return testkit.FakeFFmpeg(t, "trap '' TERM\ntrap '"+onInt+"' INT\n"+
		"case \"$*\" in\n*-version*) "+version+";;\n*lavfi*) "+encode+";;\nesac\n"+
		// A background child of a non-interactive shell ignores SIGINT.
		"sleep 300 &\necho \"$$ $!\" >> "+dir+"/pids\n"+
		"while kill -0 $! 2>/dev/null; do wait $!; done\n")
}

// fakeGroups returns the process groups the fake ffmpeg wrote to dir/pids
// (each line: the script, its group's leader, then its child).
func fakeGroups(t *testing.T, dir string) (groups []int, children []int) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "pids"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue // not written yet, or half written
		}
		leader, err1 := strconv.Atoi(f[0])
		child, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("pids line %q", line)
		}
		groups, children = append(groups, leader), append(children, child)
	}
	return groups, children
}

// lines counts the lines of a file (0 if it is not there).
func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// gateWriter is a stdout whose first write tells entered and waits for
// release.
type gateWriter struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	buf              bytes.Buffer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func (g *gateWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

// TestSignalsAtEachStage stops a run, whose ffmpeg hangs or ignores signals
// (a script that starts a child of its own), with Ctrl-C or SIGTERM at each
// stage: the -version check, the clip's encoding, the ramp, the hold, the
// grace period after the run's end, and the report. Every process of every
// fake's group is gone afterwards (only a group kill reaches the children),
// and the run ends with its end line: the results' end event and the report
// once publishing began, the "interrupted before any publisher started"
// line before. One signal waits out --grace; a second kills at once (the
// two-signal cases have a grace of 5 minutes, far beyond the test's bound).
func TestSignalsAtEachStage(t *testing.T) {
	const (
		int1 = syscall.SIGINT
		term = syscall.SIGTERM
	)
	cases := []struct {
		stage   string
		signals []os.Signal
	}{
		{"version", []os.Signal{int1}},
		{"version", []os.Signal{term}},
		{"encode", []os.Signal{int1}},
		{"encode", []os.Signal{int1, term}},
		{"ramp", []os.Signal{int1}},
		{"ramp", []os.Signal{term, term}},
		{"hold", []os.Signal{term}},
		{"hold", []os.Signal{int1, int1}},
		{"grace", []os.Signal{int1}},
		{"grace", []os.Signal{int1, term}},
		{"report", []os.Signal{int1}},
		{"report", []os.Signal{term, int1}},
	}
	for _, c := range cases {
		var names []string
		for _, s := range c.signals {
			names = append(names, map[os.Signal]string{int1: "INT", term: "TERM"}[s])
		}
		t.Run(c.stage+"/"+strings.Join(names, "+"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ff := stubbornFFmpeg(t, dir, c.stage)
			// A failed test leaves nothing running either.
			t.Cleanup(func() {
				groups, _ := fakeGroups(t, dir)
				for _, g := range groups {
					_ = syscall.Kill(-g, syscall.SIGKILL)
				}
			})
			cache := t.TempDir()
			if c.stage != "encode" {
				wholeClip(t, cache)
			}
			// ramp: 3 publishers over 30 s (one starts at once); hold: 2 at
			// once; grace and report: 1 s, then the end stops them.
			count, ramp, duration := 2, "0s", "60s"
			switch c.stage {
			case "ramp":
				count, ramp = 3, "30s"
			case "grace", "report":
				count, duration = 1, "1s"
			}
			sc := filepath.Join(dir, "sc.yaml")
			y := "name: sig\nduration: " + duration + "\nmedia:\n  clip: testsrc-360p\n  bitrate: 300k\npublishers:\n  - group: g\n    count: " +
				strconv.Itoa(count) + "\n    ramp: " + ramp + "\n    name: \"s-{i}\"\n"
			if err := os.WriteFile(sc, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			grace := "1s"
			if len(c.signals) > 1 {
				grace = "5m"
			}
			out := filepath.Join(dir, "out")
			results := filepath.Join(out, "results.jsonl")
			sigs := make(chan os.Signal, len(c.signals))
			var stderr bytes.Buffer
			// The report stage: the table's first write waits until the
			// signals have come.
			stdout := &gateWriter{entered: make(chan struct{}), release: make(chan struct{})}
			if c.stage != "report" {
				close(stdout.release)
			}
			exited := make(chan int, 1)
			done := make(chan int, 1)
			go func() {
				done <- runSignals(sigs, func(code int) { exited <- code }, []string{"run", sc, "--ffmpeg", ff, "--cache-dir", cache,
					"--out", out, "--grace", grace, "--progress", "none"}, strings.NewReader(""), stdout, &stderr)
			}()

			// The stage: what the fake (or the run) wrote tells where the
			// run is.
			ready := map[string]func() bool{
				"version": func() bool { return lines(filepath.Join(dir, "pids")) >= 1 },
				"encode":  func() bool { return lines(filepath.Join(dir, "pids")) >= 1 },
				"ramp":    func() bool { return lines(filepath.Join(dir, "pids")) >= 1 },
				"hold":    func() bool { return lines(filepath.Join(dir, "pids")) >= 2 },
				"grace":   func() bool { return lines(filepath.Join(dir, "int")) >= 1 },
				"report": func() bool {
					select {
					case <-stdout.entered:
						return true
					default:
						return false
					}
				},
			}[c.stage]
			if !testkit.Poll(30*time.Second, func() bool {
				select {
				case code := <-done:
					t.Fatalf("the run ended (exit %d) before the %s stage\n%s", code, c.stage, stderr.String())
				default:
				}
				return ready()
			}) {
				t.Fatalf("the run did not reach the %s stage within 30 s\n%s", c.stage, stderr.String())
			}
			for _, s := range c.signals {
				sigs <- s
			}
			if c.stage == "report" {
				// Let the signals land before the table goes on.
				time.Sleep(100 * time.Millisecond)
				close(stdout.release)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the run did not end within 60 s of the signals\n%s", stderr.String())
			}
			select {
			case code := <-exited:
				t.Errorf("the command left through exit(%d)", code)
			default:
			}

			groups, children := fakeGroups(t, dir)
			if len(groups) == 0 {
				t.Fatal("the fake ffmpeg never ran")
			}
			assertGone(t, groups)
			for _, pid := range children {
				if alive(pid) {
					t.Errorf("pid %d, a child of the fake ffmpeg, outlived the run", pid)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if c.stage == "ramp" && len(groups) >= 3 {
				t.Errorf("%d publishers started: the signal came after the ramp", len(groups))
			}
			if len(c.signals) > 1 && c.stage != "report" && !strings.Contains(stderr.String(), "second signal: killing every child process now") {
				t.Errorf("no word of the second signal\n%s", stderr.String())
			}

			switch c.stage {
			case "version", "encode":
				if code != exitAborted || !strings.Contains(stderr.String(), "interrupted before any publisher started") {
					t.Errorf("exit %d, want %d with the interrupted line\n%s", code, exitAborted, stderr.String())
				}
				return
			case "report":
				// The run was whole when the signals came: it ends as it would have.
				if code != exitOK {
					t.Errorf("exit %d, want %d\n%s", code, exitOK, stderr.String())
				}
			default:
				if code != exitAborted || !strings.Contains(stderr.String(), "interrupted: every ffmpeg was stopped") {
					t.Errorf("exit %d, want %d with the interrupted line\n%s", code, exitAborted, stderr.String())
				}
			}
			evs := testkit.Events(t, results)
			last := evs[len(evs)-1]
			want := schema.EndInterrupted
			if c.stage == "report" {
				want = schema.EndNormal
			}
			if last.Type != schema.TypeEnd || last.Reason != want {
				t.Errorf("last line %+v, want the end with reason %q", last, want)
			}
			for _, f := range []string{"report.json", "report.html"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("%s not written: %v", f, err)
				}
			}
			if !strings.Contains(stdout.String(), "report:") {
				t.Errorf("the report table was not printed\n%s", stdout.String())
			}
		})
	}
}

// A third signal leaves at once, through exit with code 2, whatever the run
// still waits for (here, the -version check).
func TestThirdSignalLeavesAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ff := stubbornFFmpeg(t, dir, "version")
	t.Cleanup(func() {
		groups, _ := fakeGroups(t, dir)
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	})
	sigs := make(chan os.Signal, 3)
	exited := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	// exit does not return in main; here it stops the run as the first
	// signal did, so that the test ends with nothing left behind.
	go func() {
		done <- runSignals(sigs, func(code int) { exited <- code }, []string{"run", smallScenario(t, ""), "--ffmpeg", ff,
			"--cache-dir", t.TempDir(), "--out", filepath.Join(dir, "out"), "--progress", "none"}, strings.NewReader(""), &stdout, &stderr)
	}()
	if !testkit.Poll(30*time.Second, func() bool { return lines(filepath.Join(dir, "pids")) >= 1 }) {
		t.Fatalf("the -version check did not start within 30 s\n%s", stderr.String())
	}
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != exitAborted {
			t.Errorf("exit(%d), want %d", code, exitAborted)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the third signal did not leave within 30 s")
	}
	<-done
	if !strings.Contains(stderr.String(), "third signal: leaving at once") {
		t.Errorf("no word of the third signal\n%s", stderr.String())
	}
	groups, _ := fakeGroups(t, dir)
	assertGone(t, groups)
}

// alive tells whether pid runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !bytes.HasPrefix(b[i+1:], []byte(" Z"))
}
