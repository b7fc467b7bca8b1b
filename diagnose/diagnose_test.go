package diagnose

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srs"
	"github.com/rtmpload/rtmpload/tap"
)

// env is an embedded SRS-like server with the built-in hook as its callback.
type env struct {
	srv  *server.Server
	hook *hook.Server
}

func (e env) rtmp() string { return "rtmp://" + e.srv.RTMPAddr() + "/live" }
func (e env) api() string  { return "http://" + e.srv.APIAddr() }

func startEnv(t *testing.T, mode schema.HookMode) env {
	t.Helper()
	h, err := hook.Start(hook.Config{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s, err := server.Start(context.Background(), server.Config{
		OnPublish:   []string{h.OnPublishURL()},
		OnUnpublish: []string{h.OnUnpublishURL()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return env{s, h}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	if cfg.FFmpeg == "" && testing.Short() {
		cfg.FFmpeg = testkit.StubFFmpeg(t)
	}
	cfg.Timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not finish in time")
	}
	return res
}

func find(t *testing.T, res *Result, prefix string) Check {
	t.Helper()
	for _, c := range res.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, res.Checks)
	return Check{}
}

func wantStatus(t *testing.T, c Check, s Status, detail ...string) {
	t.Helper()
	if c.Status != s {
		t.Fatalf("%s: status %s, want %s (detail: %s)", c.Name, c.Status, s, c.Detail)
	}
	for _, d := range detail {
		if !strings.Contains(c.Detail, d) {
			t.Errorf("%s: detail %q lacks %q", c.Name, c.Detail, d)
		}
	}
}

func wantVerdict(t *testing.T, res *Result, parts ...string) {
	t.Helper()
	if !res.Problem {
		t.Errorf("Problem = false, want true; verdict %q", res.Verdict)
	}
	for _, p := range parts {
		if !strings.Contains(res.Verdict, p) {
			t.Errorf("verdict %q lacks %q", res.Verdict, p)
		}
	}
}

func TestAllOK(t *testing.T) {
	ff := testkit.FFmpegOrStub(t)
	e := startEnv(t, schema.HookAllow)
	res := run(t, Config{
		RTMP: e.rtmp(), API: e.api(), Hooks: []string{e.hook.OnPublishURL()},
		OnUnpublish: []string{e.hook.OnUnpublishURL()}, ProbeHook: true, FFmpeg: ff,
	})
	for _, c := range res.Checks {
		if c.Status == Fail || c.Status == Warn {
			t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
		}
	}
	if res.Problem || !strings.HasPrefix(res.Verdict, "No problem found") {
		t.Errorf("Problem=%v verdict %q", res.Problem, res.Verdict)
	}
	wantStatus(t, find(t, res, "RTMP"), OK, "NetConnection.Connect.Success", "no publish sent")
	wantStatus(t, find(t, res, "SRS API"), OK, "SRS "+srs.Version)
	wantStatus(t, find(t, res, "live streams"), OK, "0 streams, 0 publishing clients")
	wantStatus(t, find(t, res, "callback"), OK, "allowed (HTTP 200")
	wantStatus(t, find(t, res, "ffmpeg"), OK, "with libx264, aac, flv")

	// The probe is what SRS sends, and its on_unpublish frees the name in a
	// conflict-detecting callback.
	calls := e.hook.Calls()
	if len(calls) != 2 || calls[0].Action != "on_publish" || calls[1].Action != "on_unpublish" {
		t.Fatalf("hook calls %+v, want on_publish then on_unpublish", calls)
	}
	if !strings.HasPrefix(calls[0].Stream, "rtmpload-diagnose-") || calls[0].App != "live" ||
		calls[0].ClientID != calls[1].ClientID || calls[0].Verdict != hook.VerdictAllow {
		t.Errorf("probe call %+v", calls[0])
	}
	if live := e.hook.Live(); len(live) != 0 {
		t.Errorf("hook still counts %v as live", live)
	}
}

func TestProbeBodyIsSRSs(t *testing.T) {
	var got []byte
	var ua, ctype string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = readAll(r)
		ua, ctype = r.UserAgent(), r.Header.Get("Content-Type")
		w.Write([]byte(`0`))
	}))
	defer ts.Close()
	res := run(t, Config{Hooks: []string{ts.URL + "/cb"}, ProbeHook: true, FFmpeg: "/nonexistent"})
	wantStatus(t, find(t, res, "callback"), OK, "allowed (HTTP 200 0)")
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v any
		dec.Decode(&v)
	}
	want := []string{"server_id", "service_id", "action", "client_id", "ip", "vhost", "app", "tcUrl", "stream", "param", "stream_url", "stream_id"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("body keys %v, want SRS's order %v", keys, want)
	}
	var b srs.HookRequest
	json.Unmarshal(got, &b)
	if b.Action != "on_publish" || b.Vhost != "__defaultVhost__" || b.StreamURL != "/live/"+b.Stream || b.Param != "" {
		t.Errorf("body %s", got)
	}
	if ua != "SRS/"+srs.Version || ctype != "application/json" {
		t.Errorf("User-Agent %q, Content-Type %q", ua, ctype)
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

func TestWithoutProbeNoPost(t *testing.T) {
	e := startEnv(t, schema.HookAllow)
	res := run(t, Config{Hooks: []string{e.hook.OnPublishURL()}, FFmpeg: "/nonexistent"})
	wantStatus(t, find(t, res, "callback"), OK, "TCP connect", "not probed")
	if calls := e.hook.Calls(); len(calls) != 0 {
		t.Errorf("the callback got %d calls without --probe-hook", len(calls))
	}
}

func TestRTMPPortClosed(t *testing.T) {
	addr := closedAddr(t)
	res := run(t, Config{RTMP: "rtmp://" + addr + "/live"})
	wantStatus(t, find(t, res, "RTMP"), Fail, "refused the connection")
	wantVerdict(t, res, "Nothing listens on the RTMP port "+addr, "Connection refused")
}

func TestRTMPNotRTMP(t *testing.T) {
	// An HTTP server on the RTMP port: TCP works, the handshake cannot.
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	res := run(t, Config{RTMP: "rtmp://" + ts.Listener.Addr().String() + "/live"})
	wantStatus(t, find(t, res, "RTMP"), Fail, "handshake failed")
	wantVerdict(t, res, "does not speak RTMP")
}

func TestAPIDown(t *testing.T) {
	e := startEnv(t, schema.HookAllow)
	res := run(t, Config{RTMP: e.rtmp(), API: "http://" + closedAddr(t)})
	wantStatus(t, find(t, res, "RTMP"), OK)
	c := find(t, res, "SRS API")
	wantStatus(t, c, Fail, "refused the connection")
	if !strings.Contains(c.Fix, "http_api") {
		t.Errorf("fix %q does not say how to enable the API", c.Fix)
	}
	wantStatus(t, find(t, res, "live streams"), Skip)
	wantVerdict(t, res, "HTTP API", "does not answer")
}

func TestAPIDuplicatePublishers(t *testing.T) {
	// The embedded server never accepts a duplicate, so an SRS with the race
	// (docs/srs-behaviour.md, "Duplicate names") is played by a fake API.
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/versions", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"code":0,"data":{"major":7,"minor":0,"revision":18,"version":"7.0.18"}}`))
	})
	var counts []string
	mux.HandleFunc("/api/v1/streams/", func(w http.ResponseWriter, r *http.Request) {
		counts = append(counts, r.URL.Query().Get("count"))
		w.Write([]byte(`{"code":0,"streams":[{"id":"s1","name":"cam01","app":"live","url":"/live/cam01","publish":{"active":true}}]}`))
	})
	mux.HandleFunc("/api/v1/clients/", func(w http.ResponseWriter, r *http.Request) {
		counts = append(counts, r.URL.Query().Get("count"))
		w.Write([]byte(`{"code":0,"clients":[
			{"id":"c2","stream":"s1","type":"fmle-publish","publish":true},
			{"id":"c1","stream":"s1","type":"fmle-publish","publish":true},
			{"id":"c3","stream":"s1","type":"flv-play","publish":false}]}`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	res := run(t, Config{API: ts.URL, FFmpeg: "/nonexistent"})
	wantStatus(t, find(t, res, "SRS API"), OK, "SRS 7.0.18")
	c := find(t, res, "live streams")
	wantStatus(t, c, Warn, "1 streams, 2 publishing clients", "/live/cam01 has 2 publishing clients (c1, c2)")
	if !strings.Contains(c.Fix, "DELETE "+ts.URL+"/api/v1/clients/") {
		t.Errorf("fix %q", c.Fix)
	}
	// SRS's default page (10) would hide streams: both lists are asked
	// for large pages.
	for _, c := range counts {
		if n, err := strconv.Atoi(c); err != nil || n < 100 {
			t.Errorf("page counts asked %v, want large pages for both lists", counts)
		}
	}
	if len(counts) < 2 {
		t.Errorf("page counts asked %v: both lists must be read", counts)
	}
}

func TestHookRefused(t *testing.T) {
	addr := closedAddr(t)
	u := "http://" + addr + "/admin-api/video/camera/callback/on_publish"
	res := run(t, Config{Hooks: []string{u}, ProbeHook: true})
	c := find(t, res, "callback")
	wantStatus(t, c, Fail, "refused the connection")
	wantVerdict(t, res, "Callback "+u+" refused the connection: SRS will reject every publish and ffmpeg will print Input/output error.",
		"rtmpload hook --listen "+addr)
}

func TestHookDenying(t *testing.T) {
	e := startEnv(t, schema.HookDeny)
	res := run(t, Config{Hooks: []string{e.hook.OnPublishURL()}, ProbeHook: true})
	wantStatus(t, find(t, res, "callback"), Fail, `"code":1`, "SRS reads as deny")
	wantVerdict(t, res, "denied a publish", "Input/output error")
}

func TestHook500(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer ts.Close()
	res := run(t, Config{Hooks: []string{ts.URL}, ProbeHook: true})
	wantStatus(t, find(t, res, "callback"), Fail, "HTTP 500")
	wantVerdict(t, res, "answered HTTP 500", "200/201")
}

// A callback that redirects is judged by its own answer, as SRS judges it
// (SRS does not follow redirects): the target's answer is never fetched.
func TestHookRedirect(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		http.Error(w, "not implemented", http.StatusNotImplemented)
	}))
	defer target.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/hook", http.StatusFound)
	}))
	defer ts.Close()
	res := run(t, Config{Hooks: []string{ts.URL}, ProbeHook: true})
	wantStatus(t, find(t, res, "callback"), Fail, "HTTP 302", target.URL+"/hook", "does not follow redirects")
	wantVerdict(t, res, "answered HTTP 302", "does not follow redirects")
	if followed.Load() != 0 || strings.Contains(res.Verdict, "501") {
		t.Errorf("the redirect was followed (%d calls): %s", followed.Load(), res.Verdict)
	}
}

