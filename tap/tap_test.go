package tap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/rtmpload/rtmpload/internal/testkit"
)

const waitLimit = 10 * time.Second

// startServer serves each accepted connection with handle until the test ends.
func startServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
				handle(nc)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// recorder collects what a Tap reports.
type recorder struct {
	mu    sync.Mutex
	live  []Mark
	ids   map[uint64]bool
	done  chan *Conn
	calls int
}

func startTap(t *testing.T, target string) (*Tap, *recorder) {
	t.Helper()
	r := &recorder{done: make(chan *Conn, 16), ids: make(map[uint64]bool)}
	tp, err := Start(Config{
		Target: target,
		OnMark: func(c *Conn, m Mark) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.live = append(r.live, m)
			r.ids[c.ID] = true
			if _, ok := c.Mark(m.Phase); !ok {
				panic("snapshot lacks its own mark")
			}
		},
		OnDone: func(c *Conn) {
			r.mu.Lock()
			r.calls++
			r.mu.Unlock()
			r.done <- c
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Error(err)
		}
	})
	return tp, r
}

func (r *recorder) next(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-r.done:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no connection reported")
		return nil
	}
}

// rtmpServer accepts one publish like a permissive server, then reads until the
// client leaves. It reports how many bytes it sent.
func rtmpServer(sent chan<- uint64) func(net.Conn) {
	return func(nc net.Conn) {
		sc := &gortmplib.ServerConn{RW: nc}
		defer func() { sent <- sc.BytesSent() }()
		if sc.Initialize() != nil || sc.AcceptConn() != nil || sc.AcceptAction() != nil {
			return
		}
		for {
			if _, err := sc.Read(); err != nil {
				break
			}
		}
		io.Copy(io.Discard, nc) //nolint:errcheck // keep the client unblocked whatever it sends
	}
}

var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03,
		0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	testPPS = []byte{0x68, 0xee, 0x3c, 0x80}
)

func publishClient(t *testing.T, addr, path string) (*gortmplib.Client, error) {
	t.Helper()
	u, err := url.Parse("rtmp://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	return c, c.Initialize(ctx)
}

func TestPublishPhases(t *testing.T) {
	sent := make(chan uint64, 1)
	tp, rec := startTap(t, startServer(t, rtmpServer(sent)))

	// gortmplib takes the stream key from the URL fragment.
	c, err := publishClient(t, tp.Addr(), "/live#cam01?rtmpload=r1-42")
	if err != nil {
		t.Fatal(err)
	}
	video := &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}
	audio := &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: &mpeg4audio.AudioSpecificConfig{
		Type: 2, SampleRate: 44100, ChannelConfig: 2}}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{video, audio}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0xab}, 20000) // above the 128-byte default chunk size
	for i := range 5 {
		pts := time.Duration(i) * 40 * time.Millisecond
		if err := w.WriteH264(video, pts, pts, [][]byte{{0x65, 0x88}, frame}); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMPEG4Audio(audio, pts, []byte{0x21, 0x10, 0x04}); err != nil {
			t.Fatal(err)
		}
	}
	up := c.BytesSent()
	c.Close()

	conn := rec.next(t)
	want := []Phase{TCPConnect, UpstreamConnect, C0C1, S0S1S2, C2, Connect, ConnectResult,
		ReleaseStream, FCPublish, CreateStream, CreateStreamResult, Publish, OnStatus,
		FirstVideo, FirstAudio, ClientClose}
	if got := phases(conn); !slices.Equal(got, want) {
		t.Fatalf("phases\n got %v\nwant %v", got, want)
	}
	for i := 1; i < len(conn.Marks); i++ {
		if conn.Marks[i].At.Before(conn.Marks[i-1].At) {
			t.Errorf("%s before %s", conn.Marks[i].Phase, conn.Marks[i-1].Phase)
		}
	}
	if conn.Attempt != "r1-42" || conn.App != "live" || conn.Stream != "cam01" || conn.Unparsed {
		t.Errorf("conn %+v", conn)
	}
	for p, d := range map[Phase]string{
		Publish: "cam01?rtmpload=r1-42", OnStatus: "NetStream.Publish.Start",
		ConnectResult: "NetConnection.Connect.Success", ClientClose: "EOF",
	} {
		if m, _ := conn.Mark(p); m.Detail != d {
			t.Errorf("%s detail %q, want %q", p, m.Detail, d)
		}
	}
	if down := <-sent; conn.BytesUp != up || conn.BytesDown != down {
		t.Errorf("bytes up %d down %d, want %d %d", conn.BytesUp, conn.BytesDown, up, down)
	}
	if conn.Start.After(conn.Marks[0].At) || conn.End.Before(conn.Marks[len(conn.Marks)-1].At) {
		t.Errorf("start %v end %v outside the marks", conn.Start, conn.End)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var live []Phase
	for _, m := range rec.live {
		live = append(live, m.Phase)
	}
	slices.Sort(live)
	slices.Sort(want)
	if !slices.Equal(live, want) || len(rec.ids) != 1 || !rec.ids[conn.ID] {
		t.Errorf("live marks %v for ids %v", live, rec.ids)
	}
}

