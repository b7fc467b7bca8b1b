package publisher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/internal/pgroup"
	"github.com/rtmpload/rtmpload/schema"
)

// Spec says which ffmpeg to run and how to supervise it.
type Spec struct {
	FFmpeg      string   // path of the binary
	Args        []string // without the program name
	Grace       time.Duration
	StderrLines int
	// OnStart, if set, is called once the process runs, with its start time and pid (also its
	// process group), before any OnProgress.
	OnStart func(at time.Time, pid int)
	// OnProgress, if set, is called for each -progress block, in order, from a goroutine of Run.
	OnProgress func(Progress)
	// Outputs, if set, are the URLs of a tee process (TeeArgs), in order: Run then tells its
	// stderr apart per output (TeeParser) and fills Result.Outputs. Parallel says Args were
	// built with parallel outputs.
	Outputs  []string
	Parallel bool
	// OnOutput, if set, is called when one of Outputs opens (never with Parallel) or fails, in
	// order, from a goroutine of Run.
	OnOutput func(Output)
}

// Grace and StderrLines used when a Spec leaves them zero.
const (
	DefaultGrace       = 5 * time.Second
	DefaultStderrLines = 20
)

// Result is how one ffmpeg process went.
type Result struct {
	Spawned, FirstProgress, Exited time.Time // FirstProgress is zero if no progress block came
	PID                            int
	ExitCode                       int    // -1 if ended by a signal
	Signal                         string // "" or e.g. "killed", "interrupt"
	Stopped                        bool   // we asked it to stop (ctx canceled) before it exited on its own
	Killed                         bool   // the grace ran out and SIGKILL ended it
	Class                          schema.ExitClass
	Message                        string // ffmpeg's own error line, "" if none
	StderrTail                     []string
	LastProgress                   Progress
	Err                            error // spawn error, or a supervision failure
	// CPU and MaxRSS are this process's own usage, from its wait status:
	// what it cost, apart from anything else its parent waited for.
	CPU    time.Duration
	MaxRSS int64 // bytes
	// Outputs is what each of Spec.Outputs did (nil without Spec.Outputs). An output that
	// neither opened nor failed was still being opened, or waiting, when the process ended.
	Outputs []Output
}

// Run starts ffmpeg and blocks until it and every process of its group are gone. Canceling ctx
// stops it: SIGINT to its process group, SIGKILL to the group after spec.Grace; the
// pgroup.Killer that ctx carries, if any, kills the group at once when it fires.
func Run(ctx context.Context, spec Spec) Result {
	grace := cmp.Or(spec.Grace, DefaultGrace)
	nlines := cmp.Or(spec.StderrLines, DefaultStderrLines)

	p, err := openPipes()
	if err != nil {
		return Result{Class: schema.ClassSpawnError, ExitCode: -1, Err: err, Exited: time.Now()}
	}
	var stopped atomic.Bool
	cmd := command(spec.FFmpeg, spec.Args, p)
	err = cmd.Start()
	// The child holds its own copies; ours must go so that reads end when the child's do.
	p.outW.Close()
	p.errW.Close()
	if err != nil {
		p.outR.Close()
		p.errR.Close()
		return Result{
			Class: schema.ClassSpawnError, ExitCode: -1, Stopped: ctx.Err() != nil, Exited: time.Now(),
			Err:     fmt.Errorf("starting %s: %w", spec.FFmpeg, err),
			Outputs: unopened(spec.Outputs),
		}
	}
	res := Result{Spawned: time.Now(), PID: cmd.Process.Pid}
	// A second Ctrl-C kills the group at once (pgroup.Killer).
	untrack := pgroup.Track(ctx, res.PID)
	defer untrack()
	exited := make(chan struct{})
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		supervise(ctx, res.PID, grace, exited, &stopped)
	}()
	if spec.OnStart != nil {
		spec.OnStart(res.Spawned, res.PID)
	}
	out := readOutput(p, spec, nlines)

	waitErr := cmd.Wait()
	res.Exited = time.Now()
	close(exited)
	<-supervised
	// Whatever ffmpeg left behind in its group goes too.
	if err := pgroup.Signal(res.PID, syscall.SIGKILL); err != nil {
		res.Err = fmt.Errorf("killing process group %d: %w", res.PID, err)
	}
	out.finish(&res)
	res.setExit(cmd.ProcessState, stopped.Load())

	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && res.Err == nil {
		res.Err = waitErr
	}
	return res
}

