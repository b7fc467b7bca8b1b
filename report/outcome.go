package report

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// SRSHookTimeout is how long SRS waits for an on_publish answer
// (SRS_HTTP_CLIENT_TIMEOUT, docs/srs-behaviour.md, "What SRS accepts as allow").
const SRSHookTimeout = 30 * time.Second

// Ends of an attempt, as known when its ffmpeg exits (Ended). They are the
// result label of rtmpload_attempt_results_total.
const (
	EndedPublished = "published" // published, then ffmpeg ended with status 0 on its own
	EndedStopped   = "stopped"   // published, then rtmpload stopped it, however ffmpeg ended
	EndedRefused   = "refused"   // never published: refused, unreachable, or it never got that far
	EndedDropped   = "dropped"   // published, then ffmpeg ended on its own with a failure
)

// Ended is the one classification of an attempt's exit, used live (progress,
// Prometheus, the capacity stop rules) and in the report (the timeline and
// each attempt's outcome). published says whether it got as far as
// publishing; class and stopped are its exit's. An attempt rtmpload stopped
// after it published ended well whatever ffmpeg's status: SIGINT while it
// still waited for the server may end it with 1 rather than 255, and one
// that outlived the grace was killed. The report's outcome is ok exactly
// when Ended is published or stopped, and dropped when it is dropped.
func Ended(published bool, class schema.ExitClass, stopped bool) string {
	switch {
	case !published:
		return EndedRefused
	case class == schema.ClassStopped || class == schema.ClassKilled || stopped:
		return EndedStopped
	case class == schema.ClassExited:
		return EndedPublished
	}
	return EndedDropped
}

// EndedFailed reports whether an end counts as a failed attempt.
func EndedFailed(end string) bool { return end == EndedRefused || end == EndedDropped }

// Attempt is everything the report knows about one publish attempt, joined
// from the publisher, the hook and the server through the attempt id.
type Attempt struct {
	ID     string `json:"id"`
	Group  string `json:"group"`
	Stream string `json:"stream"`
	Slot   int    `json:"slot"`

	// Process and Outputs: for an output of a fan-out process (tee), the
	// process's first attempt and its number of outputs.
	Process string `json:"process,omitempty"`
	Outputs int    `json:"outputs,omitempty"`

	Spawn      time.Time `json:"spawn"`
	Engine     string    `json:"engine,omitempty"` // schema.EngineNative, or "" for ffmpeg
	Publishing time.Time `json:"publishing,omitzero"`
	Exit       time.Time `json:"exit,omitzero"`

	Class      schema.ExitClass `json:"class,omitempty"`
	ExitCode   int              `json:"exit_code,omitempty"`
	Stopped    bool             `json:"stopped,omitempty"`
	Message    string           `json:"message,omitempty"`
	StderrTail []string         `json:"stderr_tail,omitempty"`

	Hook      *schema.HookCall    `json:"hook,omitempty"`       // its on_publish call, when the hook saw one
	HookCalls int                 `json:"hook_calls,omitempty"` // on_publish calls seen for it
	Server    *schema.ServerEvent `json:"server,omitempty"`     // the server's verdict (embedded server)
	ServerAt  time.Time           `json:"server_at,omitzero"`   // when the server gave it
	Wire      *schema.WireConn    `json:"wire,omitempty"`

	Starved   bool                 `json:"starved,omitempty"`        // fell below real time at some point
	HookState schema.CallbackState `json:"callback_state,omitempty"` // the callback's state over the decisive interval
	// StateFrom and StateTo are the interval HookState was judged over
	// (equal: the hook's own record of the call); StateNote says what in it
	// explains the outcome, or that nothing does.
	StateFrom time.Time `json:"callback_from,omitzero"`
	StateTo   time.Time `json:"callback_to,omitzero"`
	StateNote string    `json:"callback_note,omitempty"`
	// Machine is what strained the load machine as a failed attempt ended
	// (its CPUs saturated, the generator stalled): "" when nothing did, or
	// no samples were recorded.
	Machine  string         `json:"load_machine,omitempty"`
	Outcome  schema.Outcome `json:"outcome"`
	Evidence string         `json:"evidence,omitempty"`
}

