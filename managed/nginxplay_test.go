package managed

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/synth"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/internal/testplayer"
)

// TestNginxPlayHooks plays on nginx-rtmp with on_play and on_play_done
// (docs/srs-behaviour.md, "nginx-rtmp"): an allowed play gets media and
// sends play, then play_done; a play refused with 403 gets no media.
func TestNginxPlayHooks(t *testing.T) {
	testkit.Nginx(t, FindModule)
	var mu sync.Mutex
	var calls []url.Values
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(b))
		mu.Lock()
		calls = append(calls, v)
		mu.Unlock()
		if v.Get("call") == "play" && v.Get("name") == "denied" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer hook.Close()
	dir := t.TempDir()
	n, err := StartNginx(context.Background(), NginxConfig{Dir: dir, OnPublish: hook.URL + "/hook", OnPlay: hook.URL + "/hook", OnPlayDone: hook.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := synth.Dial(ctx, "rtmp://"+n.RTMPAddr()+"/live/cam1")
	if err != nil {
		b, _ := os.ReadFile(n.LogPath())
		t.Fatalf("%v\n%s", err, b)
	}
	defer pub.Close()
	if err := pub.Headers(); err != nil {
		t.Fatal(err)
	}
	stop := pub.Live(ctx, 25, 25*30)
	defer stop()
	time.Sleep(1500 * time.Millisecond)

	st := testplayer.Play(ctx, "rtmp://"+n.RTMPAddr()+"/live/cam1?rtmpload=v1-1", testplayer.Options{Watch: 1500 * time.Millisecond})
	if st.End != nil || st.VideoFrames == 0 || st.FirstKeyframe == 0 {
		t.Errorf("allowed play: %+v", st)
	}
	// nginx-rtmp asks on_play before it answers the play: a refusal is a
	// close before any status (SRS answers Play.Start first).
	denied := testplayer.Play(ctx, "rtmp://"+n.RTMPAddr()+"/live/denied", testplayer.Options{Watch: 3 * time.Second})
	if !errors.Is(denied.End, testplayer.ErrClosedWithoutStatus) || denied.PlayStart != 0 {
		t.Errorf("refused play: %+v, want closed without a status", denied)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	var seen []string
	for _, c := range calls {
		seen = append(seen, c.Get("call")+" "+c.Get("name")+" "+c.Get("rtmpload"))
	}
	got := strings.Join(seen, ", ")
	t.Logf("calls: %s", got)
	if !strings.Contains(got, "play cam1 v1-1, play_done cam1 v1-1") || !strings.Contains(got, "play denied") ||
		strings.Contains(got, "play_done denied") {
		t.Errorf("calls %s", got)
	}
}
