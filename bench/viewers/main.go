// Command viewers measures what players cost: N players (internal/testplayer) of
// one stream that ffmpeg publishes, against SRS or the embedded server run
// as a process of its own (`rtmpload serve`), and the CPU each side spends
// per viewer in the same run.
//
//	viewers -server srs=PATH|serve=PATH [-viewers 100] [-protocol rtmp|http-flv] [-measure 10s]
//
// The players start 5 ms apart, play until the measure window (after a 4 s
// settle) is over, and are read in this process: "players" is this
// process's CPU, "server" the server's process. Output: one line with both
// per viewer, errors, stalls and the first frame's p50 and p99.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/internal/testplayer"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/media"
)

func main() {
	server := flag.String("server", "", "srs=PATH (an SRS binary) or serve=PATH (an rtmpload binary)")
	n := flag.Int("viewers", 100, "players")
	proto := flag.String("protocol", "rtmp", "rtmp or http-flv")
	measure := flag.Duration("measure", 10*time.Second, "the window the CPU is measured over")
	bitrate := flag.Int("bitrate", 500_000, "the clip's bitrate, b/s")
	flag.Parse()
	if err := run(*server, *n, *proto, *measure, *bitrate); err != nil {
		fmt.Fprintln(os.Stderr, "viewers:", err)
		os.Exit(1)
	}
}

// server is what run needs of a managed server.
type server interface {
	RTMPAddr() string
	PID() int
	Stop(context.Context) error
}

func run(target string, n int, proto string, measure time.Duration, bitrate int) error {
	kind, bin, _ := strings.Cut(target, "=")
	if bin == "" || (kind != "srs" && kind != "serve") {
		return errors.New("-server srs=PATH or serve=PATH is required")
	}
	if proto != "rtmp" && proto != "http-flv" || n < 1 {
		return errors.New("want -protocol rtmp or http-flv and -viewers 1 or more")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "viewers")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cache, err := media.DefaultCacheDir()
	if err != nil {
		return err
	}
	clip, err := media.Ensure(ctx, "ffmpeg", cache, media.Params{Clip: "testsrc-360p", BitrateBps: bitrate}, nil)
	if err != nil {
		return err
	}

	var srv server
	var flvBase string
	if kind == "srs" {
		s, err := managed.StartSRS(ctx, managed.SRSConfig{Dir: filepath.Join(dir, "srs"), Binary: bin})
		if err != nil {
			return err
		}
		srv, flvBase = s, s.FLVBase()
	} else {
		s, err := managed.StartServe(ctx, managed.ServeConfig{Dir: filepath.Join(dir, "serve"), Binary: bin, FLVListen: "127.0.0.1:0"})
		if err != nil {
			return err
		}
		srv, flvBase = s, s.FLVBase()
	}
	defer srv.Stop(context.Background())

	pub := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
		"-i", clip, "-c", "copy", "-f", "flv", "rtmp://"+srv.RTMPAddr()+"/live/cam1")
	pub.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := pub.Start(); err != nil {
		return err
	}
	defer func() {
		syscall.Kill(-pub.Process.Pid, syscall.SIGKILL)
		pub.Wait()
	}()
	time.Sleep(2 * time.Second) // a GOP in the cache

	u := "rtmp://" + srv.RTMPAddr() + "/live/cam1"
	if proto == "http-flv" {
		u = flvBase + "/live/cam1.flv"
	}
	const settle = 4 * time.Second
	watch := time.Duration(n)*5*time.Millisecond + settle + measure + time.Second
	stats := make([]testplayer.Stats, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stats[i] = testplayer.Play(ctx, u, testplayer.Options{Watch: watch}) })
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(settle)
	s0, p0, t0 := procCPU(srv.PID()), selfCPU(), time.Now()
	time.Sleep(measure)
	s1, p1, t1 := procCPU(srv.PID()), selfCPU(), time.Now()
	wg.Wait()

	el := t1.Sub(t0).Seconds()
	var first []time.Duration
	errs, stalls := 0, 0
	var kbps float64
	for _, st := range stats {
		if st.End != nil {
			errs++
		}
		stalls += st.Stalls
		kbps += st.Kbps()
		first = append(first, st.FirstFrame)
	}
	slices.Sort(first)
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / el }
	fmt.Printf("%s %s, %d viewers of one %d kb/s stream: server %.2f%% of a core (%.4f%% per viewer), players %.2f%% (%.4f%% per viewer); "+
		"%d errors, %d stalls, first frame p50 %v p99 %v, %.0f kb/s each\n",
		kind, proto, n, bitrate/1000, pct(s1-s0), pct(s1-s0)/float64(n), pct(p1-p0), pct(p1-p0)/float64(n),
		errs, stalls, first[n/2].Round(time.Millisecond), first[n*99/100].Round(time.Millisecond), kbps/float64(n))
	return nil
}

// procCPU is a process's user and system CPU from /proc (clock ticks of
// 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return time.Duration(u+k) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
