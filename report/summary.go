package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// Metric names in latency tables.
const (
	MetricPublishStart = "publish_start" // spawn to ffmpeg's first progress (ffmpeg-observed)
	MetricHookLatency  = "hook_latency"  // on_publish arrival to answer (hook-observed)
	// MetricUpstreamLatency is the proxied callback service's answer time
	// (rtmpload's hook to the service and back).
	MetricUpstreamLatency = "upstream_latency"
)

// Latency histograms hold microseconds from 1 µs to 1 h at 3 significant
// digits: bounded memory whatever the run length.
const (
	histMin  = 1
	histMax  = int64(time.Hour / time.Microsecond)
	histSigs = 3
)

// Summary is what a run amounts to. It is the body of report.json.
type Summary struct {
	Run       schema.RunHeader       `json:"run"`
	Ended     time.Time              `json:"ended,omitzero"`
	EndReason string                 `json:"end_reason"`
	EndError  string                 `json:"end_error,omitempty"`
	Usage     *schema.Usage          `json:"usage,omitempty"`
	Attempts  int                    `json:"attempts"`
	Outcomes  map[schema.Outcome]int `json:"outcomes"`
	Groups    []GroupSummary         `json:"groups"`
	Latency   []LatencyRow           `json:"latency"`
	Hook      HookSummary            `json:"hook"`
	Contests  []Contest              `json:"contests"`
	Failures  []Failure              `json:"failures"`
	// Fanout is what publishing several outputs per ffmpeg did (nil when no
	// process had several).
	Fanout *FanoutSummary `json:"fanout,omitempty"`
	// Slowest are the attempts that waited longest for the server's verdict.
	Slowest   []Slow   `json:"slowest"`
	Anomalies []string `json:"anomalies,omitempty"`
	// Availability is every change of the callback's state over the run.
	Availability []TimedState `json:"availability"`
	// ByState counts outcomes by the callback's state at each attempt's
	// decisive moment: outcome -> state -> count.
	ByState map[schema.Outcome]map[schema.CallbackState]int `json:"by_state"`
	// Server is the server's own view, when its API was read.
	Server *ServerView `json:"server_view,omitempty"`
	// Capacity is the step table and knee of a capacity run.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Shards is set when the summary merges the shards of one run (Merge).
	Shards *ShardInfo `json:"shards,omitempty"`
}

// TimedState is a StateChange with its time.
type TimedState struct {
	At time.Time `json:"at"`
	schema.StateChange
}

// GroupSummary counts one publisher group's outcomes.
type GroupSummary struct {
	Name     string                 `json:"name"`
	Attempts int                    `json:"attempts"`
	Outcomes map[schema.Outcome]int `json:"outcomes"`
	// Starved counts attempts that fell below real time or stalled at some
	// point: a server or machine that cannot keep up shows here first.
	Starved int `json:"starved"`
}

// Capacity is what a capacity run found.
type Capacity struct {
	Steps []schema.Step `json:"steps"`
	// Knee is the most publishers of a step that held (0: none held).
	Knee int `json:"knee"`
	// Limit says what ended the ramp: the rules the first failing step
	// broke, or that the scenario's most publishers held.
	Limit string `json:"limit"`
}

