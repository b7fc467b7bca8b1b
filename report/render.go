package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// JSON writes the summary as indented JSON (report.json).
func JSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func newTable(w io.Writer, header ...any) *tablewriter.Table {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	t.Header(header...)
	return t
}

// Table writes the terminal report.
func Table(w io.Writer, s *Summary) error {
	tableHeader(w, s)
	if err := outcomesTable(w, s); err != nil {
		return err
	}
	if len(s.Latency) > 0 {
		if err := latencyTable(w, s.Latency); err != nil {
			return err
		}
	}
	if v := s.Viewers; v != nil {
		if err := viewersTable(w, v); err != nil {
			return err
		}
	}
	if c := s.Capacity; c != nil {
		if err := capacityTable(w, c); err != nil {
			return err
		}
	}
	hookLines(w, s.Hook)
	if len(s.Contests) > 0 {
		if err := contestsTable(w, s.Contests); err != nil {
			return err
		}
	}
	if v := s.Server; v != nil {
		serverViewLine(w, v)
	}
	if faulted(s) || machineBlamed(s) {
		if err := availabilityTable(w, s); err != nil {
			return err
		}
	}
	if len(s.Failures) > 0 {
		return failuresTable(w, s)
	}
	return nil
}

// tableHeader is the run's identity, its end and cost, and what stands out
// (anomalies, fan-out) before the tables.
func tableHeader(w io.Writer, s *Summary) {
	r := s.Run
	dur := "?"
	if !s.Ended.IsZero() && !r.Started.IsZero() {
		dur = s.Ended.Sub(r.Started).Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(w, "run %s  scenario %s  target %s  hook %s  ran %s  end %s\n",
		r.ID, r.Scenario.Name, r.Target, r.HookMode, dur, s.EndReason)
	if s.EndError != "" {
		fmt.Fprintf(w, "error: %s\n", s.EndError)
	}
	if u := s.Usage; u != nil && !s.Ended.IsZero() && !r.Started.IsZero() {
		wall := s.Ended.Sub(r.Started).Seconds()
		self := "rtmpload itself"
		if s.Engines != nil {
			self += " (its native publishers included)"
		}
		fmt.Fprintf(w, "%s: cpu %.1fs (%.1f%% of one core), max rss %.1f MiB; its ffmpegs: cpu %.1fs (%.1f%% of one core)\n",
			self, u.SelfCPU.Seconds(), 100*u.SelfCPU.Seconds()/wall, float64(u.SelfMaxRSS)/(1<<20),
			u.ChildCPU.Seconds(), 100*u.ChildCPU.Seconds()/wall)
		if u.ServerCPU > 0 {
			fmt.Fprintf(w, "the server's process: cpu %.1fs (%.1f%% of one core), max rss %.1f MiB\n",
				u.ServerCPU.Seconds(), 100*u.ServerCPU.Seconds()/wall, float64(u.ServerMaxRSS)/(1<<20))
		}
	}
	for _, a := range s.Anomalies {
		fmt.Fprintf(w, "ANOMALY %s\n", a)
	}
	writeEngines(w, s.Engines)
	if f := s.Fanout; f != nil {
		how := "tee opens them in turn and sends media once all are open"
		if f.Parallel {
			how = "each opens at once and is fed from its own queue"
		}
		fmt.Fprintf(w, "fan-out: %d publishers as outputs of %d ffmpeg processes (up to %d each); %s",
			f.Outputs, f.Processes, f.MaxOutputs, how)
		if f.Waits > 0 {
			fmt.Fprintf(w, ": an accepted output waited p50 %s ms, max %s ms for media", ms(f.MediaWaitP50Ms), ms(f.MediaWaitMaxMs))
		}
		fmt.Fprintln(w)
	}
}

// outcomesTable counts outcomes per group; only the outcome columns that occurred.
func outcomesTable(w io.Writer, s *Summary) error {
	var cols []schema.Outcome
	for _, o := range schema.Outcomes {
		if s.Outcomes[o] > 0 {
			cols = append(cols, o)
		}
	}
	fmt.Fprintln(w, "\nOutcomes")
	header := []any{"group", "attempts"}
	for _, c := range cols {
		header = append(header, c)
	}
	starved := 0
	for _, g := range s.Groups {
		starved += g.Starved
	}
	if starved > 0 {
		header = append(header, "starved")
	}
	t := newTable(w, header...)
	for _, g := range s.Groups {
		row := []string{g.Name, strconv.Itoa(g.Attempts)}
		for _, c := range cols {
			row = append(row, strconv.Itoa(g.Outcomes[c]))
		}
		if starved > 0 {
			row = append(row, strconv.Itoa(g.Starved))
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	total := []string{"total", strconv.Itoa(s.Attempts)}
	for _, c := range cols {
		total = append(total, strconv.Itoa(s.Outcomes[c]))
	}
	if starved > 0 {
		total = append(total, strconv.Itoa(starved))
	}
	if err := t.Append(total); err != nil {
		return err
	}
	return t.Render()
}

// latencyTable is the percentiles of each metric, source and group.
func latencyTable(w io.Writer, rows []LatencyRow) error {
	fmt.Fprintln(w, "\nLatency (ms)")
	t := newTable(w, "metric", "source", "group", "n", "p50", "p90", "p95", "p99", "p99.9", "max")
	for _, l := range rows {
		if err := t.Append([]string{l.Metric, l.Source, l.Group, strconv.FormatInt(l.Count, 10),
			ms(l.P50), ms(l.P90), ms(l.P95), ms(l.P99), ms(l.P999), ms(l.Max)}); err != nil {
			return err
		}
	}
	return t.Render()
}

// hookLines is what the callback answered, and its upstream's answers.
func hookLines(w io.Writer, h HookSummary) {
	fmt.Fprintf(w, "\nHook: %d calls; on_publish answers:", h.Calls)
	for _, v := range HookVerdicts {
		if n := h.Verdicts[v]; n > 0 {
			fmt.Fprintf(w, " %s %d", v, n)
		}
	}
	fmt.Fprintln(w)
	if u := h.Upstream; u != nil {
		fmt.Fprintf(w, "%s; its latency is the upstream_latency row\n", upstreamLine(u))
	}
}

// contestsTable shows, per stream name, who won and how each rival ended.
func contestsTable(w io.Writer, contests []Contest) error {
	fmt.Fprintln(w, "\nDuplicate-name contests (attempts in start order)")
	t := newTable(w, "stream", "winner", "attempts: id group hook -> outcome")
	for _, c := range contests {
		winner := contestWinner(c)
		if c.ServerMax > 0 {
			winner += fmt.Sprintf(" [server listed at most %d]", c.ServerMax)
		}
		if err := t.Append([]string{c.Stream, winner, contestAttempts(c, "->")}); err != nil {
			return err
		}
	}
	return t.Render()
}

// failuresTable is every attempt that did not end ok, with its evidence.
// With the load machine's samples, a last column says whether it was
// strained as each failed.
func failuresTable(w io.Writer, s *Summary) error {
	fmt.Fprintln(w, "\nFailures")
	header := []any{"attempt", "group", "stream", "outcome", saidHeader(s), "hook saw", "callback"}
	if s.Machine != nil {
		header = append(header, "load machine")
	}
	t := newTable(w, header...)
	for _, f := range s.Failures {
		row := []string{shortID(f.ID), f.Group, f.Stream, string(f.Outcome), lastPart(f.Message), f.Hook, string(f.State)}
		if s.Machine != nil {
			row = append(row, machineShort(f.Machine))
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	return t.Render()
}

// capacityTable shows each step of a capacity run and the knee.
func capacityTable(w io.Writer, c *Capacity) error {
	fmt.Fprintln(w, "\nCapacity steps")
	t := newTable(w, "step", "publishers", "active", "started", "refused", "dropped", "starved", "p95 ms", "rtmpload cores", "generator cores", "server cores", "machine busy", "held")
	for _, st := range c.Steps {
		machine, server := "?", "?"
		if st.MachineCPU >= 0 {
			machine = fmt.Sprintf("%.0f%%", 100*st.MachineCPU)
		}
		if st.ServerCPU >= 0 {
			server = fmt.Sprintf("%.2f", st.ServerCPU)
		}
		held := "yes"
		if !st.Held {
			held = "NO: " + strings.Join(st.Broke, "; ")
		}
		if err := t.Append([]string{strconv.Itoa(st.Step), strconv.Itoa(st.Publishers), strconv.Itoa(st.Active),
			strconv.Itoa(st.Started), strconv.Itoa(st.Refused), strconv.Itoa(st.Dropped), strconv.Itoa(st.Starved),
			ms(st.P95Ms), fmt.Sprintf("%.2f", st.CPU), fmt.Sprintf("%.2f", st.GeneratorCPU), server, machine, held}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Knee: %d publishers held. Limit: %s\n", c.Knee, c.Limit)
	return nil
}

// timelineTable is the run over time: per bucket, attempts started,
// published and refused beside the callback's state then (the worst state
// seen within the bucket). Quiet buckets are left out unless the callback's
// state changed.
func timelineTable(w io.Writer, s *Summary, tl *Timeline) error {
	width := tl.Width()
	fmt.Fprintf(w, "\nTimeline (%s buckets)\n", width)
	buckets := tl.Buckets()
	starved := tl.HadStarved()
	header := []any{"t", "started", "published", "refused", "dropped", "active"}
	if starved {
		header = append(header, "starved") // only when some publisher was: the column is noise otherwise
	}
	t := newTable(w, append(header, "hook 2xx", "hook error", "callback")...)
	// The worst state within a bucket is shown: a refusing callback matters
	// more than a slow one, and a dead one most.
	severity := []schema.CallbackState{schema.StateUnknown, schema.StateUp, schema.StateSlow, schema.StateDenying, schema.StateMisanswering, schema.StateErroring, schema.StateDown}
	rank := func(st schema.CallbackState) int { return slices.Index(severity, st) }
	prev, prevStarved := schema.CallbackState(""), 0
	for _, b := range buckets {
		from := s.Run.Started.Add(b.Start)
		to := from.Add(width)
		state := stateAt(s.Availability, from)
		for _, c := range s.Availability {
			if !c.At.Before(from) && c.At.Before(to) && rank(c.State) > rank(state) {
				state = c.State
			}
		}
		quiet := b.Started+b.Published+b.Refused+b.Dropped+b.HookOK+b.HookFail == 0
		if quiet && state == prev && b.Starved == prevStarved {
			continue
		}
		prev, prevStarved = state, b.Starved
		row := []string{b.Start.String(), strconv.Itoa(b.Started), strconv.Itoa(b.Published),
			strconv.Itoa(b.Refused), strconv.Itoa(b.Dropped), strconv.Itoa(b.Active)}
		if starved {
			row = append(row, strconv.Itoa(b.Starved))
		}
		if err := t.Append(append(row, strconv.Itoa(b.HookOK), strconv.Itoa(b.HookFail), string(state))); err != nil {
			return err
		}
	}
	return t.Render()
}

// upstreamLine sums up a proxied callback service's answers.
func upstreamLine(u *UpstreamSummary) string {
	var st []string
	for _, code := range slices.Sorted(maps.Keys(u.Statuses)) {
		st = append(st, fmt.Sprintf("HTTP %s x%d", code, u.Statuses[code]))
	}
	line := fmt.Sprintf("Your callback service (proxied): %d calls, %d unanswered, %d allowed; answers: %s",
		u.Calls, u.Unreachable, u.Allowed, strings.Join(st, ", "))
	if u.BadAnswers > 0 {
		line += fmt.Sprintf("; %d in a format SRS does not take, e.g. %s (%s)", u.BadAnswers, srs.QuoteBody(u.BadAnswerBody), srs.AllowRule)
	}
	return line
}

// faulted reports whether the callback was ever anything but up.
func faulted(s *Summary) bool {
	for _, c := range s.Availability {
		if c.State != schema.StateUp {
			return true
		}
	}
	return false
}

// byStateTable is the outcome x callback-state table: the states that
// occur, in report order, and a row of counts per outcome that occurred.
//
// With the load machine's samples (results of schema 2), a last column
// counts each outcome's failures that coincided with a strained load machine
// (machineColumn): the callback's state is not the only one that matters.
func byStateTable(s *Summary) (columns []string, rows [][]string) {
	var states []schema.CallbackState
	for _, st := range schema.States {
		for _, byState := range s.ByState {
			if byState[st] > 0 {
				states = append(states, st)
				columns = append(columns, string(st))
				break
			}
		}
	}
	if s.Machine != nil {
		columns = append(columns, machineColumn)
	}
	for _, o := range schema.Outcomes {
		byState, ok := s.ByState[o]
		if !ok {
			continue
		}
		row := []string{string(o)}
		for _, st := range states {
			row = append(row, strconv.Itoa(byState[st]))
		}
		if s.Machine != nil {
			cell := "-" // only failures a slow generator can explain are judged
			if o == schema.OutcomeHookUnreachable || (o != schema.OutcomeOK && machineCanCause(o, "")) {
				cell = strconv.Itoa(s.Machine.Coincided[o])
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return columns, rows
}

// availabilityTable shows outcomes against the callback's state at the
// moment each attempt was decided, and the state changes themselves.
func availabilityTable(w io.Writer, s *Summary) error {
	states, rows := byStateTable(s)
	fmt.Fprintln(w, "\nFailures vs callback availability (attempts by outcome and the callback's state when it was decided)")
	header := []any{"outcome"}
	for _, st := range states {
		header = append(header, st)
	}
	t := newTable(w, header...)
	for _, row := range rows {
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	start := s.Run.Started
	var changes []string
	for _, c := range s.Availability {
		label := string(c.State)
		if c.Fault != "" {
			label += " (" + c.Fault + ")"
		}
		changes = append(changes, fmt.Sprintf("%s %s", c.At.Sub(start).Round(100*time.Millisecond), label))
	}
	const maxShown = 40
	if len(changes) > maxShown {
		changes = append(changes[:maxShown], fmt.Sprintf("... %d more in report.json", len(s.Availability)-maxShown))
	}
	if len(changes) > 0 {
		fmt.Fprintf(w, "Callback state over the run: %s\n", strings.Join(changes, ", "))
	}
	if note := machineNote(s); note != "" {
		fmt.Fprintln(w, note)
	}
	return nil
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// shortID drops the run id from an attempt id: "20261125T2001-ab12-7" -> "#7".
func shortID(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		return "#" + id[i+1:]
	}
	return id
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = shortID(id)
	}
	return out
}

// serverViewLine says what the server's own API showed against rtmpload's
// outcomes: only over the snapshots it answered, and nothing when it
// answered none.
func serverViewLine(w io.Writer, v *ServerView) {
	if v.Errors == v.Snapshots {
		fmt.Fprintf(w, "\nServer's own view: none: the API gave no usable answer (%d snapshots, all unanswered: %s)\n", v.Snapshots, lastPart(v.FirstError))
		return
	}
	fmt.Fprintf(w, "\nServer's own view: %d snapshots (%d unanswered)", v.Snapshots, v.Errors)
	if len(v.Foreign) > 0 {
		fmt.Fprintf(w, "; streams not ours: %s", strings.Join(v.Foreign, ", "))
	}
	if len(v.NotSeen) > 0 {
		fmt.Fprintf(w, "; ok attempts the server never listed: %s", strings.Join(shortIDs(v.NotSeen), ", "))
	}
	if len(v.Foreign)+len(v.NotSeen)+len(v.Duplicates) == 0 {
		fmt.Fprint(w, "; agrees with rtmpload's outcomes")
		if v.Errors > 0 {
			fmt.Fprintf(w, " in the %d answered", v.Snapshots-v.Errors)
		}
	}
	fmt.Fprintln(w)
}

// lastPart keeps the end of ffmpeg's message ("rtmp://...: Input/output
// error" -> "Input/output error"): the URL is in the stream column.
func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
