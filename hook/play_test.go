package hook

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// srsPlayCall builds an on_play body as SRS 7.0.18 sends it
// (docs/srs-behaviour.md, "Play": stream before tcUrl, and pageUrl).
func srsPlayCall(clientID, stream, param string) string {
	return fmt.Sprintf(`{"server_id":"vid-0x7s3v1","service_id":"k2n0c1u5","action":"on_play",`+
		`"client_id":%q,"ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live","stream":%q,`+
		`"tcUrl":"rtmp://127.0.0.1:19350/live","param":%q,"pageUrl":"",`+
		`"stream_url":"/live/%s","stream_id":"vid-9k1m2p3"}`, clientID, stream, param, stream)
}

// The hook answers on_play and records on_stop, in every mode: the modes
// judge publishers. Plays make nothing live and free nothing.
func TestPlayAndStop(t *testing.T) {
	for _, mode := range schema.HookModes {
		t.Run(string(mode), func(t *testing.T) {
			s := start(t, Config{Mode: mode})
			r := post(t, s.OnPlayURL(), srsPlayCall("p1", "cam01", "?rtmpload=v1-3"))
			if r.status != 200 || r.body != `{"code":0,"msg":null}` {
				t.Fatalf("on_play answer = %d %q, want SRS's allow", r.status, r.body)
			}
			c := call(t, s, 1)
			if c.Action != schema.ActionPlay || c.Stream != "cam01" || c.Attempt != "v1-3" || c.Verdict != VerdictAllow ||
				c.TcURL != "rtmp://127.0.0.1:19350/live" {
				t.Fatalf("on_play recorded as %+v", c)
			}
			post(t, s.OnStopURL(), srsCall("on_stop", "p1", "cam01", "?rtmpload=v1-3"))
			if c := call(t, s, 2); c.Action != schema.ActionStop || c.Attempt != "v1-3" || c.Status != 200 {
				t.Fatalf("on_stop recorded as %+v", c)
			}
			if live := s.Live(); len(live) != 0 {
				t.Fatalf("plays made %q live", live)
			}
		})
	}
}

func TestPlayWithoutStreamIsBadRequest(t *testing.T) {
	s := start(t, Config{})
	r := post(t, s.OnPlayURL(), srsPlayCall("p1", "", ""))
	if r.status != 400 || !strings.Contains(r.body, "on_play without a stream") {
		t.Fatalf("on_play without a stream = %d %q", r.status, r.body)
	}
}

func TestNginxPlay(t *testing.T) {
	s := start(t, Config{Mode: schema.HookDeny})
	r := postForm(t, s.OnPlayURL(), nginxCall("play", "12", "cam3", "rtmpload=v1-1"))
	if r.status != 200 {
		t.Fatalf("nginx play answer = %d %q, want 200", r.status, r.body)
	}
	if c := call(t, s, 1); c.Action != schema.ActionPlay || c.Attempt != "v1-1" || c.Dialect != DialectNginx {
		t.Fatalf("play recorded as %+v", c)
	}
	postForm(t, s.OnStopURL(), nginxCall("play_done", "12", "cam3", "rtmpload=v1-1"))
	if c := call(t, s, 2); c.Action != schema.ActionStop {
		t.Fatalf("play_done recorded as %+v, want on_stop", c)
	}
}

// In proxy mode an on_play goes to the upstream like an on_publish, and its
// answer is judged by SRS's rule.
func TestProxyPlay(t *testing.T) {
	up, got := upstream(t, 0, 200, "application/json", `{"code":403,"msg":"no ticket"}`)
	s := start(t, Config{Upstream: up.URL + "/cb"})
	r := post(t, s.OnPlayURL(), srsPlayCall("p1", "cam01", "?rtmpload=v1-2"))
	if r.status != 200 || r.body != `{"code":403,"msg":"no ticket"}` {
		t.Fatalf("relayed %d %q", r.status, r.body)
	}
	if g := got(); len(g) != 1 || !strings.Contains(g[0].body, `"action":"on_play"`) {
		t.Fatalf("upstream saw %+v", g)
	}
	if c := call(t, s, 1); c.Action != schema.ActionPlay || c.Verdict != VerdictDeny || c.Upstream == nil || c.Attempt != "v1-2" {
		t.Fatalf("proxied play recorded as %+v", c)
	}
}

// playFault is a fault window that shapes only the play side.
func playFault(t *testing.T, at, dur time.Duration, spec string) Fault {
	t.Helper()
	f := fault(t, at, dur, spec)
	f.Action = FaultPlay
	return f
}