// A 200 in another server's format is not a deny: diagnose names the body
// and SRS's rule.
func TestHookBadAnswer(t *testing.T) {
	for body, code := range map[string]string{`{"status":"ok"}`: "code=3064", "ok": "code=3008"} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			readAll(r)
			w.Write([]byte(body))
		}))
		res := run(t, Config{Hooks: []string{ts.URL}, ProbeHook: true})
		ts.Close()
		wantStatus(t, find(t, res, "callback"), Fail, "`"+body+"`", "not SRS's format", code)
		wantVerdict(t, res, "answered 200 with `"+body+"`; SRS allows only 0 or {\"code\":0}", "did not say no")
		if strings.Contains(res.Verdict, "denied") {
			t.Errorf("verdict calls a bad answer a deny: %s", res.Verdict)
		}
	}
}

// slowHook answers {"code":0} after d, or gives up when the caller does.
func slowHook(d time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets net/http notice the caller hanging up.
		readAll(r)
		select {
		case <-time.After(d):
			w.Write([]byte(`{"code":0,"msg":null}`))
		case <-r.Context().Done():
		}
	}))
}

func TestHookSlow(t *testing.T) {
	// The real thresholds are 5 s and SRS's 30 s; scaled down here.
	ts := slowHook(300 * time.Millisecond)
	defer ts.Close()
	res := run(t, Config{Hooks: []string{ts.URL}, ProbeHook: true, HookSlow: 100 * time.Millisecond, HookTimeout: 2 * time.Second, FFmpeg: "/nonexistent"})
	c := find(t, res, "callback")
	wantStatus(t, c, Warn, "allowed, but it took")
	if c.Latency < 300*time.Millisecond {
		t.Errorf("latency %s, want >= the hook's 300ms", c.Latency)
	}
}