// What SRS does to a rejected publisher: close after the publish command, no status.
func TestServerClosesAfterPublish(t *testing.T) {
	tp, rec := startTap(t, startServer(t, func(nc net.Conn) {
		sc := &gortmplib.ServerConn{RW: nc}
		if sc.Initialize() == nil {
			sc.AcceptConn() //nolint:errcheck // returns once publish is read
		}
	}))
	// The attempt id only in the tcUrl this time (gortmplib puts the URL's query there).
	if _, err := publishClient(t, tp.Addr(), "/live?rtmpload=r1-7#cam02"); err == nil {
		t.Fatal("publish succeeded")
	}
	conn := rec.next(t)
	pub, okP := conn.At(Publish)
	closed, okC := conn.At(ServerClose)
	if !okP || !okC || !closed.After(pub) {
		t.Fatalf("publish %v, server close %v: %v", okP, okC, phases(conn))
	}
	for _, p := range []Phase{OnStatus, ClientClose, Unparsed} {
		if _, ok := conn.At(p); ok {
			t.Errorf("unexpected %s: %v", p, phases(conn))
		}
	}
	if conn.Attempt != "r1-7" || conn.App != "live" || conn.Stream != "cam02" {
		t.Errorf("conn %+v", conn)
	}
}

// exchange sends up through the tap while the server sends down, each then
// half-closes; it returns what each end received.
func exchange(t *testing.T, up, down []byte) (atServer, atClient []byte, conn *Conn) {
	t.Helper()
	got := make(chan []byte, 1)
	tp, rec := startTap(t, startServer(t, func(nc net.Conn) {
		var wg sync.WaitGroup
		wg.Go(func() {
			nc.Write(down)                 //nolint:errcheck // a short write shows as a hash mismatch
			nc.(*net.TCPConn).CloseWrite() //nolint:errcheck
		})
		b, _ := io.ReadAll(nc)
		wg.Wait()
		got <- b
	}))
	nc, err := net.Dial("tcp", tp.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
	var wg sync.WaitGroup
	wg.Go(func() {
		nc.Write(up)                   //nolint:errcheck
		nc.(*net.TCPConn).CloseWrite() //nolint:errcheck
	})
	atClient, err = io.ReadAll(nc)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case atServer = <-got:
	case <-time.After(waitLimit):
		t.Fatal("server did not finish")
	}
	return atServer, atClient, rec.next(t)
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b) //nolint:errcheck // never fails
	return b
}

func checkIntact(t *testing.T, up, down, atServer, atClient []byte, conn *Conn) {
	t.Helper()
	if sha256.Sum256(up) != sha256.Sum256(atServer) || len(up) != len(atServer) {
		t.Errorf("upstream bytes changed: sent %d, received %d", len(up), len(atServer))
	}
	if sha256.Sum256(down) != sha256.Sum256(atClient) || len(down) != len(atClient) {
		t.Errorf("downstream bytes changed: sent %d, received %d", len(down), len(atClient))
	}
	if conn.BytesUp != uint64(len(up)) || conn.BytesDown != uint64(len(down)) {
		t.Errorf("counted %d up %d down", conn.BytesUp, conn.BytesDown)
	}
}

