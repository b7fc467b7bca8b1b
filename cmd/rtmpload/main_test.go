package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain lets more end-to-end tests run at once than there are cores
// (go test's default -parallel is GOMAXPROCS): a run waits on the wall clock
// (ffmpeg publishes in real time) and uses a few percent of a core. Three at
// once: the duplicate-contest runs start 25 ffmpegs each within 8 s, and
// each costs about 0.2-0.3 s of CPU to start. An explicit -parallel wins. It also removes the rtmpload binary that the
// tests of child processes share.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "3")
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// rtmploadBinary builds rtmpload once for every test that runs it as a
// child process.
func rtmploadBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "rtmpload-test-bin"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "rtmpload")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
