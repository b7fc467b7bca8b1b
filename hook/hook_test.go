package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// srsCall builds a body the way SRS 7 sends it (docs/srs-behaviour.md, "Hook
// request", key order kept).
func srsCall(action, clientID, stream, param string) string {
	return fmt.Sprintf(`{"server_id":"vid-0x7s3v1","service_id":"k2n0c1u5","action":%q,`+
		`"client_id":%q,"ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live",`+
		`"tcUrl":"rtmp://127.0.0.1:19350/live","stream":%q,"param":%q,`+
		`"stream_url":"/live/%s","stream_id":"vid-9k1m2p3"}`,
		action, clientID, stream, param, stream)
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type response struct {
	status int
	ctype  string
	body   string
}

var client = &http.Client{Timeout: 5 * time.Second}

func post(t *testing.T, url, body string) response {
	t.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// srsAllows applies SRS's own rule (docs/srs-behaviour.md, "What SRS accepts as
// allow"): status 200/201 and a body that is 0 or an object whose code is the
// integer 0.
func srsAllows(r response) bool {
	if r.status != 200 && r.status != 201 {
		return false
	}
	if strings.TrimSpace(r.body) == "0" {
		return true
	}
	var v struct{ Code *json.Number }
	d := json.NewDecoder(strings.NewReader(r.body))
	d.UseNumber()
	if d.Decode(&v) != nil || v.Code == nil {
		return false
	}
	return v.Code.String() == "0"
}

// waitCalls waits (bounded) until n calls are recorded: a call is recorded
// after its answer is written, so a caller may see the answer first.
func waitCalls(t *testing.T, s *Server, n int) []Call {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		calls := s.Calls()
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls recorded after 3s, want %d", len(calls), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call returns call number seq once it is recorded.
func call(t *testing.T, s *Server, seq int) Call {
	t.Helper()
	return waitCalls(t, s, seq)[seq-1]
}

func TestAllowAnswerAndRecord(t *testing.T) {
	var tick time.Time
	clock := func() time.Time { tick = tick.Add(time.Second); return tick }
	s := start(t, Config{Now: clock})

	r := post(t, s.OnPublishURL(), srsCall("on_publish", "3y7w4k07", "cam01", "?rtmpload=r1-7&x=1"))
	if r.status != 200 || r.body != `{"code":0,"msg":null}` || r.ctype != "application/json" {
		t.Fatalf("allow answer = %d %q %q, want 200 application/json {\"code\":0,\"msg\":null}", r.status, r.ctype, r.body)
	}
	if !srsAllows(r) {
		t.Fatal("SRS would not take the allow answer as allow")
	}
	want := Call{
		Seq: 1, Dialect: "srs", Action: "on_publish", ClientID: "3y7w4k07", IP: "127.0.0.1",
		Vhost: "__defaultVhost__", App: "live", Stream: "cam01", Param: "?rtmpload=r1-7&x=1",
		TcURL: "rtmp://127.0.0.1:19350/live", StreamID: "vid-9k1m2p3", Attempt: "r1-7",
		Arrived: time.Time{}.Add(time.Second), Answered: time.Time{}.Add(2 * time.Second),
		Status: 200, Answer: `{"code":0,"msg":null}`, Verdict: "allow",
	}
	if got := call(t, s, 1); got != want {
		t.Fatalf("call =\n%+v\nwant\n%+v", got, want)
	}
	if got := s.Live(); len(got) != 1 || got[0] != "__defaultVhost__/live/cam01" {
		t.Fatalf("Live() = %q after an allowed publish", got)
	}
}

func TestDenyMode(t *testing.T) {
	s := start(t, Config{Mode: schema.HookDeny})
	r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if r.status != 200 || srsAllows(r) || !strings.HasPrefix(r.body, `{"code":1,"msg":"`) {
		t.Fatalf("deny answer = %d %q, want 200 {\"code\":1,\"msg\":...}", r.status, r.body)
	}
	c := call(t, s, 1)
	if c.Verdict != "deny" || c.Reason != "mode deny" || c.Answer != r.body {
		t.Fatalf("denied call recorded as %+v", c)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("a denied publish became live: %q", live)
	}
	// on_unpublish is always allowed, in every mode.
	r = post(t, s.OnUnpublishURL(), srsCall("on_unpublish", "1", "cam01", ""))
	if r.status != 200 || r.body != `{"code":0,"msg":null}` {
		t.Fatalf("on_unpublish in deny mode = %d %q", r.status, r.body)
	}
}

func TestConflictMode(t *testing.T) {
	s := start(t, Config{Mode: schema.HookConflict})
	pub, unpub := s.OnPublishURL(), s.OnUnpublishURL()
	key := "__defaultVhost__/live/cam01"

	if r := post(t, pub, srsCall("on_publish", "12", "cam01", "")); !srsAllows(r) {
		t.Fatalf("first publish denied: %q", r.body)
	}
	r := post(t, pub, srsCall("on_publish", "13", "cam01", ""))
	wantMsg := "stream conflict: " + key + " already published by client 12"
	if r.status != 200 || r.body != `{"code":1,"msg":"`+wantMsg+`"}` {
		t.Fatalf("duplicate publish = %d %q, want 200 with %q", r.status, r.body, wantMsg)
	}
	if c := call(t, s, 2); c.Verdict != "deny" || c.Reason != "conflict: "+key+" already published by client 12" || c.LiveOwner != "12" {
		t.Fatalf("duplicate recorded as %+v", c)
	}
	// Another name is not affected.
	if r := post(t, pub, srsCall("on_publish", "14", "cam02", "")); !srsAllows(r) {
		t.Fatalf("publish of a free name denied: %q", r.body)
	}

	// A stranger's on_unpublish is answered allow but frees nothing.
	if r := post(t, unpub, srsCall("on_unpublish", "13", "cam01", "")); r.body != `{"code":0,"msg":null}` {
		t.Fatalf("stranger's on_unpublish = %q", r.body)
	}
	if live := s.Live(); len(live) != 2 || live[0] != key {
		t.Fatalf("Live() after a stranger's on_unpublish = %q", live)
	}
	if r := post(t, pub, srsCall("on_publish", "15", "cam01", "")); srsAllows(r) {
		t.Fatal("name freed by a stranger's on_unpublish")
	}

	// The owner's on_unpublish frees it.
	post(t, unpub, srsCall("on_unpublish", "12", "cam01", ""))
	if live := s.Live(); len(live) != 1 || live[0] != "__defaultVhost__/live/cam02" {
		t.Fatalf("Live() after the owner's on_unpublish = %q", live)
	}
	if r := post(t, pub, srsCall("on_publish", "16", "cam01", "")); !srsAllows(r) {
		t.Fatalf("publish after the owner left denied: %q", r.body)
	}
}

// In allow mode duplicates are allowed but still noticed and kept out of
// the ownership, as SRS itself refuses the second publisher.
func TestAllowModeTracksDuplicates(t *testing.T) {
	s := start(t, Config{})
	post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "2", "cam01", "")); !srsAllows(r) {
		t.Fatalf("allow mode denied a duplicate: %q", r.body)
	}
	if c := call(t, s, 2); c.LiveOwner != "1" || c.Verdict != "allow" {
		t.Fatalf("duplicate recorded as %+v", c)
	}
	post(t, s.OnUnpublishURL(), srsCall("on_unpublish", "2", "cam01", ""))
	if live := s.Live(); len(live) != 1 {
		t.Fatalf("the duplicate's on_unpublish freed the owner's stream: %q", live)
	}
	post(t, s.OnUnpublishURL(), srsCall("on_unpublish", "1", "cam01", ""))
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q after the owner left", live)
	}
}

