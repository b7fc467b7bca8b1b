package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/rtmpload/rtmpload/internal/synth"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/internal/testplayer"
)

func startSynth(t *testing.T, s *Server, name string) *synthPub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := synth.Dial(ctx, "rtmp://"+s.RTMPAddr()+"/live/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &synthPub{t, p}
}

// synthPub fails the test on a write error.
type synthPub struct {
	t *testing.T
	*synth.Publisher
}

func (p *synthPub) headers() {
	p.t.Helper()
	if err := p.Headers(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *synthPub) gop(n int) {
	p.t.Helper()
	if err := p.GOP(n); err != nil {
		p.t.Fatal(err)
	}
}

func dialPlay(t *testing.T, s *Server, path string) (*testplayer.RTMP, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := testplayer.DialRTMP(ctx, "rtmp://"+s.RTMPAddr()+"/"+path)
	if p != nil {
		t.Cleanup(func() { p.Close() })
	}
	return p, err
}

// readKinds reads n messages and names each: "data NAME", "video sh",
// "video key", "video", "audio sh", "audio".
func readKinds(t *testing.T, p *testplayer.RTMP, n int) ([]string, []message.Message) {
	t.Helper()
	p.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	var kinds []string
	var msgs []message.Message
	for len(kinds) < n {
		msg, err := p.Read()
		if err != nil {
			t.Fatalf("after %v: %v", kinds, err)
		}
		k := ""
		switch m := msg.(type) {
		case *message.DataAMF0:
			k = "data " + m.Payload[0].(string)
		case *message.Video:
			k = "video"
			if m.Type == message.VideoTypeConfig {
				k = "video sh"
			} else if m.IsKeyFrame {
				k = "video key"
			}
		case *message.Audio:
			k = "audio"
			if m.AACType == message.AudioAACTypeConfig {
				k = "audio sh"
			}
		default:
			continue
		}
		kinds = append(kinds, k)
		msgs = append(msgs, msg)
	}
	return kinds, msgs
}

func TestPlayRTMPStartsAtTheLastKeyframe(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":0}`))
	s := startServer(t, Config{OnPlay: []string{hs.URL + "/on_play"}, OnStop: []string{hs.URL + "/on_stop"}}, rec)
	pub := startSynth(t, s, "cam1")
	pub.headers()
	pub.gop(10)
	pub.gop(3) // frames 10..12: the cache holds this GOP only
	// The whole second GOP: 6 messages from frame 11's keyframe on (the
	// first GOP passes through 6 messages too).
	testkit.WaitFor(t, 5*time.Second, "the second GOP", func() bool {
		n, first := s.sourceGOP("/live/cam1")
		return n == 6 && first == 11
	})

	p, err := dialPlay(t, s, "live/cam1?v=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Statuses, ","); got != "NetStream.Play.Reset,NetStream.Play.Start" {
		t.Fatalf("statuses %s, want SRS's Play.Reset then Play.Start", got)
	}
	kinds, msgs := readKinds(t, p, 10)
	want := []string{"data |RtmpSampleAccess", "data onMetaData", "audio sh", "video sh", "video key", "audio", "video", "audio", "video", "audio"}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("player got %q,\nwant %q", kinds, want)
	}
	// time_jitter full: the headers at 0, the keyframe 10 ms after them,
	// then the publisher's own deltas.
	if v := msgs[4].(*message.Video); v.DTS != 10*time.Millisecond || v.AU[5] != 11 {
		t.Errorf("first frame: dts %v, frame %d; want 10ms, frame 11 (the last GOP's keyframe)", v.DTS, v.AU[5])
	}
	if a := msgs[5].(*message.Audio); a.DTS != 15*time.Millisecond {
		t.Errorf("first audio dts %v, want 15ms", a.DTS)
	}

	// What the publisher sends next reaches the player.
	pub.gop(10)
	kinds, _ = readKinds(t, p, 20)
	if kinds[0] != "video key" {
		t.Fatalf("live media: %q, want the next GOP's keyframe first", kinds)
	}

	calls := rec.callsOf("on_play")
	if len(calls) != 1 {
		t.Fatalf("%d on_play calls, want 1", len(calls))
	}
	// SRS's key order for on_play: stream before tcUrl, and pageUrl.
	keys := jsonKeys(t, calls[0].body)
	wantKeys := "server_id,service_id,action,client_id,ip,vhost,app,stream,tcUrl,param,pageUrl,stream_url,stream_id"
	if keys != wantKeys {
		t.Errorf("on_play keys %s,\nwant %s", keys, wantKeys)
	}
	if r := calls[0].request; r.Param != "?v=1" || r.StreamURL != "/live/cam1" || !strings.HasPrefix(r.TcURL, "rtmp://127.0.0.1:") {
		t.Errorf("on_play request %+v", r)
	}
	pubCalls := rec.eventsOf(EventAccept)
	if len(pubCalls) != 1 {
		t.Fatal("publisher not accepted")
	}

	read := p.BytesReceived()
	p.Close()
	testkit.WaitFor(t, 5*time.Second, "on_stop", func() bool { return len(rec.callsOf("on_stop")) == 1 })
	stop := rec.callsOf("on_stop")[0]
	if keys := jsonKeys(t, stop.body); keys != "server_id,service_id,action,client_id,ip,vhost,app,tcUrl,stream,param,stream_url,stream_id" {
		t.Errorf("on_stop keys %s, want on_publish's", keys)
	}
	if stop.request.ClientID != calls[0].request.ClientID || stop.request.StreamID != calls[0].request.StreamID {
		t.Errorf("on_stop %+v is not the on_play's client and stream", stop.request)
	}
	testkit.WaitFor(t, 5*time.Second, "the stop event", func() bool { return len(rec.eventsOf(EventStop)) == 1 })
	ev := rec.eventsOf(EventStop)[0]
	if ev.Protocol != ProtoRTMP || ev.Reason != EndClosed || ev.VideoMsgs < 14 || ev.BytesOut < read {
		t.Errorf("stop event %+v", ev)
	}
	if n := len(rec.eventsOf(EventPlay)); n != 1 {
		t.Errorf("%d play events, want 1", n)
	}
}

