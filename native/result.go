package native

import (
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Phases of an attempt, in order, as Hooks.OnPhase reports them.
const (
	PhaseDial      = "dial"       // TCP connect
	PhaseHandshake = "handshake"  // C0/C1 .. S2/C2
	PhaseConnect   = "connect"    // the connect command until its _result
	PhaseCreate    = "create"     // releaseStream, FCPublish, createStream until its _result
	PhasePublish   = "publish"    // the publish command until onStatus
	PhaseMedia     = "publishing" // NetStream.Publish.Start came: media flows
)

// Ways a server can end an attempt (Failure.What).
const (
	WhatRefused = "refused" // the TCP connect was refused
	WhatStatus  = "status"  // an _error or an onStatus of level error
	WhatClose   = "close"   // the server closed the connection (EOF)
	WhatReset   = "reset"   // the server reset the connection
	WhatSilence = "silence" // no answer within Options.ReplyTimeout
	WhatError   = "error"   // anything else (a bad URL, a malformed message, a local error)
)

// Failure is what the server did to end an attempt.
type Failure struct {
	Phase       string // the phase it was in (Phase*)
	What        string // What*
	Code        string // status: the status code (e.g. NetStream.Publish.BadName)
	Description string // status: the server's description
	Err         string // the local error, for What error
}

func (f *Failure) String() string {
	var s string
	switch f.What {
	case WhatRefused:
		s = schema.NativeRefused
	case WhatStatus:
		s = "server answered " + f.Code
		if f.Description != "" {
			s += " (" + f.Description + ")"
		}
	case WhatClose:
		s = schema.NativeClosed
	case WhatReset:
		s = schema.NativeReset
	case WhatSilence:
		s = "server did not answer"
	default:
		s = f.Err
	}
	return s + " during " + f.Phase
}

// Timeline is when each phase of an attempt ended (zero: never reached).
type Timeline struct {
	Start         time.Time
	Connected     time.Time // TCP connected
	Handshaked    time.Time // S2 read, C2 sent
	ConnectResult time.Time // connect's _result
	PublishSent   time.Time // the publish command written
	PublishStart  time.Time // onStatus NetStream.Publish.Start
	FirstMedia    time.Time // the first media written to the socket
	End           time.Time
}

// Result is how one attempt went.
type Result struct {
	Timeline
	// Stopped: ctx ended it (the schedule's stop), Phase is where it was.
	Stopped bool
	Phase   string
	// Failure is set when the server or the network ended it.
	Failure   *Failure
	BytesSent int64
	// Status is the last onStatus code the server sent (empty: none).
	Status string
}

// Hooks report an attempt's progress as it happens. Nil fields are skipped.
type Hooks struct {
	// OnPhase is called as each phase begins, PhaseMedia once
	// NetStream.Publish.Start came, with the timeline so far.
	OnPhase func(phase string, at time.Time, so Timeline)
	// OnProgress is called every ProgressEvery (default 1 s) while media
	// flows, like ffmpeg's -progress blocks.
	OnProgress    func(Progress)
	ProgressEvery time.Duration
	// Sent, when set, is told each video message as the writer puts it
	// on the wire (its timestamp as sent, passes included), for the
	// latency from publisher to viewer: player.SendTimes implements it.
	Sent SendRecorder
}

// SendRecorder records when each video message of a stream was sent.
type SendRecorder interface {
	Sent(ts uint32, key bool, at time.Time)
}

// Progress is how far a publishing attempt got.
type Progress struct {
	At    time.Time
	Bytes int64         // written to the socket
	Media time.Duration // the clip's time written (passes included)
	Since time.Duration // since NetStream.Publish.Start: Media/Since is the speed
}
