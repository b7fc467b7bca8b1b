package schema

import (
	"fmt"
	"slices"
	"strings"
)

// The typed vocabulary every package shares. Each word is a string type whose
// JSON is the plain string, so results files stay what they were. The words a
// user types (hook mode, clip) check themselves when they are unmarshalled
// from YAML or set from a flag (pflag.Value); the words rtmpload writes
// (outcome, exit class, callback state, hook action) are read back from
// results without a check, so that a newer file's words still load.

// Outcome is what became of one publish attempt (docs/design.md, "Outcomes").
type Outcome string

// Outcomes of a publish attempt.
const (
	OutcomeOK                Outcome = "ok"
	OutcomeServerUnreachable Outcome = "server_unreachable"
	OutcomeHookUnreachable   Outcome = "hook_unreachable"
	OutcomeHookDenied        Outcome = "hook_denied"
	// OutcomeHookBadAnswer: the callback answered 2xx in a format SRS does
	// not take ({"status":"ok"}, "ok"): a misconfiguration, not a no.
	OutcomeHookBadAnswer   Outcome = "hook_bad_answer"
	OutcomeHookErrorStatus Outcome = "hook_error_status"
	OutcomeHookTimeout     Outcome = "hook_timeout"
	OutcomeStreamBusy      Outcome = "stream_busy"
	OutcomeDropped         Outcome = "dropped"
	OutcomeFFmpegError     Outcome = "ffmpeg_error"
	OutcomeRejectedUnknown Outcome = "rejected_unknown"
	// OutcomeDuplicateAccepted is an anomaly, not the outcome of one
	// attempt: two live publishers of one name.
	OutcomeDuplicateAccepted Outcome = "duplicate_accepted"
)

// Outcomes lists every attempt outcome in the order reports show them (the
// anomaly duplicate_accepted is counted apart).
var Outcomes = []Outcome{
	OutcomeOK, OutcomeServerUnreachable, OutcomeHookUnreachable, OutcomeHookDenied,
	OutcomeHookBadAnswer, OutcomeHookErrorStatus, OutcomeHookTimeout, OutcomeStreamBusy, OutcomeDropped,
	OutcomeFFmpegError, OutcomeRejectedUnknown,
}

// ExitClass is how a publisher's ffmpeg ended, as its supervisor saw it.
type ExitClass string

// Exit classes.
const (
	// ClassStopped: rtmpload stopped it and it ended as ffmpeg does on SIGINT
	// (status 255, or 0 after flushing): success for a publisher.
	ClassStopped    ExitClass = "stopped"
	ClassKilled     ExitClass = "killed"      // stopped, the grace ran out and SIGKILL ended it
	ClassExited     ExitClass = "exited"      // status 0 on its own
	ClassFailed     ExitClass = "failed"      // any other end: non-zero status or a signal rtmpload did not send
	ClassSpawnError ExitClass = "spawn_error" // it never ran
)

// CallbackState is the on_publish callback's availability at a moment: the
// built-in hook's own state under its fault schedule, or a probe's finding.
type CallbackState string

// Callback states, in report order.
const (
	StateUp       CallbackState = "up"
	StateDown     CallbackState = "down"     // refusing connections
	StateErroring CallbackState = "erroring" // answering an error status
	StateSlow     CallbackState = "slow"     // answering late
	StateDenying  CallbackState = "denying"  // denying every publish
	// StateMisanswering: answering 2xx in a format SRS does not take
	// ({"status":"ok"}, "ok"): every publish fails, though nobody said no.
	StateMisanswering CallbackState = "misanswering"
	StateUnknown      CallbackState = "unknown" // no availability recorded at that time
)

// States lists the callback states in report order.
var States = []CallbackState{StateUp, StateDown, StateErroring, StateSlow, StateDenying, StateMisanswering, StateUnknown}

// HookAction is the event a callback call is about, in SRS's words
// (nginx-rtmp's publish and publish_done are mapped to them).
type HookAction string

