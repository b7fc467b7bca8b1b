package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// The progress line's load machine speaks for the last few samples: a stall
// two seconds ago is still in it, one older than liveMachine samples is not.
func TestLiveMachineLine(t *testing.T) {
	l := NewLive()
	if l.Machine() != "" {
		t.Fatalf("before any sample: %q", l.Machine())
	}
	sample := func(m schema.MachineSample) {
		m.Cores = 2
		l.add(event{Event: schema.Event{Type: schema.TypeMachine, Machine: &m}})
	}
	sample(schema.MachineSample{CPUBusy: 0.5, RunQueue: 1, TimerLate: 6 * time.Second})
	sample(schema.MachineSample{CPUBusy: 0.4, RunQueue: 3})
	if got := l.Machine(); got != "cpu 50% run queue 3 on 2 cores: strained, generator stalled (rtmpload's timer woke 6s late)" {
		t.Errorf("line %q", got)
	}
	for range liveMachine {
		sample(schema.MachineSample{CPUBusy: 0.3, RunQueue: 1})
	}
	if got := l.Machine(); got != "cpu 30% run queue 1 on 2 cores" || strings.Contains(got, "strained") {
		t.Errorf("after the stall left the window: %q", got)
	}
}
