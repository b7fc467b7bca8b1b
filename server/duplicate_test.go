package server

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

// slowAllow answers {"code":0} after d.
func slowAllow(d time.Duration) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		answerBody(200, `{"code":0}`)(w, r)
	}
}

func publishers(s *Server, stream string) int {
	n := 0
	for _, c := range s.Clients() {
		if c.Publishing() && c.Name == stream {
			n++
		}
	}
	return n
}

// TestDuplicateRace: SRS 7.0.18's race. A cleanup tick during the owner's
// hook drops the source the owner looked up; the owner is accepted on it
// anyway, and a later publisher gets a new source and is accepted too.
func TestDuplicateRace(t *testing.T) {
	rec := &recorder{}
	hs := rec.hookServer(t, slowAllow(300*time.Millisecond))
	s := startServer(t, Config{OnPublish: []string{hs.URL}, DuplicateRace: true, cleanupEvery: 100 * time.Millisecond}, rec)
	if _, err := publish(t, s, "live/race"); err != nil {
		t.Fatal(err)
	}
	// The owner's 300 ms hook spanned ticks: its source left the pool.
	if _, err := publish(t, s, "live/race"); err != nil {
		t.Fatalf("rival after a cleanup during the owner's hook: %v, want accepted", err)
	}
	if n := publishers(s, "race"); n != 2 {
		t.Errorf("API lists %d publishers of race, want 2", n)
	}
	if st := s.Streams(); len(st) != 1 || st[0].Clients != 2 {
		t.Errorf("streams %+v, want one stream with two clients", st)
	}
}

// TestDuplicateRaceNeedsATickInTheHook: with the race on but a hook quicker
// than any tick can fall into, the owner's source stays in the pool and the
// rival is refused, as SRS does.
func TestDuplicateRaceNeedsATickInTheHook(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, Config{DuplicateRace: true, cleanupEvery: 100 * time.Millisecond}, rec)
	if _, err := publish(t, s, "live/race"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // ticks pass; the owner's source is published, not dead
	_, err := publish(t, s, "live/race")
	assertClosedWithoutStatus(t, err)
	testkit.WaitFor(t, 2*time.Second, "reject event", func() bool { return len(rec.eventsOf(EventReject)) == 1 })
	if r := rec.eventsOf(EventReject)[0]; r.Reason != ReasonStreamBusy {
		t.Errorf("reject = %+v", r)
	}
}

// TestTakeover: the newest publisher takes the name over as MediaMTX does.
// It is accepted at once; the old one is closed only once the newer sent
// 2 s of media (by its time stamps: MediaMTX reads that much to learn the
// tracks), and until then the API lists the old one alone. The old one's
// unpublish says why.
func TestTakeover(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, Config{Takeover: true}, rec)
	old, err := publish(t, s, "live/cam")
	if err != nil {
		t.Fatal(err)
	}
	newer, err := publish(t, s, "live/cam?new=1")
	if err != nil {
		t.Fatalf("newer publisher: %v, want accepted", err)
	}
	if n := len(rec.eventsOf(EventAccept)); n != 2 {
		t.Errorf("%d accepts, want 2: the newer is accepted at once", n)
	}
	// 1.96 s of media: the newer still learns its tracks.
	sendVideo(t, newer, 0, 50)
	testkit.WaitFor(t, 5*time.Second, "the newer's 50 frames read", func() bool { return videoRead(s, "2") == 50 })
	if ids := publisherIDs(s, "cam"); !slices.Equal(ids, []string{"1"}) {
		t.Errorf("the API lists %v while the newer learns its tracks, want the old one alone", ids)
	}
	old.NetConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := old.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the old publisher's connection: %v, want it still open", err)
	}
	// 2 s of media: it takes the name over.
	sendVideo(t, newer, 50, 1)
	old.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the old publisher's connection: %v, want it closed", err)
	}
	testkit.WaitFor(t, 2*time.Second, "the old one's unpublish", func() bool { return len(rec.eventsOf(EventUnpublish)) == 1 })
	if u := rec.eventsOf(EventUnpublish)[0]; u.Reason != EndTakenOver || u.Param != "" {
		t.Errorf("unpublish = %+v, want the old one's, reason %s", u, EndTakenOver)
	}
	if st := s.Streams(); len(st) != 1 || !st[0].Publish.Active || st[0].Publish.CID != "2" {
		t.Errorf("streams %+v, want the newer publishing", st)
	}
	if ids := publisherIDs(s, "cam"); !slices.Equal(ids, []string{"2"}) {
		t.Errorf("the API lists %v after the takeover, want the newer alone", ids)
	}
}

// A newer publisher that leaves while it learns its tracks never takes the
// name: the old one lives on.
func TestTakeoverAbandoned(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, Config{Takeover: true}, rec)
	old, err := publish(t, s, "live/cam")
	if err != nil {
		t.Fatal(err)
	}
	newer, err := publish(t, s, "live/cam?new=1")
	if err != nil {
		t.Fatal(err)
	}
	sendVideo(t, newer, 0, 10)
	newer.NetConn().Close()
	testkit.WaitFor(t, 5*time.Second, "the newer's unpublish", func() bool { return len(rec.eventsOf(EventUnpublish)) == 1 })
	if u := rec.eventsOf(EventUnpublish)[0]; u.Param != "?new=1" || u.Reason != EndClosed {
		t.Errorf("unpublish = %+v, want the newer's, closed", u)
	}
	old.NetConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := old.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the old publisher's connection: %v, want it still open", err)
	}
	if ids := publisherIDs(s, "cam"); !slices.Equal(ids, []string{"1"}) {
		t.Errorf("the API lists %v, want the old one", ids)
	}
}

// sendVideo writes n video frames 40 ms apart by their time stamps, the
// first at frame number from.
func sendVideo(t *testing.T, c *gortmplib.Client, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		err := c.Write(&message.Video{
			ChunkStreamID: 6, MessageStreamID: 0x1000000, Codec: message.CodecH264,
			IsKeyFrame: i == 0, Type: message.VideoTypeAU, DTS: time.Duration(i) * 40 * time.Millisecond,
			AU: []byte{0, 0, 0, 2, 0x09, 0xf0},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// videoRead is how many video messages the server read from a client.
func videoRead(s *Server, cid string) uint64 {
	s.mu.Lock()
	c := s.clients[cid]
	s.mu.Unlock()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.videoMsgs
}

// publisherIDs are the client ids the API lists as publishing a stream.
func publisherIDs(s *Server, stream string) []string {
	var ids []string
	for _, c := range s.Clients() {
		if c.Publishing() && c.Name == stream {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
