package report

import (
	"fmt"
	"strings"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// hookSaw says in a few words what the hook saw of an attempt.
func hookSaw(a *Attempt) string {
	h := a.Hook
	if h == nil {
		return "no on_publish call"
	}
	out := h.Verdict
	if out == "" {
		out = "no answer"
	}
	reason := h.Reason
	if h.Body != nil && hookVerdict(a) == srs.BadAnswer && !strings.Contains(reason, srs.QuoteBody(*h.Body)) {
		// The body is the whole story of a bad answer: show it.
		reason = joinNonEmpty("; ", reason, fmt.Sprintf("answered %d with %s", h.Status, srs.QuoteBody(*h.Body)))
	}
	if reason != "" {
		out += " (" + reason + ")"
	}
	if a.HookCalls > 1 {
		out += ", called more than once"
	}
	return out
}

// joinNonEmpty joins the parts that are not empty.
func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// serverCores is a step's server CPU for a sentence.
func serverCores(c float64) string {
	if c < 0 {
		return "not measured apart"
	}
	return fmt.Sprintf("%.2f cores", c)
}

// sideText says which side of a capacity run ran out.
func sideText(side string) string {
	switch side {
	case schema.SideGenerator:
		return "the generator's limit, not the server's"
	case schema.SideServer:
		return "the server's limit"
	case schema.SideMachine:
		return "the machine's limit (the generator and the server together)"
	case schema.SideOther:
		return "other work on the machine used it, not this run: run it again on a quiet machine"
	}
	return side
}
