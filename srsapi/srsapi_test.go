package srsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srs"
)

// fakeAPI serves n streams and n clients the way SRS pages them: count
// defaults to 10 and is capped at maxCount; ignoreStart mimics a server
// that always answers the first page.
type fakeAPI struct {
	n           int
	maxCount    int
	ignoreStart bool
	withTotal   bool

	mu       sync.Mutex
	requests []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("start"))
	if f.ignoreStart {
		start = 0
	}
	count := 10
	if c, err := strconv.Atoi(q.Get("count")); err == nil {
		count = c
	}
	count = min(count, f.maxCount)
	end := min(f.n, start+count)
	start = min(start, end)
	ans := map[string]any{"code": 0, "server": "vid-x"}
	if f.withTotal {
		ans["total"] = f.n
	}
	switch r.URL.Path {
	case "/api/v1/streams/":
		var ss []srs.Stream
		for i := start; i < end; i++ {
			ss = append(ss, srs.Stream{ID: fmt.Sprintf("vid-%d", i), Name: fmt.Sprintf("cam%02d", i), App: "live"})
		}
		ans["streams"] = ss
	case "/api/v1/clients/":
		var cs []srs.Client
		for i := start; i < end; i++ {
			cs = append(cs, srs.Client{ID: fmt.Sprintf("c%d", i), Type: "fmle-publish", Publish: true,
				URL: fmt.Sprintf("/live/cam%02d", i)})
		}
		ans["clients"] = cs
	default:
		ans = map[string]any{"code": 1002}
	}
	json.NewEncoder(w).Encode(ans)
}

