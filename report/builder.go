package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// Builder accumulates a results stream into a Summary. Add events in any
// order; Summary joins them.
type Builder struct {
	header   schema.RunHeader
	end      *schema.Event
	attempts map[string]*Attempt
	order    []string
	hooks    []*schema.HookCall // on_publish calls with no attempt yet (joined at the end)
	calls    int
	states   []TimedState // the publish side's (every state without an action, and those of action publish)
	// playStates are the play side's: every state without an action, and
	// those of action play.
	playStates []TimedState
	view       serverView
	steps      []schema.Step
	stalled    []schema.WireConn // connections with no attempt id whose handshake the server never answered
	machine    []TimedMachine    // the load machine's samples
	// views are the viewers' plays, playHooks each play's first on_play
	// call by its id (viewers.go).
	views       []*schema.ViewEvent
	playHooks   map[string]*schema.HookCall
	playRejects map[string]*schema.ServerEvent // the embedded server's refusals of plays, by play id
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{attempts: make(map[string]*Attempt)}
}

func (b *Builder) attempt(id string) *Attempt {
	a, ok := b.attempts[id]
	if !ok {
		a = &Attempt{ID: id}
		b.attempts[id] = a
		b.order = append(b.order, id)
	}
	return a
}

// Add takes one event of the stream.
func (b *Builder) Add(ev schema.Event) error {
	switch ev.Type {
	case schema.TypeRun:
		if ev.Run != nil {
			b.header = *ev.Run
		}
	case schema.TypeEnd:
		e := ev
		b.end = &e
	case schema.TypeAttempt:
		ae := ev.Attempt
		if ae == nil {
			return nil
		}
		a := b.attempt(ae.ID)
		a.Group, a.Stream, a.Slot = ae.Group, ae.Stream, ae.Slot
		switch ae.Phase {
		case schema.PhaseSpawn:
			a.Spawn = ev.Time
			a.Process, a.Outputs, a.Engine = ae.Process, ae.Outputs, ae.Engine
		case schema.PhasePublishing:
			a.Publishing = ev.Time
		case schema.PhaseStarved:
			a.Starved = true
		case schema.PhaseExit:
			a.Exit = ev.Time
			a.Class, a.ExitCode, a.Stopped = ae.Class, ae.ExitCode, ae.Stopped
			a.Message, a.StderrTail = ae.Message, ae.StderrTail
		}
	case schema.TypeHook:
		if ev.Hook == nil {
			return nil
		}
		b.calls++
		if ev.Hook.Action == schema.ActionPublish {
			h := *ev.Hook
			b.hooks = append(b.hooks, &h)
		}
		if ev.Hook.Action == schema.ActionPlay && ev.Hook.Attempt != "" {
			if b.playHooks == nil {
				b.playHooks = make(map[string]*schema.HookCall)
			}
			if b.playHooks[ev.Hook.Attempt] == nil {
				h := *ev.Hook
				b.playHooks[ev.Hook.Attempt] = &h
			}
		}
	case schema.TypeView:
		if ev.View != nil {
			v := *ev.View
			b.views = append(b.views, &v)
		}
	case schema.TypeServer:
		se := ev.Server
		if se == nil || se.Attempt == "" {
			return nil
		}
		if se.Kind == schema.ServerPlayReject {
			if b.playRejects == nil {
				b.playRejects = make(map[string]*schema.ServerEvent)
			}
			s := *se
			b.playRejects[se.Attempt] = &s
			return nil
		}
		if se.Kind == schema.ServerReject || se.Kind == schema.ServerAccept {
			s := *se
			a := b.attempt(se.Attempt)
			a.Server, a.ServerAt = &s, ev.Time
		}
	case schema.TypeStep:
		if ev.Step != nil {
			b.steps = append(b.steps, *ev.Step)
		}
	case schema.TypeSnap:
		if ev.Snapshot != nil {
			b.view.add(ev.Time, ev.Snapshot)
		}
	case schema.TypeMachine:
		if ev.Machine != nil && len(b.machine) < maxMachine {
			b.machine = append(b.machine, TimedMachine{At: ev.Time, MachineSample: *ev.Machine})
		}
	case schema.TypeState:
		if ev.State != nil {
			// A state about one side (a fault window that targets publish
			// or play) judges that side's attempts only: publishers read
			// states, viewers playStates.
			st := TimedState{At: ev.Time, StateChange: *ev.State}
			if st.Action != "play" {
				b.states = append(b.states, st)
			}
			if st.Action != "publish" {
				b.playStates = append(b.playStates, st)
			}
		}
	case schema.TypeWire:
		if ev.Wire != nil && ev.Wire.Attempt != "" {
			w := *ev.Wire
			b.attempt(ev.Wire.Attempt).Wire = &w
		} else if _, stalled := handshakeStalled(ev.Wire); stalled && len(b.stalled) < maxStalled {
			// The tap learns an attempt's id from its RTMP commands; a
			// server that never answered the handshake let none through.
			b.stalled = append(b.stalled, *ev.Wire)
		}
	}
	return nil
}