// jsonKeys lists a JSON object's keys in their order.
func jsonKeys(t *testing.T, body []byte) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(keys, ",")
}

func TestPlayRefusedRTMPIsClosedAfterPlayStart(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":1}`))
	s := startServer(t, Config{OnPlay: []string{hs.URL}, OnStop: []string{hs.URL}}, rec)
	p, err := dialPlay(t, s, "live/cam1")
	if err != nil {
		t.Fatalf("play: %v; SRS answers Play.Start before it calls on_play", err)
	}
	p.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []string
	for {
		msg, err := p.Read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %v: %v, want the connection closed", got, err)
			}
			break
		}
		if d, ok := msg.(*message.DataAMF0); ok {
			got = append(got, d.Payload[0].(string))
		} else {
			got = append(got, "other")
		}
	}
	if strings.Join(got, ",") != "|RtmpSampleAccess" {
		t.Errorf("before the close: %v, want |RtmpSampleAccess only", got)
	}
	testkit.WaitFor(t, 5*time.Second, "the reject event", func() bool { return len(rec.eventsOf(EventPlayReject)) == 1 })
	if ev := rec.eventsOf(EventPlayReject)[0]; ev.Reason != ReasonHookDenied || ev.Protocol != ProtoRTMP {
		t.Errorf("reject %+v", ev)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(rec.callsOf("on_stop")); n != 0 {
		t.Errorf("%d on_stop for a refused play, want none", n)
	}
}

func TestPlayRTMPWaitsForThePublisher(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, Config{MergedWrite: -1}, rec)
	p, err := dialPlay(t, s, "live/later")
	if err != nil {
		t.Fatal(err)
	}
	readKinds(t, p, 1) // |RtmpSampleAccess
	testkit.WaitFor(t, 5*time.Second, "the player attached", func() bool { return len(rec.eventsOf(EventPlay)) == 1 })
	pub := startSynth(t, s, "later")
	pub.headers()
	pub.gop(3)
	kinds, _ := readKinds(t, p, 4)
	if strings.Join(kinds, ",") != "data onMetaData,video sh,audio sh,video key" {
		t.Fatalf("a waiting player got %q, want the publisher's messages as they come", kinds)
	}
	readKinds(t, p, 5)
	pub.Close()
	testkit.WaitFor(t, 5*time.Second, "unpublish", func() bool { return len(rec.eventsOf(EventUnpublish)) == 1 })
	// The player stays, as SRS's do, and a new publisher feeds it.
	pub2 := startSynth(t, s, "later")
	pub2.headers()
	pub2.gop(2)
	kinds, _ = readKinds(t, p, 4)
	if kinds[3] != "video key" {
		t.Fatalf("after a new publisher: %q", kinds)
	}
}