func TestNotSRSJSON(t *testing.T) {
	s := start(t, Config{})
	for i, tc := range []struct{ name, body, action string }{
		{"empty", "", ""},
		{"form", "app=live&call=publish&name=cam01", ""},
		{"array", `[{"action":"on_publish"}]`, ""},
		{"null", "null", ""},
		{"no action", `{"stream":"cam01"}`, ""},
		{"action not a string", `{"action":1,"stream":"cam01"}`, ""},
		{"trailing garbage", srsCall("on_publish", "1", "cam01", "") + "x", ""},
		{"no stream", `{"action":"on_publish","app":"live"}`, "on_publish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.OnPublishURL(), tc.body)
			if r.status != 400 || r.ctype != "application/json" || srsAllows(r) {
				t.Fatalf("answer = %d %q %q, want 400 application/json", r.status, r.ctype, r.body)
			}
			c := call(t, s, i+1)
			if c.Verdict != "error" || c.Status != 400 || c.Reason == "" || string(c.Action) != tc.action {
				t.Fatalf("recorded as %+v", c)
			}
		})
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("bad requests changed Live(): %q", live)
	}

	resp, err := client.Get(s.OnPublishURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET = %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// SRS 3 sends client_id as a number; any path is accepted.
func TestNumericClientIDAnyPath(t *testing.T) {
	s := start(t, Config{Mode: schema.HookConflict})
	body := `{"action":"on_publish","client_id":107,"ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live","stream":"cam01","param":""}`
	if r := post(t, "http://"+s.Addr()+"/admin-api/video/camera/callback/on_publish", body); !srsAllows(r) {
		t.Fatalf("answer %d %q", r.status, r.body)
	}
	if c := call(t, s, 1); c.ClientID != "107" {
		t.Fatalf("client_id recorded as %q", c.ClientID)
	}
	if r := post(t, s.OnPublishURL(), body); srsAllows(r) || !strings.Contains(r.body, "by client 107") {
		t.Fatalf("duplicate answer %q", r.body)
	}
}

func TestLatency(t *testing.T) {
	s := start(t, Config{Latency: 150 * time.Millisecond})
	t0 := time.Now()
	r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if d := time.Since(t0); d < 150*time.Millisecond || !srsAllows(r) {
		t.Fatalf("answered %q after %s, want allow after >= 150ms", r.body, d)
	}
	if c := call(t, s, 1); c.Answered.Sub(c.Arrived) < 150*time.Millisecond {
		t.Fatalf("recorded latency %s < 150ms", c.Answered.Sub(c.Arrived))
	}
}

func TestCallerGoneIsCanceled(t *testing.T) {
	calls := make(chan Call, 1)
	s := start(t, Config{Mode: schema.HookConflict, Latency: 5 * time.Second, OnCall: func(c Call) { calls <- c }})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.OnPublishURL(),
		strings.NewReader(srsCall("on_publish", "1", "cam01", "?rtmpload=r1-1")))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request outlived its timeout")
	}
	select {
	case c := <-calls:
		if !c.Canceled || c.Status != 0 || c.Verdict != "" || c.Attempt != "r1-1" || !strings.Contains(c.Reason, "caller went away") {
			t.Fatalf("canceled call recorded as %+v", c)
		}
		if d := time.Since(t0); d > 3*time.Second {
			t.Fatalf("the handler noticed the caller was gone only after %s", d)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("no record of the canceled call before its latency ran out")
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("a publish nobody was answered became live: %q", live)
	}
}

