package hook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

type seen struct {
	method, path, ctype, body string
	ua                        []string
}

// upstream is a real callback service stand-in that records what reached it.
func upstream(t *testing.T, delay time.Duration, status int, ctype, body string) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var got []seen
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b), r.Header.Values("User-Agent")})
		mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(u.Close)
	return u, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), got...) }
}

func TestProxyRelaysUnchanged(t *testing.T) {
	up, got := upstream(t, 50*time.Millisecond, 201, "application/vnd.seed+json", `{"code":0,"msg":"welcome"}`)
	s := start(t, Config{Mode: schema.HookDeny, Upstream: up.URL + "/admin-api/callback/on_publish"})

	body := srsCall("on_publish", "1", "cam01", "?rtmpload=r1-1")
	req, _ := http.NewRequest("POST", s.OnPublishURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SRS/7.0.18(Lang)")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != `{"code":0,"msg":"welcome"}` || resp.Header.Get("Content-Type") != "application/vnd.seed+json" {
		t.Fatalf("relayed %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	g := got()
	if len(g) != 1 || g[0].method != "POST" || g[0].path != "/admin-api/callback/on_publish" || g[0].body != body ||
		g[0].ctype != "application/json" || strings.Join(g[0].ua, ",") != "SRS/7.0.18(Lang)" {
		t.Fatalf("upstream saw %+v", g)
	}
	c := call(t, s, 1)
	// Mode deny is ignored: the upstream decides.
	if c.Verdict != "allow" || c.Upstream == nil || c.Upstream.Status != 201 || c.Upstream.Latency < 50*time.Millisecond ||
		c.Upstream.Body != `{"code":0,"msg":"welcome"}` || c.Attempt != "r1-1" {
		t.Fatalf("proxied call recorded as %+v (upstream %+v)", c, c.Upstream)
	}
	// Conflict bookkeeping still runs.
	post(t, s.OnPublishURL(), srsCall("on_publish", "2", "cam01", ""))
	if c := call(t, s, 2); c.LiveOwner != "1" || c.Verdict != "allow" {
		t.Fatalf("duplicate through the proxy recorded as %+v", c)
	}
}

// A service written for another server answers 200 {"status":"ok"}: relayed
// as it is, and recorded as a bad answer (SRS refuses it, but it is no deny)
// with the upstream's body.
func TestProxyBadAnswer(t *testing.T) {
	up, _ := upstream(t, 0, 200, "application/json", `{"status":"ok"}`)
	s := start(t, Config{Upstream: up.URL})
	r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "?rtmpload=r1-1"))
	if r.status != 200 || r.body != `{"status":"ok"}` {
		t.Fatalf("relayed %d %q", r.status, r.body)
	}
	c := call(t, s, 1)
	if c.Verdict != VerdictBadAnswer || c.Upstream == nil || c.Upstream.Body != `{"status":"ok"}` ||
		c.Reason != "upstream answered 200 with `{\"status\":\"ok\"}`; SRS allows only 0 or {\"code\":0}" {
		t.Fatalf("recorded as verdict %q reason %q upstream %+v", c.Verdict, c.Reason, c.Upstream)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("a bad answer made %q live", live)
	}
}

func TestProxyNginxAndDeny(t *testing.T) {
	up, got := upstream(t, 0, 403, "", "")
	s := start(t, Config{Upstream: up.URL})
	req, _ := http.NewRequest("POST", s.OnPublishURL(), strings.NewReader(nginxCall("publish", "5", "cam5", "rtmpload=r2-1")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["User-Agent"] = []string{""} // as nginx-rtmp: none
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("relayed %d", resp.StatusCode)
	}
	// nginx-rtmp sends no User-Agent; none must be added on the way.
	if g := got(); len(g) != 1 || len(g[0].ua) != 0 || g[0].ctype != "application/x-www-form-urlencoded" {
		t.Fatalf("upstream saw %+v", g)
	}
	if c := call(t, s, 1); c.Verdict != "deny" || c.Dialect != "nginx" || c.Upstream.Status != 403 {
		t.Fatalf("recorded as %+v", c)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q after the upstream denied", live)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	up, _ := upstream(t, 0, 200, "", "0")
	u := up.URL
	up.Close()
	s := start(t, Config{Upstream: u})
	r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if r.status != 502 {
		t.Fatalf("answer %d %q, want 502", r.status, r.body)
	}
	if c := call(t, s, 1); c.Upstream == nil || c.Upstream.Err == "" || c.Upstream.Status != 0 || c.Verdict != "error" {
		t.Fatalf("recorded as %+v", c)
	}
}

func TestProxyFaultOverrides(t *testing.T) {
	up, got := upstream(t, 0, 200, "application/json", "0")
	s := start(t, Config{Upstream: up.URL, Faults: []Fault{fault(t, 0, time.Hour, "status:503")}})
	s.Arm(time.Now())
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); r.status != 503 {
		t.Fatalf("answer %d, want the fault's 503", r.status)
	}
	if g := got(); len(g) != 0 {
		t.Fatalf("the upstream was asked during the fault: %+v", g)
	}
	if c := call(t, s, 1); c.Fault != "status:503" || c.Upstream != nil {
		t.Fatalf("recorded as %+v", c)
	}
}

// The caller giving up cancels the upstream call too.
func TestProxyCallerGone(t *testing.T) {
	up, _ := upstream(t, 2*time.Second, 200, "application/json", "0")
	calls := make(chan Call, 1)
	s := start(t, Config{Upstream: up.URL, OnCall: func(c Call) { calls <- c }})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.OnPublishURL(), strings.NewReader(srsCall("on_publish", "1", "cam01", "")))
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answered")
	}
	select {
	case c := <-calls:
		if !c.Canceled || c.Upstream == nil || c.Upstream.Err == "" {
			t.Fatalf("recorded as %+v", c)
		}
	case <-time.After(1500 * time.Millisecond):
		t.Fatal("the upstream call outlived its caller")
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q", live)
	}
}
