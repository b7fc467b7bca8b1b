package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

const ioError = "rtmp://x/live/NAME: Input/output error"

// hookWithBody adds an on_publish call whose answer is on record, as a run
// writes it since the hook keeps the body.
func (s *stream) hookWithBody(attempt, name string, arrived, answered, status int, verdict, dialect, body string) *schema.HookCall {
	h := &schema.HookCall{
		Action: "on_publish", Attempt: attempt, Stream: name, Arrived: at(arrived), Answered: at(answered),
		Status: status, Verdict: verdict, Dialect: dialect,
	}
	h.Body, h.BodyBytes = schema.HookBody(body)
	s.evs = append(s.evs, schema.Event{Type: schema.TypeHook, Time: at(answered), Hook: h})
	return h
}

func (s *stream) reject(attempt string, reason schema.Outcome, status int, body string) {
	s.evs = append(s.evs, schema.Event{Type: schema.TypeServer, Time: at(0), Server: &schema.ServerEvent{
		Kind: "reject", Attempt: attempt, Reason: string(reason), HookStatus: status, HookBody: body,
	}})
}

// A 2xx in another format is hook_bad_answer with the body quoted; a
// deliberate {"code":1} stays hook_denied. The verdict is SRS's rule on
// the recorded answer, whatever verdict the record carries.
func TestClassifyBadAnswer(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 8})
	// 1: SRS with the built-in hook: no server event, the hook's record only.
	s.attempt("r1-1", "cams", "a", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.hookWithBody("r1-1", "a", 300, 301, 200, "bad_answer", "srs", `{"status":"ok"}`)
	// 2: a record whose verdict disagrees with its own body (an older
	// hook's "deny"): the rule on the body decides.
	s.attempt("r1-2", "cams", "b", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.hookWithBody("r1-2", "b", 300, 301, 200, "deny", "", "OK")
	// 3: a deliberate deny.
	s.attempt("r1-3", "cams", "c", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.hookWithBody("r1-3", "c", 300, 301, 200, "deny", "srs", `{"code":1}`)
	// 4: the embedded server with an external callback: only the server saw
	// the answer.
	s.attempt("r1-4", "cams", "d", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.reject("r1-4", schema.OutcomeHookBadAnswer, 200, "")
	// 5: nginx-rtmp takes any 2xx: "OK" is an allow there.
	s.attempt("r1-5", "cams", "e", 0, 400, 9000, schema.ClassStopped, 255, "")
	s.hookWithBody("r1-5", "e", 300, 301, 200, "allow", "nginx", "OK")
	// 6: a body longer than the record: the verdict recorded stands.
	s.attempt("r1-6", "cams", "f", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.hookWithBody("r1-6", "f", 300, 301, 200, "deny", "srs", `{"code":1,"msg":"`+strings.Repeat("x", 600)+`"}`)
	// 7: a body that SRS refuses though it looks like an allow.
	s.attempt("r1-7", "cams", "g", 0, -1, 700, schema.ClassFailed, 1, ioError)
	s.hookWithBody("r1-7", "g", 300, 301, 200, "bad_answer", "srs", "0\n")
	// 8: an allow: published.
	s.attempt("r1-8", "cams", "h", 0, 400, 9000, schema.ClassStopped, 255, "")
	s.hookWithBody("r1-8", "h", 300, 301, 201, "allow", "srs", `{"code":0}`)
	s.end(10000, schema.EndNormal)
	sum := s.summary(t)

	want := map[string]struct {
		outcome  schema.Outcome
		evidence string
	}{
		"r1-1": {schema.OutcomeHookBadAnswer, "the callback answered 200 with `{\"status\":\"ok\"}`; SRS allows only 0 or {\"code\":0}"},
		"r1-2": {schema.OutcomeHookBadAnswer, "answered 200 with `OK`"},
		"r1-3": {schema.OutcomeHookDenied, "hook answered deny"},
		"r1-4": {schema.OutcomeHookBadAnswer, "the callback answered 200 with an empty body; SRS allows only"},
		"r1-6": {schema.OutcomeHookDenied, "hook answered deny"},
		"r1-7": {schema.OutcomeHookBadAnswer, `answered 200 with "0\n"`},
	}
	got := make(map[string]Failure)
	for _, f := range sum.Failures {
		got[f.ID] = f
	}
	for id, w := range want {
		if f := got[id]; f.Outcome != w.outcome || !strings.Contains(f.Evidence, w.evidence) {
			t.Errorf("%s: %s %q, want %s with %q", id, f.Outcome, f.Evidence, w.outcome, w.evidence)
		}
	}
	if sum.Outcomes[schema.OutcomeOK] != 2 || sum.Outcomes[schema.OutcomeHookBadAnswer] != 4 || sum.Outcomes[schema.OutcomeHookDenied] != 2 {
		t.Errorf("outcomes %v", sum.Outcomes)
	}
}

// A bad-answer window: the callback is "misanswering", and every format
// shows the outcome, the quoted body and the state.
func TestBadAnswerInEveryFormat(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 2})
	state := func(ms int, st schema.CallbackState, fault string) {
		s.evs = append(s.evs, schema.Event{Type: schema.TypeState, Time: at(ms), State: &schema.StateChange{Source: "hook", State: st, Fault: fault}})
	}
	state(0, schema.StateUp, "")
	s.attempt("r1-1", "cams", "a", 100, 400, 9000, schema.ClassStopped, 255, "")
	s.hookWithBody("r1-1", "a", 300, 301, 200, "allow", "srs", `{"code":0}`)
	state(1000, schema.StateMisanswering, "garbage")
	s.attempt("r1-2", "cams", "b", 1100, -1, 1700, schema.ClassFailed, 1, ioError)
	h := s.hookWithBody("r1-2", "b", 1300, 1301, 200, "bad_answer", "srs", `{"status":"ok"}`)
	h.Fault = "garbage"
	state(2000, schema.StateUp, "")
	s.end(10000, schema.EndNormal)
	sum := s.summary(t)
	if sum.ByState[schema.OutcomeHookBadAnswer][schema.StateMisanswering] != 1 || sum.Hook.Verdicts["bad_answer"] != 1 {
		t.Fatalf("by state %v, verdicts %v", sum.ByState, sum.Hook.Verdicts)
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		"table":    func(b *bytes.Buffer) error { return Table(b, sum) },
		"json":     func(b *bytes.Buffer) error { return JSON(b, sum) },
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, sum, Extras{}) },
		"html":     func(b *bytes.Buffer) error { return HTML(b, sum, Extras{}) },
		"junit": func(b *bytes.Buffer) error {
			// JUnit lists the evidence under a group's failed threshold.
			return JUnit(b, sum, Extras{Thresholds: []ThresholdResult{{Expr: "count(hook_bad_answer){group=cams} == 0",
				Group: "cams", Actual: "1", Limit: "0", Reason: "is 1"}}})
		},
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		wants := []string{string(schema.OutcomeHookBadAnswer), "status"}
		if name != "junit" { // JUnit has no availability table
			wants = append(wants, string(schema.StateMisanswering))
		}
		if name != "table" { // the table's failures show what the hook saw, not the evidence
			wants = append(wants, "SRS allows only 0 or")
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, out)
			}
		}
	}
}