// maxStalled bounds the unattributed connections a Builder keeps.
const maxStalled = 10000

// maxMachine bounds the load machine's samples a Builder keeps: a day of
// one a second.
const maxMachine = 86400

// attachStalled gives each connection whose handshake the server never
// answered to an attempt it can belong to: one with no connection of its
// own, not published, running when the connection opened. Any choice among
// such attempts tells the same story, so the earliest spawned is taken.
func (b *Builder) attachStalled() {
	for i := range b.stalled {
		w := &b.stalled[i]
		at, _, ok := w.Mark(schema.WireTCPConnect)
		if !ok {
			at, _, _ = w.Mark(schema.WireC0C1)
		}
		var best *Attempt
		for _, id := range b.order {
			a := b.attempts[id]
			if a.Wire != nil || a.published() || a.Spawn.IsZero() || a.Spawn.After(at) || (!a.Exit.IsZero() && a.Exit.Before(at)) {
				continue
			}
			if best == nil || a.Spawn.Before(best.Spawn) {
				best = a
			}
		}
		if best != nil {
			best.Wire = w
		}
	}
	b.stalled = nil
}

// Summary joins everything added so far and returns the summary.
func (b *Builder) Summary() *Summary {
	b.attachStalled()
	s := b.newSummary()
	hists := newHistograms()
	b.addHooks(s, hists)
	attempts, byStream := b.started()

	slices.SortStableFunc(b.states, func(x, y TimedState) int { return x.At.Compare(y.At) })
	slices.SortStableFunc(b.playStates, func(x, y TimedState) int { return x.At.Compare(y.At) })
	s.Availability = slices.Clone(b.states)
	if s.Availability == nil {
		s.Availability = []TimedState{}
	}
	s.Fanout = fanoutSummary(attempts, b.header.Options["fanout_open"])
	h := b.view.handovers(byStream)
	b.classifyAll(attempts, byStream, h.taken)
	s.Machine = machineView(b.machine)
	judgeMachine(s.Machine, attempts)
	s.addAttempts(b.header.Scenario.Groups, attempts, hists)
	s.Engines = engines(attempts)
	s.Latency = hists.rows()
	s.Capacity = capacity(b.steps)
	b.addContests(s, byStream, h)
	if a := b.cutIDs(); a != "" {
		s.Anomalies = append(s.Anomalies, a)
	}
	if s.Failures == nil {
		s.Failures = []Failure{}
	}
	s.Slowest = slowest(attempts)
	s.Viewers = b.viewerSummary(s.Machine)
	return s
}

