package hook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Fault kinds of the callback's fault schedule, as a scenario's hook.faults
// and `rtmpload hook --fault` write them (docs/design.md, "Scenario format").
const (
	FaultDown    = "down"    // the hook's listener is closed: connection refused
	FaultStatus  = "status"  // status:N, an HTTP error status such as 500
	FaultDeny    = "deny"    // {"code":1}
	FaultDelay   = "delay"   // delay:D, answer after D (past 30 s SRS gives up)
	FaultGarbage = "garbage" // a 200 whose body is not SRS's allow
	FaultFlap    = "flap"    // flap:P, down and up in turns of P
)

// Fault is one window of the callback's fault schedule, over the time since
// Arm.
type Fault struct {
	At     time.Duration // start of the window
	For    time.Duration // length of the window
	Kind   string        // one of the Fault* kinds
	Status int           // for status:N
	Delay  time.Duration // for delay:D
	Period time.Duration // for flap:P
	Spec   string        // as written, e.g. "status:500"

	// Action is the side the window shapes: FaultPublish (on_publish and
	// on_unpublish), FaultPlay (on_play and on_stop) or "" for every call.
	// A one-sided down cannot close the listener the other side shares:
	// it drops that side's calls without an answer instead, which SRS
	// fails exactly as a refused connection (docs/srs-behaviour.md, "A
	// fault on one side").
	Action string
}

// Sides a fault window may target (Fault.Action).
const (
	FaultPublish = "publish"
	FaultPlay    = "play"
)

// ParseFaultAction checks a fault's action as written: publish, play, or
// "" for every call.
func ParseFaultAction(a string) (string, error) {
	switch a {
	case "", FaultPublish, FaultPlay:
		return a, nil
	}
	return "", fmt.Errorf("unknown fault action %q (want publish or play, or leave it out for every call)", a)
}

// sideOf is the side of the fault schedule a call of action a meets:
// on_play and on_stop are the play side, every other call (on_publish,
// on_unpublish, an unreadable body) the publish side.
func sideOf(a schema.HookAction) string {
	if a == schema.ActionPlay || a == schema.ActionStop {
		return FaultPlay
	}
	return FaultPublish
}

// applies tells whether f shapes the calls of side.
func (f *Fault) applies(side string) bool { return f.Action == "" || f.Action == side }

// ParseFault reads a fault kind as written: down, deny, garbage, status:N,
// delay:D or flap:P. The window (At, For) is the caller's to set.
func ParseFault(spec string) (Fault, error) {
	name, arg, hasArg := strings.Cut(spec, ":")
	f := Fault{Kind: name, Spec: spec}
	switch name {
	case FaultDown, FaultDeny, FaultGarbage:
		if hasArg {
			return f, fmt.Errorf("fault %q takes no argument", name)
		}
	case FaultStatus:
		n, err := strconv.Atoi(arg)
		if err != nil || n < 100 || n > 599 || n == 200 || n == 201 {
			return f, fmt.Errorf("fault %q: want status:N with N an HTTP status other than 200 and 201, such as status:500", spec)
		}
		f.Status = n
	case FaultDelay, FaultFlap:
		// A duration with a unit ("2s", "250ms"): time.ParseDuration refuses
		// a bare number other than 0, and 0 is refused below.
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return f, fmt.Errorf("fault %q: want %s:D with D a duration greater than 0, such as %s:2s", spec, name, name)
		}
		if name == FaultDelay {
			f.Delay = d
		} else {
			f.Period = d
		}
	default:
		return f, fmt.Errorf("unknown fault %q (want down, deny, garbage, status:N, delay:D or flap:P)", spec)
	}
	return f, nil
}

// checkFault checks a fault built in code, which need not have come through
// ParseFault.
func checkFault(f Fault) error {
	switch {
	case f.At < 0 || f.For <= 0:
		return errors.New("want at >= 0 and for > 0")
	case f.Kind == FaultStatus && (f.Status < 100 || f.Status > 599):
		return fmt.Errorf("status %d is not an HTTP status", f.Status)
	case f.Kind == FaultDelay && f.Delay <= 0:
		return errors.New("delay must be greater than 0")
	case f.Kind == FaultFlap && f.Period <= 0:
		return errors.New("flap period must be greater than 0")
	}
	if _, err := ParseFaultAction(f.Action); err != nil {
		return err
	}
	switch f.Kind {
	case FaultDown, FaultStatus, FaultDeny, FaultDelay, FaultGarbage, FaultFlap:
		return nil
	}
	return fmt.Errorf("unknown kind %q", f.Kind)
}

// describe is the detail of a state change that f puts the callback in.
func describe(f Fault, st schema.CallbackState) string {
	switch {
	case st == schema.StateDown && f.Action != "":
		if f.Action == FaultPlay {
			return "on_play and on_stop calls dropped without an answer"
		}
		return "on_publish and on_unpublish calls dropped without an answer"
	case st == schema.StateDown:
		return "listener closed: connections refused"
	case f.Kind == FaultFlap:
		return "flap: up for " + f.Period.String()
	case f.Kind == FaultStatus:
		return fmt.Sprintf("answering HTTP %d", f.Status)
	case f.Kind == FaultGarbage:
		return "answering 200 with a body that is not SRS's allow"
	case f.Kind == FaultDelay:
		return "answering after " + f.Delay.String()
	case f.Kind == FaultDeny:
		if f.Action == FaultPlay {
			return "denying every play"
		}
		return "denying every publish"
	}
	return ""
}