// The proxy's view: the user's callback answered {"status":"ok"}; the
// summary counts it as a bad answer and keeps the body.
func TestUpstreamBadAnswer(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 1})
	s.attempt("r1-1", "cams", "a", 0, -1, 700, schema.ClassFailed, 1, ioError)
	h := s.hookWithBody("r1-1", "a", 300, 310, 200, "bad_answer", "srs", `{"status":"ok"}`)
	h.Upstream = &schema.Upstream{Status: 200, Latency: 9e6, Body: `{"status":"ok"}`}
	h.Reason = "upstream answered 200 with `{\"status\":\"ok\"}`; SRS allows only 0 or {\"code\":0}"
	s.end(1000, schema.EndNormal)
	sum := s.summary(t)
	u := sum.Hook.Upstream
	if u == nil || u.BadAnswers != 1 || u.BadAnswerBody != `{"status":"ok"}` || u.Allowed != 0 {
		t.Fatalf("upstream summary %+v", u)
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		"table":    func(b *bytes.Buffer) error { return Table(b, sum) },
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, sum, Extras{}) },
		"html":     func(b *bytes.Buffer) error { return HTML(b, sum, Extras{}) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "1 in a format SRS does not take") {
			t.Errorf("%s does not say the proxied service answered in another format:\n%s", name, b.String())
		}
	}
}