func TestPlayFLV(t *testing.T) {
	rec := &recorder{}
	deny := map[string]bool{}
	hs := rec.hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "on_play") && deny[strings.TrimPrefix(r.URL.RawQuery, "s=")] {
			io.WriteString(w, `{"code":1}`)
			return
		}
		io.WriteString(w, `{"code":0}`)
	})
	_ = deny
	s := startServer(t, Config{FLVListen: "127.0.0.1:0", OnPlay: []string{hs.URL + "/on_play"}, OnStop: []string{hs.URL + "/on_stop"}}, rec)
	if s.FLVAddr() == "" {
		t.Fatal("no HTTP-FLV address")
	}
	pub := startSynth(t, s, "cam1")
	pub.headers()
	pub.gop(4)
	testkit.WaitFor(t, 5*time.Second, "the publisher's media", func() bool { n, _ := s.sourceGOP("/live/cam1"); return n == 8 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := testplayer.DialFLV(ctx, nil, "http://"+s.FLVAddr()+"/live/cam1.flv?v=2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ct := f.Resp.Header.Get("Content-Type"); ct != "video/x-flv" {
		t.Errorf("Content-Type %q", ct)
	}
	var types []uint8
	for range 5 {
		tag, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, tag.Type)
		if len(types) == 4 && !tag.Keyframe() {
			t.Errorf("the tag after the headers is not the keyframe: % x", tag.Body[:2])
		}
	}
	if want := []uint8{testplayer.TagScript, testplayer.TagAudio, testplayer.TagVideo, testplayer.TagVideo, testplayer.TagAudio}; string(types) != string(want) {
		t.Errorf("tag types %v, want %v", types, want)
	}
	on := rec.callsOf("on_play")
	if len(on) != 1 || on[0].request.TcURL != "rtmp://__defaultVhost__/live" || on[0].request.Param != "?v=2" {
		t.Fatalf("on_play calls %+v", on)
	}

	// The publisher leaves: the response is cut, and on_stop comes.
	pub.Close()
	for {
		if _, err = f.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("after unpublish: %v, want the chunked body cut (unexpected EOF) as SRS does", err)
	}
	testkit.WaitFor(t, 5*time.Second, "on_stop", func() bool { return len(rec.callsOf("on_stop")) == 1 })
	testkit.WaitFor(t, 5*time.Second, "the stop event", func() bool { return len(rec.eventsOf(EventStop)) == 1 })
	if ev := rec.eventsOf(EventStop)[0]; ev.Reason != EndUnpublished || ev.Protocol != ProtoHTTPFLV {
		t.Errorf("stop %+v", ev)
	}
}

