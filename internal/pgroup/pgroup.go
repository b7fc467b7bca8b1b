// Package pgroup runs rtmpload's child processes (ffmpeg, the servers it
// manages) each as the leader of a process group of its own, and ends them
// by that group: a signal to the leader alone misses what the child started
// itself (a shell script's own children, an nginx worker), and Pdeathsig,
// which the kernel sends when rtmpload dies, reaches the leader alone too.
//
// A Killer, carried by a context, lets the command's second Ctrl-C kill
// every group started under that context at once (cmd/rtmpload/main.go).
package pgroup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Prepare makes cmd, not yet started, lead a process group of its own (its
// pgid is its pid), which keeps a terminal's Ctrl-C away from it (stopping
// it is ours to decide). Pdeathsig kills the leader if rtmpload is killed;
// it is tied to the forking OS thread, which the Go runtime does not retire
// while we run.
func Prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Signal sends sig to every process of the group led by pid. A group that
// is gone already is no error.
func Signal(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("no process group %d", pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Killer kills, with SIGKILL, every process group tracked with it, at once,
// and from then on every group tracked later as soon as it is.
type Killer struct {
	mu     sync.Mutex
	groups map[int]int // pgid: how many trackers hold it
	fired  bool
}

// NewKiller returns a Killer that has not fired.
func NewKiller() *Killer { return &Killer{groups: map[int]int{}} }

type killerKey struct{}

// WithKiller returns ctx carrying k: the groups Track sees under it are k's.
func WithKiller(ctx context.Context, k *Killer) context.Context {
	return context.WithValue(ctx, killerKey{}, k)
}

// Track records the group led by pid, started under ctx, with ctx's Killer
// (none: nothing to do); if that Killer has fired already, the group is
// killed at once. Call untrack once the group is gone (after the leader was
// waited for and the group killed), before its pid can be reused.
func Track(ctx context.Context, pid int) (untrack func()) {
	k, _ := ctx.Value(killerKey{}).(*Killer)
	if k == nil || pid <= 0 {
		return func() {}
	}
	k.mu.Lock()
	k.groups[pid]++
	fired := k.fired
	k.mu.Unlock()
	if fired {
		_ = Signal(pid, syscall.SIGKILL)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.groups[pid]--; k.groups[pid] <= 0 {
				delete(k.groups, pid)
			}
		})
	}
}

// KillAll sends SIGKILL to every group tracked now, and makes Track kill
// every later one as soon as it is tracked. It returns how many groups it
// signaled.
func (k *Killer) KillAll() int {
	k.mu.Lock()
	k.fired = true
	pids := make([]int, 0, len(k.groups))
	for pid := range k.groups {
		pids = append(pids, pid)
	}
	k.mu.Unlock()
	for _, pid := range pids {
		_ = Signal(pid, syscall.SIGKILL)
	}
	return len(pids)
}

// Fired tells whether KillAll was called.
func (k *Killer) Fired() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fired
}

// ErrTimedOut is the cause Output gives when its timeout, not its caller,
// ended the command.
var ErrTimedOut = errors.New("timed out")

// Output runs cmd (not yet started) as the leader of a group of its own and
// returns its stdout. When ctx ends or timeout passes first, the whole group
// gets SIGKILL at once: such a command (ffmpeg -version, ffmpeg -encoders)
// has nothing to save. Its error then wraps context.Cause: ErrTimedOut for
// the timeout, ctx's own cause otherwise. Whatever the command left in its
// group is killed when it exits too.
func Output(ctx context.Context, timeout time.Duration, cmd *exec.Cmd) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimedOut)
	defer cancel()
	Prepare(cmd)
	// Our own pipe, not a buffer: Wait would read a buffer's pipe until
	// every holder closed it, the leader's children too, which only the
	// group kill below ends.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close() // the child has its own copy
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		_, _ = out.ReadFrom(r)
		close(read)
	}()
	pid := cmd.Process.Pid
	untrack := Track(ctx, pid)
	defer untrack()
	exited := make(chan struct{})
	killed := make(chan bool, 1)
	go func() {
		select {
		case <-exited:
			killed <- false
		case <-ctx.Done():
			_ = Signal(pid, syscall.SIGKILL)
			killed <- true
		}
	}()
	err = cmd.Wait()
	close(exited)
	_ = Signal(pid, syscall.SIGKILL) // what it left behind
	// A process that left the group could hold the pipe open: read on for
	// a moment only.
	_ = r.SetReadDeadline(time.Now().Add(time.Second))
	<-read
	if <-killed {
		return out.Bytes(), context.Cause(ctx)
	}
	return out.Bytes(), err
}
