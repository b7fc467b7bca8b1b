package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

// A scenario that is no scenario file (/dev/zero, /dev/urandom) ends at
// once with one line naming the size limit, in run and in hook.
func TestScenarioFromADevice(t *testing.T) {
	ff := testkit.StubFFmpeg(t)
	for _, args := range [][]string{
		{"run", "/dev/zero", "--ffmpeg", ff, "--progress", "none"},
		{"run", "/dev/urandom", "--ffmpeg", ff, "--progress", "none"},
		{"hook", "--scenario", "/dev/zero", "--listen", "127.0.0.1:0"},
	} {
		code, _, stderr := runInProcess(t, time.Minute, args...)
		if code != exitSetup || !strings.Contains(stderr, "is larger than 1048576 bytes (1 MiB)") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, want %d with one line naming the limit\n%s", args, code, exitSetup, stderr)
		}
	}
}

// Ctrl-C while the scenario is read (a FIFO whose writer never writes) ends
// run and hook with the interrupted line and exit 2.
func TestScenarioReadInterrupted(t *testing.T) {
	ff := testkit.StubFFmpeg(t)
	for _, cmd := range []string{"run", "hook"} {
		t.Run(cmd, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "scenario.yaml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			// Read and write ends held open: the read waits for data that
			// never comes.
			w, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			args := []string{"run", fifo, "--ffmpeg", ff, "--progress", "none", "--out", filepath.Join(t.TempDir(), "out")}
			want := "interrupted before any publisher started"
			if cmd == "hook" {
				args, want = []string{"hook", "--scenario", fifo, "--listen", "127.0.0.1:0"}, "the hook was not started"
			}
			sigs := make(chan os.Signal, 1)
			var stdout, stderr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- runSignals(sigs, func(int) {}, args, strings.NewReader(""), &stdout, &stderr)
			}()
			time.Sleep(100 * time.Millisecond) // let it wait in the read
			sigs <- syscall.SIGINT
			select {
			case code := <-done:
				if code != exitAborted || !strings.Contains(stderr.String(), want) {
					t.Errorf("exit %d, want %d with %q\n%s", code, exitAborted, want, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the command did not end within 30 s of Ctrl-C")
			}
		})
	}
}