// Hook actions.
const (
	ActionPublish   HookAction = "on_publish"
	ActionUnpublish HookAction = "on_unpublish"
	// ActionPlay and ActionStop are SRS's play hooks (docs/srs-behaviour.md,
	// "Play"); nginx-rtmp's play and play_done map to them.
	ActionPlay HookAction = "on_play"
	ActionStop HookAction = "on_stop"
)

// ServerKind is what one event of the embedded server records
// (ServerEvent.Kind): the server writes these words and the report reads
// them back.
type ServerKind string

// Server event kinds. A results stream holds accept, reject and unpublish.
const (
	ServerPublishRequest ServerKind = "publish_request" // a client asked to publish
	ServerHook           ServerKind = "hook"            // an HTTP callback answered or failed
	ServerReject         ServerKind = "reject"          // the server refused a publish; the reason says why
	ServerAccept         ServerKind = "accept"          // the server accepted a publish
	ServerUnpublish      ServerKind = "unpublish"       // an accepted publisher ended; the reason says how
	ServerPlayRequest    ServerKind = "play_request"    // a client asked to play (RTMP or HTTP-FLV)
	ServerPlayReject     ServerKind = "play_reject"     // an on_play hook refused a play; the reason says why
	ServerPlay           ServerKind = "play"            // a play was accepted and is attached to its stream
	ServerStop           ServerKind = "stop"            // a play ended; the reason says how
)

// HookMode is how the built-in hook judges an on_publish call.
type HookMode string

// Hook modes.
const (
	HookAllow    HookMode = "allow"    // allow every publish
	HookDeny     HookMode = "deny"     // deny every publish
	HookConflict HookMode = "conflict" // deny a publish whose name is already live
)

// HookModes lists the hook modes a scenario or a flag may name.
var HookModes = []HookMode{HookAllow, HookDeny, HookConflict}

// ParseHookMode reads a hook mode; "" is not one.
func ParseHookMode(s string) (HookMode, error) { return parseWord("hook mode", s, HookModes) }

// String returns the mode as written.
func (m HookMode) String() string { return string(m) }

// Set implements pflag.Value.
func (m *HookMode) Set(s string) (err error) { *m, err = ParseHookMode(s); return err }

// Type implements pflag.Value.
func (m *HookMode) Type() string { return "MODE" }

// UnmarshalYAML checks the mode as a scenario file is decoded.
func (m *HookMode) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalWord(unmarshal, m.Set)
}

// Clip names a test clip rtmpload encodes once and publishes with -c copy.
type Clip string

// Clips.
const (
	Clip720p Clip = "testsrc-720p"
	Clip360p Clip = "testsrc-360p"
	// DefaultClip is the clip of a scenario that names none.
	DefaultClip = Clip720p
)

// Clips lists the clips a scenario may name.
var Clips = []Clip{Clip720p, Clip360p}

// ParseClip reads a clip name; "" is not one.
func ParseClip(s string) (Clip, error) { return parseWord("clip", s, Clips) }

// String returns the clip's name.
func (c Clip) String() string { return string(c) }

// Set implements pflag.Value.
func (c *Clip) Set(s string) (err error) { *c, err = ParseClip(s); return err }

// Type implements pflag.Value.
func (c *Clip) Type() string { return "CLIP" }

// UnmarshalYAML checks the clip as a scenario file is decoded.
func (c *Clip) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalWord(unmarshal, c.Set)
}

// parseWord returns s as a T when it is one of valid; its error says what
// was wanted, e.g. `unknown clip "x" (want one of: testsrc-720p, testsrc-360p)`.
func parseWord[T ~string](what, s string, valid []T) (T, error) {
	if slices.Contains(valid, T(s)) {
		return T(s), nil
	}
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown %s %q (want one of: %s)", what, s, strings.Join(names, ", "))
}

func unmarshalWord(unmarshal func(any) error, set func(string) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	return set(s)
}
