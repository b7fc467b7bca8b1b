package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// maxBody bounds a hook body; SRS's is a few hundred bytes.
// Bounds on what one caller can make the hook hold. SRS's and nginx-rtmp's
// bodies are a few hundred bytes, a long publish token included.
const (
	maxBody  = 64 << 10
	maxField = 4 << 10 // one field of a request (stream, param, tcUrl ...)
	// bodyTimeout bounds reading a body: a server sends it at once, a
	// caller dripping it a byte at a time must not hold a connection.
	bodyTimeout = 10 * time.Second
)

// request is one hook call, whatever dialect it arrived in.
type request struct {
	Dialect                                                  string
	Action                                                   schema.HookAction
	ClientID, IP, Vhost, App, Stream, Param, TcURL, StreamID string
}

// key names the stream in the live bookkeeping. nginx-rtmp has no vhost
// in its calls, so its streams are app/name.
func (r request) key() string {
	if r.Dialect == DialectNginx {
		return r.App + "/" + r.Stream
	}
	vhost := r.Vhost
	if vhost == "" {
		vhost = defaultVhost
	}
	return vhost + "/" + r.App + "/" + r.Stream
}

// answer is what was chosen to write back, and why.
type answer struct {
	status    int
	ctype     string // "" writes no Content-Type (a relayed answer without one)
	body      string
	verdict   string
	reason    string
	liveOwner string
}

// srsBody is SRS's hook body (docs/srs-behaviour.md, "Hook request"). Fields
// rtmpload does not use are left out; unknown fields are ignored because SRS
// versions add some.
type srsBody struct {
	Action   schema.HookAction `json:"action"`
	ClientID flexID            `json:"client_id"`
	IP       string            `json:"ip"`
	Vhost    string            `json:"vhost"`
	App      string            `json:"app"`
	TcURL    string            `json:"tcUrl"`
	Stream   string            `json:"stream"`
	Param    string            `json:"param"`
	StreamID string            `json:"stream_id"`
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

// reply is the body of an SRS-dialect answer (srs.HookAnswer): code 0
// allows, anything else refuses.
func reply(code int, msg string) string {
	r := srs.HookAnswer{Code: code}
	if msg != "" {
		r.Msg = &msg
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // an int and a string always marshal
	}
	return string(b)
}

func allow(dialect string) answer {
	if dialect == DialectNginx {
		// nginx-rtmp takes any 2xx; it ignores the body.
		return answer{status: http.StatusOK, ctype: "text/plain; charset=utf-8", verdict: VerdictAllow}
	}
	return answer{status: http.StatusOK, ctype: "application/json", body: reply(0, ""), verdict: VerdictAllow}
}

// deny refuses the way callback services do: for SRS HTTP 200 with a
// non-zero code, for nginx-rtmp 403.
func deny(dialect, reason, msg string) answer {
	if dialect == DialectNginx {
		return answer{status: http.StatusForbidden, ctype: "text/plain; charset=utf-8", body: msg + "\n", verdict: VerdictDeny, reason: reason}
	}
	return answer{status: http.StatusOK, ctype: "application/json", body: reply(1, msg), verdict: VerdictDeny, reason: reason}
}

// requestError is a call that is not a hook request.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func failure(dialect string, err *requestError) answer {
	if dialect == DialectNginx {
		return answer{status: err.status, ctype: "text/plain; charset=utf-8", body: err.msg + "\n", verdict: VerdictError, reason: err.msg}
	}
	return answer{status: err.status, ctype: "application/json", body: reply(err.status, err.msg), verdict: VerdictError, reason: err.msg}
}

// Allows reports whether the server speaking dialect takes an answer as allowing
// the publish: SRS's rule (srs.JudgeAnswer) or nginx-rtmp's any 2xx
// (docs/srs-behaviour.md, "nginx-rtmp").
func Allows(dialect string, status int, body []byte) bool {
	return verdictOf(dialect, status, string(body)) == VerdictAllow
}

// verdictOf names how the calling server takes an answer we did not
// choose ourselves (a fault's or the upstream's).
func verdictOf(dialect string, status int, body string) string {
	if dialect != DialectNginx {
		return string(srs.JudgeAnswer(status, []byte(body)).Verdict)
	}
	switch {
	case status >= 200 && status < 300:
		return VerdictAllow
	case status == http.StatusForbidden:
		return VerdictDeny
	}
	return VerdictError
}

// serve answers one hook call: read it, find the fault in effect, wait
// out the latency, decide, write, record.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c := s.arrive()
	body, readErr := s.readBody(w, r)
	c.Dialect = dialectOf(r)
	req, rerr := readRequest(c.Dialect, r.Method, body, readErr)
	c.setRequest(req)
	f := s.sched.faultNow()
	if f != nil {
		c.Fault = f.Spec
	}
	s.hold(r.Context(), &c, f, readErr)

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
// (nil when none is on), and aborts the call if it cannot be answered.
func (s *Server) hold(ctx context.Context, c *Call, f *Fault, readErr error) {
	var tooLarge *http.MaxBytesError
	if readErr != nil && !errors.As(readErr, &tooLarge) {
		// Cut off (the body timeout) or gone: no answer can reach it.
		s.abort(c, "body not read: "+readErr.Error())
	}
	if f != nil && f.Kind == FaultDown {
		// Accepted in the instant before the down window closed the
		// listener: drop it as the closing would have.
		s.abort(c, "connection dropped by fault "+f.Spec)
	}
	wait := s.latency
	if f != nil && f.Kind == FaultDelay {
		wait = f.Delay
	}
	if err := sleep(ctx, wait); err != nil {
		s.abort(c, s.cancelReason(c.Arrived))
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
		s.abort(c, s.cancelReason(c.Arrived))
	}
	ans.verdict = verdictOf(c.Dialect, ans.status, ans.body)
	if ans.verdict != VerdictAllow && ans.reason == "" {
		ans.reason = "upstream " + refusal(ans.verdict, ans.status, ans.body)
	}
	return ans
}

