package publisher

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

func TestTeeSpecSplitsBackIntoTheURLs(t *testing.T) {
	urls := []string{
		"rtmp://127.0.0.1:1935/live/cam-001?rtmpload=r-1",
		"rtmp://[::1]:1935/live/cam-002?rtmpload=r-2&token=a:b=c",
		"rtmp://h/live/x?token=a|b",
		`rtmp://h/live/y?token=it's\here`,
		"rtmp://h/live/z?token=trailing ",
		"rtmp://h/live/[w]",
	}
	got := teeSlaves(TeeSpec(urls))
	if len(got) != len(urls) {
		t.Fatalf("tee would see %d outputs %q, want %d", len(got), got, len(urls))
	}
	for i, u := range urls {
		if got[i] != teeSlaveOptions+u {
			t.Errorf("output %d: tee would see %q, want %q", i, got[i], teeSlaveOptions+u)
		}
	}
}

func TestTeeArgs(t *testing.T) {
	args := TeeArgs("clip.flv", []string{"rtmp://h/live/a", "rtmp://h/live/b"}, false)
	line := strings.Join(args, " ")
	for _, want := range []string{
		"-re -stream_loop -1 -i clip.flv", "-map 0", "-c copy", "-f tee",
		"-loglevel level+verbose", "-progress pipe:1",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("args %q lack %q", line, want)
		}
	}
	if !slices.Contains(args, "[f=flv:onfail=ignore]rtmp://h/live/a|[f=flv:onfail=ignore]rtmp://h/live/b") {
		t.Errorf("args %q lack the tee output as one argument", args)
	}
}

// realTeeLog is ffmpeg 5.1.9's stderr (-loglevel level+verbose) for four outputs against
// `rtmpload serve`: r-1 opened, r-2's port was closed, r-3 was refused (its name was busy), r-4
// refused again; the tcp context of r-3 is reused by r-4. Then r-1 failed while publishing.
const realTeeLog = `[h264 @ 0x563838081a40] [verbose] Reinit context to 1280x720, pix_fmt: yuv420p
[info] Input #0, flv, from '/root/.cache/rtmpload/clips/testsrc-720p_500000bps_10s_r1.flv':
[tcp @ 0x563838094880] [verbose] Starting connection attempt to 127.0.0.1 port 19401
[tcp @ 0x563838094880] [verbose] Successfully connected to 127.0.0.1 port 19401
[tee @ 0x5638380a3700] [verbose] filename:'rtmp://127.0.0.1:19401/live/a?rtmpload=r-1' format:flv
[tee @ 0x5638380a3700] [verbose]     stream:0 codec:h264 type:video bsfs: null
[tcp @ 0x563838105ec0] [verbose] Starting connection attempt to 127.0.0.1 port 19402
[tcp @ 0x563838105ec0] [error] Connection to tcp://127.0.0.1:19402?tcp_nodelay=0 failed: Connection refused
[rtmp @ 0x5638380a6400] [error] Cannot open connection tcp://127.0.0.1:19402?tcp_nodelay=0
[tee @ 0x5638380a3700] [error] Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19402/live/b?rtmpload=r-2': error opening: Connection refused
[tee @ 0x5638380a3700] [error] Slave muxer #1 failed: Connection refused, continuing with 3/4 slaves.
[tcp @ 0x5638380a9cc0] [verbose] Starting connection attempt to 127.0.0.1 port 19401
[tcp @ 0x5638380a9cc0] [verbose] Successfully connected to 127.0.0.1 port 19401
[tee @ 0x5638380a3700] [error] Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19401/live/a?rtmpload=r-3': error opening: Input/output error
[tee @ 0x5638380a3700] [error] Slave muxer #2 failed: Input/output error, continuing with 2/4 slaves.
[tcp @ 0x5638380a9cc0] [verbose] Starting connection attempt to 127.0.0.1 port 19999
[tcp @ 0x5638380a9cc0] [error] Connection to tcp://127.0.0.1:19999?tcp_nodelay=0 failed: Connection refused
[tee @ 0x5638380a3700] [error] Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19999/live/a?rtmpload=r-4': error opening: Connection refused
[tee @ 0x5638380a3700] [error] Slave muxer #3 failed: Connection refused, continuing with 1/4 slaves.
[info] Output #0, tee, to '[f=flv:onfail=ignore]rtmp://127.0.0.1:19401/live/a?rtmpload=r-1|...':
[info] Stream mapping:
[tcp @ 0x563838094880] [error] Connection reset by peer
[tee @ 0x5638380a3700] [error] Slave muxer #0 failed: Broken pipe, continuing with 0/4 slaves.
[flv @ 0x5638380a2dc0] [warning] Failed to update header with correct duration.`

