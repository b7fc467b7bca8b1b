package hook

import (
	"fmt"
	"strings"
	"testing"

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