// newSummary is a summary of the run's header and end, with nothing counted yet.
func (b *Builder) newSummary() *Summary {
	s := &Summary{
		Run:      b.header,
		Outcomes: make(map[schema.Outcome]int),
		Hook:     HookSummary{Calls: b.calls, Verdicts: make(map[string]int)},
		ByState:  make(map[schema.Outcome]map[schema.CallbackState]int),
	}
	if b.end != nil {
		s.Ended, s.EndReason, s.EndError, s.Usage = b.end.Time, b.end.Reason, b.end.Error, b.end.Usage
	} else {
		s.EndReason = "unfinished"
	}
	return s
}

// addHooks counts the callback's verdicts and its upstream's answers, and
// gives each attempt its first hook call (a call that names no attempt of
// ours is an orphan).
func (b *Builder) addHooks(s *Summary, hists *histograms) {
	for _, h := range b.hooks {
		s.Hook.Verdicts[h.Verdict]++
		if h.Upstream != nil {
			if s.Hook.Upstream == nil {
				s.Hook.Upstream = &UpstreamSummary{Statuses: make(map[string]int)}
			}
			s.Hook.Upstream.add(h, hists)
		}
		a, ok := b.attempts[h.Attempt]
		if !ok || h.Attempt == "" {
			s.Hook.Orphans++
			continue
		}
		a.HookCalls++
		if a.Hook == nil {
			a.Hook = h
		}
	}
}

// add counts one call that the built-in callback passed to the upstream.
func (us *UpstreamSummary) add(h *schema.HookCall, hists *histograms) {
	u := h.Upstream
	us.Calls++
	if u.Status == 0 {
		us.Unreachable++
	} else {
		us.Statuses[strconv.Itoa(u.Status)]++
		hists.record(MetricUpstreamLatency, "callback", "all", u.Latency)
	}
	if recordedAllow(h) && h.Fault == "" {
		us.Allowed++
	}
	if h.Fault == "" && u.Status != 0 && callVerdict(h) == srs.BadAnswer {
		if us.BadAnswers == 0 {
			us.BadAnswerBody = u.Body
		}
		us.BadAnswers++
	}
}

