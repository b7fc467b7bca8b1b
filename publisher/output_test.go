package publisher

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEachLineCutsLongLines(t *testing.T) {
	in := strings.Repeat("a", 1<<20) + "\nshort\r\n\n" + strings.Repeat("b", 700) + "\nno newline at end"
	var got []string
	if err := eachLine(strings.NewReader(in), 512, func(l []byte) { got = append(got, string(l)) }); err != nil {
		t.Fatal(err)
	}
	want := []string{strings.Repeat("a", 512), "short", "", strings.Repeat("b", 512), "no newline at end"}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %.40q, want %.40q", got, want)
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	tl := tail{n: 3}
	for _, l := range []string{"1", "2", "3", "4", "5"} {
		tl.add([]byte(l))
	}
	if want := []string{"3", "4", "5"}; !slices.Equal(tl.lines, want) {
		t.Errorf("tail = %q, want %q", tl.lines, want)
	}
}

func TestBestMessage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"none", []string{"Input #0, flv, from 'clip.flv':", "Output #0, flv, to 'rtmp://h/live/a':"}, ""},
		{"srs rejection, ffmpeg 5.1", []string{"Stream mapping:", "rtmp://h/live/a?rtmpload=r1-3: Input/output error"},
			"rtmp://h/live/a?rtmpload=r1-3: Input/output error"},
		{"newer ffmpeg", []string{
			"[out#0/flv @ 0x1] Error opening output rtmp://h/live/a: Input/output error",
			"Error opening output file rtmp://h/live/a.",
			"Error opening output files: Input/output error"},
			"[out#0/flv @ 0x1] Error opening output rtmp://h/live/a: Input/output error"},
		{"connection refused: the rtmp line is the last", []string{
			"[tcp @ 0x1] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
			"[rtmp @ 0x2] Cannot open connection tcp://127.0.0.1:1?tcp_nodelay=0",
			"rtmp://127.0.0.1:1/live/a: Connection refused"},
			"rtmp://127.0.0.1:1/live/a: Connection refused"},
		{"nginx duplicate", []string{"[rtmp @ 0x1] Server error: Already publishing",
			"rtmp://h/live/a: Operation not permitted"}, "rtmp://h/live/a: Operation not permitted"},
		{"generic only", []string{"something", "Error while decoding stream #0:0  "}, "Error while decoding stream #0:0"},
	} {
		if got := bestMessage(tc.lines); got != tc.want {
			t.Errorf("%s: bestMessage = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestProgressParser(t *testing.T) {
	at := time.Unix(100, 0)
	var got []Progress
	p := progressParser{now: func() time.Time { return at }, block: func(pr Progress) { got = append(got, pr) }}
	for _, l := range strings.Split("frame=0\ntotal_size=N/A\nout_time_us=N/A\nspeed=N/A\nprogress=continue\n"+
		"frame=12\nbitrate=  480.0kbits/s\ntotal_size=48000\nout_time_us=480000\nspeed=0.998x\nprogress=end", "\n") {
		p.line([]byte(l))
	}
	want := []Progress{{At: at}, {At: at, Frame: 12, TotalSize: 48000, OutTimeUS: 480000, Speed: 0.998, End: true}}
	if !slices.Equal(got, want) {
		t.Errorf("blocks = %+v\nwant %+v", got, want)
	}
}
