package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// addContests adds the contests for each stream name and what the server's
// own view (its API) says about them.
func (b *Builder) addContests(s *Summary, byStream map[string][]*Attempt, h handovers) {
	s.Contests, s.Anomalies = contests(byStream, h)
	var apiDups map[string]bool
	if s.Server, apiDups = b.view.check(byStream, b.hookAnswered(), len(b.hooks) > 0); s.Server != nil {
		for _, d := range s.Server.Duplicates {
			s.Anomalies = append(s.Anomalies, string(schema.OutcomeDuplicateAccepted)+": the server's API showed two accepted publishers of "+d)
		}
	}
	for i := range s.Contests {
		c := &s.Contests[i]
		c.ServerMax = b.view.maxPubs[c.Stream]
		// The API's word counts as much as the wire's: thresholds count
		// two-live contests.
		c.TwoLive = c.TwoLive || apiDups[c.Stream]
	}
}

// hookAnswered returns when the hook allowed a client of a stream (by the
// server's client id), for telling accepted publishers in the server's API
// from contenders whose hook still runs.
func (b *Builder) hookAnswered() func(stream, client string) (time.Time, bool) {
	allowed := make(map[[2]string]time.Time)
	for _, h := range b.hooks {
		if h.ClientID != "" && recordedAllow(h) && !h.Canceled && !h.Answered.IsZero() {
			allowed[[2]string{h.Stream, h.ClientID}] = h.Answered
		}
	}
	return func(stream, client string) (time.Time, bool) {
		t, ok := allowed[[2]string{stream, client}]
		return t, ok
	}
}

// ended is when the attempt's connection ended: the server's close as the
// tap saw it, else ffmpeg's exit.
func (a *Attempt) ended() time.Time {
	if t, ok := a.closedByServer(); ok {
		return t
	}
	return a.Exit
}

// closedByServer is when the server closed the attempt's connection, if it
// did: the tap's mark of the server's close (unless the publisher had closed
// its side first), or, without the tap, ffmpeg's own failing exit (not
// stopped by rtmpload), which comes a frame or more after the close: ffmpeg
// notices it at its next write.
func (a *Attempt) closedByServer() (time.Time, bool) {
	if a.Wire != nil && len(a.Wire.Marks) > 0 {
		t, _, ok := a.Wire.Mark(schema.WireServerClose)
		if c, _, client := a.Wire.Mark(schema.WireClientClose); ok && client && c.Before(t) {
			return time.Time{}, false
		}
		return t, ok
	}
	if !a.Exit.IsZero() && a.Class == schema.ClassFailed && !a.Stopped {
		return a.Exit, true
	}
	return time.Time{}, false
}

// acceptedOnWire reports whether the server's acceptance is known from the
// best evidence there is: NetStream.Publish.Start on the wire when the tap
// recorded the connection, else ffmpeg's start.
func (a *Attempt) acceptedOnWire() bool {
	if a.Wire != nil && len(a.Wire.Marks) > 0 {
		_, ok := a.Wire.PublishStarted()
		return ok
	}
	return a.published()
}

// clientID is the server's id of the attempt's connection, as the hook or
// the embedded server recorded it ("": not known, as with a callback
// rtmpload does not serve on a server it did not start).
func (a *Attempt) clientID() string {
	switch {
	case a.Hook != nil && a.Hook.ClientID != "":
		return a.Hook.ClientID
	case a.Server != nil:
		return a.Server.ClientID
	}
	return ""
}

// sharing is how two attempts at one name shared it.
type sharing int

const (
	shareApart    sharing = iota // never both accepted and live at once
	shareTakeover                // the server closed the older after accepting the newer
	shareTwoLive                 // the server held both as publishers
	// shareOverlapped: both accepted and live at once, neither taken over nor
	// shown together: the server closed the newer while the older lived on.
	shareOverlapped
)

