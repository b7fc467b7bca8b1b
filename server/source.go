package server

import "time"

// sourceCleanup is SRS's source-manager tick (SrsLiveSourceManager, 3 s in
// 7.0.18): each tick drops from the pool every source that is not being
// published and has been so for 3 s, or was never published.
const sourceCleanup = 3 * time.Second

// source is SRS's live source of a stream url: the object a publisher looks
// up when it is identified, before its hooks run, and claims once they
// allow it. The claim checks that object, not the pool: that is what SRS
// 7.0.18's duplicate race comes from (docs/srs-behaviour.md, "Duplicate
// names").
type source struct {
	url       string
	publisher *client   // the accepted publisher, nil when free
	died      time.Time // when the last publisher left; zero: never published
	refs      int       // clients holding it
	viewers   int       // players holding it
	relay     relay     // what its players get
}

// dead is SrsLiveSource::stream_is_dead: nobody plays it, it is not
// published, and unpublished for at least sourceCleanup (or never published).
func (src *source) dead(now time.Time) bool {
	return src.publisher == nil && src.viewers == 0 && (src.died.IsZero() || now.Sub(src.died) >= sourceCleanup)
}

// fetchSource is SrsLiveSourceManager::fetch_or_create. Called with s.mu held.
func (s *Server) fetchSource(url string) *source {
	src := s.sources[url]
	if src == nil {
		src = &source{url: url}
		s.sources[url] = src
	}
	src.refs++
	return src
}

// dropSource lets go of c's source; without DuplicateRace a source leaves
// the pool with its last client. Called with s.mu held.
func (s *Server) dropSource(src *source) {
	src.refs--
	if src.refs <= 0 && !s.cfg.DuplicateRace && s.sources[src.url] == src {
		delete(s.sources, src.url)
	}
}

// cleanupSources is SRS's tick, run only with DuplicateRace: it drops dead
// sources from the pool even while a publisher that looked one up waits for
// its hook. That publisher is later accepted on a source the pool no longer
// knows, and the next publisher of the name gets a new source and is
// accepted too.
func (s *Server) cleanupSources() {
	t := time.NewTicker(s.cfg.cleanupEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			for url, src := range s.sources {
				if src.dead(now) {
					delete(s.sources, url)
					s.log.Debug("cleanup die source", "url", url, "held_by", src.refs)
				}
			}
			s.mu.Unlock()
		}
	}
}
