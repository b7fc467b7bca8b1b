package tap_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/tap"
)

// publishers is how many connections BenchmarkPublishers holds; the 1,000 of a
// capacity run: go test -run '^$' -bench Publishers ./tap -args -publishers 1000
var publishers = flag.Int("publishers", 200, "publishers held by BenchmarkPublishers")

// heapProfile, if set, is where BenchmarkPublishers writes a heap profile of
// the held publishers (every allocation sampled), one file per sub-benchmark:
// go tool pprof -sample_index=inuse_space -top FILE.BenchmarkPublishers_tap+server
var heapProfile = flag.String("publishers.heap", "", "BenchmarkPublishers: heap profile file prefix")

// period is one gather of a publisher's media: the tap and the server both read
// a publishing socket this often (mediaGather, server.DefaultMergedRead).
const period = 350 * time.Millisecond

// helperEnv makes the test binary the publishers' process (TestMain): the
// publishers' own memory and CPU stay out of the figures.
const helperEnv = "RTMPLOAD_BENCH_PUBLISHERS_TO"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		flag.Parse()
		if err := publish(addr, *publishers); err != nil {
			fmt.Fprintln(os.Stderr, "publishers:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkPublishers measures what one publishing connection costs the process
// that runs the embedded server ("server") and the tap in front of it
// ("tap+server"): -publishers connections, each sending 350 ms of a 500 kb/s
// stream (9 video messages of 2,200 bytes, 15 audio of 200) every 350 ms, from a
// separate process. Each iteration is one 350 ms period. The custom metrics are
// per connection: heap-B/conn (live heap after a GC), stack-B/conn, rss-B/conn
// (VmRSS, no GC forced), goroutines/conn and cpu-%/conn (percent of one core,
// over the iterations), each the difference to the process before the
// publishers connected.
func BenchmarkPublishers(b *testing.B) {
	for _, withTap := range []bool{false, true} {
		name := "server"
		if withTap {
			name = "tap+server"
		}
		b.Run(name, func(b *testing.B) { benchPublishers(b, *publishers, withTap) })
	}
}

func benchPublishers(b *testing.B, n int, withTap bool) {
	if *heapProfile != "" {
		runtime.MemProfileRate = 1
	}
	live := make(chan struct{}, n)
	srv, err := server.Start(context.Background(), server.Config{OnEvent: func(ev server.Event) {
		if ev.Kind == server.EventAccept {
			live <- struct{}{}
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	addr := srv.RTMPAddr()
	if withTap {
		tp, err := tap.Start(tap.Config{Target: addr})
		if err != nil {
			b.Fatal(err)
		}
		defer tp.Close()
		addr = tp.Addr()
	}
	before := sample()

	cmd := exec.Command(os.Args[0], "-publishers", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), helperEnv+"="+addr)
	cmd.Stderr = os.Stderr
	stop, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stop.Close()
		cmd.Wait() //nolint:errcheck // it ends when its stdin closes
	}()
	deadline := time.After(time.Duration(n)*20*time.Millisecond + 30*time.Second)
	for range n {
		select {
		case <-live:
		case <-deadline:
			b.Fatalf("%d publishers were accepted in time, want %d", len(live), n)
		}
	}
	// Let every tap parser go quiet and every read settle into its gathers.
	time.Sleep(4 * period)

	cpu0 := cpuTime()
	start := time.Now()
	for b.Loop() {
		time.Sleep(period)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	held := 0
	srv.EachLive(func(string, uint64) { held++ })
	if held != n {
		b.Fatalf("%d publishers held to the end, want %d", held, n)
	}
	after := sample()
	if *heapProfile != "" {
		writeHeapProfile(b, *heapProfile+"."+strings.ReplaceAll(b.Name(), "/", "_"))
	}
	per := func(d float64) float64 { return d / float64(n) }
	b.ReportMetric(per(float64(after.heap)-float64(before.heap)), "heap-B/conn")
	b.ReportMetric(per(float64(after.stack)-float64(before.stack)), "stack-B/conn")
	b.ReportMetric(per(float64(after.rss)-float64(before.rss)), "rss-B/conn")
	b.ReportMetric(per(float64(after.goroutines-before.goroutines)), "goroutines/conn")
	b.ReportMetric(per(100*cpu.Seconds()/elapsed.Seconds()), "cpu-%/conn")
	b.ReportMetric(0, "ns/op") // one iteration is one period by construction
}

func writeHeapProfile(b *testing.B, name string) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

type usage struct {
	heap, stack, rss uint64
	goroutines       int
}

// sample reads VmRSS first (as the process stands), then the live heap after
// a collection.
func sample() usage {
	u := usage{rss: vmRSS(), goroutines: runtime.NumGoroutine()}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u.heap, u.stack = ms.HeapInuse, ms.StackInuse
	return u
}

func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// publish opens n publishers to addr with gortmplib's client, then sends each
// one period's media every period (the writes spread over the period) until
// stdin closes.
func publish(addr string, n int) error {
	block, err := mediaBlock()
	if err != nil {
		return err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	// While the others connect, those connected send their media every
	// period, or the server drops them (5 s without media).
	next := time.Now().Add(period)
	round := func() error {
		for _, nc := range conns {
			if _, err := nc.Write(block); err != nil {
				return err
			}
		}
		next = time.Now().Add(period)
		return nil
	}
	for i := range n {
		u, err := url.Parse(fmt.Sprintf("rtmp://%s/live/bench-%04d?rtmpload=bench-%d", addr, i, i))
		if err != nil {
			return err
		}
		c := &gortmplib.Client{URL: u, Publish: true}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = c.Initialize(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		nc := c.NetConn()
		go io.Copy(io.Discard, nc) //nolint:errcheck // acknowledgements; ends with the connection
		if _, err := nc.Write(block); err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		conns = append(conns, nc)
		if time.Now().After(next) {
			if err := round(); err != nil {
				return err
			}
		}
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(os.Stdin)) //nolint:errcheck
		close(done)
	}()
	gap := period / time.Duration(n)
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for {
		for _, nc := range conns {
			select {
			case <-done:
				return nil
			case <-tick.C:
			}
			if _, err := nc.Write(block); err != nil {
				return err
			}
		}
	}
}

// mediaBlock is one period of a 500 kb/s publisher (about 22 KB) as RTMP chunks
// that can be sent again and again: a fresh writer starts every chunk stream
// with a full header, at the 65,536-byte chunk size gortmplib's client set.
func mediaBlock() ([]byte, error) {
	var buf bytes.Buffer
	w := message.NewWriter(&buf, bytecounter.NewWriter(&buf), false)
	if err := w.Write(&message.SetChunkSize{Value: 65536}); err != nil {
		return nil, err
	}
	buf.Reset()
	for i := range 15 {
		if i < 9 {
			if err := w.Write(&message.Video{ChunkStreamID: 6, MessageStreamID: 1,
				Codec: message.CodecH264, Type: message.VideoTypeAU, IsKeyFrame: i == 0,
				AU: bytes.Repeat([]byte{0x41}, 2200)}); err != nil {
				return nil, err
			}
		}
		if err := w.Write(&message.Audio{ChunkStreamID: 4, MessageStreamID: 1,
			Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100, Depth: message.AudioDepth16,
			IsStereo: true, AACType: message.AudioAACTypeAU, AU: bytes.Repeat([]byte{0x21}, 200)}); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(buf.Bytes()), nil
}