// share judges how x and y shared their name, and which was the older. The
// rule (docs/servers.md, "Takeovers (MediaMTX)"): a takeover when the server closed the
// older connection after the newer one was accepted and no API snapshot
// taken after both were accepted, while both were open, lists both; two
// live only when such a snapshot exists, or when both stayed live until one
// of them ended by its publisher's side (rtmpload stopped it). The delay
// between the newer's acceptance and the older's close does not matter:
// MediaMTX reads about 2 s of the newer's media before it closes the older.
// others are the name's other attempts.
func (v *serverView) share(x, y *Attempt, others []*Attempt) (how sharing, old, by *Attempt) {
	xf, _, ok1 := x.liveInterval()
	yf, _, ok2 := y.liveInterval()
	if !ok1 || !ok2 || !x.acceptedOnWire() || !y.acceptedOnWire() {
		return shareApart, nil, nil
	}
	old, by, accepted := x, y, yf
	if yf.Before(xf) {
		old, by, accepted = y, x, xf
	}
	forever := time.Unix(1<<40, 0)
	oldEnd, byEnd := old.ended(), by.ended()
	if oldEnd.IsZero() {
		oldEnd = forever
	}
	if byEnd.IsZero() {
		byEnd = forever
	}
	// A connection the server closed was not live after that, whenever
	// ffmpeg noticed.
	if !accepted.Before(oldEnd) {
		return shareApart, nil, nil
	}
	end := oldEnd
	if byEnd.Before(end) {
		end = byEnd
	}
	if v.listedTogether(old, by, accepted, end, others) {
		return shareTwoLive, old, by
	}
	if t, ok := old.closedByServer(); ok && !t.Before(accepted) && !byEnd.Before(t) {
		return shareTakeover, old, by
	}
	first := old
	if byEnd.Before(oldEnd) {
		first = by
	}
	if _, closed := first.closedByServer(); !closed {
		return shareTwoLive, old, by
	}
	return shareOverlapped, old, by
}

// handovers is how every pair of a name's publishers shared it.
type handovers struct {
	taken   map[*Attempt]*Attempt // the older -> the newer that took it over
	twoLive map[string]bool       // names two publishers held at once
}

// handovers judges every pair of attempts of each name by different
// publishers (one publisher's reconnects do not contest its own name).
func (v *serverView) handovers(byStream map[string][]*Attempt) handovers {
	h := handovers{taken: make(map[*Attempt]*Attempt), twoLive: make(map[string]bool)}
	for stream, as := range byStream {
		for i, a := range as {
			for _, o := range as[i+1:] {
				if o.Slot == a.Slot {
					continue
				}
				others := slices.DeleteFunc(slices.Clone(as), func(x *Attempt) bool { return x == a || x == o })
				switch how, old, by := v.share(a, o, others); how {
				case shareTakeover:
					h.taken[old] = by
				case shareTwoLive:
					h.twoLive[stream] = true
				}
			}
		}
	}
	return h
}

// takeoverEvidence names the attempt that took a over, for its failure.
func takeoverEvidence(a, by *Attempt) string {
	from, _, _ := by.liveInterval()
	return fmt.Sprintf("taken over by %s (%s): the server accepted it as %s's publisher and closed this one %d ms later; ",
		by.ID, by.Group, a.Stream, a.ended().Sub(from).Milliseconds())
}

// contests lists every name with more than one attempt, and raises
// duplicate_accepted when two attempts held a name at once. A takeover (the
// old publisher closed after the new one was accepted) is named in the contest
// and is no anomaly.
func contests(byStream map[string][]*Attempt, h handovers) ([]Contest, []string) {
	var out []Contest
	var anomalies []string
	for stream, as := range byStream {
		// A contest is between publishers (slots); one publisher's
		// reconnects and churn restarts do not contest its own name.
		slots := make(map[int]bool)
		for _, a := range as {
			slots[a.Slot] = true
		}
		if len(slots) < 2 {
			continue
		}
		as = slices.Clone(as)
		slices.SortStableFunc(as, func(x, y *Attempt) int { return x.Spawn.Compare(y.Spawn) })
		c := Contest{Stream: stream, Winners: []string{}}
		for _, a := range as {
			e := ContestEntry{ID: a.ID, Group: a.Group, Spawn: a.Spawn, Outcome: a.Outcome, Message: a.Message}
			if a.Hook != nil {
				e.HookVerdict, e.HookReason = a.Hook.Verdict, a.Hook.Reason
			}
			if by := h.taken[a]; by != nil {
				e.TakenOverBy = by.ID
				c.Takeover = true
			}
			if a.Outcome == schema.OutcomeOK || a.Outcome == schema.OutcomeDropped {
				c.Winners = append(c.Winners, a.ID)
			}
			c.Attempts = append(c.Attempts, e)
		}
		c.TwoLive = h.twoLive[stream]
		if c.TwoLive {
			anomalies = append(anomalies, string(schema.OutcomeDuplicateAccepted)+": "+stream+" had two live publishers ("+strings.Join(c.Winners, ", ")+")")
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y Contest) int { return cmp.Compare(x.Stream, y.Stream) })
	slices.Sort(anomalies)
	if out == nil {
		out = []Contest{}
	}
	return out, anomalies
}