func TestAttemptFromParam(t *testing.T) {
	for param, want := range map[string]string{
		"?rtmpload=r1-7&x=1":       "r1-7",
		"?x=1&rtmpload=r1-7":       "r1-7",
		"rtmpload=r1-7":            "r1-7",
		"?token=%zz&rtmpload=r2-3": "r2-3",
		"?a;b&rtmpload=r2-4":       "r2-4",
		"?rtmpload=r%2D5":          "r-5",
		"?rtmpload=r1-7&rtmpload=": "r1-7",
		"?xrtmpload=r1-7":          "",
		"?token=abc":               "",
		"":                         "",
		"?":                        "",
	} {
		if got := AttemptFromParam(param); got != want {
			t.Errorf("AttemptFromParam(%q) = %q, want %q", param, got, want)
		}
	}
}

// Many simultaneous publishes of one name in conflict mode: exactly one
// wins, every call is numbered once and reported to OnCall once.
func TestConcurrentCallsOnCallOnce(t *testing.T) {
	const n = 40
	var mu sync.Mutex
	seen := map[int64]int{}
	s := start(t, Config{Mode: schema.HookConflict, Latency: 10 * time.Millisecond, OnCall: func(c Call) {
		mu.Lock()
		seen[c.Seq]++
		mu.Unlock()
	}})

	var wg sync.WaitGroup
	allowed := make(chan bool, n)
	for i := range n {
		wg.Go(func() {
			body := srsCall("on_publish", fmt.Sprint(i), "cam01", fmt.Sprintf("?rtmpload=r1-%d", i))
			resp, err := client.Post(s.OnPublishURL(), "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			allowed <- srsAllows(response{resp.StatusCode, "", string(b)})
		})
	}
	wg.Wait()
	close(allowed)
	wins := 0
	for a := range allowed {
		if a {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d simultaneous publishes of one name allowed, want 1", wins, n)
	}

	calls := waitCalls(t, s, n)
	if len(calls) != n {
		t.Fatalf("%d calls recorded, want %d", len(calls), n)
	}
	attempts := map[string]bool{}
	for i, c := range calls {
		if c.Seq != int64(i+1) || (i > 0 && c.Arrived.Before(calls[i-1].Arrived)) {
			t.Fatalf("call %d has Seq %d: not in arrival order", i, c.Seq)
		}
		attempts[c.Attempt] = true
	}
	if len(attempts) != n {
		t.Fatalf("%d distinct attempts recorded, want %d", len(attempts), n)
	}
	mu.Lock()
	defer mu.Unlock()
	for seq := int64(1); seq <= n; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("OnCall saw call %d %d times", seq, seen[seq])
		}
	}
}

func TestBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Start(Config{Listen: addr})
	if err == nil {
		t.Fatal("Start on a busy port succeeded")
	}
	for _, want := range []string{addr, "already in use", "choose another address"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("busy-port error %q does not say %q", err, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := Start(Config{Mode: "maybe"}); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("unknown mode: err = %v", err)
	}
	if _, err := Start(Config{Latency: -time.Second}); err == nil {
		t.Error("negative latency accepted")
	}
	if m, err := schema.ParseHookMode("conflict"); m != schema.HookConflict || err != nil {
		t.Errorf("ParseMode(conflict) = %q, %v", m, err)
	}
}

func TestURLs(t *testing.T) {
	s := start(t, Config{})
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr() = %q", s.Addr())
	}
	if got, want := s.OnPublishURL(), "http://"+s.Addr()+"/api/v1/hooks/on_publish"; got != want {
		t.Errorf("OnPublishURL() = %q, want %q", got, want)
	}
	if got, want := s.OnUnpublishURL(), "http://"+s.Addr()+"/api/v1/hooks/on_unpublish"; got != want {
		t.Errorf("OnUnpublishURL() = %q, want %q", got, want)
	}
}

// arrivals returns a clock that also reports each call's arrival, so a
// test knows a handler is running.
func arrivals() (func() time.Time, <-chan struct{}) {
	ch := make(chan struct{}, 16)
	var once sync.Once
	return func() time.Time {
		once.Do(func() { ch <- struct{}{} })
		return time.Now()
	}, ch
}

func TestCloseAbortsWaitingCalls(t *testing.T) {
	now, arrived := arrivals()
	s, err := Start(Config{Latency: time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Post(s.OnPublishURL(), "application/json", strings.NewReader(srsCall("on_publish", "1", "cam01", "")))
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("got an answer: %d", resp.StatusCode)
		}
		errc <- err
	}()
	select {
	case <-arrived:
	case <-time.After(3 * time.Second):
		t.Fatal("the call never arrived")
	}

	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Close took %s with a call waiting out a 1-minute latency", d)
	}
	if err := <-errc; err == nil || strings.HasPrefix(err.Error(), "got an answer") {
		t.Fatalf("the waiting caller got %v, want a dropped connection", err)
	}
	if c := call(t, s, 1); !c.Canceled || c.Status != 0 || !strings.Contains(c.Reason, "closed") {
		t.Fatalf("call cut by Close recorded as %+v", c)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Close")
	}
}

func TestCloseIsBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	now, arrived := arrivals()
	s, err := Start(Config{Now: now, OnCall: func(Call) { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	s.closeGrace = 200 * time.Millisecond
	go func() {
		resp, err := client.Post(s.OnPublishURL(), "application/json", bytes.NewReader([]byte(srsCall("on_publish", "1", "cam01", ""))))
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-arrived:
	case <-time.After(3 * time.Second):
		t.Fatal("the call never arrived")
	}

	t0 := time.Now()
	err = s.Close()
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Close took %s with a stuck handler, grace 200ms", d)
	}
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Close with a stuck handler: err = %v", err)
	}
	if err2 := s.Close(); !errors.Is(err2, err) && err2.Error() != err.Error() {
		t.Fatalf("second Close = %v, want the first result %v", err2, err)
	}
}
