package publisher

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// fakeEnv makes the test binary behave as one of the ffmpeg modes below instead of running
// tests, so supervision is tested against processes whose behaviour we choose.
const fakeEnv = "RTMPLOAD_FAKE_FFMPEG"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeFFmpeg(mode))
	}
	os.Exit(m.Run())
}

// fakeLifetime bounds every fake, should its supervisor fail to end it.
const fakeLifetime = 30 * time.Second

func progressBlock(frame int, end bool) string {
	state := "continue"
	if end {
		state = "end"
	}
	return fmt.Sprintf("frame=%d\nfps=25.00\nbitrate= 480.0kbits/s\ntotal_size=%d\nout_time_us=%d\n"+
		"out_time_ms=%d\nout_time=00:00:00.000000\ndup_frames=0\ndrop_frames=0\nspeed=1.01x\nprogress=%s\n",
		frame, frame*2400, frame*40000, frame*40000, state)
}

func fakeFFmpeg(mode string) int {
	switch mode {
	case "burn":
		// At least 150 ms of CPU (the process's own, read from getrusage:
		// on a busy machine 150 ms of wall time can be far less CPU), then a
		// clean exit. Bounded by 20 s of wall time.
		for start := time.Now(); time.Since(start) < 20*time.Second; {
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil &&
				time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 150*time.Millisecond {
				break
			}
		}
		return 0
	case "ioerror":
		for i := range 40 {
			fmt.Fprintf(os.Stderr, "filler %d\n", i)
		}
		fmt.Fprintln(os.Stderr, "rtmp://x/live/a: Input/output error")
		return 1
	case "publish":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		tick := time.NewTicker(100 * time.Millisecond)
		for frame := 1; frame < int(fakeLifetime/(100*time.Millisecond)); frame++ {
			select {
			case <-sig:
				fmt.Print(progressBlock(frame, true))
				fmt.Fprintln(os.Stderr, "Exiting normally, received signal 2.")
				return 255
			case <-tick.C:
				fmt.Print(progressBlock(frame, false))
			}
		}
		return 0
	case "hang":
		signal.Ignore(os.Interrupt)
		fmt.Print(progressBlock(1, false)) // tells the test that SIGINT is ignored from now on
		time.Sleep(fakeLifetime)
		return 0
	case "flood":
		w := bufio.NewWriter(os.Stderr)
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for range 50 {
			w.Write(chunk)
		}
		for i := range 100 {
			fmt.Fprintf(w, "flood line %d\n", i)
		}
		fmt.Fprintln(w, "rtmp://x/live/a: Input/output error")
		w.Flush()
		return 1
	case "child", "orphan":
		// The grandchild ignores SIGINT (an ignored signal stays ignored across exec) and holds
		// stderr open: only a SIGKILL to the group ends it.
		gc := exec.Command("sh", "-c", `trap "" INT; exec sleep 30`)
		gc.Stderr = os.Stderr
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if mode == "orphan" {
			return 0
		}
		signal.Ignore(os.Interrupt)
		fmt.Print(progressBlock(1, false))
		time.Sleep(fakeLifetime)
		return 0
	case "tee":
		return fakeTee()
	}
	fmt.Fprintf(os.Stderr, "unknown fake mode %q\n", mode)
	return 2
}