// pipes are ffmpeg's stdout (its -progress blocks) and stderr: our own pipes rather than
// cmd.StdoutPipe, because Wait closes those as soon as the process exits, which could lose its
// last lines, the ones that explain its exit.
type pipes struct {
	outR, outW, errR, errW *os.File
}

func openPipes() (*pipes, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	return &pipes{outR: outR, outW: outW, errR: errR, errW: errW}, nil
}

// command is ffmpeg, writing to p, in a process group of its own: a group
// keeps a terminal's Ctrl-C away from ffmpeg (stopping is ours to decide)
// and lets us end anything it started.
func command(ffmpeg string, args []string, p *pipes) *exec.Cmd {
	cmd := exec.Command(ffmpeg, args...)
	cmd.Stdout, cmd.Stderr = p.outW, p.errW
	pgroup.Prepare(cmd)
	return cmd
}

// supervise stops the group led by pid once ctx ends: SIGINT (stopped then
// tells that we asked), and SIGKILL if it still runs grace after that. It
// returns when the leader has exited (exited is closed). Both signals go to
// the whole group: a leader that ignores SIGINT may have children that do
// too, and only the group's SIGKILL reaches them.
func supervise(ctx context.Context, pid int, grace time.Duration, exited <-chan struct{}, stopped *atomic.Bool) {
	select {
	case <-exited:
		return
	case <-ctx.Done():
	}
	// Not pgroup.Signal: a group already gone (ESRCH) was not stopped by us.
	if syscall.Kill(-pid, syscall.SIGINT) == nil {
		stopped.Store(true)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = pgroup.Signal(pid, syscall.SIGKILL)
	}
}

// outputReader reads a running ffmpeg's stderr and progress, each in a goroutine of its own.
type outputReader struct {
	p           *pipes
	wg          sync.WaitGroup
	stderr      tail
	tee         *TeeParser // nil unless spec.Outputs
	first, last Progress
}

func readOutput(p *pipes, spec Spec, nlines int) *outputReader {
	o := &outputReader{p: p, stderr: tail{n: nlines}}
	if len(spec.Outputs) > 0 {
		o.tee = NewTeeParser(spec.Outputs, nlines, spec.Parallel)
		o.tee.OnChange = spec.OnOutput
	}
	o.wg.Go(func() {
		_ = eachLine(p.errR, maxLine, func(line []byte) {
			if o.tee == nil {
				o.stderr.add(line)
				return
			}
			o.tee.Line(time.Now(), line)
			// The process's own tail keeps what ffmpeg would print at its default level:
			// the verbose lines that place outputs would push out the ones that explain an exit.
			if !isVerbose(line) {
				o.stderr.add(line)
			}
		})
	})
	progress := progressParser{now: time.Now, block: func(b Progress) {
		if o.first.At.IsZero() {
			o.first = b
		}
		o.last = b
		if spec.OnProgress != nil {
			spec.OnProgress(b)
		}
	}}
	o.wg.Go(func() { _ = eachLine(p.outR, maxLine, progress.line) })
	return o
}

// finish ends the reading once the process has exited and puts what was read into res.
func (o *outputReader) finish(res *Result) {
	// A process that left the group could hold the pipes open forever: read on for a moment
	// only.
	deadline := time.Now().Add(time.Second)
	_ = o.p.outR.SetReadDeadline(deadline)
	_ = o.p.errR.SetReadDeadline(deadline)
	o.wg.Wait()
	o.p.outR.Close()
	o.p.errR.Close()

	res.FirstProgress, res.LastProgress = o.first.At, o.last
	res.StderrTail = o.stderr.lines
	res.Message = bestMessage(o.stderr.lines)
	if o.tee != nil {
		res.Outputs = o.tee.Outputs()
	}
}

// setExit puts how the process ended, and what it cost, into res and
// classifies it.
func (res *Result) setExit(ps *os.ProcessState, stopped bool) {
	res.Stopped = stopped
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss << 10 // Linux reports KiB
	}
	ws := ps.Sys().(syscall.WaitStatus)
	res.ExitCode = ps.ExitCode()
	if ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	res.Killed = res.Stopped && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	res.Class = classify(ws, res.Stopped)
}

func classify(ws syscall.WaitStatus, stopped bool) schema.ExitClass {
	switch {
	case stopped && ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return schema.ClassKilled
	case stopped && (ws.Exited() && (ws.ExitStatus() == 255 || ws.ExitStatus() == 0) ||
		ws.Signaled() && ws.Signal() == syscall.SIGINT):
		return schema.ClassStopped
	case ws.Exited() && ws.ExitStatus() == 0:
		return schema.ClassExited
	default:
		return schema.ClassFailed
	}
}
