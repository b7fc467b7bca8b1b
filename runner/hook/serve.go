package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBody bounds a hook body; SRS's is a few hundred bytes.
const maxBody = 1 << 20

// request is one hook call, whatever dialect it arrived in.
type request struct {
	Action, ClientID, IP, Vhost, App, Stream, Param, TcURL, StreamID string
}

// key names the stream in the live bookkeeping.
func (r request) key() string {
	vhost := r.Vhost
	if vhost == "" {
		vhost = defaultVhost
	}
	return vhost + "/" + r.App + "/" + r.Stream
}

// answer is what decide chose to write back, and why.
type answer struct {
	status    int
	body      string
	verdict   string
	reason    string
	liveOwner string
}

// srsBody is SRS's hook body (srs-facts §1). Fields rtmpload does not use
// are left out; unknown fields are ignored because SRS versions add some.
type srsBody struct {
	Action   string `json:"action"`
	ClientID flexID `json:"client_id"`
	IP       string `json:"ip"`
	Vhost    string `json:"vhost"`
	App      string `json:"app"`
	TcURL    string `json:"tcUrl"`
	Stream   string `json:"stream"`
	Param    string `json:"param"`
	StreamID string `json:"stream_id"`
}

// flexID accepts client_id as a string (SRS 4 and later) or a number
// (SRS 3), so one hook serves both.
type flexID string

func (id *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("client_id is neither a string nor a number: %s", b)
	}
	*id = flexID(n)
	return nil
}

// srsReply is SRS's answer shape: code 0 allows, anything else refuses
// (srs-facts §2). A nil msg is what the seed's callback service sends.
type srsReply struct {
	Code int     `json:"code"`
	Msg  *string `json:"msg"`
}

func reply(code int, msg string) string {
	r := srsReply{Code: code}
	if msg != "" {
		r.Msg = &msg
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // an int and a string always marshal
	}
	return string(b)
}

func allow() answer {
	return answer{status: http.StatusOK, body: reply(0, ""), verdict: VerdictAllow}
}

// deny refuses the way callback services do: HTTP 200 with a non-zero code.
func deny(reason, msg string) answer {
	return answer{status: http.StatusOK, body: reply(1, msg), verdict: VerdictDeny, reason: reason}
}

// requestError is a call that is not an SRS hook request.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func failure(err *requestError) answer {
	return answer{status: err.status, body: reply(err.status, err.msg), verdict: VerdictError, reason: err.msg}
}

// serve answers one hook call: read it, wait out the latency, decide,
// write, record.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c := s.arrive()
	req, rerr := readSRS(w, r)
	c.Action, c.ClientID, c.IP = req.Action, req.ClientID, req.IP
	c.Vhost, c.App, c.Stream = req.Vhost, req.App, req.Stream
	c.Param, c.TcURL, c.StreamID = req.Param, req.TcURL, req.StreamID
	c.Attempt = AttemptFromParam(req.Param)

	ctx := r.Context()
	if err := s.wait(ctx); err != nil {
		// Nothing is decided for a caller that gave up: SRS has already
		// failed the publish, so the stream must not become live here.
		c.Canceled = true
		c.Reason = s.cancelReason(c.Arrived)
		c.Answered = s.now()
		s.finish(c)
		// Abort rather than return: returning would send an empty 200.
		panic(http.ErrAbortHandler)
	}

	var ans answer
	if rerr != nil {
		if rerr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		ans = failure(rerr)
	} else {
		ans = s.decide(ctx, req)
	}
	c.Status, c.Answer = ans.status, ans.body
	c.Verdict, c.Reason, c.LiveOwner = ans.verdict, ans.reason, ans.liveOwner

	if err := write(w, ans); err != nil {
		c.Canceled = true
		c.Reason = joinReason(c.Reason, "answer not delivered: "+err.Error())
	}
	c.Answered = s.now()
	s.finish(c)
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
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if s.onCall != nil {
		s.onCall(c)
	}
}

// wait sleeps the configured latency, ending early with the context's
// error when the caller goes away or the server closes.
func (s *Server) wait(ctx context.Context) error {
	if s.latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) cancelReason(arrived time.Time) string {
	if s.closing.Err() != nil {
		return "hook server closed before answering"
	}
	return fmt.Sprintf("caller went away after %s", s.now().Sub(arrived).Round(time.Millisecond))
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// readSRS parses an SRS hook call. The whole body is read before anything
// else so that net/http starts watching the connection and cancels the
// request context if the caller hangs up during the latency.
func readSRS(w http.ResponseWriter, r *http.Request) (request, *requestError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if r.Method != http.MethodPost {
		return request{}, &requestError{http.StatusMethodNotAllowed, "method " + r.Method + " not allowed: hooks are POST"}
	}
	if err != nil {
		return request{}, &requestError{http.StatusBadRequest, "cannot read body: " + err.Error()}
	}
	if len(body) == 0 {
		return request{}, &requestError{http.StatusBadRequest, "empty body: want SRS hook JSON"}
	}
	var b srsBody
	if err := json.Unmarshal(body, &b); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return request{}, &requestError{http.StatusBadRequest, "body is not JSON: " + err.Error()}
		}
		return request{}, &requestError{http.StatusBadRequest, "body is not an SRS hook object: " + err.Error()}
	}
	req := request{
		Action: b.Action, ClientID: string(b.ClientID), IP: b.IP,
		Vhost: b.Vhost, App: b.App, Stream: b.Stream,
		Param: b.Param, TcURL: b.TcURL, StreamID: b.StreamID,
	}
	switch {
	case req.Action == "":
		return request{}, &requestError{http.StatusBadRequest, "body has no action: want SRS hook JSON"}
	case (req.Action == ActionPublish || req.Action == ActionUnpublish) && req.Stream == "":
		return req, &requestError{http.StatusBadRequest, req.Action + " without a stream"}
	}
	return req, nil
}

// write sends the answer with an explicit length, as callback services
// usually do, and flushes so a caller that is gone shows up as an error.
func write(w http.ResponseWriter, ans answer) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(ans.body)))
	w.WriteHeader(ans.status)
	if _, err := io.WriteString(w, ans.body); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// judge is the mode's decision. Live bookkeeping happens here in every
// mode, under the same lock as the conflict check, so two simultaneous
// publishes of one name cannot both win.
func (s *Server) judge(_ context.Context, req request) answer {
	switch req.Action {
	case ActionPublish:
		return s.judgePublish(req)
	case ActionUnpublish:
		s.release(req)
		return allow()
	}
	// Other SRS hooks (on_play, on_connect, ...) are not ours to refuse.
	return allow()
}

func (s *Server) judgePublish(req request) answer {
	key := req.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, live := s.live[key]
	var ans answer
	switch {
	case s.mode == ModeDeny:
		ans = deny("mode deny", "publish denied by rtmpload hook (mode deny)")
	case s.mode == ModeConflict && live:
		detail := fmt.Sprintf("%s already published by client %s", key, owner)
		ans = deny("conflict: "+detail, "stream conflict: "+detail)
	default:
		ans = allow()
		// The first publisher keeps the name: SRS refuses the second as
		// busy and never sends an on_unpublish for it (srs-facts §4).
		if !live {
			s.live[key] = req.ClientID
		}
	}
	if live {
		ans.liveOwner = owner
	}
	return ans
}

// release frees a live stream, but only for its owner: an on_unpublish from
// another client (a duplicate SRS let through) must not free the name.
func (s *Server) release(req request) {
	key := req.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, live := s.live[key]; live && owner == req.ClientID {
		delete(s.live, key)
	}
}