// published reports whether the server accepted the publish: the wire saw
// NetStream.Publish.Start, or (without a tap) ffmpeg started its output.
func (a *Attempt) published() bool {
	_, ok := a.Wire.PublishStarted()
	return ok || !a.Publishing.IsZero()
}

// publishedAt is the best known time of the server's acceptance.
func (a *Attempt) publishedAt() time.Time {
	if t, ok := a.Wire.PublishStarted(); ok {
		return t
	}
	return a.Publishing
}

// verdictTime is when the server decided on this attempt: when the hook
// answered if it did, else when ffmpeg gave up.
func (a *Attempt) verdictTime() time.Time {
	if a.Hook != nil && !a.Hook.Answered.IsZero() {
		return a.Hook.Answered
	}
	return a.Exit
}

// liveInterval is when this attempt held its stream name on the server: from
// the hook's allow (the server registers the publisher right after it) or its
// first progress, to its exit.
func (a *Attempt) liveInterval() (from, to time.Time, ok bool) {
	if !a.published() {
		return time.Time{}, time.Time{}, false
	}
	from = a.publishedAt()
	if a.Hook != nil && recordedAllow(a.Hook) && a.Hook.Answered.Before(from) {
		from = a.Hook.Answered
	}
	to = a.Exit
	if to.IsZero() {
		to = time.Unix(1<<40, 0) // never seen to end
	}
	return from, to, true
}

// classify decides an attempt's outcome from all the evidence. liveOther
// tells whether another attempt held the same name at a moment. It is pure:
// the same evidence always gives the same outcome.
func classify(a *Attempt, liveOther func(a *Attempt, at time.Time) *Attempt) (schema.Outcome, string) {
	ev := evidence(a)
	switch {
	case a.Class == "":
		return schema.OutcomeRejectedUnknown, "no exit recorded: the run was cut short" + ev
	case a.Class == schema.ClassSpawnError:
		return schema.OutcomeFFmpegError, "ffmpeg could not be started" + ev
	case a.published():
		if Ended(true, a.Class, a.Stopped) == EndedDropped {
			who := "ffmpeg"
			if a.Engine == schema.EngineNative {
				who = "the native publisher"
			}
			return schema.OutcomeDropped, "published, then " + who + " ended on its own" + ev
		}
		return schema.OutcomeOK, ""
	}

	// Not published: the server refused it, or it never got that far.
	if h := a.Hook; h != nil {
		if o, why, ok := hookFailure(h, hookVerdict(a), "the callback went down before it answered the call: ", ev); ok {
			return o, why
		}
		if callVerdict(h) == srs.Allow {
			if other := liveOther(a, a.verdictTime()); other != nil {
				return schema.OutcomeStreamBusy, fmt.Sprintf("hook allowed, but %s (%s) was publishing %s", other.ID, other.Group, a.Stream) + ev
			}
		}
	}
	if why, ok := handshakeStalled(a.Wire); ok {
		// The server took the TCP connection and never spoke RTMP: it is
		// not serving, whatever ended the wait.
		return schema.OutcomeServerUnreachable, why + ev
	}
	if a.Class == schema.ClassStopped || a.Stopped {
		// Its time was up (hold, run end, churn) while it still waited: not
		// a refusal and not ffmpeg's fault.
		if a.Hook == nil && a.Server == nil && a.Wire == nil && a.Message == "" && !a.Spawn.IsZero() && !a.Exit.IsZero() {
			// Nothing shows it reached a server: a hold shorter than
			// ffmpeg's start-up on a loaded machine ends it this way.
			return schema.OutcomeRejectedUnknown, fmt.Sprintf("stopped by rtmpload %s after its spawn, before anything shows it reached the server (no hook call, no server decision, no wire record, no word from ffmpeg): "+
				"ffmpeg may still have been starting, late on a loaded machine; its hold or the run ended first", a.Exit.Sub(a.Spawn).Round(time.Millisecond)) + ev
		}
		return schema.OutcomeRejectedUnknown, "stopped by rtmpload before its publish started" + ev
	}
	if a.Server != nil && a.Server.Kind == schema.ServerReject {
		if o := serverOutcome(a.Server); o == schema.OutcomeHookBadAnswer {
			var body *string
			if a.Server.HookStatus != 0 {
				body = &a.Server.HookBody
			}
			return o, badAnswer(a.Server.HookStatus, body) + ev
		} else if o != "" {
			return o, "server rejected it: " + a.Server.Reason + ev
		}
	}
	if a.Hook == nil && a.HookState == schema.StateDown && schema.ServerHungUp(a.Message) {
		return schema.OutcomeHookUnreachable, "the callback was down when the server asked it" + ev
	}
	if a.Hook == nil && schema.ConnectionRefused(a.Message) {
		return schema.OutcomeServerUnreachable, "the RTMP port refused the connection" + ev
	}
	if a.Hook == nil && schema.ServerHungUp(a.Message) && a.Server != nil {
		return schema.OutcomeHookUnreachable, "the server received the publish but the hook never saw it" + ev
	}
	if !schema.ServerHungUp(a.Message) && a.Hook == nil {
		return schema.OutcomeFFmpegError, "ffmpeg failed before any hook call" + ev
	}
	return schema.OutcomeRejectedUnknown, "refused, cause not determined" + ev
}

