// Package limits checks, before a large run, that the process limits leave room for it, and says
// what to raise when they do not.
//
// Open files: Go (since 1.19) already raises its own soft RLIMIT_NOFILE to the hard limit at
// startup, and gives its children the original soft limit back (ffmpeg needs a handful of
// descriptors). So the soft limit seen here is normally the hard one; Check raises it itself only
// if something lowered it since.
//
// Processes: RLIMIT_NPROC counts every task (thread) of the real user, not only ours, so the
// user's current tasks are counted from /proc. Linux does not apply it to root.
package limits

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Per-publisher and base needs, measured on a 10-publisher run: rtmpload held about 5.7
// descriptors per publisher (ffmpeg's stdout/stderr pipes, the tap's two sockets, the embedded
// server's socket) plus about 20 of its own; each ffmpeg publisher is one single-threaded task.
const (
	FilesPerPublisher = 6
	FilesBase         = 64
	TasksPerPublisher = 1
	// TasksSpare is headroom for rtmpload's own threads to grow and for helper processes (the
	// clip encode, ffprobe).
	TasksSpare = 16
)

// Need is what a run of some publishers needs.
type Need struct {
	Files int // open files in rtmpload
	Tasks int // processes and threads of the user, everything else included
}

// Limits are the current limits and usage. Unlimited is unix.RLIM_INFINITY.
type Limits struct {
	FilesSoft, FilesHard uint64
	TasksSoft            uint64
	UserTasks            int  // tasks the user runs now (all processes' threads)
	Root                 bool // NPROC does not apply
}

// system is what Check reads and changes; tests give a fake.
type system interface {
	limits() (Limits, error)
	raiseFiles(to uint64) error
}

// Check reads the limits and returns an error naming what to raise if a run of publishers would
// run out of open files or processes. When only the soft open-files limit is short and the hard
// one is enough, it raises the soft one instead.
func Check(publishers int) error { return check(publishers, osSystem{}) }

// Estimate is the need of a run of publishers, given the user's current tasks.
func Estimate(publishers, userTasks int) Need {
	return Need{
		Files: FilesBase + FilesPerPublisher*publishers,
		Tasks: userTasks + TasksPerPublisher*publishers + TasksSpare,
	}
}

func check(publishers int, sys system) error {
	l, err := sys.limits()
	if err != nil {
		return fmt.Errorf("reading the process limits: %w", err)
	}
	need := Estimate(publishers, l.UserTasks)

	if files := uint64(need.Files); files > l.FilesSoft {
		if files > l.FilesHard {
			return fmt.Errorf("%d publishers need about %d open files but the limit is %d: raise it with `ulimit -n %d` (or LimitNOFILE= in a systemd unit)",
				publishers, need.Files, l.FilesHard, roundUp(need.Files))
		}
		if err := sys.raiseFiles(l.FilesHard); err != nil {
			return fmt.Errorf("%d publishers need about %d open files but the limit is %d and raising it to %d failed (%v): raise it with `ulimit -n %d`",
				publishers, need.Files, l.FilesSoft, l.FilesHard, err, roundUp(need.Files))
		}
	}
	if !l.Root && l.TasksSoft != unix.RLIM_INFINITY && uint64(need.Tasks) > l.TasksSoft {
		return fmt.Errorf("%d publishers need about %d processes of this user (%d running now) but the limit is %d: raise it with `ulimit -u %d` (or LimitNPROC= in a systemd unit)",
			publishers, need.Tasks, l.UserTasks, l.TasksSoft, roundUp(need.Tasks))
	}
	return nil
}

// roundUp suggests a limit with room: the next power of two above n, at least 1024.
func roundUp(n int) int {
	v := 1024
	for v < n*5/4 {
		v *= 2
	}
	return v
}

type osSystem struct{}

func (osSystem) limits() (Limits, error) {
	var files, tasks unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &files); err != nil {
		return Limits{}, err
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &tasks); err != nil {
		return Limits{}, err
	}
	uid := os.Getuid()
	l := Limits{FilesSoft: files.Cur, FilesHard: files.Max, TasksSoft: tasks.Cur, Root: uid == 0}
	if !l.Root {
		l.UserTasks = userTasks(uid)
	}
	return l, nil
}

// raiseFiles sets the soft limit. Through syscall.Setrlimit, so that the runtime knows and keeps
// this limit for children too (which is harmless for ffmpeg).
func (osSystem) raiseFiles(to uint64) error {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = to
	return unix.Setrlimit(unix.RLIMIT_NOFILE, &l)
}

// userTasks counts the threads of every process whose real uid is uid: that is what
// RLIMIT_NPROC is compared with. Processes that vanish while being read are skipped; a few
// hundred /proc/PID/status reads take a few milliseconds.
func userTasks(uid int) int {
	paths, _ := filepath.Glob("/proc/[0-9]*/status")
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var realUID, threads = -1, 1
		for line := range strings.Lines(string(b)) {
			key, value, _ := strings.Cut(line, ":")
			fields := strings.Fields(value)
			switch {
			case key == "Uid" && len(fields) > 0:
				realUID, _ = strconv.Atoi(fields[0])
			case key == "Threads" && len(fields) > 0:
				threads, _ = strconv.Atoi(fields[0])
			}
		}
		if realUID == uid {
			n += threads
		}
	}
	return n
}
