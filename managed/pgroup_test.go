package managed

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
)

// The second Ctrl-C (the context's pgroup.Killer fires) kills a managed
// server's whole group at once, also a server that ignores its stop signals
// and whatever it started.
func TestKillerEndsAManagedServer(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	script := "#!/bin/sh\ntrap '' INT TERM QUIT\nsleep 300 &\nwhile kill -0 $! 2>/dev/null; do wait $!; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	k := pgroup.NewKiller()
	ctx, cancel := context.WithCancel(pgroup.WithKiller(context.Background(), k))
	defer cancel()
	p, err := startProc(ctx, "server", syscall.SIGQUIT, dir, filepath.Join(dir, "log"), filepath.Join(dir, "out"), bin)
	if err != nil {
		t.Fatal(err)
	}
	defer p.signal(syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond) // let the script start its child
	k.KillAll()
	select {
	case <-p.done:
	case <-time.After(stopGrace - time.Second):
		t.Fatalf("the server still ran %v after the kill (its own stop takes %v)", stopGrace-time.Second, stopGrace)
	}
	if err := waitGroupGone(p.pgid, reapTimeout); err != nil {
		t.Error(err)
	}
}