// droppedByDown tells a call that a down window ended without an answer:
// one the hook accepted in the instant the window began and then dropped,
// as the closing listener would have (the hook server's reason "connection
// dropped by fault SPEC"), or one held (a latency, a delay) when the window
// began, whose connection the window cut ("connection cut by fault SPEC").
// The callback was unreachable; the caller did not give up.
func droppedByDown(h *schema.HookCall) bool {
	return h.Canceled && h.Status == 0 &&
		(strings.HasPrefix(h.Reason, "connection dropped by fault ") || strings.HasPrefix(h.Reason, "connection cut by fault "))
}

// handshakeStalled tells whether the tap saw ffmpeg's C0+C1 reach a server
// that never sent S0+S1+S2: the server accepted TCP and then said nothing
// (a hung process, a port forwarded to nothing, something else listening).
func handshakeStalled(w *schema.WireConn) (string, bool) {
	sent, _, ok := w.Mark(schema.WireC0C1)
	if !ok {
		return "", false
	}
	if _, _, answered := w.Mark(schema.WireS0S1S2); answered {
		return "", false
	}
	var end time.Time
	for _, m := range w.Marks {
		if m.At.After(end) {
			end = m.At
		}
	}
	why := "server never answered the RTMP handshake"
	if _, _, closed := w.Mark(schema.WireServerClose); closed {
		why = "server closed the connection during the RTMP handshake"
	}
	if end.After(sent) {
		why += fmt.Sprintf(" (waited %s)", end.Sub(sent).Round(time.Millisecond))
	}
	return why, true
}

// serverOutcome maps the embedded server's rejection (its log) to an
// outcome. A refusal by the hook is judged again by SRS's rule when the
// server recorded the answer, so the server and the report cannot differ.
func serverOutcome(e *schema.ServerEvent) schema.Outcome {
	switch reason := schema.Outcome(e.Reason); reason {
	case schema.OutcomeHookDenied, schema.OutcomeHookBadAnswer, schema.OutcomeHookErrorStatus:
		if e.HookStatus != 0 && len(e.HookBody) < schema.MaxHookBody { // a body that long may be cut
			switch srs.JudgeAnswer(e.HookStatus, []byte(e.HookBody)).Verdict {
			case srs.Deny:
				return schema.OutcomeHookDenied
			case srs.BadAnswer:
				return schema.OutcomeHookBadAnswer
			case srs.ErrorStatus:
				return schema.OutcomeHookErrorStatus
			}
		}
		return reason
	case schema.OutcomeHookUnreachable, schema.OutcomeHookTimeout, schema.OutcomeStreamBusy:
		return reason
	case "hook_invalid": // older streams' reason for a 200 whose body was not JSON
		return schema.OutcomeHookBadAnswer
	}
	return ""
}