// cutIDs names the hook, server and wire records that carry an attempt id
// of this run (or a piece of one) that matches no attempt rtmpload started:
// an id cut short on its way, as ffmpeg cuts a publish URL whose path is
// longer than 1,023 bytes (rtmpload=<id> comes last). Their attempts lack
// their hook, server and wire evidence, so the report must say so rather
// than show them "ok" with those timings missing. "" when there are none.
func (b *Builder) cutIDs() string {
	run := b.header.ID
	if run == "" {
		return ""
	}
	ours := func(id string) bool {
		return id != "" && (strings.HasPrefix(id, run+"-") || strings.HasPrefix(run+"-", id))
	}
	unmatched := func(id string) bool {
		a, ok := b.attempts[id]
		return ours(id) && (!ok || (a.Spawn.IsZero() && a.Class == ""))
	}
	n, example := 0, ""
	note := func(id string) {
		if unmatched(id) {
			if n++; example == "" {
				example = id
			}
		}
	}
	for _, h := range b.hooks {
		note(h.Attempt)
	}
	for _, id := range b.order {
		note(id)
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d hook, server or wire record(s) carry an attempt id of run %s that matches no attempt (such as %q): an id cut short on its way (ffmpeg keeps 1,023 bytes of a publish URL's path); the attempts they belong to lack that evidence", n, run, example)
}

// started is the attempts rtmpload started, in order, and by stream name.
func (b *Builder) started() ([]*Attempt, map[string][]*Attempt) {
	attempts := make([]*Attempt, 0, len(b.order))
	byStream := make(map[string][]*Attempt)
	for _, id := range b.order {
		a := b.attempts[id]
		if a.Spawn.IsZero() && a.Class == "" {
			continue // server or wire record of something we did not start
		}
		attempts = append(attempts, a)
		byStream[a.Stream] = append(byStream[a.Stream], a)
	}
	return attempts, byStream
}

// classifyAll gives each attempt its callback state and its outcome, in
// order: an attempt's outcome can depend on the others of its stream.
func (b *Builder) classifyAll(attempts []*Attempt, byStream map[string][]*Attempt, taken map[*Attempt]*Attempt) {
	liveOther := func(a *Attempt, at time.Time) *Attempt {
		for _, o := range byStream[a.Stream] {
			if o == a {
				continue
			}
			if from, to, ok := o.liveInterval(); ok && !at.Before(from) && !at.After(to) {
				return o
			}
		}
		return nil
	}
	for _, a := range attempts {
		judgeAndClassify(a, b.states, liveOther)
		if by := taken[a]; by != nil && a.Outcome != schema.OutcomeOK {
			a.Evidence = takeoverEvidence(a, by) + a.Evidence
		}
	}
}

// addAttempts counts classified attempts: by outcome, state and group (the
// scenario's groups first, in its order), their latencies, their failures.
func (s *Summary) addAttempts(scenarioGroups []schema.GroupInfo, attempts []*Attempt, hists *histograms) {
	groups := make(map[string]*GroupSummary)
	for _, g := range scenarioGroups {
		gs := &GroupSummary{Name: g.Name, Outcomes: make(map[schema.Outcome]int)}
		groups[g.Name] = gs
		s.Groups = append(s.Groups, *gs)
	}
	for _, a := range attempts {
		if s.ByState[a.Outcome] == nil {
			s.ByState[a.Outcome] = make(map[schema.CallbackState]int)
		}
		s.ByState[a.Outcome][a.HookState]++
		s.Attempts++
		s.Outcomes[a.Outcome]++
		gs, ok := groups[a.Group]
		if !ok {
			gs = &GroupSummary{Name: a.Group, Outcomes: make(map[schema.Outcome]int)}
			groups[a.Group] = gs
			s.Groups = append(s.Groups, *gs)
		}
		gs.Attempts++
		gs.Outcomes[a.Outcome]++
		if a.Starved {
			gs.Starved++
		}
		recordLatencies(hists, a)
		if a.Outcome != schema.OutcomeOK {
			s.Failures = append(s.Failures, Failure{
				ID: a.ID, Group: a.Group, Stream: a.Stream, Outcome: a.Outcome, State: a.HookState, Machine: a.Machine,
				StateFrom: a.StateFrom, StateTo: a.StateTo,
				Message: a.Message, Hook: hookSaw(a), Evidence: a.Evidence, Timeline: a.phases(false),
			})
		}
	}
	for i := range s.Groups {
		s.Groups[i] = *groups[s.Groups[i].Name]
	}
}

// stateAt is the callback's state at t: the last change at or before t.
// Without any record the state is unknown; before the first change it is
// the first change's (the schedule is armed as the run starts).
func stateAt(states []TimedState, t time.Time) schema.CallbackState {
	if len(states) == 0 || t.IsZero() {
		return schema.StateUnknown
	}
	i, _ := slices.BinarySearchFunc(states, t, func(s TimedState, t time.Time) int {
		if s.At.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return states[0].State
	}
	return states[i-1].State
}

// capacity finds the knee: the largest step that held before the first
// that broke a rule.
func capacity(steps []schema.Step) *Capacity {
	if len(steps) == 0 {
		return nil
	}
	c := &Capacity{Steps: steps, Limit: "every step held: the scenario's most publishers were not enough to find the knee"}
	for _, st := range steps {
		if !st.Held {
			c.Limit = fmt.Sprintf("step %d (%d publishers) broke: %s", st.Step, st.Publishers, strings.Join(st.Broke, "; "))
			if st.Side != "" {
				c.Limit += fmt.Sprintf(": %s (generator %.2f cores, server %s)", sideText(st.Side), st.GeneratorCPU, serverCores(st.ServerCPU))
			}
			break
		}
		c.Knee = st.Publishers
	}
	return c
}
