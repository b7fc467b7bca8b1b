package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// fakeFFmpeg writes a script standing in for ffmpeg: it answers -version and
// runs body otherwise.
func fakeFFmpeg(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	script := "#!/bin/sh\ncase \"$1\" in -version) echo 'ffmpeg version fake'; exit 0;; esac\n" + body
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Ctrl-C while an ffmpeg hangs encoding the clip is an interrupt: exit 2,
// not a setup error with "context canceled".
func TestInterruptDuringClipEncodeExits2(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	ff := fakeFFmpeg(t, "touch '"+started+"'\nexec sleep 60\n")
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