func TestTeeParserPlacesRealLines(t *testing.T) {
	urls := []string{
		"rtmp://127.0.0.1:19401/live/a?rtmpload=r-1", "rtmp://127.0.0.1:19402/live/b?rtmpload=r-2",
		"rtmp://127.0.0.1:19401/live/a?rtmpload=r-3", "rtmp://127.0.0.1:19999/live/a?rtmpload=r-4",
	}
	p := NewTeeParser(urls, 20, false)
	var changes []string
	p.OnChange = func(o Output) {
		state := "opened"
		if !o.Failed.IsZero() {
			state = "failed"
		}
		changes = append(changes, o.URL[len(o.URL)-3:]+" "+state)
	}
	t0 := time.Unix(1000, 0)
	for i, l := range strings.Split(realTeeLog, "\n") {
		p.Line(t0.Add(time.Duration(i)*time.Millisecond), []byte(l))
	}
	if want := []string{"r-1 opened", "r-2 failed", "r-3 failed", "r-4 failed", "r-1 failed"}; !slices.Equal(changes, want) {
		t.Errorf("changes %q, want %q", changes, want)
	}
	outs := p.Outputs()
	wantMsg := []string{
		"Slave muxer #0 failed: Broken pipe, continuing with 0/4 slaves.",
		"Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19402/live/b?rtmpload=r-2': error opening: Connection refused",
		"Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19401/live/a?rtmpload=r-3': error opening: Input/output error",
		"Slave '[f=flv:onfail=ignore]rtmp://127.0.0.1:19999/live/a?rtmpload=r-4': error opening: Connection refused",
	}
	wantTail := []int{5, 5, 4, 4}
	for i, o := range outs {
		if o.Message != wantMsg[i] {
			t.Errorf("output %d: message %q, want %q", i, o.Message, wantMsg[i])
		}
		if len(o.StderrTail) != wantTail[i] {
			t.Errorf("output %d: %d lines %q, want %d", i, len(o.StderrTail), o.StderrTail, wantTail[i])
		}
		for _, l := range o.StderrTail {
			if strings.Contains(l, "h264") || strings.Contains(l, "Input #0") {
				t.Errorf("output %d holds the input's line %q", i, l)
			}
		}
	}
	if outs[0].Opened.IsZero() || !outs[1].Opened.IsZero() {
		t.Errorf("opened: %v, %v; want r-1 only", outs[0].Opened, outs[1].Opened)
	}
	if !slices.Contains(outs[0].StderrTail, "[tcp @ 0x563838094880] [error] Connection reset by peer") {
		t.Errorf("r-1's tail %q lacks its own tcp context's late line", outs[0].StderrTail)
	}
}

