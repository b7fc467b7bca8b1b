package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// ServerView is what the server's own API said over the run, cross-checked
// against what rtmpload concluded.
type ServerView struct {
	Snapshots int `json:"snapshots"`
	Errors    int `json:"errors"` // snapshots the API did not answer
	// FirstError is why the first unanswered snapshot was (the API's error,
	// a timeout, an answer that was not SRS's JSON).
	FirstError string `json:"first_error,omitempty"`
	// Foreign lists streams the server showed that this run did not publish.
	Foreign []string `json:"foreign,omitempty"`
	// NotSeen lists ok attempts the server never showed as publishing while
	// they were live.
	NotSeen []string `json:"not_seen,omitempty"`
	// Duplicates lists streams the server showed with two or more publishing
	// clients once it had accepted them: in a snapshot taken after every
	// one of their on_publish calls had been answered (SRS lists a
	// publisher while its hook runs and refuses a duplicate only after it,
	// docs/srs-behaviour.md "Duplicate names"), or, when rtmpload saw no
	// hook call at all, in two snapshots in a row.
	Duplicates []string `json:"duplicates,omitempty"`
}

// hookSettle is how long after the last of its publishers' hooks answered a
// snapshot must be taken to count as the server's decision: SRS refuses a
// duplicate as soon as its hook's answer arrives, so a refused one is gone
// from the API within milliseconds; a margin keeps a loaded server's delay
// from passing for an accept.
const hookSettle = 500 * time.Millisecond

// maxDupSets bounds the publisher sets remembered per stream.
const maxDupSets = 16

// dupSet is one set of client ids a stream was listed with, two or more.
type dupSet struct {
	ids         []string // sorted
	last        time.Time
	consecutive bool // listed in two snapshots in a row
}

// seenGap joins snapshots into one range when they are this close: the API
// is read about once a second.
const seenGap = 2500 * time.Millisecond

// span is a time range in which a stream was seen publishing.
type span struct{ from, to time.Time }

// serverView accumulates snapshots with bounded memory: per stream, the
// ranges in which it had a publisher (consecutive snapshots merge), and the
// streams with two publishers.
type serverView struct {
	n, errs  int
	firstErr string
	seen     map[string][]span
	prevDup  map[string]string    // stream -> the set key listed in the previous snapshot
	dups     map[string][]*dupSet // stream -> the sets of two or more publishers listed
	maxPubs  map[string]int       // stream -> most publishers seen at once
	lastSnap time.Time
	// multi is, per stream, the snapshots that listed two or more
	// publishers of it, at most maxMulti each: what tells a takeover from
	// two live publishers (listedTogether).
	multi map[string][]listing
}

// listing is one snapshot's publishers of a stream, two or more.
type listing struct {
	at  time.Time
	ids []string // sorted
}

// maxMulti bounds the listings of two or more publishers kept per stream.
const maxMulti = 256

func (v *serverView) add(at time.Time, s *schema.Snapshot) {
	if v.seen == nil {
		v.seen = make(map[string][]span)
		v.dups = make(map[string][]*dupSet)
		v.maxPubs = make(map[string]int)
		v.multi = make(map[string][]listing)
	}
	v.n++
	if s.Err != "" {
		if v.errs == 0 {
			v.firstErr = s.Err
		}
		v.errs++
		v.prevDup = nil
		return
	}
	dup := make(map[string]string)
	for _, st := range s.Streams {
		if len(st.Publishers) == 0 {
			continue
		}
		v.maxPubs[st.Name] = max(v.maxPubs[st.Name], len(st.Publishers))
		spans := v.seen[st.Name]
		if k := len(spans) - 1; k >= 0 && at.Sub(spans[k].to) <= seenGap {
			spans[k].to = at
		} else {
			spans = append(spans, span{at, at})
		}
		v.seen[st.Name] = spans
		if len(st.Publishers) > 1 {
			// A contender is listed while its hook runs (docs/srs-behaviour.md,
			// "Duplicate names"): whether the server accepted it is decided
			// in check, from the hooks.
			ids := slices.Sorted(slices.Values(st.Publishers))
			key := strings.Join(ids, ",")
			dup[st.Name] = key
			v.noteDup(st.Name, ids, at, v.prevDup[st.Name] == key)
			if len(v.multi[st.Name]) < maxMulti {
				v.multi[st.Name] = append(v.multi[st.Name], listing{at: at, ids: ids})
			}
		}
	}
	v.prevDup = dup
	v.lastSnap = at
}