// A play-only down window drops on_play and on_stop calls without an answer
// while the listener stays open and on_publish is answered; each side
// reports its own state.
func TestPlayOnlyDown(t *testing.T) {
	s, clk, log := startFake(t, Config{Faults: []Fault{playFault(t, 100*time.Millisecond, 200*time.Millisecond, "down")}})
	epoch := clk.Now()
	ms := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Millisecond) }
	s.Arm(epoch)
	sideState := func(action string, state schema.CallbackState, fault string, at time.Time) {
		t.Helper()
		if c := log.next(t); c.Action != action || c.State != state || c.Fault != fault || !c.At.Equal(at) {
			t.Fatalf("state change %+v, want %s %s (%q) at %s", c, action, state, fault, at.Format("15:04:05.000"))
		}
	}
	sideState(FaultPublish, schema.StateUp, "", epoch)
	sideState(FaultPlay, schema.StateUp, "", epoch)
	clk.Advance(ms(100))
	sideState(FaultPlay, schema.StateDown, "down", ms(100))
	log.none(t)
	if s.State() != schema.StateUp {
		t.Fatalf("State() = %q: the publish side must stay up", s.State())
	}
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); !srsAllows(r) {
		t.Fatalf("on_publish in a play-only down window: %d %q", r.status, r.body)
	}
	if resp, err := client.Post(s.OnPlayURL(), "application/json", strings.NewReader(srsPlayCall("p1", "cam01", "?rtmpload=v1-1"))); err == nil {
		resp.Body.Close()
		t.Fatalf("on_play answered %d in a play-only down window, want the connection dropped", resp.StatusCode)
	}
	if c := call(t, s, 2); c.Action != schema.ActionPlay || !c.Canceled || c.Status != 0 || c.Reason != "connection dropped by fault down" {
		t.Fatalf("dropped on_play recorded as %+v", c)
	}
	clk.Advance(ms(300))
	sideState(FaultPlay, schema.StateUp, "", ms(300))
	log.none(t)
	if r := post(t, s.OnPlayURL(), srsPlayCall("p2", "cam01", "")); !srsAllows(r) {
		t.Fatalf("on_play after the window: %d %q", r.status, r.body)
	}
}

// A publish-only deny leaves plays allowed; an unknown action is refused.
func TestPublishOnlyDenyAndBadAction(t *testing.T) {
	f := fault(t, 0, time.Hour, "deny")
	f.Action = FaultPublish
	s, clk, _ := startFake(t, Config{Faults: []Fault{f}})
	s.Arm(clk.Now())
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); srsAllows(r) {
		t.Fatalf("on_publish allowed in a publish-only deny window")
	}
	if r := post(t, s.OnPlayURL(), srsPlayCall("p1", "cam01", "")); !srsAllows(r) {
		t.Fatalf("on_play refused in a publish-only deny window: %d %q", r.status, r.body)
	}
	f.Action = "view"
	if _, err := Start(Config{Faults: []Fault{f}}); err == nil || !strings.Contains(err.Error(), "want publish or play") {
		t.Fatalf("Start with action view: %v", err)
	}
}

// A play-only flap drops play calls (on_stop and nginx-rtmp's play too) in
// its down halves only; publishes are answered throughout.
func TestPlayOnlyFlap(t *testing.T) {
	s, clk, log := startFake(t, Config{Faults: []Fault{playFault(t, 0, time.Second, "flap:100ms")}})
	epoch := clk.Now()
	s.Arm(epoch)
	if c := log.next(t); c.Action != FaultPublish || c.State != schema.StateUp {
		t.Fatalf("first state change %+v, want the publish side up", c)
	}
	if c := log.next(t); c.Action != FaultPlay || c.State != schema.StateDown || c.Fault != "flap:100ms" {
		t.Fatalf("second state change %+v, want the play side down (the flap's first half)", c)
	}
	dropped := func(url, ctype, body string) bool {
		t.Helper()
		resp, err := client.Post(url, ctype, strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}
	if !dropped(s.OnStopURL(), "application/json", srsCall("on_stop", "p1", "cam01", "")) ||
		!dropped(s.OnPlayURL(), "application/x-www-form-urlencoded", nginxCall("play", "12", "cam01", "")) {
		t.Fatal("a play call was answered in the down half of a play-only flap")
	}
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); !srsAllows(r) {
		t.Fatalf("on_publish in a play-only flap: %d %q", r.status, r.body)
	}
	clk.Advance(epoch.Add(150 * time.Millisecond))
	if c := log.next(t); c.Action != FaultPlay || c.State != schema.StateUp || c.Fault != "flap:100ms" {
		t.Fatalf("state change %+v, want the play side up in the flap", c)
	}
	if r := post(t, s.OnPlayURL(), srsPlayCall("p2", "cam01", "")); !srsAllows(r) {
		t.Fatalf("on_play in the up half: %d %q", r.status, r.body)
	}
}
