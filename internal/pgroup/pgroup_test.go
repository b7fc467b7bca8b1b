package pgroup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangingScript writes a shell script that starts a child of its own, writes
// "PID CHILDPID" to the returned file, and waits forever ignoring SIGINT and
// SIGTERM: only SIGKILL to its group ends both.
func hangingScript(t *testing.T) (script, pids string) {
	t.Helper()
	dir := t.TempDir()
	script, pids = filepath.Join(dir, "hang"), filepath.Join(dir, "pids")
	body := "#!/bin/sh\ntrap '' INT TERM\nsleep 300 &\necho \"$$ $!\" > " + pids + ".tmp\nmv " + pids + ".tmp " + pids + "\nwhile kill -0 $! 2>/dev/null; do wait $!; done\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, pids
}

// readPIDs waits (bounded) for the script's pid file and returns its pids.
func readPIDs(t *testing.T, path string) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				n, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("pid file %q", b)
				}
				pids = append(pids, n)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatal("the script wrote no pid file within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertGone checks (bounded) that no pid of pids runs any more (a zombie,
// waiting for its reaper, counts as gone).
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d still runs", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(string(b[i+1:]), " Z")
}

func TestOutputTimeoutKillsTheGroup(t *testing.T) {
	script, pidFile := hangingScript(t)
	start := time.Now()
	_, err := Output(t.Context(), 300*time.Millisecond, exec.Command(script))
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("err = %v, want ErrTimedOut", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Output returned after %v", d)
	}
	pids := readPIDs(t, pidFile)
	if len(pids) != 2 {
		t.Fatalf("pids %v", pids)
	}
	assertGone(t, pids)
}

func TestOutputCanceledKillsTheGroup(t *testing.T) {
	script, pidFile := hangingScript(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := Output(ctx, time.Minute, exec.Command(script))
		done <- err
	}()
	pids := readPIDs(t, pidFile)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Output did not return within 10 s of the cancel")
	}
	assertGone(t, pids)
}

func TestOutputReturnsStdout(t *testing.T) {
	out, err := Output(t.Context(), 10*time.Second, exec.Command("sh", "-c", "echo hello; sleep 300 & exit 0"))
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Errorf("Output = %q, %v", out, err)
	}
}

// KillAll kills the groups tracked under the killer's context, and any
// tracked after it, and leaves alone the groups of other contexts.
func TestKillerKillsTrackedGroupsOnly(t *testing.T) {
	k := NewKiller()
	ctx := WithKiller(t.Context(), k)
	start := func(t *testing.T) (*exec.Cmd, []int) {
		script, pidFile := hangingScript(t)
		cmd := exec.Command(script)
		Prepare(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = Signal(cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd, readPIDs(t, pidFile)
	}
	tracked, trackedPIDs := start(t)
	defer Track(ctx, tracked.Process.Pid)()
	other, otherPIDs := start(t)
	defer Track(t.Context(), other.Process.Pid)()

	if n := k.KillAll(); n != 1 || !k.Fired() {
		t.Errorf("KillAll signaled %d groups (fired %v), want 1", n, k.Fired())
	}
	_ = tracked.Wait()
	assertGone(t, trackedPIDs)
	for _, pid := range otherPIDs {
		if !alive(pid) {
			t.Errorf("pid %d of an untracked group was killed", pid)
		}
	}

	late, latePIDs := start(t)
	defer Track(ctx, late.Process.Pid)()
	_ = late.Wait()
	assertGone(t, latePIDs)
}
