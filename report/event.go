// Package report defines the results stream of a run (versioned JSON lines),
// turns it into a bounded summary and renders that summary. It imports no
// process, socket or terminal code: a run's own report and `rtmpload report`
// are the same code on the same stream. The stream's event types are package
// schema's.
package report

import (
	"io"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// The results stream's types moved to package schema; these aliases keep
// other branches compiling while they land.
type (
	// Deprecated alias: use schema.Event.
	Event = schema.Event
	// Deprecated alias: use schema.Usage.
	Usage = schema.Usage
	// Deprecated alias: use schema.RunHeader.
	RunHeader = schema.RunHeader
	// Deprecated alias: use schema.ScenarioInfo.
	ScenarioInfo = schema.ScenarioInfo
	// Deprecated alias: use schema.GroupInfo.
	GroupInfo = schema.GroupInfo
	// Deprecated alias: use schema.AttemptEvent.
	AttemptEvent = schema.AttemptEvent
	// Deprecated alias: use schema.HookCall.
	HookCall = schema.HookCall
	// Deprecated alias: use schema.Upstream.
	Upstream = schema.Upstream
	// Deprecated alias: use schema.ServerEvent.
	ServerEvent = schema.ServerEvent
	// Deprecated alias: use schema.StateChange.
	StateChange = schema.StateChange
	// Deprecated alias: use schema.Step.
	Step = schema.Step
	// Deprecated alias: use schema.Snapshot.
	Snapshot = schema.Snapshot
	// Deprecated alias: use schema.SnapStream.
	SnapStream = schema.SnapStream
	// Deprecated alias: use schema.WireConn.
	WireConn = schema.WireConn
	// Deprecated alias: use schema.WireMark.
	WireMark = schema.WireMark
	// Deprecated alias: use schema.Writer.
	Writer = schema.Writer
)

// Deprecated aliases of package schema's constants.
const (
	// Deprecated alias: use schema.TypeRun.
	TypeRun = schema.TypeRun
	// Deprecated alias: use schema.TypeAttempt.
	TypeAttempt = schema.TypeAttempt
	// Deprecated alias: use schema.TypeHook.
	TypeHook = schema.TypeHook
	// Deprecated alias: use schema.TypeServer.
	TypeServer = schema.TypeServer
	// Deprecated alias: use schema.TypeWire.
	TypeWire = schema.TypeWire
	// Deprecated alias: use schema.TypeState.
	TypeState = schema.TypeState
	// Deprecated alias: use schema.TypeSnap.
	TypeSnap = schema.TypeSnap
	// Deprecated alias: use schema.TypeStep.
	TypeStep = schema.TypeStep
	// Deprecated alias: use schema.TypeEnd.
	TypeEnd = schema.TypeEnd
	// Deprecated alias: use schema.PhaseSpawn.
	PhaseSpawn = schema.PhaseSpawn
	// Deprecated alias: use schema.PhasePublishing.
	PhasePublishing = schema.PhasePublishing
	// Deprecated alias: use schema.PhaseExit.
	PhaseExit = schema.PhaseExit
	// Deprecated alias: use schema.PhaseStarved.
	PhaseStarved = schema.PhaseStarved
	// Deprecated alias: use schema.PhaseRecovered.
	PhaseRecovered = schema.PhaseRecovered
	// Deprecated alias: use schema.EndNormal.
	EndNormal = schema.EndNormal
	// Deprecated alias: use schema.EndInterrupted.
	EndInterrupted = schema.EndInterrupted
	// Deprecated alias: use schema.EndError.
	EndError = schema.EndError
	// Deprecated alias: use schema.EndKnee.
	EndKnee = schema.EndKnee
	// Deprecated alias: use schema.Schema.
	Schema = schema.Schema
	// Deprecated alias: use schema.MaxHookBody.
	MaxHookBody = schema.MaxHookBody
	// Deprecated alias: use schema.SideGenerator.
	SideGenerator = schema.SideGenerator
	// Deprecated alias: use schema.SideServer.
	SideServer = schema.SideServer
	// Deprecated alias: use schema.SideMachine.
	SideMachine = schema.SideMachine
	// Deprecated alias: use schema.SideOther.
	SideOther = schema.SideOther
)

// NewWriter returns a Writer on w.
//
// Deprecated: use schema.NewWriter.
func NewWriter(w io.Writer) *Writer { return schema.NewWriter(w) }

// Read decodes a results stream and calls fn for each event.
//
// Deprecated: use schema.Read.
func Read(r io.Reader, fn func(Event) error) error { return schema.Read(r, fn) }

// HookBody returns a call's Body field for an answer.
//
// Deprecated: use schema.HookBody.
func HookBody(body string) (*string, int) { return schema.HookBody(body) }

// Callback states (the hook's availability): schema's.
const (
	// Deprecated alias: use schema.StateUp.
	StateUp = schema.StateUp
	// Deprecated alias: use schema.StateDown.
	StateDown = schema.StateDown
	// Deprecated alias: use schema.StateErroring.
	StateErroring = schema.StateErroring
	// Deprecated alias: use schema.StateSlow.
	StateSlow = schema.StateSlow
	// Deprecated alias: use schema.StateDenying.
	StateDenying = schema.StateDenying
	// Deprecated alias: use schema.StateMisanswering.
	StateMisanswering = schema.StateMisanswering
	// Deprecated alias: use schema.StateUnknown.
	StateUnknown = schema.StateUnknown
)

// States lists the callback states in report order.
//
// Deprecated alias: use schema.States.
var States = schema.States

// HookVerdicts lists the verdicts of hook calls in report order (a call
// canceled before a decision has none).
var HookVerdicts = []string{string(srs.Allow), string(srs.Deny), string(srs.BadAnswer), string(srs.ErrorStatus)}

// callVerdict is how SRS takes the call's answer: judged again by SRS's rule
// (srs.JudgeAnswer) when the whole answer is on record, so that the hook's
// record and the report cannot disagree; else the verdict recorded (nginx
// calls, cut bodies, older streams, calls not answered).
func callVerdict(h *HookCall) srs.Verdict {
	if h.Body != nil && h.Dialect != "nginx" && h.Status != 0 && !h.Canceled && len(*h.Body) == h.BodyBytes {
		return srs.JudgeAnswer(h.Status, []byte(*h.Body)).Verdict
	}
	return srs.Verdict(h.Verdict)
}
