package report

import (
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// HookVerdicts lists the verdicts of hook calls in report order (a call
// canceled before a decision has none).
var HookVerdicts = []string{string(srs.Allow), string(srs.Deny), string(srs.BadAnswer), string(srs.ErrorStatus)}

// callVerdict is how SRS takes the call's answer: judged again by SRS's rule
// (srs.JudgeAnswer) when the whole answer is on record, so that the hook's
// record and the report cannot disagree; else the verdict recorded (nginx
// calls, cut bodies, older streams, calls not answered).
func callVerdict(h *schema.HookCall) srs.Verdict {
	if h.Body != nil && h.Dialect != schema.DialectNginx && h.Status != 0 && !h.Canceled && len(*h.Body) == h.BodyBytes {
		return srs.JudgeAnswer(h.Status, []byte(*h.Body)).Verdict
	}
	return srs.Verdict(h.Verdict)
}

// recordedAllow reports whether the hook recorded the call as allowed (its
// verdict is srs.Verdict's word), whatever SRS's rule says of the answer.
func recordedAllow(h *schema.HookCall) bool { return srs.Verdict(h.Verdict) == srs.Allow }
