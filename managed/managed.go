// Package managed starts a real RTMP server (nginx-rtmp or SRS) for a run
// or a test: on free loopback ports, with its configuration and logs in a
// results directory, in its own process group, waited for until it serves,
// and stopped and reaped so that no process of it outlives the run.
package managed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
)

// Server is a running managed server.
type Server interface {
	RTMPAddr() string // host:port
	Kind() string     // KindNginx or KindSRS
	Version() string
	// Stop ends the server's whole process group and reaps it. It is
	// idempotent and bounded: when ctx ends first, the group is killed.
	Stop(ctx context.Context) error
	LogPath() string
}

// Kinds of server.
const (
	KindNginx = "nginx-rtmp"
	KindSRS   = "srs"
)

const (
	// readyTimeout bounds the wait for a started server to serve.
	readyTimeout = 10 * time.Second
	// stopGrace is how long a server gets to shut down by itself before its
	// group is killed; the first half is for a graceful stop.
	stopGrace = 5 * time.Second
	// reapTimeout bounds the wait for the group to vanish after SIGKILL.
	reapTimeout = 3 * time.Second
	// portTries bounds the retries when a free port we picked is taken
	// before the server binds it.
	portTries = 3
)

// errPortRace marks a start that failed because a port we picked was taken.
var errPortRace = errors.New("port taken before the server bound it")

// retryPortRace starts a server again when a free port it was given was
// taken before it bound it.
func retryPortRace[T any](start func() (T, error)) (T, error) {
	var v T
	var err error
	for range portTries {
		if v, err = start(); !errors.Is(err, errPortRace) {
			break
		}
	}
	return v, err
}

// proc is a supervised server process and its group.
type proc struct {
	name    string // for messages
	cmd     *exec.Cmd
	pgid    int
	logPath string
	first   syscall.Signal // graceful stop signal

	done    chan struct{} // closed once cmd.Wait returned
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// startProc starts cmd in its own process group. ctx is the server's
// lifetime: when it ends, the group gets first and, after stopGrace, is
// killed.
func startProc(ctx context.Context, name string, first syscall.Signal, workDir, logPath, outPath, binary string, args ...string) (*proc, error) {
	return startProcOut(ctx, name, first, workDir, logPath, outPath, outPath, binary, args...)
}

// startProcSplit is startProc with stdout in outPath and stderr, its log, in
// logPath.
func startProcSplit(ctx context.Context, name string, first syscall.Signal, workDir, outPath, logPath, binary string, args ...string) (*proc, error) {
	return startProcOut(ctx, name, first, workDir, logPath, outPath, logPath, binary, args...)
}

func startProcOut(ctx context.Context, name string, first syscall.Signal, workDir, logPath, outPath, errPath, binary string, args ...string) (*proc, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer out.Close() // the child has its own copy
	errOut := out
	if errPath != outPath {
		if errOut, err = os.OpenFile(errPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer errOut.Close()
	}
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = workDir
	cmd.Stdout, cmd.Stderr = out, errOut
	// Pdeathsig (pgroup.Prepare): if rtmpload dies without stopping the
	// server, the kernel kills the leader, whose workers then exit with it.
	pgroup.Prepare(cmd)
	p := &proc{name: name, cmd: cmd, logPath: logPath, first: first, done: make(chan struct{})}
	cmd.Cancel = func() error { return p.signal(first) }
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.pgid = cmd.Process.Pid // Setpgid with Pgid 0: the group is the leader's pid
	// A second Ctrl-C kills the group at once (pgroup.Killer).
	untrack := pgroup.Track(ctx, p.pgid)
	go func() {
		p.waitErr = cmd.Wait()
		// WaitDelay kills only the leader: take the rest of the group too.
		p.signal(syscall.SIGKILL)
		untrack()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop: first signal, SIGTERM halfway through stopGrace (nginx's fast
// shutdown still reaps its workers, which SIGKILL of the group would leave
// to init), then SIGKILL; ctx ending skips straight to SIGKILL.
func (p *proc) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(ctx) })
	return p.stopErr
}

func (p *proc) stop(ctx context.Context) error {
	stages := []syscall.Signal{p.first, syscall.SIGTERM, syscall.SIGKILL}
	if p.first == syscall.SIGTERM {
		stages = stages[1:]
	}
	step := stopGrace / time.Duration(len(stages)-1)
stages:
	for i, sig := range stages {
		if p.exited() {
			break
		}
		if err := p.signal(sig); err != nil {
			return fmt.Errorf("%s: stop: %w", p.name, err)
		}
		if i == len(stages)-1 {
			break
		}
		t := time.NewTimer(step)
		select {
		case <-p.done:
			t.Stop()
			break stages
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			p.signal(syscall.SIGKILL)
			break stages
		}
	}
	select {
	case <-p.done:
	case <-time.After(reapTimeout):
		return fmt.Errorf("%s: pid %d did not exit after SIGKILL", p.name, p.pgid)
	}
	if err := waitGroupGone(p.pgid, reapTimeout); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// waitGroupGone waits until no live process of group pgid remains.
func waitGroupGone(pgid int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !GroupGone(pgid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d still has processes after %v", pgid, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// GroupGone reports whether process group pgid has no running process.
// A zombie counts as gone: it runs nothing, and when an orphaned worker is
// reparented to a PID 1 that does not reap (some containers), kill(-pgid, 0)
// would find it forever.
func GroupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after "(comm)": state ppid pgrp ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return false
		}
	}
	return true
}

// waitReady polls probe until it succeeds, the process exits, ctx ends or
// readyTimeout passes.
func (p *proc) waitReady(ctx context.Context, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-p.done:
			t.Stop()
			return p.exitError()
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: not ready after %v (%v); its log %s ends with:\n%s",
				p.name, readyTimeout, last, p.logPath, tail(p.logPath, 10))
		case <-t.C:
		}
	}
}

// exitError explains a server that exited before it was ready.
func (p *proc) exitError() error {
	lines := tail(p.logPath, 10)
	if strings.Contains(lines, "Address already in use") {
		return fmt.Errorf("%s: %w", p.name, errPortRace)
	}
	return fmt.Errorf("%s exited before it was ready (%v); the last lines of %s:\n%s\n"+
		"check the configuration in %s and the binary, or run it by hand with the same arguments",
		p.name, p.waitErr, p.logPath, lines, filepath.Dir(p.logPath))
}

// tail returns the last n lines of path, or why it cannot.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, "  "+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "  (empty)"
	}
	return strings.Join(lines, "\n")
}

// freeAddr resolves a listen address: "" or port 0 gets a free loopback
// port (picked by listening and closing, so another process may take it
// before the server binds it: callers retry on errPortRace); a fixed port
// must be free now, else a one-line error.
func freeAddr(what, addr string) (string, bool, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("%s listen %q: %w", what, addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return "", false, fmt.Errorf("%s address %s is busy: another process listens there; pick another port or stop it", what, addr)
		}
		return "", false, fmt.Errorf("%s listen %s: %w", what, addr, err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return net.JoinHostPort(host, strconv.Itoa(got)), port == "0", nil
}

// dialProbe succeeds once something accepts TCP connections at addr.
func dialProbe(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// quote makes s one token of nginx's or SRS's configuration syntax; both
// read double-quoted tokens with backslash escapes.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n;{}#\"'\\$") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
