package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Fault kinds of the hook's fault schedule, a scenario's hook.faults
// (docs/design.md, "Scenario format").
const (
	FaultDown    = "down"    // the hook's listener is closed: connection refused
	FaultStatus  = "status"  // status:N, an HTTP error status such as 500
	FaultDeny    = "deny"    // {"code":1}
	FaultDelay   = "delay"   // delay:D, answer after D (past 30 s SRS gives up)
	FaultGarbage = "garbage" // a 200 whose body is not SRS's allow
	FaultFlap    = "flap"    // flap:P, down and up in turns of P
)

// Fault is one window of the hook's fault schedule, over the run's elapsed time.
type Fault struct {
	At     time.Duration // start of the window
	For    time.Duration // length of the window
	Kind   string        // one of the Fault* kinds
	Status int           // for status:N
	Delay  time.Duration // for delay:D
	Period time.Duration // for flap:P
	Spec   string        // as written, e.g. "status:500"
}

// ParseFault reads a fault kind as written in a scenario: down, deny, garbage, status:N,
// delay:D or flap:P.
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
		d, err := ParseDuration(arg)
		if err != nil || d <= 0 {
			return f, fmt.Errorf("fault %q: want %s:D with D a duration greater than 0, such as %s:2s", spec, name, name)
		}
		if name == FaultDelay {
			f.Delay = time.Duration(d)
		} else {
			f.Period = time.Duration(d)
		}
	default:
		return f, fmt.Errorf("unknown fault %q (want down, deny, garbage, status:N, delay:D or flap:P)", spec)
	}
	return f, nil
}