func TestRunTeeOutputs(t *testing.T) {
	urls := []string{
		"rtmp://h/live/ok1?rtmpload=r-1",
		"rtmp://h/live/refuse?rtmpload=r-2",
		"rtmp://h/live/busy?rtmpload=r-3&token=a|b",
		"rtmp://h/live/drop?rtmpload=r-4",
		"rtmp://h/live/ok2?rtmpload=r-5",
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var events []Output
	frames := 0
	res := runFake(t, ctx, "tee", Spec{
		Args:    TeeArgs("clip.flv", urls, false),
		Outputs: urls,
		OnOutput: func(o Output) {
			mu.Lock()
			events = append(events, o)
			mu.Unlock()
		},
		OnProgress: func(Progress) {
			if frames++; frames == 8 {
				cancel()
			}
		},
	})
	if res.Class != schema.ClassStopped {
		t.Errorf("class %q, want stopped", res.Class)
	}
	if len(res.Outputs) != len(urls) {
		t.Fatalf("%d outputs, want %d", len(res.Outputs), len(urls))
	}
	type want struct {
		opened, failed bool
		msg            string
	}
	wants := []want{
		{true, false, ""},
		{false, true, "error opening: Connection refused"},
		{false, true, "error opening: Input/output error"},
		{true, true, "Slave muxer #3 failed: Broken pipe"},
		{true, false, ""},
	}
	for i, o := range res.Outputs {
		w := wants[i]
		if o.URL != urls[i] || o.Index != i {
			t.Errorf("output %d is %d %q", i, o.Index, o.URL)
		}
		if !o.Opened.IsZero() != w.opened || !o.Failed.IsZero() != w.failed || !strings.Contains(o.Message, w.msg) || (w.msg == "" && o.Message != "") {
			t.Errorf("output %d: opened %v failed %v message %q; want opened %v failed %v message with %q",
				i, !o.Opened.IsZero(), !o.Failed.IsZero(), o.Message, w.opened, w.failed, w.msg)
		}
		if len(o.StderrTail) == 0 {
			t.Errorf("output %d has no stderr lines", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 6 { // ok1 opened, refuse failed, busy failed, drop opened, ok2 opened, drop failed
		t.Errorf("%d output events, want 6", len(events))
	}
}

// TestTeeEscapingWithRealFFmpeg has a real ffmpeg write tee outputs whose names hold every
// character tee treats specially: each file must come out under its own name.
func TestTeeEscapingWithRealFFmpeg(t *testing.T) {
	ff := testkit.FFmpeg(t)
	dir := t.TempDir()
	names := []string{"a|b.flv", "c'd [x]:y.flv", `e\f.flv`, "g h.flv"}
	var outs []string
	for _, n := range names {
		outs = append(outs, filepath.Join(dir, n))
	}
	cmd := exec.CommandContext(t.Context(), ff, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=0.5", "-c:v", "flv1",
		"-f", "tee", "-map", "0", TeeSpec(outs))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, p := range outs {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("output %q: %v", p, err)
		}
	}
}

// realFifoTeeLog is ffmpeg 5.1.9's stderr for four parallel outputs (use_fifo) against
// `rtmpload serve`: r-1 was refused (its name was busy), r-2 published, r-3's port was closed,
// and r-4 was dropped by the server while publishing.
const realFifoTeeLog = `[h264 @ 0x55b866c8cc00] [verbose] Reinit context to 1280x720, pix_fmt: yuv420p
[tee @ 0x55b866cae800] [verbose] filename:'rtmp://127.0.0.1:19561/live/a?rtmpload=r-1' format:fifo
[tee @ 0x55b866cae800] [verbose]     stream:0 codec:h264 type:video bsfs: null
[tee @ 0x55b866cae800] [verbose] filename:'rtmp://127.0.0.1:19561/live/a?rtmpload=r-2' format:fifo
[tee @ 0x55b866cae800] [verbose] filename:'rtmp://127.0.0.1:19999/live/c?rtmpload=r-3' format:fifo
[tee @ 0x55b866cae800] [verbose] filename:'rtmp://127.0.0.1:19561/live/d?rtmpload=r-4' format:fifo
[info] Output #0, tee, to '[f=flv:onfail=ignore]rtmp://127.0.0.1:19561/live/a?rtmpload=r-1|...':
[tcp @ 0x7fddbc001700] [verbose] Starting connection attempt to 127.0.0.1 port 19561
[tcp @ 0x7fddc0001700] [verbose] Starting connection attempt to 127.0.0.1 port 19561
[tcp @ 0x7fddc0001700] [verbose] Successfully connected to 127.0.0.1 port 19561
[tcp @ 0x7fddb4001700] [verbose] Starting connection attempt to 127.0.0.1 port 19999
[tcp @ 0x7fddbc001700] [verbose] Successfully connected to 127.0.0.1 port 19561
[tcp @ 0x7fddb4001700] [verbose] Connection attempt to 127.0.0.1 port 19999 failed: Connection refused
[tcp @ 0x7fddb4001700] [error] Connection to tcp://127.0.0.1:19999?tcp_nodelay=0 failed: Connection refused
[rtmp @ 0x7fddb4000d80] [error] Cannot open connection tcp://127.0.0.1:19999?tcp_nodelay=0
[fifo @ 0x55b866d0c140] [error] Error opening rtmp://127.0.0.1:19999/live/c?rtmpload=r-3: Connection refused
[tee @ 0x55b866cae800] [error] Slave muxer #2 failed: Connection refused, continuing with 3/4 slaves.
[fifo @ 0x55b866cb4dc0] [error] Error opening rtmp://127.0.0.1:19561/live/a?rtmpload=r-1: Input/output error
[tee @ 0x55b866cae800] [error] Slave muxer #0 failed: Input/output error, continuing with 2/4 slaves.
[tee @ 0x5642ee046800] [error] Slave muxer #3 failed: Connection reset by peer, continuing with 1/4 slaves.
[flv @ 0x5642ee049a40] [warning] Failed to update header with correct duration.
`

func TestTeeParserParallel(t *testing.T) {
	urls := []string{
		"rtmp://127.0.0.1:19561/live/a?rtmpload=r-1",
		"rtmp://127.0.0.1:19561/live/a?rtmpload=r-2",
		"rtmp://127.0.0.1:19999/live/c?rtmpload=r-3",
		"rtmp://127.0.0.1:19561/live/d?rtmpload=r-4",
	}
	p := NewTeeParser(urls, 20, true)
	var changes []Output
	p.OnChange = func(o Output) { changes = append(changes, o) }
	at := time.Unix(1, 0)
	for line := range strings.SplitSeq(realFifoTeeLog, "\n") {
		at = at.Add(time.Millisecond)
		p.Line(at, []byte(line))
	}
	wants := []string{
		"Error opening rtmp://127.0.0.1:19561/live/a?rtmpload=r-1: Input/output error",
		"",
		"Error opening rtmp://127.0.0.1:19999/live/c?rtmpload=r-3: Connection refused",
		"Slave muxer #3 failed: Connection reset by peer, continuing with 1/4 slaves.",
	}
	for i, o := range p.Outputs() {
		if !o.Opened.IsZero() {
			t.Errorf("output %d opened at %v: a parallel output's open is not in ffmpeg's log", i, o.Opened)
		}
		if o.Message != wants[i] || o.Failed.IsZero() != (wants[i] == "") {
			t.Errorf("output %d: failed %v, message %q; want %q", i, !o.Failed.IsZero(), o.Message, wants[i])
		}
	}
	if len(changes) != 3 {
		t.Errorf("%d changes, want the 3 failures", len(changes))
	}
	// The network layers' lines cannot be placed: no output holds another's.
	for _, line := range p.Outputs()[1].StderrTail {
		if strings.Contains(line, "19999") {
			t.Errorf("output 1 holds output 2's line %q", line)
		}
	}
}

func TestTeeArgsParallel(t *testing.T) {
	line := strings.Join(TeeArgs("clip.flv", []string{"rtmp://h/live/a", "rtmp://h/live/b"}, true), " ")
	for _, want := range []string{"-use_fifo 1", "-fifo_options drop_pkts_on_overflow=1", "-f tee"} {
		if !strings.Contains(line, want) {
			t.Errorf("args %q lack %q", line, want)
		}
	}
}
