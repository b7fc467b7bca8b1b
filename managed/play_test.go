package managed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/rtmpload/rtmpload/internal/synth"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/internal/testplayer"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srsapi"
)

// TestPlayLikeSRS plays on SRS 7.0.18 and on the embedded server side by
// side and compares what a player sees (docs/srs-behaviour.md, "Play"):
// RTMP and HTTP-FLV, allowed, refused by on_play, and of a name nobody
// publishes; the on_play and on_stop bodies' keys.
func TestPlayLikeSRS(t *testing.T) {
	bin := testkit.SRS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	calls := map[string][]string{} // "srs on_play" -> bodies
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct{ Action, Stream string }
		json.Unmarshal(body, &req)
		mu.Lock()
		k := strings.TrimPrefix(r.URL.Path, "/") + " " + req.Action
		calls[k] = append(calls[k], string(body))
		mu.Unlock()
		if req.Action == "on_play" && req.Stream == "denied" {
			io.WriteString(w, `{"code":1}`)
			return
		}
		io.WriteString(w, `{"code":0}`)
	}))
	defer hook.Close()
	keysOf := func(who, action string) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, b := range calls[who+" "+action] {
			out = append(out, jsonKeyOrder(t, b))
		}
		return out
	}

	real, err := StartSRS(ctx, SRSConfig{Dir: t.TempDir(), Binary: bin,
		OnPublish: hook.URL + "/srs", OnPlay: hook.URL + "/srs", OnStop: hook.URL + "/srs"})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Stop(context.Background())
	emb, err := server.Start(ctx, server.Config{FLVListen: "127.0.0.1:0",
		OnPublish: []string{hook.URL + "/emb"}, OnPlay: []string{hook.URL + "/emb"}, OnStop: []string{hook.URL + "/emb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()

	type target struct{ name, rtmp, flv, api string }
	targets := []target{
		{"srs", "rtmp://" + real.RTMPAddr(), real.FLVBase(), real.APIURL()},
		{"emb", "rtmp://" + emb.RTMPAddr(), "http://" + emb.FLVAddr(), "http://" + emb.APIAddr()},
	}
	seen := map[string][]string{}
	for _, tg := range targets {
		stopPub := livePublisher(ctx, t, tg.rtmp+"/live/cam1")
		time.Sleep(2500 * time.Millisecond) // a GOP and a half in the cache
		var got []string
		add := func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }

		add("rtmp published: %s", rtmpView(ctx, tg.rtmp+"/live/cam1?v=1", 7))
		add("rtmp refused: %s", rtmpView(ctx, tg.rtmp+"/live/denied", 3))
		add("rtmp no publisher: %s", rtmpView(ctx, tg.rtmp+"/live/nobody", 2))
		add("flv published: %s", flvView(ctx, tg.flv+"/live/cam1.flv?v=2", 5, false))
		add("flv refused: %s", flvView(ctx, tg.flv+"/live/denied.flv", 1, false))
		add("flv no publisher: %s", flvView(ctx, tg.flv+"/live/nobody.flv", 1, false))
		add("api: %s", apiView(ctx, t, tg.rtmp, tg.flv, tg.api))
		// The publisher leaves while an HTTP-FLV player plays.
		f, err := testplayer.DialFLV(ctx, nil, tg.flv+"/live/cam1.flv")
		if err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
		stopPub()
		for err == nil {
			_, err = f.Next()
		}
		f.Close()
		add("flv at unpublish: %v", err)
		time.Sleep(300 * time.Millisecond) // on_stop calls
		add("on_play keys: %q", keysOf(tg.name, "on_play")[0])
		stops := keysOf(tg.name, "on_stop")
		add("on_stop calls: %d, keys %q", len(stops), stops[0])
		seen[tg.name] = got
	}
	for i := range seen["srs"] {
		if seen["srs"][i] != seen["emb"][i] {
			t.Errorf("SRS:      %s\nembedded: %s", seen["srs"][i], seen["emb"][i])
		} else {
			t.Logf("both: %s", seen["srs"][i])
		}
	}
}

// rtmpView plays u and describes what came: the statuses, then up to n
// messages or how the play ended within 1.5 s.
func rtmpView(ctx context.Context, u string, n int) string {
	p, err := testplayer.DialRTMP(ctx, u)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer p.Close()
	out := []string{strings.Join(p.Statuses, ",")}
	p.NetConn().SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	for len(out) <= n {
		msg, err := p.Read()
		var ne interface{ Timeout() bool }
		switch {
		case errors.Is(err, io.EOF):
			return strings.Join(append(out, "closed"), " ")
		case errors.As(err, &ne) && ne.Timeout():
			return strings.Join(append(out, "silent"), " ")
		case err != nil:
			return strings.Join(append(out, err.Error()), " ")
		}
		switch m := msg.(type) {
		case *message.DataAMF0:
			out = append(out, fmt.Sprint(m.Payload[0]))
		case *message.Video:
			k := "video"
			if m.Type == message.VideoTypeConfig {
				k = "video-sh"
			} else if m.IsKeyFrame {
				k = fmt.Sprintf("keyframe@%v", m.DTS)
			}
			out = append(out, k)
		case *message.Audio:
			out = append(out, map[bool]string{true: "audio-sh", false: "audio"}[m.AACType == message.AudioAACTypeConfig])
		}
	}
	return strings.Join(out, " ")
}

// apiView plays cam1 over RTMP and HTTP-FLV, and names nobody publishes
// over each, and describes what the HTTP API lists meanwhile (addresses
// left out). The names are fresh: SRS forgets a stream its last player
// left only at its next look, up to 350 ms later.
func apiView(ctx context.Context, t *testing.T, rtmp, flv, api string) string {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for _, u := range []string{rtmp + "/live/cam1", rtmp + "/live/other"} {
		p, err := testplayer.DialRTMP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, p.Close)
	}
	f, err := testplayer.DialFLV(ctx, nil, flv+"/live/cam1.flv")
	if err != nil {
		t.Fatal(err)
	}
	closers = append(closers, f.Close)
	// No answer comes for a name nobody publishes: the request waits.
	fctx, cancel := context.WithCancel(ctx)
	closers = append(closers, func() error { cancel(); return nil })
	go testplayer.DialFLV(fctx, nil, flv+"/live/flvonly.flv")
	time.Sleep(300 * time.Millisecond) // the on_play calls
	cli := &srsapi.Client{Base: api}
	clients, err := cli.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := cli.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range clients {
		scheme, _, _ := strings.Cut(c.TcURL, "://")
		out = append(out, fmt.Sprintf("%s %s publish=%v %s %s", c.Type, c.Name, c.Publish, scheme, c.URL))
	}
	for _, s := range streams {
		out = append(out, fmt.Sprintf("stream %s clients=%d active=%v", s.Name, s.Clients, s.Publish.Active))
	}
	slices.Sort(out) // the lists' orders differ: SRS's is its own
	return strings.Join(out, "; ")
}

