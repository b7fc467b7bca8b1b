package runner

import (
	"fmt"
	"slices"
	"sync"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// Live holds the run's counters while it goes, for progress bars and log
// lines. It is safe for concurrent use; the zero value is not usable, use
// NewLive.
type Live struct {
	mu     sync.Mutex
	order  []string
	groups map[string]*GroupLive
	// machine is the load machine's last few samples (liveMachine of them).
	machine []schema.MachineSample
}

// liveMachine is how many of the load machine's samples (one a second) the
// progress line speaks for: as many as a log line's period.
const liveMachine = 5

// GroupLive counts one group's publishers.
type GroupLive struct {
	Name       string
	Planned    int // publishers the scenario schedules
	Started    int // ffmpeg processes spawned
	Active     int // running now
	Publishing int // running and past the publish (first progress)
	Published  int // ever got as far as publishing
	Failed     int // ended without publishing, or failed on their own after it (report.EndedFailed)
	Starved    int // running and below real time now
	Done       int // ended
}

// NewLive returns counters for the given groups and planned counts.
func NewLive() *Live { return &Live{groups: make(map[string]*GroupLive)} }

func (l *Live) plan(group string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.get(group).Planned += n
}

func (l *Live) get(group string) *GroupLive {
	g, ok := l.groups[group]
	if !ok {
		g = &GroupLive{Name: group}
		l.groups[group] = g
		l.order = append(l.order, group)
	}
	return g
}

// Snapshot returns a copy of every group's counters in scenario order.
func (l *Live) Snapshot() []GroupLive {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]GroupLive, 0, len(l.order))
	for _, name := range l.order {
		out = append(out, *l.groups[name])
	}
	return slices.Clip(out)
}

// Machine says in a line how the load machine did over the last few seconds
// ("" before the first sample): its busiest CPU share and run queue, and
// what strained it, so that drops while the generator could not keep up
// are not read as the server's.
func (l *Live) Machine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.machine) == 0 {
		return ""
	}
	var cpu float64
	queue, cores := 0, 0
	for _, m := range l.machine {
		cpu, queue, cores = max(cpu, m.CPUBusy+m.CPUSteal), max(queue, m.RunQueue), m.Cores
	}
	line := fmt.Sprintf("cpu %.0f%% run queue %d on %d cores", 100*cpu, queue, cores)
	if why := report.MachineStrain(l.machine); why != "" {
		line += ": strained, " + why
	}
	return line
}

// add is Live as a sink of the run's events.
func (l *Live) add(e event) {
	if e.Type == schema.TypeMachine && e.Machine != nil {
		l.mu.Lock()
		l.machine = append(l.machine, *e.Machine)
		if len(l.machine) > liveMachine {
			l.machine = l.machine[len(l.machine)-liveMachine:]
		}
		l.mu.Unlock()
		return
	}
	a := e.Attempt
	if e.Type != schema.TypeAttempt || a == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.get(a.Group)
	switch a.Phase {
	case schema.PhaseSpawn:
		g.Started++
		g.Active++
	case schema.PhasePublishing:
		g.Publishing++
		g.Published++
	case schema.PhaseStarved:
		g.Starved++
	case schema.PhaseRecovered:
		g.Starved--
	case schema.PhaseExit:
		g.Active--
		g.Done++
		if e.exit.progressed {
			g.Publishing--
		}
		if e.exit.starved {
			g.Starved--
		}
		if report.EndedFailed(e.exit.end) {
			g.Failed++
		}
	}
}
