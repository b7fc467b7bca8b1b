package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Markdown writes the report as GitHub-flavoured Markdown, sized for a CI
// job summary: failed thresholds first, then outcomes, latency, the hook,
// contests, failures and the baseline comparison.
func Markdown(w io.Writer, s *Summary, x Extras) error {
	termSafe(s, &x)
	ew := &errWriter{w: w}
	r := s.Run
	ew.printf("# rtmpload: %s\n\n", mdEscape(r.Scenario.Name))
	ew.printf("Run `%s`, target %s, hook %s, ran %s, end **%s**", r.ID, mdEscape(r.Target), mdEscape(r.HookMode), runDuration(s), s.EndReason)
	if s.EndError != "" {
		ew.printf(": %s", mdEscape(s.EndError))
	}
	ew.printf(".\n\n")

	if len(x.Thresholds) > 0 {
		mdThresholds(ew, x.Thresholds)
	}
	for _, a := range s.Anomalies {
		ew.printf("> **ANOMALY** %s\n\n", mdEscape(a))
	}

	mdOutcomes(ew, s)

	if faulted(s) || machineBlamed(s) {
		mdByState(ew, s)
	}

	if len(s.Latency) > 0 {
		mdLatency(ew, s.Latency)
	}

	if v := s.Viewers; v != nil {
		mdViewers(ew, v)
	}

	ew.printf("## Hook\n\n%d calls; on_publish answers: %s; orphan calls: %d.\n\n", s.Hook.Calls, verdictList(s.Hook.Verdicts), s.Hook.Orphans)
	if u := s.Hook.Upstream; u != nil {
		ew.printf("%s.\n\n", upstreamLine(u))
	}

	if len(s.Contests) > 0 {
		mdContests(ew, s.Contests)
	}

	if len(s.Failures) > 0 {
		mdFailures(ew, s.Failures, saidHeader(s))
	}

	if c := x.Baseline; c != nil {
		mdBaseline(ew, c)
	}
	return ew.err
}

// mdThresholds lists the thresholds, failed first.
func mdThresholds(ew *errWriter, ts []ThresholdResult) {
	failed := Failed(ts)
	if failed > 0 {
		ew.printf("## Thresholds: %d of %d FAILED\n\n", failed, len(ts))
	} else {
		ew.printf("## Thresholds: all %d passed\n\n", len(ts))
	}
	ew.printf("| | threshold | actual | limit | why |\n|---|---|---|---|---|\n")
	for _, t := range failedFirst(ts) {
		mark := "✅"
		if !t.Passed {
			mark = "❌"
		}
		ew.printf("| %s | `%s` | %s | %s | %s |\n", mark, t.Expr, mdEscape(t.Actual), mdEscape(t.Limit), mdEscape(t.Reason))
	}
	ew.printf("\n")
}

// mdOutcomes counts outcomes per group; only the outcome columns that occurred.
func mdOutcomes(ew *errWriter, s *Summary) {
	cols := outcomeColumns(s)
	ew.printf("## Outcomes\n\n| group | attempts |")
	for _, c := range cols {
		ew.printf(" %s |", c)
	}
	ew.printf("\n|---|---:|%s\n", strings.Repeat("---:|", len(cols)))
	for _, g := range s.Groups {
		ew.printf("| %s | %d |", mdEscape(g.Name), g.Attempts)
		for _, c := range cols {
			ew.printf(" %d |", g.Outcomes[c])
		}
		ew.printf("\n")
	}
	ew.printf("| **total** | **%d** |", s.Attempts)
	for _, c := range cols {
		ew.printf(" **%d** |", s.Outcomes[c])
	}
	ew.printf("\n\n")
}

// mdByState counts attempts by outcome and the callback's state when each was decided.
func mdByState(ew *errWriter, s *Summary) {
	states, rows := byStateTable(s)
	ew.printf("## Failures vs callback availability\n\nAttempts by outcome and the callback's state when each was decided.\n\n")
	mdStateTable(ew, states, rows)
	if note := machineNote(s); note != "" {
		ew.printf("%s\n\n", mdEscape(note))
	}
}

// mdLatency is the percentiles of each metric, source and group.
func mdLatency(ew *errWriter, rows []LatencyRow) {
	ew.printf("## Latency (ms)\n\n| metric | source | group | n | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range rows {
		ew.printf("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", l.Metric, l.Source, mdEscape(l.Group), l.Count,
			ms(l.P50), ms(l.P90), ms(l.P95), ms(l.P99), ms(l.P999), ms(l.Max))
	}
	ew.printf("\n")
}

// mdContests shows, per stream name, who won and how each rival ended.
func mdContests(ew *errWriter, contests []Contest) {
	ew.printf("## Duplicate-name contests\n\n| stream | winner | attempts (start order): id group hook → outcome |\n|---|---|---|\n")
	for _, c := range contests {
		ew.printf("| %s | %s | %s |\n", mdEscape(c.Stream), mdEscape(contestWinner(c)), mdEscape(contestAttempts(c, "→")))
	}
	ew.printf("\n")
}

