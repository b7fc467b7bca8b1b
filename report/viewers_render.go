package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// viewerColumns is the viewer outcomes that occurred, in report order.
func viewerColumns(v *ViewerSummary) []schema.Outcome {
	var cols []schema.Outcome
	for _, o := range schema.ViewerOutcomes {
		if v.Outcomes[o] > 0 {
			cols = append(cols, o)
		}
	}
	return cols
}

// viewerRows are the viewers' outcome table: a row per group, then the
// total; each group with its protocol, stalls and received rate.
func viewerRows(v *ViewerSummary) (header []string, rows [][]string) {
	cols := viewerColumns(v)
	header = []string{"group", "protocol", "plays"}
	for _, c := range cols {
		header = append(header, string(c))
	}
	header = append(header, "stalled plays", "stalls", "max lag ms", "kbit/s")
	var stalled, stalls, inStrain int
	for _, g := range v.Groups {
		row := []string{g.Name, g.Protocol, strconv.Itoa(g.Plays)}
		for _, c := range cols {
			row = append(row, strconv.Itoa(g.Outcomes[c]))
		}
		row = append(row, strconv.Itoa(g.StalledPlays), stallCell(g.Stalls, g.StallsInStrain), ms(float64(g.MaxLag)/float64(time.Millisecond)),
			strconv.FormatFloat(g.BitrateKbps, 'f', 0, 64))
		rows = append(rows, row)
		stalled += g.StalledPlays
		stalls += g.Stalls
		inStrain += g.StallsInStrain
	}
	total := []string{"total", "", strconv.Itoa(v.Plays)}
	for _, c := range cols {
		total = append(total, strconv.Itoa(v.Outcomes[c]))
	}
	total = append(total, strconv.Itoa(stalled), stallCell(stalls, inStrain), "", "")
	return header, append(rows, total)
}

// stallCell is a stall count and how many of them fell while the load
// machine was strained.
func stallCell(n, inStrain int) string {
	if inStrain == 0 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d (%d in strain)", n, inStrain)
}

// viewerByState is the viewers' outcomes against the callback's state
// when each play was decided.
func viewerByState(v *ViewerSummary) (states []schema.CallbackState, rows [][]string) {
	for _, st := range schema.States {
		for _, byState := range v.ByState {
			if byState[st] > 0 {
				states = append(states, st)
				break
			}
		}
	}
	for _, o := range schema.ViewerOutcomes {
		byState, ok := v.ByState[o]
		if !ok {
			continue
		}
		row := []string{string(o)}
		for _, st := range states {
			row = append(row, strconv.Itoa(byState[st]))
		}
		rows = append(rows, row)
	}
	return states, rows
}

// viewerFaulted tells whether the callback's state ever mattered to a play.
func viewerFaulted(v *ViewerSummary) bool {
	for _, byState := range v.ByState {
		for st, n := range byState {
			if n > 0 && st != schema.StateUp && st != schema.StateUnknown {
				return true
			}
		}
	}
	return false
}

// viewersTable writes the viewers' part of the terminal report.
func viewersTable(w io.Writer, v *ViewerSummary) error {
	fmt.Fprintln(w, "\nViewers")
	header, rows := viewerRows(v)
	hs := make([]any, len(header))
	for i, h := range header {
		hs[i] = h
	}
	t := newTable(w, hs...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if viewerFaulted(v) {
		states, rows := viewerByState(v)
		fmt.Fprintln(w, "\nViewers vs callback availability (plays by outcome and the callback's state when each was decided)")
		hs := []any{"outcome"}
		for _, st := range states {
			hs = append(hs, string(st))
		}
		t := newTable(w, hs...)
		for _, r := range rows {
			if err := t.Append(r); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(v.Latency) > 0 {
		fmt.Fprint(w, "\nViewer timings (from the dial) and latency from publisher to viewer")
		if err := latencyTable(w, v.Latency); err != nil {
			return err
		}
	}
	if len(v.Failures) > 0 {
		fmt.Fprintln(w, "\nViewer failures")
		t := newTable(w, "play", "group", "stream", "outcome", "on_play", "callback", "evidence")
		for i, f := range v.Failures {
			if i == mdMaxFailures {
				break
			}
			if err := t.Append([]string{shortID(f.ID), f.Group, f.Stream, string(f.Outcome), viewHookSaw(&f), string(f.HookState),
				strings.TrimSpace(f.Evidence)}); err != nil {
				return err
			}
		}
		return t.Render()
	}
	return nil
}

func viewHookSaw(v *Viewer) string {
	if v.Hook == nil {
		return "no call"
	}
	return fmt.Sprintf("%s %d", v.Hook.Verdict, v.Hook.Status)
}

// mdViewers writes the viewers' part of the markdown report.
func mdViewers(ew *errWriter, v *ViewerSummary) {
	header, rows := viewerRows(v)
	ew.printf("## Viewers\n\n| %s |\n|---|---|%s\n", strings.Join(header, " | "), strings.Repeat("---:|", len(header)-2))
	for _, r := range rows {
		ew.printf("| %s |\n", strings.Join(mdEscapeAll(r), " | "))
	}
	ew.printf("\n")
	if viewerFaulted(v) {
		states, rows := viewerByState(v)
		ew.printf("Plays by outcome and the callback's state when each was decided.\n\n")
		mdStateTable(ew, states, rows)
	}
	if len(v.Latency) > 0 {
		ew.printf("Viewer timings (from the dial) and latency from publisher to viewer:\n\n")
		mdLatency(ew, v.Latency)
	}
	if len(v.Failures) > 0 {
		ew.printf("Viewer failures (%d shown):\n\n| play | group | stream | outcome | on_play | evidence |\n|---|---|---|---|---|---|\n", len(v.Failures))
		for i, f := range v.Failures {
			if i == mdMaxFailures {
				break
			}
			ew.printf("| %s | %s | %s | %s | %s | %s |\n", f.ID, mdEscape(f.Group), mdEscape(f.Stream), f.Outcome,
				mdEscape(viewHookSaw(&f)), mdEscape(strings.TrimSpace(f.Evidence)))
		}
		ew.printf("\n")
	}
}

func mdEscapeAll(r []string) []string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = mdEscape(s)
	}
	return out
}