// dialectOf tells nginx-rtmp's form-encoded calls from SRS's JSON ones.
func dialectOf(r *http.Request) string {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		return DialectNginx
	}
	return DialectSRS
}

// faultAnswer is the answer a fault window gives instead of the mode's or
// the upstream's. The upstream is not asked at all: a real service that
// saw an on_publish we then refused would count a stream that never went
// live.
func faultAnswer(dialect string, f Fault) *answer {
	const text = "text/plain; charset=utf-8"
	var a answer
	switch f.Kind {
	case FaultStatus:
		a = answer{status: f.Status, ctype: text, body: "rtmpload hook fault " + f.Spec + "\n"}
	case FaultDeny:
		a = deny(dialect, "", "fault deny")
	case FaultGarbage:
		a = answer{status: http.StatusOK, ctype: text, body: "OK"}
	}
	a.verdict = verdictOf(dialect, a.status, a.body)
	a.reason = "fault " + f.Spec
	switch {
	case f.Kind == FaultGarbage && a.verdict == VerdictAllow:
		a.reason += ": a 200 with junk, which nginx-rtmp takes as allow"
	case a.verdict == VerdictBadAnswer:
		a.reason += ": " + refusal(a.verdict, a.status, a.body)
	}
	return &a
}

// refusal says why the calling server refuses an answer it does not take.
func refusal(verdict string, status int, body string) string {
	if verdict == VerdictBadAnswer {
		return fmt.Sprintf("answered %d with %s; %s", status, srs.QuoteBody(body), srs.AllowRule)
	}
	return fmt.Sprintf("answered HTTP %d", status)
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

func (s *Server) cancelReason(arrived time.Time) string {
	if s.closing.Err() != nil {
		return "hook server closed before answering"
	}
	if f := s.sched.faultScheduled(); f != nil && (f.Kind == FaultDown || f.Kind == FaultFlap) {
		return "connection cut by fault " + f.Spec
	}
	return fmt.Sprintf("caller went away after %s", s.now().Sub(arrived).Round(time.Millisecond))
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// readSRS parses an SRS hook call.
// readRequest parses a hook request in its dialect and bounds its fields.
func readRequest(dialect, method string, body []byte, readErr error) (request, *requestError) {
	var req request
	var rerr *requestError
	if dialect == DialectNginx {
		req, rerr = readNginx(method, body, readErr)
	} else {
		req, rerr = readSRS(method, body, readErr)
	}
	if rerr != nil {
		return req, rerr
	}
	for name, v := range map[string]string{
		"action": string(req.Action), "client_id": req.ClientID, "ip": req.IP, "vhost": req.Vhost, "app": req.App,
		"stream": req.Stream, "param": req.Param, "tcUrl": req.TcURL, "stream_id": req.StreamID,
	} {
		if len(v) > maxField {
			return request{Dialect: req.Dialect}, &requestError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("field %s is %d bytes: no server sends more than %d", name, len(v), maxField)}
		}
	}
	return req, nil
}

func readSRS(method string, body []byte, readErr error) (request, *requestError) {
	if rerr := checkRead(method, readErr); rerr != nil {
		return request{}, rerr
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
		Dialect: DialectSRS, Action: b.Action, ClientID: string(b.ClientID), IP: b.IP,
		Vhost: b.Vhost, App: b.App, Stream: b.Stream,
		Param: b.Param, TcURL: b.TcURL, StreamID: b.StreamID,
	}
	switch {
	case req.Action == "":
		return request{}, &requestError{http.StatusBadRequest, "body has no action: want SRS hook JSON"}
	case (req.Action == schema.ActionPublish || req.Action == schema.ActionUnpublish) && req.Stream == "":
		return req, &requestError{http.StatusBadRequest, string(req.Action) + " without a stream"}
	}
	return req, nil
}

func checkRead(method string, err error) *requestError {
	if method != http.MethodPost {
		return &requestError{http.StatusMethodNotAllowed, "method " + method + " not allowed: hooks are POST"}
	}
	if err != nil {
		return &requestError{http.StatusBadRequest, "cannot read body: " + err.Error()}
	}
	return nil
}

// write sends the answer with an explicit length, as callback services
// usually do, and flushes so a caller that is gone shows up as an error.
func write(w http.ResponseWriter, ans answer) error {
	h := w.Header()
	if ans.ctype != "" {
		h.Set("Content-Type", ans.ctype)
	} else {
		h["Content-Type"] = nil // relay "none" as none: no sniffing
	}
	h.Set("Content-Length", strconv.Itoa(len(ans.body)))
	w.WriteHeader(ans.status)
	if _, err := io.WriteString(w, ans.body); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

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
	// Other hooks (on_play, on_connect, ...) are not ours to refuse.
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