// mdFailures lists the attempts that did not end ok (the first mdMaxFailures).
func mdFailures(ew *errWriter, failures []Failure, said string) {
	ew.printf("## Failures (%d)\n\n", len(failures))
	ew.printf("| attempt | group | stream | outcome | %s | hook saw | evidence |\n|---|---|---|---|---|---|---|\n", said)
	for i, f := range failures {
		if i == mdMaxFailures {
			ew.printf("\n… and %d more (see the HTML report).\n", len(failures)-i)
			break
		}
		ew.printf("| %s | %s | %s | %s | %s | %s | %s |\n", f.ID, mdEscape(f.Group), mdEscape(f.Stream), f.Outcome,
			mdEscape(lastPart(f.Message)), mdEscape(f.Hook), mdEscape(strings.TrimSpace(f.Evidence)))
	}
	ew.printf("\n")
}

// mdBaseline is what changed against the baseline run.
func mdBaseline(ew *errWriter, c *Comparison) {
	ew.printf("## Against baseline `%s`\n\nChanges beyond noise (latency > 10%% and > 1 ms; rates > 2 points) are **bold**.\n\n", c.BaselineID)
	ew.printf("| metric | group | stat | baseline ms | now ms | change |\n|---|---|---|---:|---:|---:|\n")
	for _, l := range c.Latency {
		ew.printf("| %s | %s | %s | %s | %s | %s |\n", l.Metric, mdEscape(l.Group), l.Stat, ms(l.Old), ms(l.New), bold(pct(l.Change), l.Beyond))
	}
	ew.printf("\n| outcome | group | baseline | now | change |\n|---|---|---:|---:|---:|\n")
	for _, o := range c.Outcomes {
		ew.printf("| %s | %s | %s | %s | %s |\n", o.Outcome, mdEscape(o.Group), rateCount(o.OldRate, o.OldCount), rateCount(o.NewRate, o.NewCount),
			bold(points(o.NewRate-o.OldRate), o.Beyond))
	}
	ew.printf("\n")
}

// A job summary is limited to 1 MiB: past this many rows the HTML report
// has the rest.
const mdMaxFailures = 50

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

var mdReplacer = strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "`", "'")

func mdEscape(s string) string { return mdReplacer.Replace(s) }

func bold(s string, on bool) string {
	if on {
		return "**" + s + "**"
	}
	return s
}

func runDuration(s *Summary) string {
	if s.Ended.IsZero() || s.Run.Started.IsZero() {
		return "?"
	}
	return s.Ended.Sub(s.Run.Started).Round(100 * time.Millisecond).String()
}

// outcomeColumns is the outcomes that occurred, in report order.
func outcomeColumns(s *Summary) []schema.Outcome {
	var cols []schema.Outcome
	for _, o := range schema.Outcomes {
		if s.Outcomes[o] > 0 {
			cols = append(cols, o)
		}
	}
	return cols
}

func verdictList(v map[string]int) string {
	var parts []string
	for _, k := range HookVerdicts {
		if n := v[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func contestWinner(c Contest) string {
	w := strings.Join(shortIDs(c.Winners), ",")
	if w == "" {
		w = "none"
	}
	if c.TwoLive {
		w += " (TWO LIVE)"
	}
	if c.Takeover {
		w += " (TAKEOVER)"
	}
	return w
}

// takenOver is an attempt's note in a contest when a later publisher took
// the name over from it.
func takenOver(e ContestEntry) string {
	if e.TakenOverBy == "" {
		return ""
	}
	return " (taken over by " + shortID(e.TakenOverBy) + ")"
}

// contestAttempts lists a contest's attempts in start order, each as "id
// group hook ARROW outcome"; the table and markdown reports differ only in
// the arrow.
func contestAttempts(c Contest, arrow string) string {
	var parts []string
	for _, e := range c.Attempts {
		hv := e.HookVerdict
		if hv == "" {
			hv = "no-call"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s %s%s", shortID(e.ID), e.Group, hv, arrow, e.Outcome, takenOver(e)))
	}
	return strings.Join(parts, "; ")
}

func pct(f float64) string { return fmt.Sprintf("%+.1f%%", 100*f) }

func points(d float64) string { return fmt.Sprintf("%+.1f pt", 100*d) }

func rateCount(r float64, n int) string {
	return strconv.FormatFloat(100*r, 'f', 1, 64) + "% (" + strconv.Itoa(n) + ")"
}

// mdStateTable writes a table of outcomes (rows) by the callback's state
// (columns), then a blank line: attempts and plays alike.
func mdStateTable[S ~string](ew *errWriter, states []S, rows [][]string) {
	ew.printf("| outcome |")
	for _, st := range states {
		ew.printf(" %s |", st)
	}
	ew.printf("\n|---|%s\n", strings.Repeat("---:|", len(states)))
	for _, row := range rows {
		ew.printf("| %s |\n", strings.Join(row, " | "))
	}
	ew.printf("\n")
}