func TestHookTimeout(t *testing.T) {
	ts := slowHook(10 * time.Second)
	defer ts.Close()
	start := time.Now()
	res := run(t, Config{Hooks: []string{ts.URL}, ProbeHook: true, HookTimeout: 300 * time.Millisecond})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: the timeout was not applied", el)
	}
	wantStatus(t, find(t, res, "callback"), Fail, "no answer within 300ms")
	wantVerdict(t, res, "did not answer within 300ms", "SRS gives up at 30 s")
}

func TestHookBadURL(t *testing.T) {
	res := run(t, Config{Hooks: []string{"127.0.0.1:8080/on_publish"}})
	wantStatus(t, find(t, res, "callback"), Fail, "not an http")
	wantVerdict(t, res, "not an http(s) URL")
}

func TestFFmpegMissing(t *testing.T) {
	res := run(t, Config{FFmpeg: "/nonexistent", Publish: true, RTMP: "rtmp://" + closedAddr(t) + "/live"})
	wantStatus(t, find(t, res, "ffmpeg"), Fail, "/nonexistent")
	wantStatus(t, find(t, res, "test publish"), Skip, "needs ffmpeg")
	wantVerdict(t, res, "ffmpeg is not there")
}

func TestUsageErrors(t *testing.T) {
	for _, cfg := range []Config{
		{RTMP: "http://127.0.0.1:1935/live"},
		{API: "127.0.0.1:1985"},
		{Publish: true},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted a bad config", cfg)
		}
	}
}

