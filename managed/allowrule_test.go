package managed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/rtmpload/rtmpload/internal/testkit"

	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srs"
)

// The edges of SRS's allow rule (srs.JudgeAnswer) against SRS itself and the
// embedded server: one publish per answer (gortmplib, no ffmpeg), behind a
// callback that answers each stream its own way. Each server accepts exactly
// when the rule says allow, and SRS's log gives each refusal the rule's
// error code.
func TestAllowRuleOnSRS(t *testing.T) {
	bin := testkit.SRS(t)
	edges := []struct {
		status int
		body   string
	}{
		{200, `0`}, {201, `0`}, {200, `{"code":0}`}, {200, `{"code":0,"msg":null}`}, {200, `{"code":-0}`},
		{200, " {\"code\" : 0}\n"}, {200, "\xef\xbb\xbf{\"code\":0}"}, {200, `{"code":1,"code":0}`},
		{200, `{"code":1}`}, {201, `{"code":403,"msg":"no"}`}, {200, `1`}, {200, `{"code":0,"code":1}`},
		{200, `{"status":"ok"}`}, {200, `{}`}, {200, `{"code":"0"}`}, {200, `{"code":0.0}`}, {200, `{"code":null}`},
		{200, `ok`}, {200, ``}, {200, "0\n"}, {200, " 0"}, {200, `-0`}, {200, `"0"`}, {200, `[0]`}, {200, `{"code":0}x`},
		{204, ``}, {202, `0`}, {404, `{"code":0}`}, {500, `0`},
		// A redirect to where the answer would allow: SRS does not follow
		// it (srs.NoRedirect), the 302 itself refuses.
		{302, `0`},
	}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var call struct{ Action, Stream string }
		_ = json.NewDecoder(r.Body).Decode(&call)
		i, err := strconv.Atoi(strings.TrimPrefix(call.Stream, "edge-"))
		if call.Action != "on_publish" || err != nil || i < 0 || i >= len(edges) {
			io.WriteString(w, "0")
			return
		}
		if edges[i].status/100 == 3 {
			w.Header().Set("Location", "/followed") // answered "0" above: allow
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(edges[i].body)))
		w.WriteHeader(edges[i].status)
		io.WriteString(w, edges[i].body)
	}))
	defer svc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	real, emb := startBoth(ctx, t, bin, svc.URL, server.Config{HookTimeout: 2 * time.Second})

	servers := []struct {
		name, addr string
		timeout    time.Duration
	}{{"SRS", real.RTMPAddr(), 30 * time.Second}, {"embedded", emb.RTMPAddr(), 2 * time.Second}}
	var wg sync.WaitGroup
	for i, e := range edges {
		j := srs.JudgeAnswer(e.status, []byte(e.body))
		stream := fmt.Sprintf("edge-%d", i)
		for _, s := range servers {
			try := func() {
				t0 := time.Now()
				got := accepts(ctx, t, s.addr, stream)
				took := time.Since(t0)
				if got != (j.Verdict == srs.Allow) {
					t.Errorf("%d %q: %s accepted %v, the rule says %s", e.status, e.body, s.name, got, j.Verdict)
				}
				// A 204 leaves SRS reading for a body until its hook timeout.
				if e.status == http.StatusNoContent && took < s.timeout {
					t.Errorf("204: %s refused after %s, want after its hook timeout %s", s.name, took, s.timeout)
				}
			}
			if e.status == http.StatusNoContent {
				wg.Add(1)
				go func() { defer wg.Done(); try() }() // 30 s: beside the others
			} else {
				try()
			}
		}
	}
	wg.Wait()
	log, err := os.ReadFile(real.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range edges {
		j := srs.JudgeAnswer(e.status, []byte(e.body))
		if j.Verdict == srs.Allow {
			continue
		}
		stream := fmt.Sprintf("edge-%d", i)
		line := ""
		for l := range strings.Lines(string(log)) {
			if strings.Contains(l, "serve error") && strings.Contains(l, `"stream":"`+stream+`"`) {
				line = l
				break
			}
		}
		code := j.Code
		if e.status == http.StatusNoContent {
			code = 1011 // SocketTimeout: it never got to judging the status
		}
		if !strings.Contains(line, fmt.Sprintf("code=%d(", code)) {
			t.Errorf("%d %q: SRS's log for %s says %.200q, want code=%d (%s)", e.status, e.body, stream, line, code, j.Detail)
		}
	}
}

// accepts publishes stream on the server at addr up to NetStream.Publish.Start
// and reports whether it got there; it closes the publisher at once. It may
// run on its own goroutine.
func accepts(ctx context.Context, t *testing.T, addr, stream string) bool {
	t.Helper()
	// gortmplib takes the stream key from the fragment.
	u, err := url.Parse("rtmp://" + addr + "/live#" + stream)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		if ctx.Err() != nil {
			t.Errorf("publish %s on %s: no answer within 40 s", stream, addr)
		}
		return false
	}
	c.Close()
	return true
}

// startBoth starts SRS (bin) and the embedded server (cfg), both calling
// the callback at hookBase: /on_publish (and SRS /on_unpublish too), both
// with cfg's publish timeouts. The test's end stops them.
func startBoth(ctx context.Context, t *testing.T, bin, hookBase string, cfg server.Config) (*SRS, *server.Server) {
	t.Helper()
	real, err := StartSRS(ctx, SRSConfig{Dir: t.TempDir(), Binary: bin, OnPublish: hookBase + "/on_publish", OnUnpublish: hookBase + "/on_unpublish",
		FirstPacketTimeout: cfg.FirstPacketTimeout, NormalTimeout: cfg.NormalTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { real.Stop(context.Background()) })
	cfg.OnPublish = []string{hookBase + "/on_publish"}
	emb, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	return real, emb
}
