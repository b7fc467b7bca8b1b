package hook

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// nginxCall builds a body the way nginx-rtmp sends it (docs/srs-behaviour.md, "nginx-rtmp").
func nginxCall(call, clientID, name, args string) string {
	b := "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:29350/live" +
		"&pageurl=&addr=127.0.0.1&clientid=" + clientID + "&call=" + call + "&name=" + url.QueryEscape(name)
	if call == "publish" {
		b += "&type=live"
	}
	if args != "" {
		b += "&" + args
	}
	return b
}

func postForm(t *testing.T, u, body string) response {
	t.Helper()
	resp, err := client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
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

func TestNginxDialect(t *testing.T) {
	s := start(t, Config{Mode: schema.HookConflict})
	// Exactly as docs/srs-behaviour.md, "nginx-rtmp" shows it.
	body := "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:29350/live" +
		"&pageurl=&addr=127.0.0.1&clientid=10&call=publish&name=cam3&type=live&rtmpload=r1-42&token=abc"
	r := postForm(t, s.OnPublishURL(), body)
	if r.status != 200 || r.body != "" {
		t.Fatalf("allow answer = %d %q, want 200 with an empty body", r.status, r.body)
	}
	c := call(t, s, 1)
	want := Call{Seq: 1, Dialect: "nginx", Action: "on_publish", ClientID: "10", IP: "127.0.0.1", App: "live",
		Stream: "cam3", Param: "?rtmpload=r1-42&token=abc", TcURL: "rtmp://127.0.0.1:29350/live", Attempt: "r1-42",
		Arrived: c.Arrived, Answered: c.Answered, Status: 200, Verdict: "allow"}
	if c != want {
		t.Fatalf("call =\n%+v\nwant\n%+v", c, want)
	}

	// The duplicate is denied with 403 in conflict mode.
	r = postForm(t, s.OnPublishURL(), nginxCall("publish", "11", "cam3", "rtmpload=r1-43"))
	if r.status != 403 || !strings.Contains(r.body, "live/cam3 already published by client 10") {
		t.Fatalf("duplicate answer = %d %q, want 403", r.status, r.body)
	}
	if c := call(t, s, 2); c.Verdict != "deny" || c.LiveOwner != "10" || c.Attempt != "r1-43" {
		t.Fatalf("duplicate recorded as %+v", c)
	}
	// nginx-rtmp sends publish_done for the refused one too: it frees nothing.
	postForm(t, s.OnUnpublishURL(), nginxCall("publish_done", "11", "cam3", "rtmpload=r1-43"))
	if c := call(t, s, 3); c.Action != "on_unpublish" || c.Status != 200 {
		t.Fatalf("publish_done recorded as %+v", c)
	}
	if live := s.Live(); len(live) != 1 || live[0] != "live/cam3" {
		t.Fatalf("Live() = %q", live)
	}
	postForm(t, s.OnUnpublishURL(), nginxCall("publish_done", "10", "cam3", ""))
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q after the owner's publish_done", live)
	}
}

func TestNginxDenyAndBadForm(t *testing.T) {
	s := start(t, Config{Mode: schema.HookDeny})
	if r := postForm(t, s.OnPublishURL(), nginxCall("publish", "1", "cam1", "")); r.status != 403 {
		t.Fatalf("deny mode answer %d %q, want 403", r.status, r.body)
	}
	if r := postForm(t, s.OnPublishURL(), "app=live&name=cam1"); r.status != 400 {
		t.Fatalf("form without call: %d %q, want 400", r.status, r.body)
	}
	if c := call(t, s, 2); c.Dialect != "nginx" || c.Verdict != "error" {
		t.Fatalf("bad form recorded as %+v", c)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q", live)
	}
}