// After an interrupt no check is blamed for it and there is no verdict:
// ffmpeg killed by Ctrl-C does not "not run as ffmpeg".
func TestInterruptedHasNoVerdict(t *testing.T) {
	ff := testkit.FakeFFmpeg(t, "exec sleep 30\n")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, Config{RTMP: "", API: "", FFmpeg: ff, Publish: false})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, find(t, res, "ffmpeg"), Skip, "interrupted")
	if res.Problem || strings.Contains(res.Verdict, "ffmpeg") || !strings.Contains(res.Verdict, "Interrupted") {
		t.Errorf("problem %v, verdict %q", res.Problem, res.Verdict)
	}
}

// A negative duration is a usage error naming the option, not a finding.
func TestNegativeDurations(t *testing.T) {
	for _, cfg := range []Config{{Timeout: -time.Second}, {PublishFor: -time.Second}, {HookTimeout: -1}} {
		if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "is negative") {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

func TestNothingAskedSkips(t *testing.T) {
	res := run(t, Config{FFmpeg: testkit.FFmpegOrStub(t)})
	for _, name := range []string{"RTMP", "SRS API", "callback", "test publish"} {
		wantStatus(t, find(t, res, name), Skip)
	}
	if res.Problem {
		t.Errorf("verdict %q", res.Verdict)
	}
}

func TestOutput(t *testing.T) {
	res := newResult([]Check{
		{Name: "RTMP x", Status: OK, Detail: "fine", Latency: 1500 * time.Microsecond},
		{Name: "callback y", Status: Fail, Detail: "refused", Fix: "start it", cause: "Callback y refused."},
		{Name: "test publish", Status: Skip, Detail: "not asked for"},
	})
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := "✓ RTMP x: fine (1.5ms)\n✗ callback y: refused\n    fix: start it\n- test publish: not asked for\n\nverdict: Callback y refused.\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Checks []struct {
			Name, Status, Fix string
			LatencyMS         float64 `json:"latency_ms"`
		}
		Verdict string
		Problem bool
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Checks) != 3 || back.Checks[0].LatencyMS != 1.5 || back.Checks[1].Status != "fail" ||
		back.Checks[1].Fix != "start it" || !back.Problem || back.Verdict != "Callback y refused." {
		t.Errorf("json: %s", js.String())
	}
}