func TestPlayFLVRefusedAndWaiting(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "on_play") && strings.Contains(string(mustRead(r)), `"stream":"denied"`) {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, `{"code":0}`)
	})
	s := startServer(t, Config{FLVListen: "127.0.0.1:0", OnPlay: []string{hs.URL + "/on_play"}, OnStop: []string{hs.URL + "/on_stop"}}, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := testplayer.DialFLV(ctx, nil, "http://"+s.FLVAddr()+"/live/denied.flv"); !errors.Is(err, testplayer.ErrClosedWithoutStatus) {
		t.Fatalf("refused HTTP-FLV: %v, want the connection closed with no answer", err)
	}
	if ev := rec.eventsOf(EventPlayReject); len(ev) != 1 || ev[0].Reason != ReasonHookErrorStatus || ev[0].Protocol != ProtoHTTPFLV {
		t.Errorf("play_reject events %+v", ev)
	}

	// No publisher: no answer at all until one comes.
	type result struct {
		f   *testplayer.FLV
		err error
	}
	got := make(chan result, 1)
	go func() {
		f, err := testplayer.DialFLV(ctx, nil, "http://"+s.FLVAddr()+"/live/later.flv")
		got <- result{f, err}
	}()
	testkit.WaitFor(t, 5*time.Second, "the waiting player", func() bool { return len(rec.eventsOf(EventPlay)) == 1 })
	select {
	case r := <-got:
		t.Fatalf("a stream without publisher answered: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	pub := startSynth(t, s, "later")
	pub.headers()
	pub.gop(3)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.f.Close()
	if tag, err := r.f.Next(); err != nil || tag.Type != testplayer.TagScript {
		t.Fatalf("first tag %+v, %v; want onMetaData", tag, err)
	}
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

// sourceGOP is how many messages the GOP cache of url holds, and the last
// byte of the first one's body (synth's frame number for a video frame).
func (s *Server) sourceGOP(url string) (n int, first byte) {
	s.mu.Lock()
	src := s.sources[url]
	s.mu.Unlock()
	if src == nil {
		return -1, 0
	}
	src.relay.mu.Lock()
	defer src.relay.mu.Unlock()
	if len(src.relay.gop) > 0 {
		b := src.relay.gop[0].body
		first = b[len(b)-1]
	}
	return len(src.relay.gop), first
}

func TestRelaySharesBodiesAndSkipsLikeSRS(t *testing.T) {
	s := &Server{cfg: withDefaults(Config{QueueLength: time.Second})}
	var r relay
	mk := func(typ uint8, ts int64, key, sh bool) *relayMsg {
		return &relayMsg{typ: typ, ts: ts, body: []byte{byte(ts)}, key: key, sh: sh}
	}
	r.publish(mk(typeVideo, 0, false, true))
	r.publish(mk(typeAudio, 0, false, true))
	r.publish(mk(typeVideo, 1000, true, false))
	p1, p2 := s.newPlayer(&client{}, ProtoRTMP), s.newPlayer(&client{}, ProtoHTTPFLV)
	r.attach(p1)
	r.attach(p2)
	if len(p1.q) != 3 || p1.q[2].m != p2.q[2].m {
		t.Fatalf("players do not share the relayed messages: %d queued", len(p1.q))
	}
	if p1.q[2].ts != 10 {
		t.Errorf("keyframe at %d ms for the player, want 10 (time_jitter full)", p1.q[2].ts)
	}
	// 40 ms frames for 1.2 s: past QueueLength, the queue keeps only the
	// sequence headers and the player skips.
	for i := 1; i <= 30; i++ {
		r.publish(mk(typeVideo, 1000+int64(i)*40, false, false))
	}
	p1.mu.Lock()
	defer p1.mu.Unlock()
	if p1.skipped == 0 || len(p1.q) > 30 {
		t.Fatalf("queue of %d, %d skipped: want a shrink", len(p1.q), p1.skipped)
	}
	for _, q := range p1.q[:2] {
		if !q.m.sh {
			t.Errorf("after a shrink the queue starts %+v, want the sequence headers", q.m)
		}
	}
}

// A player that reads nothing never holds the publisher up: its queue is
// cut to the sequence headers whenever it spans more than QueueLength,
// and it is told at its end how much it skipped.
func TestSlowPlayerDoesNotHoldThePublisher(t *testing.T) {
	rec := &recorder{}
	// MergedRead off: the merged read caps a publisher at what its socket
	// holds per 350 ms, far below this test's volume.
	s := startServer(t, Config{MergedWrite: -1, MergedRead: -1, QueueLength: time.Second}, rec)
	pub := startSynth(t, s, "cam1")
	pub.Pad = 64 << 10
	pub.headers()
	p, err := dialPlay(t, s, "live/cam1")
	if err != nil {
		t.Fatal(err)
	}
	// 20 s of media, 32 MB: far more than the sockets hold.
	done := make(chan error, 1)
	go func() { done <- pub.GOP(500) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		// Without the race detector this takes about a second; the bound
		// only turns a hang into a failure.
		t.Fatal("the publisher was held up by a player that reads nothing")
	}
	p.Close()
	testkit.WaitFor(t, 5*time.Second, "the stop event", func() bool { return len(rec.eventsOf(EventStop)) == 1 })
	if ev := rec.eventsOf(EventStop)[0]; ev.Skipped == 0 {
		t.Errorf("stop %+v: want skipped messages", ev)
	}
	if n := len(rec.eventsOf(EventUnpublish)); n != 0 {
		t.Errorf("the publisher ended (%d unpublish events)", n)
	}
}

// BenchmarkRelayFanout is the cost of one publisher message reaching 100
// players' queues: the message is encoded once (encodeRelay), then each
// player only queues a pointer.
func BenchmarkRelayFanout(b *testing.B) {
	s := &Server{cfg: withDefaults(Config{})}
	var r relay
	players := make([]*viewer, 100)
	for i := range players {
		players[i] = s.newPlayer(&client{}, ProtoRTMP)
		r.attach(players[i])
	}
	au := make([]byte, 4000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := encodeRelay(&message.Video{Codec: message.CodecH264, Type: message.VideoTypeAU, IsKeyFrame: i%50 == 0,
			DTS: time.Duration(i) * 40 * time.Millisecond, AU: au})
		r.publish(m)
		if i%10 == 9 {
			for _, p := range players {
				p.take(nil)
			}
		}
	}
}
