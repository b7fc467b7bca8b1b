package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// serve answers one hook call: read it, find the fault in effect, wait
// out the latency, decide, write, record.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c := s.arrive()
	body, readErr := s.readBody(w, r)
	c.Dialect = dialectOf(r)
	req, rerr := readRequest(c.Dialect, r.Method, body, readErr)
	c.setRequest(req)
	f, down := s.sched.faultNow(sideOf(c.Action))
	if f != nil {
		c.Fault = f.Spec
	}
	s.hold(r.Context(), &c, f, down, readErr)

	ans := s.decide(w, r, &c, f, req, rerr, body)
	c.Status, c.Answer = ans.status, ans.body
	c.Verdict, c.Reason, c.LiveOwner = ans.verdict, ans.reason, ans.liveOwner
	if err := write(w, ans); err != nil {
		c.Canceled = true
		c.Reason = joinReason(c.Reason, "answer not delivered: "+err.Error())
	}
	c.Answered = s.now()
	s.finish(c)
}

// readBody reads the whole body before anything else, so that net/http
// starts watching the connection and cancels the request context if the
// caller hangs up while we wait.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.bodyWait))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		// Cleared again: waiting out a latency fault is not reading. Kept
		// after a failed read, so that net/http's draining of the rest of
		// the body ends too.
		_ = rc.SetReadDeadline(time.Time{})
	}
	return body, err
}

// setRequest records what the caller asked.
func (c *Call) setRequest(req request) {
	c.Action, c.ClientID, c.IP = req.Action, req.ClientID, req.IP
	c.Vhost, c.App, c.Stream = req.Vhost, req.App, req.Stream
	c.Param, c.TcURL, c.StreamID = req.Param, req.TcURL, req.StreamID
	c.Attempt = AttemptFromParam(req.Param)
}

// abort ends a call whose caller cannot get an answer. Nothing is decided
// for a caller that gave up: SRS has already failed the publish, so the
// stream must not become live here.
func (s *Server) abort(c *Call, reason string) {
	c.Canceled, c.Reason, c.Answered = true, reason, s.now()
	s.finish(*c)
	// Abort rather than return: returning would send an empty 200.
	panic(http.ErrAbortHandler)
}

// hold keeps the caller waiting for the hook's latency, or the delay fault f
// (nil when none is on), and aborts the call if it cannot be answered; down
// tells that f holds the call's side down.
func (s *Server) hold(ctx context.Context, c *Call, f *Fault, down bool, readErr error) {
	var tooLarge *http.MaxBytesError
	if readErr != nil && !errors.As(readErr, &tooLarge) {
		// Cut off (the body timeout) or gone: no answer can reach it.
		s.abort(c, "body not read: "+readErr.Error())
	}
	if down {
		// Accepted in the instant before the down window closed the
		// listener, or a down window holds only this call's side: drop
		// it as a closed listener would have (docs/srs-behaviour.md, "A
		// fault on one side").
		s.abort(c, "connection dropped by fault "+f.Spec)
	}
	wait := s.latency
	if f != nil && f.Kind == FaultDelay {
		wait = f.Delay
	}
	if err := sleep(ctx, wait); err != nil {
		s.abort(c, s.cancelReason(c))
	}
}

// decide is the answer to req: the fault f's (nil when none is on), the
// upstream's when the hook proxies, or the hook's own. A well-formed call
// that is answered is booked: an allow makes its stream live.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, c *Call, f *Fault, req request, rerr *requestError, body []byte) answer {
	var ans answer
	switch {
	case f != nil && f.Kind != FaultDelay:
		ans = *faultAnswer(c.Dialect, *f)
	case s.upstream != "":
		ans = s.askUpstream(r, c, body)
	case rerr != nil:
		if rerr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		return failure(c.Dialect, rerr)
	default:
		return s.book(req, nil)
	}
	if rerr == nil {
		ans = s.book(req, &ans)
	}
	return ans
}

// askUpstream forwards the call to the upstream callback and gives its
// answer a verdict, aborting the call if the caller gave up meanwhile.
func (s *Server) askUpstream(r *http.Request, c *Call, body []byte) answer {
	ctx := r.Context()
	ans, up := s.forward(ctx, r, body)
	c.Upstream = up
	if ctx.Err() != nil {
		s.abort(c, s.cancelReason(c))
	}
	ans.verdict = verdictOf(c.Dialect, ans.status, ans.body)
	if ans.verdict != VerdictAllow && ans.reason == "" {
		ans.reason = "upstream " + refusal(ans.verdict, ans.status, ans.body)
	}
	return ans
}

// arrive numbers a call; the lock makes Seq and Arrived agree on the order.
func (s *Server) arrive() Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return Call{Seq: s.seq, Arrived: s.now()}
}

func (s *Server) finish(c Call) {
	s.mu.Lock()
	size := c.size()
	if len(s.calls) == keptCalls || s.callBytes+size > keptCallBytes {
		// Bounded for hours-long runs, in calls and in bytes: OnCall sees
		// every call; Calls keeps the latest.
		drop := len(s.calls) / 2
		for _, old := range s.calls[:drop] {
			s.callBytes -= old.size()
		}
		s.calls = slices.Delete(s.calls, 0, drop)
	}
	s.calls = append(s.calls, c)
	s.callBytes += size
	s.mu.Unlock()
	if s.onCall != nil {
		s.onCall(c)
	}
}

// sleep waits d, ending early with the context's error when the caller
// goes away or the server closes.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) cancelReason(c *Call) string {
	if s.closing.Err() != nil {
		return "hook server closed before answering"
	}
	if f := s.sched.faultScheduled(sideOf(c.Action)); f != nil && (f.Kind == FaultDown || f.Kind == FaultFlap) {
		return "connection cut by fault " + f.Spec
	}
	return fmt.Sprintf("caller went away after %s", s.now().Sub(c.Arrived).Round(time.Millisecond))
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
