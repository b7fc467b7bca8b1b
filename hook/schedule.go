package hook

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// StateChange is one change of the callback's availability.
type StateChange struct {
	At     time.Time            `json:"at"`
	State  schema.CallbackState `json:"state"`
	Fault  string               `json:"fault,omitempty"` // Spec of the window in effect, "" if none
	Detail string               `json:"detail,omitempty"`
	// Action is the side the change is about (FaultPublish or FaultPlay)
	// when a window of the schedule targets one side, and then each side
	// reports its own changes; "" when every window shapes every call and
	// one state holds for both.
	Action string `json:"action,omitempty"`
}

// sides are the two sides of a schedule, in the order of its per-side
// fields.
var sides = [2]string{FaultPublish, FaultPlay}

func sideIndex(side string) int {
	if side == FaultPlay {
		return 1
	}
	return 0
}

// relisten bounds the retries when a down window ends and the port is
// momentarily busy (a connection racing the close).
const (
	relistenTries = 20
	relistenPause = 25 * time.Millisecond
)

// clock is the time a fault schedule runs on: the wall clock, or in tests
// a fake one that steps from edge to edge, so that a schedule's windows
// hold on a loaded machine and take no real time.
type clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// schedule is the fault schedule of one Server.
type schedule struct {
	faults  []Fault
	onState func(StateChange)
	clk     clock
	// sided: some window targets one side, so the two sides' states are
	// tracked and reported apart (StateChange.Action).
	sided bool

	// mu serializes Arm, window edges and disarm, so changes are applied
	// and reported one at a time and in order.
	mu   sync.Mutex
	gen  int         // bumped by Arm and disarm: a timer of an older generation does nothing
	stop func() bool // stops the timer of the next edge; nil: none

	// cur guards what calls and State read.
	cur   sync.Mutex
	armed bool
	epoch time.Time
	// By side (sides): the state applied last, its window's Spec, and
	// applied, the fault of that state (nil: none, or the up half of a
	// flap): what shapes a call, so that a call and the state reported at
	// its arrival agree even when a timer applies an edge late.
	state   [2]schema.CallbackState
	fault   [2]string
	applied [2]*Fault
}

func newSchedule(faults []Fault, onState func(StateChange), clk clock) (*schedule, error) {
	fs := make([]Fault, len(faults))
	sided := false
	for i, f := range faults {
		sided = sided || f.Action != ""
		if err := checkFault(f); err != nil {
			return nil, fmt.Errorf("hook: fault %d (%s): %w", i+1, f.Spec, err)
		}
		if f.Spec == "" {
			f.Spec = f.Kind
		}
		fs[i] = f
	}
	if clk == nil {
		clk = wallClock{}
	}
	up := schema.StateUp
	return &schedule{faults: fs, onState: onState, clk: clk, sided: sided, state: [2]schema.CallbackState{up, up}}, nil
}

// at returns the window in effect for the calls of side d after the epoch
// (-1 if none) and the state it puts that side in.
func (sc *schedule) at(d time.Duration, side string) (int, schema.CallbackState) {
	for i, f := range sc.faults {
		if d < f.At || d >= f.At+f.For || !f.applies(side) {
			continue
		}
		switch f.Kind {
		case FaultDown:
			return i, schema.StateDown
		case FaultFlap:
			if (d-f.At)/f.Period%2 == 0 {
				return i, schema.StateDown
			}
			return i, schema.StateUp
		case FaultDelay:
			return i, schema.StateSlow
		case FaultDeny:
			return i, schema.StateDenying
		case FaultGarbage:
			return i, schema.StateMisanswering
		default: // status
			return i, schema.StateErroring
		}
	}
	return -1, schema.StateUp
}

// next returns the first window edge (or flap turn) after d.
func (sc *schedule) next(d time.Duration) (time.Duration, bool) {
	var best time.Duration
	found := false
	consider := func(e time.Duration) {
		if e > d && (!found || e < best) {
			best, found = e, true
		}
	}
	for _, f := range sc.faults {
		end := f.At + f.For
		consider(f.At)
		consider(end)
		if f.Kind == FaultFlap && d >= f.At && d < end {
			if turn := f.At + ((d-f.At)/f.Period+1)*f.Period; turn < end {
				consider(turn)
			}
		}
	}
	return best, found
}

// faultNow is the fault that shapes a call of side arriving now, nil if
// none (not armed, no window, or the up half of a flap), and whether it
// holds that side down: the fault of the state last applied, not the
// schedule's at this instant. A window's edge takes effect when its timer
// applies it (for down, when the listener closed), and that is the time
// the reported state change carries.
func (sc *schedule) faultNow(side string) (*Fault, bool) {
	sc.cur.Lock()
	defer sc.cur.Unlock()
	if !sc.armed {
		return nil, false
	}
	k := sideIndex(side)
	return sc.applied[k], sc.applied[k] != nil && sc.state[k] == schema.StateDown
}

// faultScheduled is the fault the schedule puts on side at this instant,
// nil if none: what cut a call in flight at a down edge, which the timer
// applying the edge reports only once the listener is closed.
func (sc *schedule) faultScheduled(side string) *Fault {
	sc.cur.Lock()
	armed, epoch := sc.armed, sc.epoch
	sc.cur.Unlock()
	if !armed {
		return nil
	}
	i, st := sc.at(sc.clk.Now().Sub(epoch), side)
	if i < 0 || st == schema.StateUp {
		return nil
	}
	return &sc.faults[i]
}

