package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// The load machine is strained when one of these is crossed in a sample
// (schema.MachineSample): its CPUs are saturated, more processes wait to run
// than it has cores twice over, or rtmpload itself stood still for a good
// part of a second (a hiccup of a few hundred ms on a busy machine is common
// and drops nobody: a server looks every 5 s).
const (
	strainCPU       = 0.95        // busy + steal, of all cores
	strainRunQueue  = 2           // runnable processes per core
	strainTimerLate = time.Second // rtmpload's 50 ms timer woke this late
	strainGCPause   = 250 * time.Millisecond
	strainTapQuiet  = 2 * time.Second // no media relayed while publishers publish
	// strainWindow is how far before a failure the machine's state counts:
	// a server drops a publisher after a look finds nothing for 5 s (SRS's
	// publish.normal_timeout) and ffmpeg reports it a moment later.
	strainWindow = 10 * time.Second
)

// MachineView is the load machine's state over the run (results of schema
// 2 and later): every sample, the stretches when it was strained, and how
// the failures line up with them.
type MachineView struct {
	Samples []TimedMachine `json:"samples"`
	// Strained are the stretches of consecutive strained samples.
	Strained []Strain `json:"strained,omitempty"`
	// Failures counts the failed attempts, and Coincided, by outcome, those
	// of them a slow generator can explain (drops, timeouts, refusals nobody
	// explained: not a deny, nor a callback that was down) whose last
	// moments (up to 10 s before they ended) fell in a strained stretch: the
	// generator may not have kept up.
	Failures  int                    `json:"failures"`
	Judged    int                    `json:"judged"` // the failures a slow generator can explain
	Coincided map[schema.Outcome]int `json:"coincided,omitempty"`
}

// TimedMachine is a MachineSample with the end of its span.
type TimedMachine struct {
	At time.Time `json:"at"`
	schema.MachineSample
}

// Strain is a stretch of strained samples and what was worst in it.
type Strain struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Why  string    `json:"why"`
}

// strainOf says what strained the load machine in one sample ("": nothing).
func strainOf(s schema.MachineSample) string {
	return worst([]schema.MachineSample{s})
}

// worst names what crossed a strain threshold in any of the samples, each at
// its worst: "saturated (CPU 99% busy, steal 3%; run queue 9 on 2 cores);
// generator stalled (rtmpload's timer woke 1.2s late; the tap relayed no media for 5s ...)".
func worst(samples []schema.MachineSample) string {
	var cpu, steal float64
	var queue, cores int
	var late, gc, quiet time.Duration
	for _, s := range samples {
		if s.CPUBusy >= 0 && s.CPUBusy+s.CPUSteal > cpu+steal {
			cpu, steal = s.CPUBusy, s.CPUSteal
		}
		if s.RunQueue > queue {
			queue, cores = s.RunQueue, s.Cores
		}
		late, gc, quiet = max(late, s.TimerLate), max(gc, s.GCPause), max(quiet, s.TapQuiet)
	}
	var sat, stall []string
	if cpu+steal >= strainCPU {
		p := fmt.Sprintf("CPU %.0f%% busy", 100*(cpu+steal))
		if steal >= 0.01 {
			p += fmt.Sprintf(", %.0f%% of it stolen by the hypervisor", 100*steal)
		}
		sat = append(sat, p)
	}
	if cores > 0 && queue > strainRunQueue*cores {
		sat = append(sat, fmt.Sprintf("run queue %d on %d cores", queue, cores))
	}
	if late >= strainTimerLate {
		stall = append(stall, fmt.Sprintf("rtmpload's timer woke %s late", late.Round(10*time.Millisecond)))
	}
	if gc >= strainGCPause {
		stall = append(stall, fmt.Sprintf("a GC pause of rtmpload of up to %s", gc.Round(time.Millisecond)))
	}
	if quiet >= strainTapQuiet {
		stall = append(stall, fmt.Sprintf("the tap relayed no media for %s while publishers published", quiet.Round(100*time.Millisecond)))
	}
	var out []string
	if len(sat) > 0 {
		out = append(out, "saturated ("+strings.Join(sat, "; ")+")")
	}
	if len(stall) > 0 {
		out = append(out, "generator stalled ("+strings.Join(stall, "; ")+")")
	}
	return strings.Join(out, ", ")
}

// MachineStrain says what strained the load machine in any of the samples,
// each figure at its worst ("": nothing did), as the report judges it: for
// the live progress.
func MachineStrain(samples []schema.MachineSample) string { return worst(samples) }

// machineView builds the view from the samples (nil: the stream has none, as
// every stream of schema 1).
func machineView(samples []TimedMachine) *MachineView {
	if len(samples) == 0 {
		return nil
	}
	slices.SortStableFunc(samples, func(x, y TimedMachine) int { return x.At.Compare(y.At) })
	v := &MachineView{Samples: samples}
	var run []schema.MachineSample
	var from time.Time
	flush := func(to time.Time) {
		if len(run) > 0 {
			v.Strained = append(v.Strained, Strain{From: from, To: to, Why: worst(run)})
			run = nil
		}
	}
	prevEnd := time.Time{}
	for _, s := range samples {
		if strainOf(s.MachineSample) == "" {
			flush(prevEnd)
		} else {
			if len(run) == 0 {
				from = s.At.Add(-s.Span)
			}
			run = append(run, s.MachineSample)
		}
		prevEnd = s.At
	}
	flush(prevEnd)
	return v
}

