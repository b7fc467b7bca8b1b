package testkit

import (
	"slices"
	"sync"
	"time"
)

// Clock is a fake clock for code that takes its time and timers from an
// injected clock (the callback's fault schedule, the embedded server's
// publish timeouts): it moves only when the test moves it, so a schedule's
// edges hold whatever the machine's load and take no real time. A timer
// runs in the goroutine that moves the clock past it, so what it does is
// done when Advance returns.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*clockTimer
}

type clockTimer struct {
	at   time.Time
	f    func()
	done bool // fired or stopped
}

// NewClock returns a Clock at a fixed time.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc runs f once the clock is moved d past now; stop cancels it and
// reports whether it had not run yet.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &clockTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.done
		tm.done = true
		return was
	}
}

// Pending is when the timers still to run are due, in order.
func (c *Clock) Pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, tm := range c.timers {
		if !tm.done {
			out = append(out, tm.at)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Advance moves the clock to at, running each timer due by then at its own
// time, in order (a timer set by a timer runs too when it is due by then).
func (c *Clock) Advance(at time.Time) { c.run(at, false) }

// WakeLate moves the clock to at first, then runs the timers due by then:
// timers that woke up late, as on a loaded machine.
func (c *Clock) WakeLate(at time.Time) { c.run(at, true) }

// maxFired bounds the timers one move runs: a timer that keeps setting
// timers already due would otherwise never let it end.
const maxFired = 10000

func (c *Clock) run(at time.Time, late bool) {
	c.mu.Lock()
	if late && at.After(c.now) {
		c.now = at
	}
	c.mu.Unlock()
	for range maxFired {
		c.mu.Lock()
		var next *clockTimer
		for _, tm := range c.timers {
			if !tm.done && !tm.at.After(at) && (next == nil || tm.at.Before(next.at)) {
				next = tm
			}
		}
		if next == nil {
			if at.After(c.now) {
				c.now = at
			}
			c.timers = slices.DeleteFunc(c.timers, func(tm *clockTimer) bool { return tm.done })
			c.mu.Unlock()
			return
		}
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
	panic("testkit.Clock: timers keep setting timers that are already due")
}