func TestParseSRSConfig(t *testing.T) {
	read := func(name string) []SRSHooks {
		t.Helper()
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		hs, err := ParseSRSConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	got := read("srs.conf")
	want := []SRSHooks{{
		Vhost: "__defaultVhost__", Enabled: true, Line: 5,
		OnPublish:   []string{"http://127.0.0.1:48080/admin-api/video/camera/callback/on_publish"},
		OnUnpublish: []string{"http://127.0.0.1:48080/admin-api/video/camera/callback/on_unpublish"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("srs.conf:\n got %+v\nwant %+v", got, want)
	}
	got = read("srs-multi.conf")
	want = []SRSHooks{{
		Vhost: "__defaultVhost__", Enabled: true, Line: 10,
		OnPublish:   []string{"http://127.0.0.1:8085/api/v1/streams", "http://auth.local:9000/on_publish", "http://127.0.0.1:8086/log"},
		OnUnpublish: []string{"http://127.0.0.1:8085/api/v1/streams"},
	}, {
		Vhost: "staging.example.com", Enabled: false, Line: 19,
		OnPublish: []string{"http://127.0.0.1:7000/staging"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("srs-multi.conf:\n got %+v\nwant %+v", got, want)
	}

	for _, bad := range []string{
		"vhost a { http_hooks { enabled on; }",
		"vhost a { http_hooks { on_publish http://x } }",
		"}",
		`vhost a { http_hooks { on_publish "http://x; } }`,
		"listen 1935",
	} {
		if _, err := ParseSRSConfig(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseSRSConfig(%q) accepted it", bad)
		}
	}
}

// testClip is small and short so that encoding it once costs little.
var testClip = media.Params{Clip: "testsrc-360p", BitrateBps: 300_000, Seconds: 2}

func clipCache(t *testing.T) string {
	d := filepath.Join(os.TempDir(), "rtmpload-test-clips")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("real ffmpeg publish: skipped with -short")
	}
	ff := testkit.FFmpegOrStub(t)
	cache := clipCache(t)
	t.Run("allowed", func(t *testing.T) {
		e := startEnv(t, schema.HookAllow)
		res := run(t, Config{RTMP: e.rtmp(), Publish: true, FFmpeg: ff, CacheDir: cache, Media: testClip, PublishFor: 1500 * time.Millisecond})
		wantStatus(t, find(t, res, "test publish"), OK, "published for 1.5s", "on_status", "NetStream.Publish.Start", "first_video")
		if res.Problem {
			t.Errorf("verdict %q", res.Verdict)
		}
	})
	t.Run("denied by the callback", func(t *testing.T) {
		e := startEnv(t, schema.HookDeny)
		res := run(t, Config{
			RTMP: e.rtmp(), Hooks: []string{e.hook.OnPublishURL()}, ProbeHook: true,
			Publish: true, FFmpeg: ff, CacheDir: cache, Media: testClip, PublishFor: 3 * time.Second,
		})
		c := find(t, res, "test publish")
		wantStatus(t, c, Fail, "publish", "server_close", "Input/output error")
		if strings.Contains(c.Detail, "on_status") {
			t.Errorf("a rejected publish shows an onStatus: %s", c.Detail)
		}
		// The callback's own check comes first: it names the cause.
		wantVerdict(t, res, "denied a publish", "closed the connection right after ffmpeg's publish command")
		if strings.Index(res.Verdict, "denied a publish") > strings.Index(res.Verdict, "publish command") {
			t.Errorf("verdict does not lead with the callback: %q", res.Verdict)
		}
	})
	t.Run("port closed", func(t *testing.T) {
		res := run(t, Config{RTMP: "rtmp://" + closedAddr(t) + "/live", Publish: true, FFmpeg: ff, CacheDir: cache, Media: testClip})
		wantStatus(t, find(t, res, "test publish"), Fail, "server_close", "dial")
		wantVerdict(t, res, "could not reach")
	})
}

func TestJudgePublishWaitingOnCallback(t *testing.T) {
	// A callback slower than the test publish: the publish command got no
	// answer before rtmpload stopped ffmpeg.
	t0 := time.Now()
	tc := &tap.Conn{Start: t0, Marks: []tap.Mark{
		{Phase: tap.TCPConnect, At: t0}, {Phase: tap.UpstreamConnect, At: t0},
		{Phase: tap.ConnectResult, At: t0.Add(40 * time.Millisecond), Detail: "NetConnection.Connect.Success"},
		{Phase: tap.Publish, At: t0.Add(130 * time.Millisecond), Detail: "x"},
		{Phase: tap.ClientClose, At: t0.Add(3 * time.Second), Detail: "EOF"},
	}}
	res := publisher.Result{Class: schema.ClassStopped, ExitCode: 255}
	c := judgePublish(Check{Name: "test publish"}, rtmpTarget{host: "127.0.0.1", port: "1935"}, res, tc, 3*time.Second)
	wantStatus(t, c, Fail, "publish 130ms", "client_close 3s (EOF)")
	if !strings.Contains(c.cause, "did not answer the publish command within 3s") {
		t.Errorf("cause %q", c.cause)
	}
}