func TestGarbageIsForwardedIntact(t *testing.T) {
	up, down := randomBytes(1, 3<<20), randomBytes(2, 1<<20)
	up[0], down[0] = 0xff, 0xfe // not an RTMP version byte
	atServer, atClient, conn := exchange(t, up, down)
	checkIntact(t, up, down, atServer, atClient, conn)
	m, ok := conn.Mark(Unparsed)
	if !conn.Unparsed || !ok || !strings.Contains(m.Detail, "invalid rtmp version") {
		t.Errorf("unparsed %v, mark %+v", conn.Unparsed, m)
	}
}

func TestUnsupportedChunkStreamID(t *testing.T) {
	// A plain handshake from both ends, then a chunk on stream id 0 (the two-byte
	// form gortmplib does not read) carrying random bytes.
	up := slices.Concat(handshakeBytes(1537+1536), []byte{0x00, 0x40}, randomBytes(3, 1<<20))
	down := handshakeBytes(1 + 2*1536)
	atServer, atClient, conn := exchange(t, up, down)
	checkIntact(t, up, down, atServer, atClient, conn)
	for _, p := range []Phase{C0C1, C2, S0S1S2} {
		if _, ok := conn.At(p); !ok {
			t.Errorf("no %s: %v", p, conn.Marks)
		}
	}
	m, ok := conn.Mark(Unparsed)
	if !ok || m.Detail != "client: extended chunk stream IDs are not supported (yet)" {
		t.Errorf("unparsed mark %+v", m)
	}
}

func TestUpstreamDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	tp, rec := startTap(t, closedAddr)
	start := time.Now()
	// The reset can come so fast that the client's connect already reports it.
	nc, err := net.Dial("tcp", tp.Addr())
	if err == nil {
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
		_, err = nc.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client: %v, want the connection reset", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("client closed after %v", d)
	}
	conn := rec.next(t)
	m, ok := conn.Mark(ServerClose)
	if !ok || !strings.Contains(m.Detail, "refused") {
		t.Errorf("server close %+v in %v", m, conn.Marks)
	}
	if _, ok := conn.At(UpstreamConnect); ok || conn.End.IsZero() {
		t.Errorf("conn %+v", conn)
	}
}

func TestCloseIsBounded(t *testing.T) {
	gotData := make(chan struct{})
	tp, rec := startTap(t, startServer(t, func(nc net.Conn) {
		nc.Read(make([]byte, 1)) //nolint:errcheck
		close(gotData)
		io.Copy(io.Discard, nc) //nolint:errcheck // a server that never closes first
	}))
	nc, err := net.Dial("tcp", tp.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
	if _, err := nc.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gotData:
	case <-time.After(waitLimit):
		t.Fatal("server got nothing")
	}

	start := time.Now()
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := tp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	if calls != 1 {
		t.Fatalf("OnDone called %d times before Close returned", calls)
	}
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Error("client connection still open")
	}
	if c, err := net.Dial("tcp", tp.Addr()); err == nil {
		c.Close()
		t.Error("tap still accepting")
	}
	conn := rec.next(t)
	if conn.BytesUp != 1 {
		t.Errorf("bytes up %d", conn.BytesUp)
	}
	for _, p := range []Phase{ClientClose, ServerClose} {
		if _, ok := conn.At(p); ok {
			t.Errorf("the tap's own close recorded as %s", p)
		}
	}
}

func TestFFmpegPublish(t *testing.T) {
	ffmpeg := testkit.FFmpeg(t)
	sent := make(chan uint64, 1)
	tp, rec := startTap(t, startServer(t, rtmpServer(sent)))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "flv",
		"rtmp://"+tp.Addr()+"/live/x?rtmpload=r1-1")
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}

	conn := rec.next(t)
	for _, m := range conn.Marks {
		t.Logf("%8.2fms %-20s %s", float64(m.At.Sub(conn.Start).Microseconds())/1000, m.Phase, m.Detail)
	}
	want := []Phase{TCPConnect, UpstreamConnect, C0C1, S0S1S2, C2, Connect, ConnectResult,
		ReleaseStream, FCPublish, CreateStream, CreateStreamResult, Publish, OnStatus, FirstVideo}
	got := phases(conn)
	if !slices.Equal(got[:min(len(want), len(got))], want) {
		t.Fatalf("phases\n got %v\nwant %v...", got, want)
	}
	if last := got[len(got)-1]; last != ClientClose {
		t.Errorf("last phase %s, want %s", last, ClientClose)
	}
	if conn.Attempt != "r1-1" || conn.App != "live" || conn.Stream != "x" || conn.Unparsed {
		t.Errorf("conn %+v", conn)
	}
	if conn.BytesUp < 10000 {
		t.Errorf("only %d bytes published", conn.BytesUp)
	}
}

