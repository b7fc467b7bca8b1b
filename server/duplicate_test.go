package server

import (
	"net/http"
	"testing"
	"time"

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

// TestTakeover: the newest publisher takes the name over; the old one's
// connection is closed as the new one is accepted, and its unpublish says why.
func TestTakeover(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, Config{Takeover: true}, rec)
	old, err := publish(t, s, "live/cam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publish(t, s, "live/cam?new=1"); err != nil {
		t.Fatalf("newer publisher: %v, want accepted", err)
	}
	old.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(); err == nil {
		t.Error("the old publisher's connection is still open")
	}
	testkit.WaitFor(t, 2*time.Second, "the old one's unpublish", func() bool { return len(rec.eventsOf(EventUnpublish)) == 1 })
	if u := rec.eventsOf(EventUnpublish)[0]; u.Reason != EndTakenOver || u.Param != "" {
		t.Errorf("unpublish = %+v, want the old one's, reason %s", u, EndTakenOver)
	}
	if st := s.Streams(); len(st) != 1 || !st[0].Publish.Active {
		t.Errorf("streams %+v", st)
	}
	if n := publishers(s, "cam"); n != 1 {
		t.Errorf("API lists %d publishers, want 1", n)
	}
	if n := len(rec.eventsOf(EventAccept)); n != 2 {
		t.Errorf("%d accepts, want 2", n)
	}
}
