package native

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/rtmpload/rtmpload/media"
)

// discardEnv makes the test binary a server that accepts every publish and
// discards what comes (TestMain): the benchmark's server is a process of
// its own, so the publishers' CPU and memory are measured apart from it.
const discardEnv = "RTMPLOAD_NATIVE_DISCARD"

func TestMain(m *testing.M) {
	if os.Getenv(discardEnv) == "1" {
		discardServer()
		return
	}
	os.Exit(m.Run())
}

// discardServer prints its address, serves until stdin closes and then
// prints its own CPU time in nanoseconds.
func discardServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println(ln.Addr())
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				sc := &gortmplib.ServerConn{RW: nc}
				if sc.Initialize() != nil || sc.AcceptConn() != nil || sc.AcceptAction() != nil {
					return
				}
				buf := make([]byte, 64<<10)
				for {
					if _, err := nc.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Println(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Nanoseconds())
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssSelf() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkHold holds RTMPLOAD_NATIVE_N publishers (default 500) of the
// 500 kb/s 360p clip against the discard server for
// RTMPLOAD_NATIVE_HOLD (default 10s) once all publish, and reports this
// process's CPU per publisher (percent of a core) and RSS per publisher
// beyond the clip. Run it alone:
//
//	RTMPLOAD_NATIVE_N=2000 go test -run '^$' -bench Hold -benchtime 1x ./native/
func BenchmarkHold(b *testing.B) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("RTMPLOAD_NATIVE_N")); err == nil && v > 0 {
		n = v
	}
	hold := 10 * time.Second
	if v, err := time.ParseDuration(os.Getenv("RTMPLOAD_NATIVE_HOLD")); err == nil && v > 0 {
		hold = v
	}
	tick := DefaultTick
	if v, err := time.ParseDuration(os.Getenv("RTMPLOAD_NATIVE_TICK")); err == nil && v > 0 {
		tick = v
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	clipPath, err := media.Ensure(context.Background(), "", filepath.Join(cache, "rtmpload", "clips"), media.Params{Clip: "testsrc-360p", BitrateBps: 500_000}, nil)
	if err != nil {
		b.Skip("no clip:", err)
	}
	for range b.N {
		holdOnce(b, clipPath, n, hold, tick)
	}
}

func holdOnce(b *testing.B, clipPath string, n int, hold, tick time.Duration) {
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), discardEnv+"=1")
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	out.Scan()
	addr := out.Text()
	defer srv.Wait()
	defer stdin.Close()

	clip, err := LoadClip(clipPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := clip.encoding(65536, 1); err != nil {
		b.Fatal(err)
	}
	e := New(clip, Options{Tick: tick})
	defer e.Close()
	rss0 := rssSelf()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var publishing, failed atomic.Int64
	var sent atomic.Int64
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Publish(ctx, fmt.Sprintf("rtmp://%s/live/s%d", addr, i), Hooks{OnPhase: func(p string, _ time.Time, _ Timeline) {
				if p == PhaseMedia {
					publishing.Add(1)
				}
			}})
			sent.Add(r.BytesSent)
			if r.Failure != nil {
				failed.Add(1)
				b.Log(r.Failure)
			}
		}()
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for publishing.Load()+failed.Load() < int64(n) && time.Since(start) < time.Minute {
		time.Sleep(50 * time.Millisecond)
	}
	ramp := time.Since(start)
	time.Sleep(2 * time.Second) // past the first ticks' bursts
	cpu0, t0 := cpuSelf(), time.Now()
	time.Sleep(hold)
	cpu, wall := cpuSelf()-cpu0, time.Since(t0)
	rss := rssSelf()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("per publisher: stacks %d B, heap in use %d B", ms.StackInuse/uint64(n), ms.HeapInuse/uint64(n))
	cancel()
	wg.Wait()
	stdin.Close()
	out.Scan()
	srvNs, _ := strconv.ParseInt(out.Text(), 10, 64)
	perPub := 100 * cpu.Seconds() / wall.Seconds() / float64(n)
	b.ReportMetric(perPub, "%core/pub")
	b.ReportMetric(float64(rss-rss0)/1024/float64(n), "KiB-RSS/pub")
	b.ReportMetric(float64(n)/(perPub*float64(n)/100), "pubs/core")
	b.Logf("%d publishers (%d failed), ramp %v, hold %v: cpu %v (%.4f %% of a core each), rss %d MiB (+%d KiB each beyond %d MiB), sent %d MB; discard server's cpu over the whole run %v",
		n, failed.Load(), ramp.Round(time.Millisecond), wall.Round(time.Millisecond), cpu.Round(time.Millisecond), perPub,
		rss>>20, (rss-rss0)/1024/int64(n), rss0>>20, sent.Load()>>20, time.Duration(srvNs).Round(time.Millisecond))
}