func (v *serverView) noteDup(stream string, ids []string, at time.Time, again bool) {
	sets := v.dups[stream]
	for _, d := range sets {
		if slices.Equal(d.ids, ids) {
			d.last, d.consecutive = at, d.consecutive || again
			return
		}
	}
	if len(sets) < maxDupSets {
		v.dups[stream] = append(sets, &dupSet{ids: ids, last: at})
	}
}

// accepted reports whether the server had accepted every client of d:
// answered is each client's on_publish answer (zero: none seen). Without
// any hook call in the run, two snapshots in a row confirm it.
func (d *dupSet) accepted(answered func(stream, client string) (time.Time, bool), stream string, anyHook bool) bool {
	if !anyHook {
		return d.consecutive
	}
	for _, id := range d.ids {
		t, ok := answered(stream, id)
		if !ok || d.last.Sub(t) < hookSettle {
			return false
		}
	}
	return true
}

// acceptedCount is how many of the attempts the server accepted.
func acceptedCount(as []*Attempt) int {
	n := 0
	for _, a := range as {
		if a.acceptedOnWire() {
			n++
		}
	}
	return n
}

// seenDuring reports whether the stream was seen publishing at some moment
// within [from, to].
func (v *serverView) seenDuring(stream string, from, to time.Time) bool {
	for _, sp := range v.seen[stream] {
		if !sp.to.Before(from) && !sp.from.After(to) {
			return true
		}
	}
	return false
}

// check cross-checks the attempts against the server's view. answered
// gives a client's allowed on_publish answer; anyHook says whether the run
// saw any hook call.
func (v *serverView) check(byStream map[string][]*Attempt, answered func(stream, client string) (time.Time, bool), anyHook bool) (*ServerView, map[string]bool) {
	if v.n == 0 {
		return nil, nil
	}
	dups := make(map[string]bool)
	out := &ServerView{Snapshots: v.n, Errors: v.errs, FirstError: v.firstErr}
	for name := range v.seen {
		if _, ours := byStream[name]; !ours {
			out.Foreign = append(out.Foreign, name)
		}
	}
	for name, sets := range v.dups {
		if !anyHook && acceptedCount(byStream[name]) < 2 && len(byStream[name]) > 0 {
			// Without hook records, our own attempts say whether two
			// were accepted: the others listed were contenders.
			continue
		}
		for _, d := range sets {
			if d.accepted(answered, name, anyHook) {
				out.Duplicates = append(out.Duplicates, fmt.Sprintf("%s (clients %s)", name, strings.Join(d.ids, ", ")))
				dups[name] = true
				break
			}
		}
	}
	for name, as := range byStream {
		for _, a := range as {
			from, to, ok := a.liveInterval()
			if a.Outcome != schema.OutcomeOK || !ok || a.Exit.IsZero() {
				continue
			}
			// Only attempts live for a few snapshots can be expected in one,
			// and only while the API answered.
			from, to = from.Add(time.Second), to.Add(-time.Second)
			if to.Sub(from) < 2*time.Second || to.After(v.lastSnap) {
				continue
			}
			if !v.seenDuring(name, from, to) {
				out.NotSeen = append(out.NotSeen, a.ID)
			}
		}
	}
	slices.Sort(out.Foreign)
	slices.Sort(out.Duplicates)
	slices.Sort(out.NotSeen)
	return out, dups
}

// listedTogether reports whether a snapshot taken within [from, to] (both
// accepted, neither closed yet) listed both x and y as publishers of their
// name: by their client ids when both are known, else by a count of two
// more than the name's other attempts whose connection was open then (a
// contender is listed while its hook runs).
func (v *serverView) listedTogether(x, y *Attempt, from, to time.Time, others []*Attempt) bool {
	xid, yid := x.clientID(), y.clientID()
	for _, l := range v.multi[x.Stream] {
		if l.at.Before(from) || l.at.After(to) {
			continue
		}
		if xid != "" && yid != "" {
			if slices.Contains(l.ids, xid) && slices.Contains(l.ids, yid) {
				return true
			}
			continue
		}
		open := 0
		for _, o := range others {
			if !o.Spawn.After(l.at) && (o.Exit.IsZero() || !o.Exit.Before(l.at)) {
				open++
			}
		}
		if len(l.ids) >= 2+open {
			return true
		}
	}
	return false
}