// LatencyRow is one metric's percentiles for one group ("all" for every
// group), in milliseconds.
type LatencyRow struct {
	Metric string  `json:"metric"`
	Source string  `json:"source"` // ffmpeg | wire | hook
	Group  string  `json:"group"`
	Count  int64   `json:"count"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	Max    float64 `json:"max_ms"`
	// Histogram is the distribution on fixed log-spaced buckets, from the
	// first bucket with a sample to the last.
	Histogram []LatencyBucket `json:"histogram,omitempty"`
}

// LatencyBucket counts the samples above the previous bucket's bound and at
// most LeMS (the last bucket of the scale has no bound: LeMS 0).
type LatencyBucket struct {
	LeMS  float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

// bucketBounds are the histogram buckets' upper bounds in ms: 1-2-5 steps
// from 0.1 ms (a loopback handshake) to 50 s (past SRS's 30 s hook timeout).
var bucketBounds = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000}

// buckets spreads an HDR histogram over bucketBounds.
func buckets(h *hdrhistogram.Histogram) []LatencyBucket {
	counts := make([]int64, len(bucketBounds)+1)
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		// An HDR bar's values are equivalent at its precision: its lower end places it.
		v := float64(bar.From) / 1000
		i, _ := slices.BinarySearch(bucketBounds, v)
		counts[i] += bar.Count
	}
	first, last := -1, -1
	for i, c := range counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	out := make([]LatencyBucket, 0, last-first+1)
	for i := first; i <= last; i++ {
		b := LatencyBucket{Count: counts[i]}
		if i < len(bucketBounds) {
			b.LeMS = bucketBounds[i]
		}
		out = append(out, b)
	}
	return out
}

// HookSummary is what the callback server saw.
type HookSummary struct {
	Calls    int            `json:"calls"`
	Verdicts map[string]int `json:"verdicts"` // on_publish answers
	Orphans  int            `json:"orphans"`  // on_publish calls not tied to any attempt
	// Upstream is the proxied callback service's behaviour (--hook
	// proxy=URL); its latency is the upstream_latency row.
	Upstream *UpstreamSummary `json:"upstream,omitempty"`
}

// UpstreamSummary is how the user's real callback service behaved.
type UpstreamSummary struct {
	Calls       int            `json:"calls"`       // calls forwarded to it
	Unreachable int            `json:"unreachable"` // no answer (connection refused, timeout)
	Statuses    map[string]int `json:"statuses"`    // HTTP status -> count
	Allowed     int            `json:"allowed"`     // answers SRS takes as allow
	// BadAnswers are its 2xx answers in a format SRS does not take
	// ({"status":"ok"}); BadAnswerBody is the first of them, cut at 512
	// bytes.
	BadAnswers    int    `json:"bad_answers,omitempty"`
	BadAnswerBody string `json:"bad_answer_body,omitempty"`
}

// Contest is every attempt at one stream name that more than one publisher
// used, in the order they were started.
type Contest struct {
	Stream   string         `json:"stream"`
	Winners  []string       `json:"winners"`
	Attempts []ContestEntry `json:"attempts"`
	// TwoLive is set when two attempts held the name at the same time.
	TwoLive bool `json:"two_live,omitempty"`
	// Takeover is set when a publisher took the name over: the server
	// closed the old one as it accepted the new one (MediaMTX's way).
	Takeover bool `json:"takeover,omitempty"`
	// ServerMax is the most publishing clients the server's API ever listed
	// for the name (0: no API was read).
	ServerMax int `json:"server_max_publishers,omitempty"`
}

// ContestEntry is one attempt in a contest.
type ContestEntry struct {
	ID          string         `json:"id"`
	Group       string         `json:"group"`
	Spawn       time.Time      `json:"spawn"`
	HookVerdict string         `json:"hook_verdict"` // what the hook answered, "" if it saw no call
	HookReason  string         `json:"hook_reason,omitempty"`
	Outcome     schema.Outcome `json:"outcome"`
	Message     string         `json:"message,omitempty"`
	// TakenOverBy is the attempt that took the name over from this one.
	TakenOverBy string `json:"taken_over_by,omitempty"`
}

// Failure is one attempt that did not end ok, with its evidence.
type Failure struct {
	ID       string               `json:"id"`
	Group    string               `json:"group"`
	Stream   string               `json:"stream"`
	Outcome  schema.Outcome       `json:"outcome"`
	State    schema.CallbackState `json:"callback_state"` // the callback's state at that moment
	Message  string               `json:"message"`        // ffmpeg's own words
	Hook     string               `json:"hook"`           // what the hook saw
	Evidence string               `json:"evidence"`
	// Timeline is the attempt's phases, from its spawn to its exit.
	Timeline []PhaseMark `json:"timeline,omitempty"`
}

// Builder accumulates a results stream into a Summary. Add events in any
// order; Summary joins them.
type Builder struct {
	header   schema.RunHeader
	end      *schema.Event
	attempts map[string]*Attempt
	order    []string
	hooks    []*schema.HookCall // on_publish calls with no attempt yet (joined at the end)
	calls    int
	states   []TimedState
	view     serverView
	steps    []schema.Step
	stalled  []schema.WireConn // connections with no attempt id whose handshake the server never answered
}

// maxStalled bounds the unattributed connections a Builder keeps.
const maxStalled = 10000

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
			a.Process, a.Outputs = ae.Process, ae.Outputs
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
	case schema.TypeServer:
		se := ev.Server
		if se == nil || se.Attempt == "" {
			return nil
		}
		if se.Kind == "reject" || se.Kind == "accept" {
			s := *se
			b.attempt(se.Attempt).Server = &s
		}
	case schema.TypeStep:
		if ev.Step != nil {
			b.steps = append(b.steps, *ev.Step)
		}
	case schema.TypeSnap:
		if ev.Snapshot != nil {
			b.view.add(ev.Time, ev.Snapshot)
		}
	case schema.TypeState:
		if ev.State != nil {
			b.states = append(b.states, TimedState{At: ev.Time, StateChange: *ev.State})
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

// Summary joins everything added so far and returns the summary.
func (b *Builder) Summary() *Summary {
	b.attachStalled()
	s := b.newSummary()
	hists := newHistograms()
	b.addHooks(s, hists)
	attempts, byStream := b.started()

	slices.SortStableFunc(b.states, func(x, y TimedState) int { return x.At.Compare(y.At) })
	s.Availability = slices.Clone(b.states)
	if s.Availability == nil {
		s.Availability = []TimedState{}
	}
	s.Fanout = fanoutSummary(attempts, b.header.Options["fanout_open"])
	taken := takeovers(byStream)
	b.classifyAll(attempts, byStream, taken)
	s.addAttempts(b.header.Scenario.Groups, attempts, hists)
	s.Latency = hists.rows()
	s.Capacity = capacity(b.steps)
	b.addContests(s, byStream, taken)
	if s.Failures == nil {
		s.Failures = []Failure{}
	}
	s.Slowest = slowest(attempts)
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
	if h.Verdict == "allow" && h.Fault == "" {
		us.Allowed++
	}
	if h.Fault == "" && u.Status != 0 && callVerdict(h) == srs.BadAnswer {
		if us.BadAnswers == 0 {
			us.BadAnswerBody = u.Body
		}
		us.BadAnswers++
	}
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
		a.HookState = stateAt(b.states, a.decisiveTime())
		a.Outcome, a.Evidence = classify(a, liveOther)
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
				ID: a.ID, Group: a.Group, Stream: a.Stream, Outcome: a.Outcome, State: a.HookState,
				Message: a.Message, Hook: hookSaw(a), Evidence: a.Evidence, Timeline: a.phases(false),
			})
		}
	}
	for i := range s.Groups {
		s.Groups[i] = *groups[s.Groups[i].Name]
	}
}

// recordLatencies records an attempt's publish start, hook and wire latencies.
func recordLatencies(hists *histograms, a *Attempt) {
	if a.published() && !a.Spawn.IsZero() {
		hists.record(MetricPublishStart, "ffmpeg", a.Group, a.Publishing.Sub(a.Spawn))
	}
	if a.Hook != nil && !a.Hook.Answered.IsZero() {
		hists.record(MetricHookLatency, "hook", a.Group, a.Hook.Latency())
	}
	recordWire(hists, a)
}

// addContests adds the contests for each stream name and what the server's
// own view (its API) says about them.
func (b *Builder) addContests(s *Summary, byStream map[string][]*Attempt, taken map[*Attempt]*Attempt) {
	s.Contests, s.Anomalies = contests(byStream, taken)
	var apiDups map[string]bool
	if s.Server, apiDups = b.view.check(byStream, b.hookAnswered(), len(b.hooks) > 0); s.Server != nil {
		for _, d := range s.Server.Duplicates {
			s.Anomalies = append(s.Anomalies, string(schema.OutcomeDuplicateAccepted)+": the server's API showed two accepted publishers of "+d)
		}
	}
	for i := range s.Contests {
		c := &s.Contests[i]
		c.ServerMax = b.view.maxPubs[c.Stream]
		// The API's word counts as much as the wire's: thresholds count
		// two-live contests.
		c.TwoLive = c.TwoLive || apiDups[c.Stream]
	}
}

// hookAnswered returns when the hook allowed a client of a stream (by the
// server's client id), for telling accepted publishers in the server's API
// from contenders whose hook still runs.
func (b *Builder) hookAnswered() func(stream, client string) (time.Time, bool) {
	allowed := make(map[[2]string]time.Time)
	for _, h := range b.hooks {
		if h.ClientID != "" && h.Verdict == "allow" && !h.Canceled && !h.Answered.IsZero() {
			allowed[[2]string{h.Stream, h.ClientID}] = h.Answered
		}
	}
	return func(stream, client string) (time.Time, bool) {
		t, ok := allowed[[2]string{stream, client}]
		return t, ok
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

// hookSaw says in a few words what the hook saw of an attempt.
func hookSaw(a *Attempt) string {
	h := a.Hook
	if h == nil {
		return "no on_publish call"
	}
	out := h.Verdict
	if out == "" {
		out = "no answer"
	}
	reason := h.Reason
	if h.Body != nil && hookVerdict(a) == srs.BadAnswer && !strings.Contains(reason, srs.QuoteBody(*h.Body)) {
		// The body is the whole story of a bad answer: show it.
		reason = joinNonEmpty("; ", reason, fmt.Sprintf("answered %d with %s", h.Status, srs.QuoteBody(*h.Body)))
	}
	if reason != "" {
		out += " (" + reason + ")"
	}
	if a.HookCalls > 1 {
		out += ", called more than once"
	}
	return out
}

// takeoverMargin is how close to a new publisher's acceptance the old one's
// connection must end for the handover to count as a takeover (the server
// closed the old one as it accepted the new one, as MediaMTX does) and not
// two live publishers. ffmpeg notices a closed connection at its next
// write, a frame later; two publishers the server really let in stay
// together until one of them stops.
const takeoverMargin = time.Second

// ended is when the attempt's connection ended: the server's close as the
// tap saw it, else ffmpeg's exit.
func (a *Attempt) ended() time.Time {
	if t, _, ok := a.Wire.Mark(schema.WireServerClose); ok {
		return t
	}
	return a.Exit
}

// acceptedOnWire reports whether the server's acceptance is known from the
// best evidence there is: NetStream.Publish.Start on the wire when the tap
// recorded the connection, else ffmpeg's start.
func (a *Attempt) acceptedOnWire() bool {
	if a.Wire != nil && len(a.Wire.Marks) > 0 {
		_, ok := a.Wire.PublishStarted()
		return ok
	}
	return a.published()
}

// liveTogether says how two attempts at one name shared it: overlap when
// both were accepted and live at once; old and by are set (old taken over by
// by) when that overlap was a handover: the server closed old as it
// accepted by.
func liveTogether(x, y *Attempt) (overlap bool, old, by *Attempt) {
	xf, xt, ok1 := x.liveInterval()
	yf, yt, ok2 := y.liveInterval()
	if !ok1 || !ok2 || !x.acceptedOnWire() || !y.acceptedOnWire() {
		return false, nil, nil
	}
	// A connection the server closed was not live after that, whenever
	// ffmpeg noticed.
	if e := x.ended(); !e.IsZero() && e.Before(xt) {
		xt = e
	}
	if e := y.ended(); !e.IsZero() && e.Before(yt) {
		yt = e
	}
	if !xf.Before(yt) || !yf.Before(xt) {
		return false, nil, nil
	}
	old, by, from := x, y, yf
	if yf.Before(xf) {
		old, by, from = y, x, xf
	}
	// The old one ended on its own (not stopped by rtmpload) within the
	// margin of the new one's acceptance.
	end := old.ended()
	if !old.Stopped && old.Class != schema.ClassStopped && !end.IsZero() && end.Sub(from) <= takeoverMargin {
		return true, old, by
	}
	return true, nil, nil
}

// takeovers maps each attempt that a later publisher of its name took over
// to that publisher.
func takeovers(byStream map[string][]*Attempt) map[*Attempt]*Attempt {
	out := make(map[*Attempt]*Attempt)
	for _, as := range byStream {
		for i, a := range as {
			for _, o := range as[i+1:] {
				if o.Slot == a.Slot {
					continue
				}
				if _, old, by := liveTogether(a, o); old != nil {
					out[old] = by
				}
			}
		}
	}
	return out
}

// takeoverEvidence names the attempt that took a over, for its failure.
func takeoverEvidence(a, by *Attempt) string {
	from, _, _ := by.liveInterval()
	return fmt.Sprintf("taken over by %s (%s): the server accepted it as %s's publisher and closed this one %d ms later; ",
		by.ID, by.Group, a.Stream, a.ended().Sub(from).Milliseconds())
}

// contests lists every name with more than one attempt, and raises
// duplicate_accepted when two attempts held a name at once. A takeover (the
// old publisher closed as the new one was accepted) is named in the contest
// and is no anomaly.
func contests(byStream map[string][]*Attempt, taken map[*Attempt]*Attempt) ([]Contest, []string) {
	var out []Contest
	var anomalies []string
	for stream, as := range byStream {
		// A contest is between publishers (slots); one publisher's
		// reconnects and churn restarts do not contest its own name.
		slots := make(map[int]bool)
		for _, a := range as {
			slots[a.Slot] = true
		}
		if len(slots) < 2 {
			continue
		}
		as = slices.Clone(as)
		slices.SortStableFunc(as, func(x, y *Attempt) int { return x.Spawn.Compare(y.Spawn) })
		c := Contest{Stream: stream, Winners: []string{}}
		for _, a := range as {
			e := ContestEntry{ID: a.ID, Group: a.Group, Spawn: a.Spawn, Outcome: a.Outcome, Message: a.Message}
			if a.Hook != nil {
				e.HookVerdict, e.HookReason = a.Hook.Verdict, a.Hook.Reason
			}
			if by := taken[a]; by != nil {
				e.TakenOverBy = by.ID
				c.Takeover = true
			}
			if a.Outcome == schema.OutcomeOK || a.Outcome == schema.OutcomeDropped {
				c.Winners = append(c.Winners, a.ID)
			}
			c.Attempts = append(c.Attempts, e)
		}
		for i, a := range as {
			for _, o := range as[i+1:] {
				if o.Slot == a.Slot {
					continue
				}
				if overlap, old, _ := liveTogether(a, o); overlap && old == nil {
					c.TwoLive = true
				}
			}
		}
		if c.TwoLive {
			anomalies = append(anomalies, string(schema.OutcomeDuplicateAccepted)+": "+stream+" had two live publishers ("+strings.Join(c.Winners, ", ")+")")
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y Contest) int { return cmp.Compare(x.Stream, y.Stream) })
	slices.Sort(anomalies)
	if out == nil {
		out = []Contest{}
	}
	return out, anomalies
}

// metricOrder is the order of a publish: latency tables follow it.
var metricOrder = []string{
	schema.MetricFFmpegStartup, schema.MetricHandshake, schema.MetricConnect, MetricHookLatency, schema.MetricHookWait,
	schema.MetricPublish, schema.MetricFirstMedia, MetricPublishStart,
}

func metricRank(m string) int {
	if i := slices.Index(metricOrder, m); i >= 0 {
		return i
	}
	return len(metricOrder)
}

// histograms keeps one HDR histogram per (metric, group) plus "all".
type histograms struct {
	h    map[[2]string]*hdrhistogram.Histogram
	src  map[string]string
	keys [][2]string
}

func newHistograms() *histograms {
	return &histograms{h: make(map[[2]string]*hdrhistogram.Histogram), src: make(map[string]string)}
}

func (hs *histograms) record(metric, source, group string, d time.Duration) {
	hs.src[metric] = source
	us := max(d.Microseconds(), histMin)
	groups := []string{"all", group}
	if group == "all" {
		groups = groups[:1]
	}
	for _, g := range groups {
		k := [2]string{metric, g}
		h, ok := hs.h[k]
		if !ok {
			h = hdrhistogram.New(histMin, histMax, histSigs)
			hs.h[k] = h
			hs.keys = append(hs.keys, k)
		}
		_ = h.RecordValue(min(us, histMax)) // clamped: cannot fail
	}
}

func (hs *histograms) rows() []LatencyRow {
	keys := slices.Clone(hs.keys)
	slices.SortStableFunc(keys, func(x, y [2]string) int {
		if c := cmp.Compare(metricRank(x[0]), metricRank(y[0])); c != 0 {
			return c
		}
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		if (x[1] == "all") != (y[1] == "all") {
			if x[1] == "all" {
				return -1
			}
			return 1
		}
		return cmp.Compare(x[1], y[1])
	})
	groupsOf := make(map[string]int)
	for _, k := range keys {
		if k[1] != "all" {
			groupsOf[k[0]]++
		}
	}
	rows := make([]LatencyRow, 0, len(keys))
	for _, k := range keys {
		if k[1] != "all" && groupsOf[k[0]] == 1 {
			continue // the same figures as its "all" row
		}
		h := hs.h[k]
		ms := func(us int64) float64 { return float64(us) / 1000 }
		rows = append(rows, LatencyRow{
			Metric: k[0], Source: hs.src[k[0]], Group: k[1], Count: h.TotalCount(),
			P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)),
			P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
			Histogram: buckets(h),
		})
	}
	return rows
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

// joinNonEmpty joins the parts that are not empty.
func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// serverCores is a step's server CPU for a sentence.
func serverCores(c float64) string {
	if c < 0 {
		return "not measured apart"
	}
	return fmt.Sprintf("%.2f cores", c)
}

// sideText says which side of a capacity run ran out.
func sideText(side string) string {
	switch side {
	case schema.SideGenerator:
		return "the generator's limit, not the server's"
	case schema.SideServer:
		return "the server's limit"
	case schema.SideMachine:
		return "the machine's limit (the generator and the server together)"
	case schema.SideOther:
		return "other work on the machine used it, not this run: run it again on a quiet machine"
	}
	return side
}

// FanoutSummary is what fan-out changed: outputs of one ffmpeg (tee) start
// together. Parallel outputs open at once, each fed from its own queue; in
// turn, they are opened one after another and tee sends media to none of
// them until all are open, so an accepted output waits for the ones after
// it, and SRS drops one that sent only its headers at its second look
// (docs/srs-behaviour.md, "Publish timeouts").
type FanoutSummary struct {
	Parallel   bool `json:"parallel"`
	Processes  int  `json:"processes"`   // ffmpeg processes with several outputs
	Outputs    int  `json:"outputs"`     // attempts that were one of their outputs
	MaxOutputs int  `json:"max_outputs"` // the most outputs of one process
	// MediaWait is, per output, from the server's acceptance of its publish
	// (the wire's Publish.Start) to its first media: on its own connection
	// when Parallel, else its process's first progress; Waits is how many
	// outputs had both.
	Waits          int     `json:"waits"`
	MediaWaitP50Ms float64 `json:"media_wait_p50_ms"`
	MediaWaitMaxMs float64 `json:"media_wait_max_ms"`
}

func fanoutSummary(attempts []*Attempt, open string) *FanoutSummary {
	f := FanoutSummary{Parallel: open == schema.FanoutParallel}
	procs := make(map[string]bool)
	var waits []time.Duration
	for _, a := range attempts {
		if a.Outputs < 2 {
			continue
		}
		f.Outputs++
		procs[a.Process] = true
		f.MaxOutputs = max(f.MaxOutputs, a.Outputs)
		t, ok := a.Wire.PublishStarted()
		media := a.Publishing
		if f.Parallel {
			// Each output is fed as soon as it opens: its own first media
			// on the wire. (In turn, tee sends the headers at each open.)
			media, _ = a.Wire.FirstMedia()
		}
		if ok && !media.IsZero() {
			waits = append(waits, max(media.Sub(t), 0))
		}
	}
	if f.Outputs == 0 {
		return nil
	}
	f.Processes = len(procs)
	if f.Waits = len(waits); f.Waits > 0 {
		slices.Sort(waits)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		f.MediaWaitP50Ms, f.MediaWaitMaxMs = ms(waits[len(waits)/2]), ms(waits[len(waits)-1])
	}
	return &f
}