// current is the state of side k last applied and reported.
func (sc *schedule) current(k int) (state schema.CallbackState, fault string) {
	sc.cur.Lock()
	defer sc.cur.Unlock()
	return sc.state[k], sc.fault[k]
}

// disarm stops the schedule; an edge being applied finishes first.
func (sc *schedule) disarm() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	if sc.stop != nil {
		sc.stop()
	}
}

// Arm starts the fault schedule with its windows counted from epoch,
// reports the state at once through OnState, and then every change when it
// happens. Arming again restarts the schedule from the new epoch. OnState
// runs while the schedule is held: it must not call Arm or Close.
func (s *Server) Arm(epoch time.Time) {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	s.lnMu.Lock()
	closed := s.closed
	s.lnMu.Unlock()
	if closed {
		return
	}
	sc.gen++
	if sc.stop != nil {
		sc.stop()
	}
	sc.cur.Lock()
	sc.armed, sc.epoch = true, epoch
	sc.cur.Unlock()
	now := sc.clk.Now()
	d := now.Sub(epoch)
	s.apply(d, now, true)
	s.scheduleAfter(sc.gen, epoch, d)
}

// State is the callback's availability to publishers now (the publish
// side's, which is every call's unless a window targets one side): "up"
// until Arm.
func (s *Server) State() schema.CallbackState {
	st, _ := s.sched.current(0)
	return st
}

// scheduleAfter sets the timer for the first edge after d; sc.mu is held.
func (s *Server) scheduleAfter(gen int, epoch time.Time, d time.Duration) {
	sc := s.sched
	e, ok := sc.next(d)
	if !ok {
		return
	}
	sc.stop = sc.clk.AfterFunc(epoch.Add(e).Sub(sc.clk.Now()), func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.gen != gen {
			return
		}
		// Judged at the edge itself, not at the timer's late wake-up, so
		// the state and its time are exactly the schedule's (apply moves
		// the time of a listener change to when it really happened).
		s.apply(e, epoch.Add(e), false)
		s.scheduleAfter(gen, epoch, e)
	})
}

// apply puts the server in the state of d after the epoch and reports it
// (always when force, else only when it changed); sc.mu is held. The
// listener closes only when both sides are down: a one-sided down drops
// its side's calls in serve instead.
func (s *Server) apply(d time.Duration, at time.Time, force bool) {
	sc := s.sched
	var changes [2]StateChange
	var win [2]int
	var want [2]schema.CallbackState
	for k, side := range sides {
		i, st := sc.at(d, side)
		win[k], want[k] = i, st
		changes[k] = StateChange{At: at, State: st}
		if i >= 0 {
			changes[k].Fault = sc.faults[i].Spec
			changes[k].Detail = describe(sc.faults[i], st)
		}
		if sc.sided {
			changes[k].Action = side
		}
	}
	s.lnMu.Lock()
	wasListening := s.ln != nil
	s.lnMu.Unlock()
	if want[0] == schema.StateDown && want[1] == schema.StateDown {
		s.goDown()
	} else if err := s.goUp(); err != nil {
		for k := range changes {
			changes[k].State, changes[k].Detail = schema.StateDown, err.Error()
		}
	}
	s.lnMu.Lock()
	listening := s.ln != nil
	s.lnMu.Unlock()
	for k := range changes {
		if listening != wasListening || changes[k].State != want[k] {
			// Refusing or accepting connections starts when the listener
			// really closed or opened, which a late timer puts after the
			// edge: that is the time a refused caller's evidence must meet.
			changes[k].At = sc.clk.Now()
		}
	}
	for k := range changes {
		if !sc.sided && k > 0 {
			// One state for every call: the play side mirrors the publish
			// side's, reported once.
			sc.cur.Lock()
			sc.state[k], sc.fault[k], sc.applied[k] = sc.state[0], sc.fault[0], sc.applied[0]
			sc.cur.Unlock()
			continue
		}
		change := changes[k]
		prevState, prevFault := sc.current(k)
		if !force && change.State == prevState && change.Fault == prevFault {
			continue
		}
		sc.cur.Lock()
		sc.state[k], sc.fault[k], sc.applied[k] = change.State, change.Fault, nil
		if win[k] >= 0 && want[k] != schema.StateUp {
			sc.applied[k] = &sc.faults[win[k]]
		}
		sc.cur.Unlock()
		if sc.onState != nil {
			sc.onState(change)
		}
	}
}

// goDown closes the listener and every connection, in-flight calls
// included, as a callback service that went away would.
func (s *Server) goDown() {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln == nil {
		return
	}
	s.ln.Close()
	s.ln = nil
	for c := range s.conns {
		c.Close()
	}
}

// goUp listens again on the same address if a down window closed it.
func (s *Server) goUp() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln != nil || s.closed {
		return nil
	}
	var err error
	for range relistenTries {
		var ln net.Listener
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.listenOn(ln)
			return nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(relistenPause)
	}
	return fmt.Errorf("cannot listen again on %s after the down window: %w", s.addr, err)
}
