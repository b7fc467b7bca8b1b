package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServerView is what the server's own API said over the run, cross-checked
// against what rtmpload concluded.
type ServerView struct {
	Snapshots int `json:"snapshots"`
	Errors    int `json:"errors"` // snapshots the API did not answer
	// Foreign lists streams the server showed that this run did not publish.
	Foreign []string `json:"foreign,omitempty"`
	// NotSeen lists ok attempts the server never showed as publishing while
	// they were live.
	NotSeen []string `json:"not_seen,omitempty"`
	// Duplicates lists streams the server showed with two or more publishing
	// clients in consecutive snapshots: SRS's duplicate-accept state.
	Duplicates []string `json:"duplicates,omitempty"`
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
	seen     map[string][]span
	prevDup  map[string]bool
	dups     map[string][]string // stream -> client ids, confirmed
	maxPubs  map[string]int      // stream -> most publishers seen at once
	lastSnap time.Time
}

func (v *serverView) add(at time.Time, s *Snapshot) {
	if v.seen == nil {
		v.seen = make(map[string][]span)
		v.dups = make(map[string][]string)
		v.maxPubs = make(map[string]int)
	}
	v.n++
	if s.Err != "" {
		v.errs++
		v.prevDup = nil
		return
	}
	dup := make(map[string]bool)
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
			dup[st.Name] = true
			// A contender is listed while its hook runs (docs/srs-behaviour.md, "Duplicate names"):
			// only a second snapshot in a row confirms two publishers.
			if v.prevDup[st.Name] {
				v.dups[st.Name] = st.Publishers
			}
		}
	}
	v.prevDup = dup
	v.lastSnap = at
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

// check cross-checks the attempts against the server's view.
func (v *serverView) check(byStream map[string][]*Attempt) *ServerView {
	if v.n == 0 {
		return nil
	}
	out := &ServerView{Snapshots: v.n, Errors: v.errs}
	for name := range v.seen {
		if _, ours := byStream[name]; !ours {
			out.Foreign = append(out.Foreign, name)
		}
	}
	for name, ids := range v.dups {
		out.Duplicates = append(out.Duplicates, fmt.Sprintf("%s (clients %s)", name, strings.Join(ids, ", ")))
	}
	for name, as := range byStream {
		for _, a := range as {
			from, to, ok := a.liveInterval()
			if a.Outcome != OutcomeOK || !ok || a.Exit.IsZero() {
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
	return out
}