// A reset from the server reaches the client as a reset, not as an orderly close.
func TestServerResetIsPassedOn(t *testing.T) {
	tp, rec := startTap(t, startServer(t, func(nc net.Conn) {
		nc.Read(make([]byte, 1))       //nolint:errcheck
		nc.(*net.TCPConn).SetLinger(0) //nolint:errcheck
	}))
	nc, err := net.Dial("tcp", tp.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
	if _, err := nc.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(nc); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read: %v, want a reset", err)
	}
	m, ok := rec.next(t).Mark(ServerClose)
	if !ok || !strings.Contains(m.Detail, "reset") {
		t.Errorf("server close %+v %v", m, ok)
	}
}

func TestConcurrentPublishes(t *testing.T) {
	const n = 16
	sent := make(chan uint64, n)
	tp, rec := startTap(t, startServer(t, rtmpServer(sent)))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := publishClient(t, tp.Addr(), fmt.Sprintf("/live#cam%02d?rtmpload=r1-%d", i, i))
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	attempts := make(map[string]uint64)
	for range n {
		c := rec.next(t)
		var i int
		fmt.Sscanf(c.Attempt, "r1-%d", &i) //nolint:errcheck // a bad attempt fails the comparison below
		if _, ok := c.At(OnStatus); !ok || c.Unparsed || c.Stream != fmt.Sprintf("cam%02d", i) {
			t.Errorf("conn %d: attempt %q stream %q phases %v", c.ID, c.Attempt, c.Stream, phases(c))
		}
		attempts[c.Attempt] = c.ID
	}
	if len(attempts) != n {
		t.Errorf("attempts %v", attempts)
	}
}

// The server's answer is marked when it arrived, not when the tap's goroutine
// got round to reading it: with one P, the server's goroutine writes S0+S1+S2
// and then keeps the P busy for 30 ms, so the tap reads late, yet its mark lies
// between the moments just before and just after the server's write. The
// kernel turns its receive stamps on a moment after the first socket asks
// (internal/netbuf), so up to three connections are tried.
func TestServerAnswerMarkedOnArrival(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	type window struct{ before, after time.Time }
	wrote := make(chan window, 1)
	tp, rec := startTap(t, startServer(t, func(nc net.Conn) {
		if _, err := io.ReadFull(nc, make([]byte, 1537)); err != nil {
			return
		}
		before := time.Now()
		_, err := nc.Write(handshakeBytes(1 + 2*1536))
		after := time.Now()
		for time.Since(after) < 30*time.Millisecond { // hold the only P
		}
		if err == nil {
			wrote <- window{before, after}
		}
		io.Copy(io.Discard, nc) //nolint:errcheck // until the client leaves
	}))
	var last string
	for range 3 {
		nc, err := net.Dial("tcp", tp.Addr())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(waitLimit)) //nolint:errcheck
		if _, err := nc.Write(handshakeBytes(1537)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(nc, make([]byte, 1+2*1536)); err != nil {
			t.Fatal(err)
		}
		nc.Close()
		var w window
		select {
		case w = <-wrote:
		case <-time.After(waitLimit):
			t.Fatal("the server wrote no S0+S1+S2")
		}
		m, ok := rec.next(t).Mark(S0S1S2)
		if !ok {
			t.Fatal("no S0S1S2 mark")
		}
		if !m.At.Before(w.before) && !m.At.After(w.after) {
			return
		}
		last = fmt.Sprintf("marked %v after the write returned (written within %v)", m.At.Sub(w.after), w.after.Sub(w.before))
	}
	t.Errorf("the server's answer was marked when the tap read it, not when it arrived: %s", last)
}