// flvView GETs u and describes the answer and up to n tags, within 1.5 s.
func flvView(ctx context.Context, u string, n int, _ bool) string {
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	f, err := testplayer.DialFLV(ctx, nil, u)
	switch {
	case errors.Is(err, testplayer.ErrClosedWithoutStatus):
		return "closed without an answer"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer"
	case err != nil:
		return err.Error()
	}
	defer f.Close()
	out := []string{f.Resp.Status, f.Resp.Header.Get("Content-Type")}
	for range n {
		tag, err := f.Next()
		if err != nil {
			return strings.Join(append(out, err.Error()), " ")
		}
		k := fmt.Sprint(tag.Type)
		if tag.Keyframe() {
			k = fmt.Sprintf("keyframe@%d", tag.Timestamp)
		}
		out = append(out, k)
	}
	return strings.Join(out, " ")
}

func jsonKeyOrder(t *testing.T, body string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatalf("hook body %q: %v", body, err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, fmt.Sprint(k))
		var v any
		dec.Decode(&v)
	}
	return strings.Join(keys, ",")
}

// livePublisher publishes a synthetic stream in real time (a keyframe a
// second) to u (rtmp://host/app/stream) until the returned stop is called.
func livePublisher(ctx context.Context, t *testing.T, u string) (stop func()) {
	t.Helper()
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := synth.Dial(ictx, u)
	if err != nil {
		t.Fatalf("publish %s: %v", u, err)
	}
	if err := p.Headers(); err != nil {
		t.Fatal(err)
	}
	// Bounded: at most 2 minutes of frames.
	live := p.Live(ctx, 25, 25*120)
	var once sync.Once
	stop = func() { once.Do(func() { live(); p.Close() }) }
	t.Cleanup(stop)
	return stop
}

func TestReadServeAddrsHTTPFLV(t *testing.T) {
	p := t.TempDir() + "/serve.addr"
	if err := os.WriteFile(p, []byte("rtmp rtmp://127.0.0.1:1/live\napi http://127.0.0.1:2\nhttp-flv http://127.0.0.1:3/live\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, a, f := readServeAddrs(p); r != "127.0.0.1:1" || a != "http://127.0.0.1:2" || f != "http://127.0.0.1:3" {
		t.Fatalf("read %q %q %q", r, a, f)
	}
}
