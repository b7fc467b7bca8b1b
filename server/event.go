package server

import (
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Event kinds: the results stream's words (schema.ServerKind), which the
// report reads back.
const (
	EventPublishRequest = schema.ServerPublishRequest
	EventHook           = schema.ServerHook
	EventReject         = schema.ServerReject
	EventAccept         = schema.ServerAccept
	EventUnpublish      = schema.ServerUnpublish
	// Plays (Protocol says which): a request, refused by a hook
	// (EventPlayReject, Reason as for EventReject), accepted and playing
	// (EventPlay), and its end (EventStop, Reason an End* value).
	EventPlayRequest = schema.ServerPlayRequest
	EventPlayReject  = schema.ServerPlayReject
	EventPlay        = schema.ServerPlay
	EventStop        = schema.ServerStop
)

// Reject reasons (Event.Reason for Kind EventReject). Each is the outcome
// the refused attempt has in a report, which reads the reason back as a
// schema.Outcome; only ReasonServerClosed is none.
const (
	ReasonHookDenied      = string(schema.OutcomeHookDenied)      // HTTP 200/201 naming a non-zero code
	ReasonHookBadAnswer   = string(schema.OutcomeHookBadAnswer)   // HTTP 200/201 in another format: neither 0 nor {"code":0} nor a code
	ReasonHookErrorStatus = string(schema.OutcomeHookErrorStatus) // any other HTTP status
	ReasonHookUnreachable = string(schema.OutcomeHookUnreachable) // connect failed or no HTTP answer
	ReasonHookTimeout     = string(schema.OutcomeHookTimeout)
	ReasonStreamBusy      = string(schema.OutcomeStreamBusy)
	ReasonServerClosed    = "server_closed" // Close interrupted the hook call: the run was ending
)

// Unpublish reasons (Event.Reason for Kind EventUnpublish).
const (
	EndClosed  = "closed"
	EndTimeout = "timeout"
	EndError   = "error"
	// EndTakenOver: Takeover closed it for a newer publisher of its name.
	EndTakenOver = "taken_over"
)

// Event is one observation of the server, delivered to Config.OnEvent.
// Time is when it was observed; for a "hook" event that is when the answer
// (or error) came, so the call started at Time - HookLatency.
type Event struct {
	Time                   time.Time
	Kind                   schema.ServerKind
	ClientID               string
	IP, App, Stream, Param string

	// Kind EventHook, and EventReject by a hook (its refusing call; no
	// HookAction or HookURL). HookBody is cut at 512 bytes.
	HookAction  schema.HookAction
	HookURL     string
	HookStatus  int
	HookBody    string
	HookLatency time.Duration
	HookErr     string

	// Kind EventReject and EventUnpublish.
	Reason string

	// Kind EventUnpublish only.
	BytesIn uint64
	// Kind EventUnpublish: received; kind EventStop: sent to the player.
	VideoMsgs, AudioMsgs uint64

	// Kinds EventPlayRequest, EventPlayReject, EventPlay, EventStop: ProtoRTMP or
	// ProtoHTTPFLV.
	Protocol string
	// Kind EventStop: bytes sent, and messages the player skipped because its
	// queue outgrew QueueLength.
	BytesOut, Skipped uint64
}
