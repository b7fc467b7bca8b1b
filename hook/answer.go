package hook

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/rtmpload/rtmpload/srs"
)

// answer is what was chosen to write back, and why.
type answer struct {
	status    int
	ctype     string // "" writes no Content-Type (a relayed answer without one)
	body      string
	verdict   string
	reason    string
	liveOwner string
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