// hookVerdict is how SRS took the attempt's hook answer. A stream older
// than the body on record has srs.Deny for every refusing 2xx; the embedded
// server's own reject reason tells a bad answer there.
func hookVerdict(a *Attempt) srs.Verdict {
	v := callVerdict(a.Hook)
	if v == srs.Deny && a.Hook.Body == nil && a.Server != nil && a.Server.Kind == schema.ServerReject &&
		serverOutcome(a.Server) == schema.OutcomeHookBadAnswer {
		return srs.BadAnswer
	}
	return v
}

// badAnswer is the evidence of a hook_bad_answer: the answer, quoted (nil:
// not on record).
func badAnswer(status int, body *string) string {
	if body == nil {
		return fmt.Sprintf("the callback answered %d in a format SRS does not take (body not recorded); %s", status, srs.AllowRule)
	}
	return fmt.Sprintf("the callback answered %d with %s; %s", status, srs.QuoteBody(*body), srs.AllowRule)
}

// evidence is the short trail shown beside a failure.
func evidence(a *Attempt) string {
	var parts []string
	if h := a.Hook; h != nil {
		p := fmt.Sprintf("hook: %s %d in %s", h.Verdict, h.Status, h.Latency().Round(time.Millisecond))
		if h.Canceled {
			p += " (caller gave up)"
		}
		if h.Fault != "" {
			p += " under fault " + h.Fault
		}
		parts = append(parts, p)
	} else {
		parts = append(parts, "hook: no call")
	}
	if a.HookState != "" && a.HookState != schema.StateUnknown {
		parts = append(parts, "callback "+string(a.HookState))
	}
	if a.StateNote != "" {
		parts = append(parts, a.StateNote)
	}
	if a.Server != nil && a.Server.Reason != "" {
		parts = append(parts, "server: "+a.Server.Reason)
	}
	if w := a.Wire; w != nil {
		_, _, sentPublish := w.Mark(schema.WirePublish)
		_, status, gotStatus := w.Mark(schema.WireOnStatus)
		_, how, closed := w.Mark(schema.WireServerClose)
		switch {
		case gotStatus:
			parts = append(parts, "wire: onStatus "+status)
		case sentPublish && closed:
			parts = append(parts, "wire: server closed after the publish command, no onStatus")
		case closed:
			parts = append(parts, "wire: server closed before the publish command ("+how+")")
		case sentPublish:
			parts = append(parts, "wire: publish sent, no answer")
		}
		if w.Unparsed {
			parts = append(parts, "wire: unparsed")
		}
	}
	switch {
	case a.Class != "" && a.Engine == schema.EngineNative:
		// A native attempt's message is what the server did.
		what := cmp.Or(a.Message, string(a.Class))
		parts = append(parts, fmt.Sprintf("native: %s after %s", what, a.Exit.Sub(a.Spawn).Round(time.Millisecond)))
	case a.Class != "":
		parts = append(parts, fmt.Sprintf("ffmpeg: %s exit %d after %s", a.Class, a.ExitCode, a.Exit.Sub(a.Spawn).Round(time.Millisecond)))
	}
	return " [" + strings.Join(parts, "; ") + "]"
}

// hookFailure is the outcome of an attempt (a publish or a play) whose
// callback call refused it or failed, in the same words for publishers and
// viewers: v is the call's verdict, dropped what a call cut by a down window
// is called. ok is false when the call let the attempt through.
func hookFailure(h *schema.HookCall, v srs.Verdict, dropped, ev string) (o schema.Outcome, why string, ok bool) {
	switch v {
	case srs.Deny:
		return schema.OutcomeHookDenied, "hook answered deny" + ev, true
	case srs.BadAnswer:
		return schema.OutcomeHookBadAnswer, badAnswer(h.Status, h.Body) + ev, true
	}
	switch {
	case droppedByDown(h):
		return schema.OutcomeHookUnreachable, dropped + h.Reason + ev, true
	case h.Canceled || h.Latency() >= SRSHookTimeout:
		return schema.OutcomeHookTimeout, fmt.Sprintf("hook took %s (SRS gives up at %s)", h.Latency().Round(time.Millisecond), SRSHookTimeout) + ev, true
	case h.Status != 200 && h.Status != 201:
		return schema.OutcomeHookErrorStatus, fmt.Sprintf("hook answered HTTP %d", h.Status) + ev, true
	}
	return "", "", false
}