// strainDuring is what strained the load machine in the samples whose spans
// overlap [from, to] ("": nothing, or no samples).
func (v *MachineView) strainDuring(from, to time.Time) string {
	if v == nil {
		return ""
	}
	var hit []schema.MachineSample
	for _, s := range v.Samples {
		if s.At.Before(from) || s.At.Add(-s.Span).After(to) {
			continue
		}
		if strainOf(s.MachineSample) != "" {
			hit = append(hit, s.MachineSample)
		}
	}
	return worst(hit)
}

// failureWindow is the stretch of an attempt's life where the load machine
// could have made it fail: its last strainWindow, from its spawn at the
// earliest, to its exit (or the server's verdict, or the last word of it).
func (a *Attempt) failureWindow() (from, to time.Time, ok bool) {
	to = a.Exit
	if to.IsZero() {
		to = a.verdictTime()
	}
	if to.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	from = to.Add(-strainWindow)
	if !a.Spawn.IsZero() && a.Spawn.After(from) {
		from = a.Spawn
	}
	return from, to, true
}

// machineCanCause reports whether a generator that could not keep up can
// explain a failure of this outcome: a drop, a timeout, a refusal nobody
// explained, an ffmpeg that failed, a callback unreachable while it was up
// (the built-in hook runs in rtmpload). A verdict someone gave (denied, a bad
// answer, an error status, a busy name) or a callback that was down explains
// itself, whatever the machine did.
func machineCanCause(o schema.Outcome, callback schema.CallbackState) bool {
	switch o {
	case schema.OutcomeDropped, schema.OutcomeRejectedUnknown, schema.OutcomeFFmpegError,
		schema.OutcomeServerUnreachable, schema.OutcomeHookTimeout:
		return true
	case schema.OutcomeHookUnreachable:
		return callback != schema.StateDown
	}
	return false
}

// judgeMachine gives every failed attempt that a slow generator can explain
// (machineCanCause) the load machine's strain in its failure window, says so
// in its evidence, and counts them: such a failure while the generator could
// not keep up is not, by itself, the server's.
func judgeMachine(v *MachineView, attempts []*Attempt) {
	if v == nil {
		return
	}
	for _, a := range attempts {
		if a.Outcome == schema.OutcomeOK {
			continue
		}
		v.Failures++
		if !machineCanCause(a.Outcome, a.HookState) {
			continue
		}
		v.Judged++
		from, to, ok := a.failureWindow()
		if !ok {
			continue
		}
		if why := v.strainDuring(from, to); why != "" {
			a.Machine = why
			a.Evidence += " [load machine " + why + " in its last " + to.Sub(from).Round(time.Second).String() +
				": the generator may not have kept up, so this is not by itself the server's doing]"
			if v.Coincided == nil {
				v.Coincided = make(map[schema.Outcome]int)
			}
			v.Coincided[a.Outcome]++
		}
	}
}

// machineColumn is the availability table's column of failures that
// coincided with a strained load machine.
const machineColumn = "load machine strained"

// machineNote is the line under the availability table about the load
// machine ("": no samples in the stream).
func machineNote(s *Summary) string {
	v := s.Machine
	if v == nil {
		return ""
	}
	n := 0
	for _, c := range v.Coincided {
		n += c
	}
	if len(v.Strained) == 0 {
		return fmt.Sprintf("Load machine: never saturated, rtmpload never stalled (%d samples).", len(v.Samples))
	}
	var strained time.Duration
	for _, st := range v.Strained {
		strained += st.To.Sub(st.From)
	}
	start := s.Run.Started
	first := v.Strained[0]
	stretches := fmt.Sprintf("%d stretches, the first", len(v.Strained))
	if len(v.Strained) == 1 {
		stretches = "1 stretch"
	}
	line := fmt.Sprintf("Load machine: strained %s of the run, in %s %s-%s: %s", strained.Round(time.Second), stretches,
		first.From.Sub(start).Round(time.Second), first.To.Sub(start).Round(time.Second), first.Why)
	if n > 0 {
		line += fmt.Sprintf("; %d of the %d failures a slow generator can explain coincided with it: the generator may not have kept up, so they are not by themselves the server's doing", n, v.Judged)
	} else {
		line += fmt.Sprintf("; none of the %d failures a slow generator can explain coincided with it", v.Judged)
	}
	return line + "."
}

// machineBlamed reports whether some failure coincided with a strained load
// machine: then the whose-fault table is shown even with the callback up.
func machineBlamed(s *Summary) bool {
	return s.Machine != nil && len(s.Machine.Coincided) > 0
}

// machineShort is an attempt's strain in a word or two for a table cell.
func machineShort(why string) string {
	var parts []string
	if strings.Contains(why, "saturated") {
		parts = append(parts, "saturated")
	}
	if strings.Contains(why, "generator stalled") {
		parts = append(parts, "generator stalled")
	}
	if len(parts) == 0 {
		return "fine"
	}
	return strings.Join(parts, ", ")
}
