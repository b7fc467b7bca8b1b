package hook

import (
	"fmt"

	"github.com/rtmpload/rtmpload/schema"
)

// book does the live bookkeeping for a call and, when ans is nil, lets
// the mode decide. Both happen under one lock, so two simultaneous
// publishes of one name cannot both win. A given answer (a fault's, the
// upstream's) makes a stream live only if the calling server takes it as
// allow.
func (s *Server) book(req request, ans *answer) answer {
	switch req.Action {
	case schema.ActionPublish:
		return s.bookPublish(req, ans)
	case schema.ActionUnpublish:
		// The publisher is gone whatever we answer: the server ignores
		// the answer to an unpublish.
		s.release(req)
	}
	if ans != nil {
		return *ans
	}
	// on_play is allowed in every mode: the modes judge publishers (a
	// play of a name nobody publishes is the server's business, which SRS
	// accepts and leaves waiting, docs/srs-behaviour.md, "Play"); a fault
	// window answers plays as it answers publishes. on_stop's answer is
	// ignored by SRS, like on_unpublish's. Other hooks (on_connect, ...)
	// are not ours to refuse either.
	return allow(req.Dialect)
}

func (s *Server) bookPublish(req request, given *answer) answer {
	key := req.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, live := s.live[key]
	var ans answer
	switch {
	case given != nil:
		ans = *given
	case s.mode == schema.HookDeny:
		ans = deny(req.Dialect, "mode deny", "publish denied by rtmpload hook (mode deny)")
	case s.mode == schema.HookConflict && live:
		detail := fmt.Sprintf("%s already published by client %s", key, owner)
		ans = deny(req.Dialect, "conflict: "+detail, "stream conflict: "+detail)
	default:
		ans = allow(req.Dialect)
	}
	// The first publisher keeps the name: SRS refuses the second as busy
	// and never sends an on_unpublish for it (docs/srs-behaviour.md, "Duplicate names").
	if ans.verdict == VerdictAllow && !live {
		if len(s.live) >= maxLive {
			// More names than any run publishes: a caller inventing names.
			return deny(req.Dialect, fmt.Sprintf("live-name table full (%d names)", maxLive), "publish denied by rtmpload hook: too many live streams")
		}
		s.live[key] = req.ClientID
	}
	if live {
		ans.liveOwner = owner
	}
	return ans
}

// release frees a live stream, but only for its owner: an on_unpublish from
// another client (a duplicate the server let through or refused) must not
// free the name.
func (s *Server) release(req request) {
	key := req.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, live := s.live[key]; live && owner == req.ClientID {
		delete(s.live, key)
	}
}
