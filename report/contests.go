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
func (b *Builder) addContests(s *Summary, byStream map[string][]*Attempt, taken map[*Attempt]*Attempt) {
	s.Contests, s.Anomalies = contests(byStream, taken)
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

// takeoverMargin is how close to a new publisher's acceptance the old one's
// connection must end for the handover to count as a takeover (the server
// closed the old one as it accepted the new one, as MediaMTX does) and not
// two live publishers. ffmpeg notices a closed connection at its next
// write, a frame later; two publishers the server really let in stay
// together until one of them stops.
const takeoverMargin = time.Second

// ended is when the attempt's connection ended: the server's close as the
// tap saw it, else ffmpeg's exit.
func (a *Attempt) ended() time.Time {
	if t, _, ok := a.Wire.Mark(schema.WireServerClose); ok {
		return t
	}
	return a.Exit
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

// liveTogether says how two attempts at one name shared it: overlap when
// both were accepted and live at once; old and by are set (old taken over by
// by) when that overlap was a handover: the server closed old as it
// accepted by.
func liveTogether(x, y *Attempt) (overlap bool, old, by *Attempt) {
	xf, xt, ok1 := x.liveInterval()
	yf, yt, ok2 := y.liveInterval()
	if !ok1 || !ok2 || !x.acceptedOnWire() || !y.acceptedOnWire() {
		return false, nil, nil
	}
	// A connection the server closed was not live after that, whenever
	// ffmpeg noticed.
	if e := x.ended(); !e.IsZero() && e.Before(xt) {
		xt = e
	}
	if e := y.ended(); !e.IsZero() && e.Before(yt) {
		yt = e
	}
	if !xf.Before(yt) || !yf.Before(xt) {
		return false, nil, nil
	}
	old, by, from := x, y, yf
	if yf.Before(xf) {
		old, by, from = y, x, xf
	}
	// The old one ended on its own (not stopped by rtmpload) within the
	// margin of the new one's acceptance.
	end := old.ended()
	if !old.Stopped && old.Class != schema.ClassStopped && !end.IsZero() && end.Sub(from) <= takeoverMargin {
		return true, old, by
	}
	return true, nil, nil
}

// takeovers maps each attempt that a later publisher of its name took over
// to that publisher.
func takeovers(byStream map[string][]*Attempt) map[*Attempt]*Attempt {
	out := make(map[*Attempt]*Attempt)
	for _, as := range byStream {
		for i, a := range as {
			for _, o := range as[i+1:] {
				if o.Slot == a.Slot {
					continue
				}
				if _, old, by := liveTogether(a, o); old != nil {
					out[old] = by
				}
			}
		}
	}
	return out
}

// takeoverEvidence names the attempt that took a over, for its failure.
func takeoverEvidence(a, by *Attempt) string {
	from, _, _ := by.liveInterval()
	return fmt.Sprintf("taken over by %s (%s): the server accepted it as %s's publisher and closed this one %d ms later; ",
		by.ID, by.Group, a.Stream, a.ended().Sub(from).Milliseconds())
}

// contests lists every name with more than one attempt, and raises
// duplicate_accepted when two attempts held a name at once. A takeover (the
// old publisher closed as the new one was accepted) is named in the contest
// and is no anomaly.
func contests(byStream map[string][]*Attempt, taken map[*Attempt]*Attempt) ([]Contest, []string) {
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
			if by := taken[a]; by != nil {
				e.TakenOverBy = by.ID
				c.Takeover = true
			}
			if a.Outcome == schema.OutcomeOK || a.Outcome == schema.OutcomeDropped {
				c.Winners = append(c.Winners, a.ID)
			}
			c.Attempts = append(c.Attempts, e)
		}
		for i, a := range as {
			for _, o := range as[i+1:] {
				if o.Slot == a.Slot {
					continue
				}
				if overlap, old, _ := liveTogether(a, o); overlap && old == nil {
					c.TwoLive = true
				}
			}
		}
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