func TestStreamsPagesPastServerCap(t *testing.T) {
	for _, tc := range []struct {
		name string
		api  *fakeAPI
		want int
		reqs int
	}{
		{"capped at default count", &fakeAPI{n: 25, maxCount: 10}, 25, 4},
		{"capped, with total", &fakeAPI{n: 25, maxCount: 10, withTotal: true}, 25, 3},
		{"count honoured", &fakeAPI{n: 25, maxCount: 1000}, 25, 2},
		{"empty", &fakeAPI{n: 0, maxCount: 10}, 0, 1},
		{"start ignored", &fakeAPI{n: 25, maxCount: 10, ignoreStart: true}, 10, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(tc.api)
			defer hs.Close()
			c := &Client{Base: hs.URL}
			ss, err := c.Streams(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != tc.want {
				t.Fatalf("got %d streams, want %d", len(ss), tc.want)
			}
			for i, s := range ss {
				if want := fmt.Sprintf("cam%02d", i); s.Name != want {
					t.Fatalf("stream %d = %q, want %q", i, s.Name, want)
				}
			}
			if len(tc.api.requests) != tc.reqs {
				t.Errorf("%d requests %v, want %d", len(tc.api.requests), tc.api.requests, tc.reqs)
			}
			if !strings.Contains(tc.api.requests[0], "count=") {
				t.Errorf("first request %q does not ask for a count", tc.api.requests[0])
			}
			cs, err := c.Clients(context.Background())
			if err != nil || len(cs) != tc.want {
				t.Fatalf("clients: %d, %v; want %d", len(cs), err, tc.want)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/versions":
			fmt.Fprint(w, `{"code":1003,"data":{"version":"7.0.18"}}`)
		case "/api/v1/streams/":
			fmt.Fprint(w, `<html>not json</html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()
	c := &Client{Base: hs.URL}
	ctx := context.Background()
	if _, err := c.Version(ctx); err == nil || !strings.Contains(err.Error(), "SRS error code 1003") {
		t.Errorf("Version error = %v, want SRS error code 1003", err)
	}
	if _, err := c.Streams(ctx); err == nil || !strings.Contains(err.Error(), "not SRS's JSON") {
		t.Errorf("Streams error = %v, want not SRS's JSON", err)
	}
	if _, err := c.Clients(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("Clients error = %v, want HTTP 404", err)
	}
	hs.Close()
	if s := Take(ctx, c); s.Err == "" || s.At.IsZero() {
		t.Errorf("Take against a closed server = %+v, want Err and At", s)
	}
}

// publish runs gortmplib's client up to NetStream.Publish.Start.
func publish(t *testing.T, addr, app, name string) error {
	t.Helper()
	u, err := url.Parse("rtmp://" + addr + "/" + app + "#" + name) // gortmplib takes the key from the fragment
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		return err
	}
	t.Cleanup(c.Close)
	return nil
}

func TestAgainstEmbeddedServer(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{Version: "7.0.18"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	names := []string{"cam01", "cam02", "cam03"}
	for _, n := range names {
		if err := publish(t, srv.RTMPAddr(), "live", n); err != nil {
			t.Fatalf("publish %s: %v", n, err)
		}
	}
	if err := publish(t, srv.RTMPAddr(), "live", "cam01"); err == nil {
		t.Fatal("second publisher of cam01 accepted by the embedded server")
	}
	c := &Client{Base: "http://" + srv.APIAddr()}
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || v != "7.0.18" {
		t.Fatalf("Version = %q, %v", v, err)
	}

	// The refused contender's connection ends asynchronously.
	var snap Snapshot
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap = Take(ctx, c)
		if snap.Err != "" {
			t.Fatal(snap.Err)
		}
		if len(snap.Clients) == len(names) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for _, s := range snap.Streams {
		got = append(got, s.Name)
		if !s.Publish.Active || s.Publish.CID == "" || s.App != "live" || s.URL != "/live/"+s.Name {
			t.Errorf("stream %+v: want an active publisher of /live/%s", s, s.Name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Fatalf("streams %v, want %v", got, names)
	}
	if len(snap.Clients) != len(names) {
		t.Fatalf("%d clients, want %d: %+v", len(snap.Clients), len(names), snap.Clients)
	}
	for _, cl := range snap.Clients {
		if !cl.Publishing() || cl.Type != "fmle-publish" {
			t.Errorf("client %+v is not a publisher", cl)
		}
	}
	if d := DuplicatePublishers(snap); len(d) != 0 {
		t.Errorf("DuplicatePublishers = %v, want none", d)
	}
}

func TestDuplicatePublishers(t *testing.T) {
	s := Snapshot{Clients: []srs.Client{
		{ID: "1", URL: "/live/a", Type: "fmle-publish", Publish: true},
		{ID: "2", URL: "/live/a", Type: "fmle-publish", Publish: true},
		{ID: "3", URL: "/live/a", Type: "rtmp-play"},
		{ID: "4", URL: "/live/b", Type: "fmle-publish", Publish: true},
		{ID: "5", URL: "/live/b", Type: "rtmp-play"},
		{ID: "6", Name: "c", Type: "flash-publish"},
		{ID: "7", Name: "c", Type: "haivision-publish"},
	}}
	got := DuplicatePublishers(s)
	want := map[string][]string{"/live/a": {"1", "2"}, "c": {"6", "7"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DuplicatePublishers = %v, want %v", got, want)
	}
}

func TestPoll(t *testing.T) {
	api := &fakeAPI{n: 3, maxCount: 10}
	hs := httptest.NewServer(api)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	var snaps []Snapshot
	Poll(ctx, &Client{Base: hs.URL}, 100*time.Millisecond, func(s Snapshot) { snaps = append(snaps, s) })
	if len(snaps) < 2 || len(snaps) > 5 {
		t.Fatalf("%d snapshots in 350 ms at 100 ms, want 3 or 4", len(snaps))
	}
	for _, s := range snaps {
		if s.Err != "" || len(s.Streams) != 3 || len(s.Clients) != 3 {
			t.Fatalf("snapshot %+v", s)
		}
	}
	if !snaps[1].At.After(snaps[0].At) {
		t.Errorf("snapshot times not increasing")
	}

	// A server that is down yields snapshots with Err, and Poll goes on.
	hs.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel2()
	var errs int
	Poll(ctx2, &Client{Base: hs.URL}, 100*time.Millisecond, func(s Snapshot) {
		if s.Err != "" {
			errs++
		}
	})
	if errs < 2 {
		t.Fatalf("%d error snapshots from a closed server, want >= 2", errs)
	}
}

func TestNginxStatSnapshot(t *testing.T) {
	f, err := os.Open("testdata/stat.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := ParseNginxStat(f)
	if err != nil {
		t.Fatal(err)
	}
	if st.NginxVersion != "1.22.1" || st.RTMPVersion != "1.1.4" || len(st.Applications) != 1 {
		t.Fatalf("stat = %+v", st)
	}
	app := st.Applications[0]
	if app.Name != "live" || len(app.Streams) != 2 || app.NClients != 2 {
		t.Fatalf("application = %+v", app)
	}
	cam1 := app.Streams[0]
	if !cam1.Publishing || !cam1.Active || cam1.BytesIn != 203854 || len(cam1.Clients) != 2 ||
		!cam1.Clients[0].Publishing || cam1.Clients[1].Publishing || cam1.Clients[1].Dropped != 3 {
		t.Fatalf("cam1 = %+v", cam1)
	}
	if app.Streams[1].Publishing || app.Streams[1].Active {
		t.Fatalf("cam2 without <publishing/> parsed as publishing: %+v", app.Streams[1])
	}

	s := st.Snapshot()
	if len(s.Streams) != 2 || len(s.Clients) != 2 {
		t.Fatalf("snapshot = %+v", s)
	}
	if got := s.Streams[0]; got.URL != "/live/cam1" || !got.Publish.Active || got.Publish.CID != "1" ||
		got.Kbps.Recv30s != 811 || got.Video == nil || got.Video.Width != 320 || got.Audio == nil || got.Audio.Codec != "AAC" {
		t.Errorf("stream cam1 = %+v", got)
	}
	if got := s.Streams[1]; got.Publish.Active || got.Video != nil {
		t.Errorf("stream cam2 = %+v", got)
	}
	if got := s.Clients[0]; got.Type != "fmle-publish" || !got.Publishing() || got.IP != "127.0.0.1" || got.Alive != 2.432 {
		t.Errorf("publisher = %+v", got)
	}
	if got := s.Clients[1]; got.Publishing() || got.Type != "rtmp-play" {
		t.Errorf("player = %+v", got)
	}
	if d := DuplicatePublishers(s); len(d) != 0 {
		t.Errorf("duplicates %v in a stat page with one publisher", d)
	}
}

func TestReadNginxStat(t *testing.T) {
	body, err := os.ReadFile("testdata/stat.xml")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stat" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer hs.Close()
	st, err := ReadNginxStat(context.Background(), hs.URL+"/stat")
	if err != nil || st.At.IsZero() || len(st.Applications) != 1 {
		t.Fatalf("ReadNginxStat = %+v, %v", st, err)
	}
	if _, err := ReadNginxStat(context.Background(), hs.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("error = %v, want HTTP 404", err)
	}
}

// An API that stops answering is recorded as unanswered within two periods,
// not waited for the whole run (the HTTP client's own timeout is longer).
func TestPollRecordsAHangingAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Snapshot, 1)
	go Poll(ctx, &Client{Base: srv.URL}, 100*time.Millisecond, func(s Snapshot) {
		select {
		case got <- s:
		default:
		}
	})
	select {
	case s := <-got:
		if !strings.Contains(s.Err, "no answer within") {
			t.Errorf("snapshot error %q", s.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no snapshot from a hanging API")
	}
}
