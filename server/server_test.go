package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/rtmpload/rtmpload/internal/testkit"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// recorder collects events and hook calls for assertions.
type recorder struct {
	mu     sync.Mutex
	events []Event
	calls  []hookCall
}

type hookCall struct {
	path    string
	method  string
	header  http.Header
	body    []byte
	request srs.HookRequest
}

func (r *recorder) onEvent(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) eventsOf(kind schema.ServerKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (r *recorder) callsOf(action string) []hookCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookCall
	for _, c := range r.calls {
		if c.request.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// hookServer answers every call with answer(path) after recording it.
func (r *recorder) hookServer(t *testing.T, answer func(w http.ResponseWriter, req *http.Request)) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		c := hookCall{path: req.URL.Path, method: req.Method, header: req.Header.Clone(), body: body}
		json.Unmarshal(body, &c.request)
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, req)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func answerBody(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func startServer(t *testing.T, cfg Config, rec *recorder) *Server {
	t.Helper()
	if rec != nil {
		cfg.OnEvent = rec.onEvent
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// publish runs gortmplib's client up to NetStream.Publish.Start.
// path is "app/stream?query".
func publish(t *testing.T, s *Server, path string) (*gortmplib.Client, error) {
	t.Helper()
	app, key, _ := strings.Cut(path, "/")
	// gortmplib takes the stream key from the fragment.
	u, err := url.Parse("rtmp://" + s.RTMPAddr() + "/" + app + "#" + key)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}

// assertClosedWithoutStatus checks that a rejected publish saw the connection
// close, not an onStatus error (gortmplib reports that as "bad result").
func assertClosedWithoutStatus(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("publish succeeded, want rejection")
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("publish error = %v, want the connection closed without an RTMP status", err)
	}
}

func sendMedia(t *testing.T, c *gortmplib.Client, video, audio int) {
	t.Helper()
	for i := range video {
		err := c.Write(&message.Video{
			ChunkStreamID: 6, MessageStreamID: 0x1000000, Codec: message.CodecH264,
			IsKeyFrame: i == 0, Type: message.VideoTypeAU, DTS: time.Duration(i) * 40 * time.Millisecond,
			AU: []byte{0, 0, 0, 2, 0x09, 0xf0},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range audio {
		err := c.Write(&message.Audio{
			ChunkStreamID: 4, MessageStreamID: 0x1000000, Codec: message.CodecMPEG4Audio,
			Rate: message.AudioRate44100, Depth: message.AudioDepth16, IsStereo: true,
			AACType: message.AudioAACTypeAU, DTS: time.Duration(i) * 23 * time.Millisecond,
			AU: []byte{0x21, 0x10, 0x04},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAcceptCountsMediaAndSendsUnpublish(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":0,"msg":null}`))
	s := startServer(t, Config{OnPublish: []string{hs.URL + "/on_publish"}, OnUnpublish: []string{hs.URL + "/on_unpublish"}}, rec)

	c, err := publish(t, s, "live/cam01")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if len(rec.eventsOf(EventAccept)) != 1 {
		t.Fatalf("accept events = %d, want 1", len(rec.eventsOf(EventAccept)))
	}
	sendMedia(t, c, 5, 3)
	testkit.WaitFor(t, 5*time.Second, "5 frames in Streams()", func() bool {
		st := s.Streams()
		return len(st) == 1 && st[0].Frames == 5
	})
	st := s.Streams()[0]
	if !st.Publish.Active || st.Name != "cam01" || st.App != "live" || st.URL != "/live/cam01" || st.RecvBytes == 0 {
		t.Errorf("stream = %+v", st)
	}
	if st.Audio == nil || st.Audio.Codec != "AAC" || st.Video == nil || st.Video.Codec != "H264" {
		t.Errorf("stream codecs video=%+v audio=%+v", st.Video, st.Audio)
	}
	cl := s.Clients()
	if len(cl) != 1 || cl[0].Type != "fmle-publish" || !cl[0].Publish || cl[0].ID != st.Publish.CID || cl[0].Stream != st.ID {
		t.Errorf("clients = %+v", cl)
	}
	if len(rec.callsOf("on_unpublish")) != 0 {
		t.Fatal("on_unpublish sent while the publisher is live")
	}

	c.Close()
	testkit.WaitFor(t, 5*time.Second, "on_unpublish", func() bool { return len(rec.callsOf("on_unpublish")) == 1 })
	ends := rec.eventsOf(EventUnpublish)
	if len(ends) != 1 {
		t.Fatalf("unpublish events = %d", len(ends))
	}
	end := ends[0]
	if end.Reason != EndClosed || end.VideoMsgs != 5 || end.AudioMsgs != 3 || end.BytesIn == 0 {
		t.Errorf("unpublish event = %+v", end)
	}
	pub, unpub := rec.callsOf("on_publish")[0].request, rec.callsOf("on_unpublish")[0].request
	if unpub.ClientID != pub.ClientID || unpub.StreamID != pub.StreamID || unpub.Stream != "cam01" {
		t.Errorf("on_unpublish %+v does not match on_publish %+v", unpub, pub)
	}
	if p := rec.callsOf("on_unpublish")[0].path; p != "/on_unpublish" {
		t.Errorf("on_unpublish path = %q", p)
	}
	testkit.WaitFor(t, 2*time.Second, "stream removed", func() bool { return len(s.Streams()) == 0 && len(s.Clients()) == 0 })
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/on_publish"
}

func TestRejections(t *testing.T) {
	cases := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		down   bool
		reason string
	}{
		{name: "deny", answer: answerBody(200, `{"code":1}`), reason: ReasonHookDenied},
		{name: "status500", answer: answerBody(500, `{"code":0}`), reason: ReasonHookErrorStatus},
		{name: "down", down: true, reason: ReasonHookUnreachable},
		{name: "slow", reason: ReasonHookTimeout, answer: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "0")
		}},
		{name: "notjson", answer: answerBody(200, `OK`), reason: ReasonHookBadAnswer},
		{name: "nocode", answer: answerBody(200, `{"status":"ok"}`), reason: ReasonHookBadAnswer},
		// SRS reads for the body a 204 never has, until its hook timeout.
		{name: "204", answer: answerBody(204, ""), reason: ReasonHookTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var hookURL string
			if tc.down {
				hookURL = closedPortURL(t)
			} else {
				hookURL = rec.hookServer(t, tc.answer).URL + "/on_publish"
			}
			unpub := rec.hookServer(t, answerBody(200, "0"))
			s := startServer(t, Config{
				OnPublish: []string{hookURL}, OnUnpublish: []string{unpub.URL + "/on_unpublish"},
				HookTimeout: 300 * time.Millisecond,
			}, rec)

			start := time.Now()
			_, err := publish(t, s, "live/cam01?rtmpload=r1-1")
			elapsed := time.Since(start)
			assertClosedWithoutStatus(t, err)
			if tc.reason == ReasonHookTimeout && elapsed < 300*time.Millisecond {
				t.Errorf("timeout rejection after %v, before HookTimeout", elapsed)
			}
			testkit.WaitFor(t, 2*time.Second, "reject event", func() bool { return len(rec.eventsOf(EventReject)) == 1 })
			rej := rec.eventsOf(EventReject)[0]
			if rej.Reason != tc.reason || rej.Param != "?rtmpload=r1-1" || rej.Stream != "cam01" {
				t.Errorf("reject event = %+v, want reason %s", rej, tc.reason)
			}
			// A refusal by the hook's answer carries that answer, for the report.
			if tc.answer != nil && tc.reason != ReasonHookTimeout && (rej.HookStatus == 0 || rej.HookBody == "") {
				t.Errorf("reject event = %+v, want the hook's status and body", rej)
			}
			hooks := rec.eventsOf(EventHook)
			if len(hooks) != 1 || hooks[0].HookAction != "on_publish" || hooks[0].HookURL != hookURL {
				t.Fatalf("hook events = %+v", hooks)
			}
			if (hooks[0].HookErr != "") != (tc.down || tc.reason == ReasonHookTimeout) {
				t.Errorf("hook event error = %q", hooks[0].HookErr)
			}
			if len(rec.eventsOf(EventAccept)) != 0 || len(s.Streams()) != 0 {
				t.Error("rejected publisher was accepted or left a stream behind")
			}
			// Close waits for pending on_unpublish calls, so none can arrive later.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(rec.callsOf("on_unpublish")); n != 0 {
				t.Errorf("on_unpublish sent %d times for a rejected publisher", n)
			}
		})
	}
}

func TestHookRequestBody(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(201, "0"))
	s := startServer(t, Config{OnPublish: []string{hs.URL + "/cb"}, ServerID: "vid-srv0001", ServiceID: "svc00001"}, rec)
	if _, err := publish(t, s, "live/cam01?token=abc&x=1"); err != nil {
		t.Fatalf("publish with 201 and bare 0: %v", err)
	}
	calls := rec.callsOf("on_publish")
	if len(calls) != 1 {
		t.Fatalf("on_publish calls = %d", len(calls))
	}
	call := calls[0]
	if call.method != http.MethodPost || call.header.Get("Content-Type") != "application/json" ||
		call.header.Get("User-Agent") != "SRS/7.0.18" {
		t.Errorf("method %s, headers %v", call.method, call.header)
	}
	m := regexp.MustCompile(`"stream_id":"(vid-[0-9a-z]{7})"`).FindSubmatch(call.body)
	if m == nil {
		t.Fatalf("no stream_id in %s", call.body)
	}
	want := fmt.Sprintf(`{"server_id":"vid-srv0001","service_id":"svc00001","action":"on_publish",`+
		`"client_id":%q,"ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live",`+
		`"tcUrl":"rtmp://%s/live","stream":"cam01","param":"?token=abc\u0026x=1",`+
		`"stream_url":"/live/cam01","stream_id":%q}`, call.request.ClientID, s.RTMPAddr(), m[1])
	if got := string(call.body); got != want {
		t.Errorf("hook body\n got %s\nwant %s", got, want)
	}
	if call.request.ClientID == "" || call.request.Param != "?token=abc&x=1" {
		t.Errorf("decoded request = %+v", call.request)
	}
	if st := s.Streams(); len(st) != 1 || st[0].ID != string(m[1]) {
		t.Errorf("hook stream_id %s is not the API's stream id: %+v", m[1], st)
	}
}

func TestHookCalledBeforeBusyCheck(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, answerBody(200, `{"code":0,"msg":null}`))
	s := startServer(t, Config{OnPublish: []string{hs.URL}, OnUnpublish: []string{hs.URL}}, rec)

	first, err := publish(t, s, "live/cam01")
	if err != nil {
		t.Fatal(err)
	}
	_, err = publish(t, s, "live/cam01?dup=1")
	assertClosedWithoutStatus(t, err)
	if n := len(rec.callsOf("on_publish")); n != 2 {
		t.Fatalf("hook saw %d on_publish, want 2 (the duplicate too)", n)
	}
	testkit.WaitFor(t, 2*time.Second, "reject event", func() bool { return len(rec.eventsOf(EventReject)) == 1 })
	if r := rec.eventsOf(EventReject)[0]; r.Reason != ReasonStreamBusy || r.Param != "?dup=1" {
		t.Errorf("reject = %+v", r)
	}
	// The first publisher is untouched and another name is free.
	sendMedia(t, first, 1, 0)
	if _, err := publish(t, s, "live/cam02"); err != nil {
		t.Fatalf("other name: %v", err)
	}
	testkit.WaitFor(t, 2*time.Second, "two live streams", func() bool {
		st := s.Streams()
		return len(st) == 2 && st[0].Publish.Active && st[0].Frames == 1 && st[1].Publish.Active
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Only the two accepted publishers get on_unpublish, never the duplicate.
	unpubs := rec.callsOf("on_unpublish")
	if len(unpubs) != 2 || slices.ContainsFunc(unpubs, func(c hookCall) bool { return c.request.Param == "?dup=1" }) {
		t.Errorf("on_unpublish calls = %d %+v", len(unpubs), unpubs)
	}
}

func TestHooksCalledInOrderAllMustAllow(t *testing.T) {
	rec := &recorder{}
	allow := rec.hookServer(t, answerBody(200, "0"))
	deny := rec.hookServer(t, answerBody(200, `{"code":403}`))
	s := startServer(t, Config{OnPublish: []string{allow.URL + "/a", deny.URL + "/b", allow.URL + "/c"}}, rec)
	_, err := publish(t, s, "live/cam01")
	assertClosedWithoutStatus(t, err)
	var paths []string
	for _, c := range rec.callsOf("on_publish") {
		paths = append(paths, c.path)
	}
	if !slices.Equal(paths, []string{"/a", "/b"}) {
		t.Errorf("hook calls = %v, want /a then /b and no more", paths)
	}
}

func TestPublishTimeouts(t *testing.T) {
	rec := &recorder{}
	clk := testkit.NewClock()
	s := startServer(t, Config{FirstPacketTimeout: 200 * time.Millisecond, NormalTimeout: 300 * time.Millisecond, clock: clk}, rec)

	t0 := clk.Now()
	silent, err := publish(t, s, "live/silent")
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := publish(t, s, "live/stalled")
	if err != nil {
		t.Fatal(err)
	}
	sendMedia(t, stalled, 2, 0)
	testkit.WaitFor(t, 5*time.Second, "the stalled one's messages read", func() bool { return videoRead(s, "2") == 2 })
	// Looks: both at 200 ms; the silent one again at 700 ms (dropped), the
	// stalled one at 500 ms (its messages) and 1000 ms (dropped).
	clk.Advance(t0.Add(199 * time.Millisecond))
	if len(clk.Pending()) != 2 {
		t.Fatalf("looks due at %v before the first-packet timeout, want both still waiting", clk.Pending())
	}
	clk.Advance(t0.Add(time.Second))
	testkit.WaitFor(t, 5*time.Second, "both dropped", func() bool { return len(rec.eventsOf(EventUnpublish)) == 2 })
	for _, ev := range rec.eventsOf(EventUnpublish) {
		if ev.Reason != EndTimeout {
			t.Errorf("%s ended with %q, want timeout", ev.Stream, ev.Reason)
		}
		if ev.Stream == "stalled" && ev.VideoMsgs != 2 {
			t.Errorf("stalled publisher counted %d video messages", ev.VideoMsgs)
		}
	}
	// The server closed both connections.
	for _, c := range []*gortmplib.Client{silent, stalled} {
		c.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.Copy(io.Discard, c.NetConn()); err != nil {
			t.Errorf("read after drop: %v, want EOF", err)
		}
	}
}

// TestPublishTimeoutsAreSRSWindows: SRS looks at a publisher's messages at
// fixed points (firstpkt_timeout after the publish, then every
// normal_timeout), not after each message: headers followed by a gap longer
// than normal_timeout live on if media comes before the next look, and a
// publisher silent after its headers is dropped at the second look, not one
// normal_timeout after its last message. Seen on SRS 7.0.18: a tee output
// that sent its headers and waited 8.6 s for media lived; one that waited
// longer was dropped 25 s after its publish ("publish timeout 5000ms,
// nb_msgs=3").
func TestPublishTimeoutsAreSRSWindows(t *testing.T) {
	rec := &recorder{}
	clk := testkit.NewClock()
	s := startServer(t, Config{FirstPacketTimeout: time.Second, NormalTimeout: time.Second, clock: clk}, rec)
	t0 := clk.Now()
	late, err := publish(t, s, "live/late")
	if err != nil {
		t.Fatal(err)
	}
	headers, err := publish(t, s, "live/headers")
	if err != nil {
		t.Fatal(err)
	}
	sendMedia(t, late, 1, 0)
	sendMedia(t, headers, 1, 0)
	testkit.WaitFor(t, 5*time.Second, "both first messages read", func() bool { return videoRead(s, "1") == 1 && videoRead(s, "2") == 1 })
	clk.Advance(t0.Add(time.Second)) // the first look: both sent a message
	if p := clk.Pending(); !slices.Equal(p, []time.Time{t0.Add(2 * time.Second), t0.Add(2 * time.Second)}) {
		t.Fatalf("looks due at %v, want both at the second look (2 s)", p)
	}
	// late sends media after a gap longer than normal_timeout since its
	// headers, but before the next look: it lives on.
	sendMedia(t, late, 1, 0)
	testkit.WaitFor(t, 5*time.Second, "late's media read", func() bool { return videoRead(s, "1") == 2 })
	clk.Advance(t0.Add(2 * time.Second))
	if p := clk.Pending(); !slices.Equal(p, []time.Time{t0.Add(2500 * time.Millisecond), t0.Add(3 * time.Second)}) {
		t.Fatalf("looks due at %v, want the silent one looked at again (2.5 s) and late at its next look (3 s)", p)
	}
	if ends := rec.eventsOf(EventUnpublish); len(ends) != 0 {
		t.Fatalf("ended before the look again: %+v", ends)
	}
	clk.Advance(t0.Add(2500 * time.Millisecond))
	testkit.WaitFor(t, 5*time.Second, "the silent publisher dropped", func() bool { return len(rec.eventsOf(EventUnpublish)) >= 1 })
	if ends := rec.eventsOf(EventUnpublish); len(ends) != 1 || ends[0].Stream != "headers" || ends[0].Reason != EndTimeout {
		t.Fatalf("ended: %+v; want only the silent publisher, by timeout", ends)
	}
	if p := clk.Pending(); !slices.Equal(p, []time.Time{t0.Add(3 * time.Second)}) {
		t.Fatalf("looks due at %v, want late's alone (3 s)", p)
	}
}

func getJSON(t *testing.T, s *Server, path string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + s.APIAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return m
}

func keysOf(m any) []string {
	var out []string
	for k := range m.(map[string]any) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestAPI(t *testing.T) {
	s := startServer(t, Config{Version: "7.0.18", ServerID: "vid-abcdefg"}, nil)
	v := getJSON(t, s, "/api/v1/versions")
	data, _ := v["data"].(map[string]any)
	if v["code"] != 0.0 || v["server"] != "vid-abcdefg" || data["major"] != 7.0 || data["minor"] != 0.0 ||
		data["revision"] != 18.0 || data["version"] != "7.0.18" {
		t.Errorf("versions = %v", v)
	}

	for i := range 12 {
		if _, err := publish(t, s, fmt.Sprintf("live/cam%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/api/v1/streams/", "/api/v1/streams"} {
		m := getJSON(t, s, path)
		streams := m["streams"].([]any)
		if _, total := m["total"]; m["code"] != 0.0 || len(streams) != 10 || total {
			t.Fatalf("%s: code %v, %d streams (want the default page of 10), total %v (SRS 7.0.18 sends none)", path, m["code"], len(streams), m["total"])
		}
		st := streams[0].(map[string]any)
		want := sorted("id", "name", "vhost", "app", "tcUrl", "url", "live_ms", "clients", "frames",
			"send_bytes", "recv_bytes", "kbps", "publish", "video", "audio")
		if got := keysOf(st); !slices.Equal(got, want) {
			t.Errorf("stream keys = %v", got)
		}
		if got := keysOf(st["kbps"]); !slices.Equal(got, []string{"recv_30s", "send_30s"}) {
			t.Errorf("kbps keys = %v", got)
		}
		if p := st["publish"].(map[string]any); p["active"] != true || p["cid"] == "" {
			t.Errorf("publish = %v", p)
		}
		if st["name"] != "cam00" || st["url"] != "/live/cam00" || st["video"] != nil || st["clients"] != 1.0 {
			t.Errorf("stream = %v", st)
		}
	}
	page := getJSON(t, s, "/api/v1/streams/?start=10&count=5")["streams"].([]any)
	if len(page) != 2 || page[0].(map[string]any)["name"] != "cam10" {
		t.Errorf("page start=10 = %v", page)
	}
	if n := len(getJSON(t, s, "/api/v1/streams/?start=0&count=100")["streams"].([]any)); n != 12 {
		t.Errorf("count=100 gave %d streams", n)
	}
	if n := len(getJSON(t, s, "/api/v1/streams/?count=2")["streams"].([]any)); n != 10 {
		t.Errorf("count=2 gave %d streams, want 10: SRS 7.0.18 gives at least 10", n)
	}

	for _, path := range []string{"/api/v1/clients/?count=20", "/api/v1/clients?count=20"} {
		clients := getJSON(t, s, path)["clients"].([]any)
		if len(clients) != 12 {
			t.Fatalf("%s: %d clients", path, len(clients))
		}
		c := clients[0].(map[string]any)
		want := sorted("id", "vhost", "stream", "ip", "pageUrl", "swfUrl", "tcUrl", "url", "name", "type",
			"publish", "alive", "send_bytes", "recv_bytes", "kbps")
		if got := keysOf(c); !slices.Equal(got, want) {
			t.Errorf("client keys = %v", got)
		}
		if c["type"] != "fmle-publish" || c["publish"] != true || c["ip"] != "127.0.0.1" || c["name"] != "cam00" {
			t.Errorf("client = %v", c)
		}
		if _, ok := c["alive"].(float64); !ok {
			t.Errorf("alive = %v", c["alive"])
		}
	}

	first := s.Streams()[0]
	one := getJSON(t, s, "/api/v1/streams/"+first.ID)
	if one["stream"].(map[string]any)["id"] != first.ID {
		t.Errorf("stream by id = %v", one)
	}
	if m := getJSON(t, s, "/api/v1/streams/vid-nothere"); m["code"] != float64(errStreamNotFound) {
		t.Errorf("missing stream = %v", m)
	}
	cl := getJSON(t, s, "/api/v1/clients/"+first.Publish.CID)
	if cl["client"].(map[string]any)["stream"] != first.ID {
		t.Errorf("client by id = %v", cl)
	}
}

func TestCloseEndsEverythingBounded(t *testing.T) {
	rec := &recorder{}
	hang := rec.hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "unpublish") {
			io.WriteString(w, "0")
			return
		}
		var req srs.HookRequest
		if json.NewDecoder(r.Body).Decode(&req); req.Stream == "live" {
			io.WriteString(w, "0")
			return
		}
		select { // a hook that never answers within the test
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	s := startServer(t, Config{OnPublish: []string{hang.URL + "/p"}, OnUnpublish: []string{hang.URL + "/unpublish"}}, rec)

	live, err := publish(t, s, "live/live")
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := publish(t, s, "live/waiting")
		waiting <- err
	}()
	testkit.WaitFor(t, 5*time.Second, "hook call of the waiting publisher", func() bool { return len(rec.callsOf("on_publish")) == 2 })

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case err := <-waiting:
		assertClosedWithoutStatus(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("waiting publisher not released by Close")
	}
	live.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.Copy(io.Discard, live.NetConn()); err != nil {
		t.Errorf("live publisher after Close: %v, want EOF", err)
	}
	rej := rec.eventsOf(EventReject)
	if len(rej) != 1 || rej[0].Reason != ReasonServerClosed {
		t.Errorf("reject events = %+v", rej)
	}
	// The live publisher's on_unpublish was delivered before Close returned.
	if n := len(rec.callsOf("on_unpublish")); n != 1 {
		t.Errorf("on_unpublish calls = %d, want 1", n)
	}
	if _, err := net.DialTimeout("tcp", s.RTMPAddr(), time.Second); err == nil {
		t.Error("RTMP port still accepting after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(context.Background(), Config{RTMPListen: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "listen "+ln.Addr().String()+": address already in use") ||
		!errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v", err)
	}
	// The API listener must not leak when RTMP is fine and the API port is busy.
	_, err = Start(context.Background(), Config{APIListen: ln.Addr().String()})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("busy API port: err = %v", err)
	}
}

func TestStartContextCancelCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	testkit.WaitFor(t, 5*time.Second, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", s.APIAddr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

func TestAllowResponse(t *testing.T) {
	cases := []struct {
		status int
		body   string
		allow  bool
		reason string
	}{
		{200, `0`, true, ""},
		{201, `0`, true, ""},
		{201, " {\"code\":0}\n", true, ""},
		{201, " 0\n", false, ReasonHookBadAnswer},
		{200, `{"code":0,"msg":null}`, true, ""},
		{200, `{"msg":"ok","code":0}`, true, ""},
		{200, `{"code":1}`, false, ReasonHookDenied},
		{200, `{"code":0.0}`, false, ReasonHookBadAnswer},
		{200, `{"code":"0"}`, false, ReasonHookBadAnswer},
		{200, `{"status":"ok"}`, false, ReasonHookBadAnswer},
		{200, `{}`, false, ReasonHookBadAnswer},
		{200, `1`, false, ReasonHookDenied},
		{200, `[0]`, false, ReasonHookBadAnswer},
		{200, ``, false, ReasonHookBadAnswer},
		{200, `OK`, false, ReasonHookBadAnswer},
		{204, `0`, false, ReasonHookErrorStatus},
		{404, `{"code":0}`, false, ReasonHookErrorStatus},
		{500, `0`, false, ReasonHookErrorStatus},
	}
	for _, c := range cases {
		if got := AllowResponse(c.status, []byte(c.body)); got != c.allow {
			t.Errorf("AllowResponse(%d, %q) = %v", c.status, c.body, got)
		}
		if got := classifyAnswer(c.status, []byte(c.body)); got != c.reason {
			t.Errorf("classifyAnswer(%d, %q) = %q, want %q", c.status, c.body, got, c.reason)
		}
	}
}

func TestManyConcurrentPublishers(t *testing.T) {
	const n = 60
	rec := &recorder{}
	hs := rec.hookServer(t, func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // a realistic hook that overlaps many calls
		io.WriteString(w, `{"code":0}`)
	})
	s := startServer(t, Config{OnPublish: []string{hs.URL}, OnUnpublish: []string{hs.URL}}, rec)

	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := publish(t, s, fmt.Sprintf("live/cam%03d", i%(n/2)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else {
			assertClosedWithoutStatus(t, err)
		}
	}
	// Every name is published twice: exactly one of each pair wins.
	if ok != n/2 || len(s.Streams()) != n/2 || len(rec.callsOf("on_publish")) != n {
		t.Errorf("accepted %d, streams %d, hook calls %d; want %d, %d, %d",
			ok, len(s.Streams()), len(rec.callsOf("on_publish")), n/2, n/2, n)
	}
	for _, ev := range rec.eventsOf(EventReject) {
		if ev.Reason != ReasonStreamBusy {
			t.Errorf("reject = %+v", ev)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.callsOf("on_unpublish")); got != n/2 {
		t.Errorf("on_unpublish calls = %d, want %d", got, n/2)
	}
}

// EachLive reports every accepted publisher's param and its bytes so far, which
// grow with its media (a run without the tap judges fan-out outputs by them).
func TestEachLive(t *testing.T) {
	s := startServer(t, Config{}, nil)
	c, err := publish(t, s, "live/cam?rtmpload=r-1")
	if err != nil {
		t.Fatal(err)
	}
	seen := func() map[string]uint64 {
		m := map[string]uint64{}
		s.EachLive(func(param string, b uint64) { m[param] = b })
		return m
	}
	first := seen()["?rtmpload=r-1"]
	if len(seen()) != 1 || first == 0 {
		t.Fatalf("EachLive = %v, want ?rtmpload=r-1 with its handshake's bytes", seen())
	}
	sendMedia(t, c, 10, 10)
	testkit.WaitFor(t, 5*time.Second, "bytes to grow", func() bool { return seen()["?rtmpload=r-1"] > first })
	c.Close()
	testkit.WaitFor(t, 5*time.Second, "the publisher to leave", func() bool { return len(seen()) == 0 })
}
