package report

import (
	"embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

//go:embed templates/report.html.tmpl
var templates embed.FS

var htmlTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ms":        ms,
	"short":     shortID,
	"lastPart":  lastPart,
	"pct":       pct,
	"points":    points,
	"rate":      rateCount,
	"trim":      strings.TrimSpace,
	"winner":    contestWinner,
	"sub":       func(a, b float64) float64 { return a - b },
	"phaseBar":  phaseBarSVG,
	"phaseList": phaseList,
}).ParseFS(templates, "templates/report.html.tmpl"))

type htmlData struct {
	S          *Summary
	Duration   string
	Thresholds []ThresholdResult
	Failed     int
	Columns    []schema.Outcome
	Groups     []htmlGroup
	Timeline   template.HTML
	Width      string
	Latency    []htmlLatency
	Baseline   *Comparison
	Verdicts   string
	Upstream   string // the proxied callback service's answers, "" without a proxy
	// Starved: some publisher fell below real time (the timeline's legend).
	Starved bool
	// States and ByState: the failures vs callback availability table.
	States  []string
	ByState [][]string
	// Machine is the line about the load machine under that table.
	Machine string
	// Viewers: the viewers' tables (nil: no viewers).
	Viewers *htmlViewers
}

type htmlViewers struct {
	Header   []string
	Rows     [][]string
	States   []schema.CallbackState
	ByState  [][]string
	Latency  []LatencyRow
	Failures []Viewer
}

type htmlGroup struct {
	Name     string
	Attempts int
	Counts   []int
}

type htmlLatency struct {
	Metric string
	Rows   []LatencyRow
	Hist   template.HTML // the distribution of every group's samples
	Chart  template.HTML // percentiles per group
}

// HTML writes the report as one self-contained page: no scripts, no
// network, charts as inline SVG drawn here. It opens from a CI artifact.
func HTML(w io.Writer, s *Summary, x Extras) error {
	termSafe(s, &x)
	d := htmlData{
		S: s, Duration: runDuration(s), Thresholds: failedFirst(x.Thresholds), Failed: Failed(x.Thresholds),
		Columns: outcomeColumns(s), Baseline: x.Baseline, Verdicts: verdictList(s.Hook.Verdicts),
	}
	d.States, d.ByState = byStateTable(s)
	d.Machine = machineNote(s)
	if u := s.Hook.Upstream; u != nil {
		d.Upstream = upstreamLine(u)
	}
	for _, g := range append(s.Groups, GroupSummary{Name: "total", Attempts: s.Attempts, Outcomes: s.Outcomes}) {
		hg := htmlGroup{Name: g.Name, Attempts: g.Attempts}
		for _, c := range d.Columns {
			hg.Counts = append(hg.Counts, g.Outcomes[c])
		}
		d.Groups = append(d.Groups, hg)
	}
	if v := s.Viewers; v != nil {
		hv := &htmlViewers{Latency: v.Latency, Failures: v.Failures}
		hv.Header, hv.Rows = viewerRows(v)
		if viewerFaulted(v) {
			hv.States, hv.ByState = viewerByState(v)
		}
		d.Viewers = hv
	}
	if x.Timeline != nil {
		d.Timeline = timelineSVG(x.Timeline, s)
		d.Starved = x.Timeline.HadStarved()
		d.Width = x.Timeline.Width().String()
	}
	for _, r := range s.Latency {
		if len(d.Latency) == 0 || d.Latency[len(d.Latency)-1].Metric != r.Metric {
			d.Latency = append(d.Latency, htmlLatency{Metric: r.Metric})
		}
		l := &d.Latency[len(d.Latency)-1]
		l.Rows = append(l.Rows, r)
	}
	for i := range d.Latency {
		d.Latency[i].Chart = percentileSVG(d.Latency[i].Rows)
		d.Latency[i].Hist = histogramSVG(d.Latency[i].Rows[0])
	}
	return htmlTmpl.Execute(w, d)
}

const (
	chartW     = 1100
	chartH     = 220
	chartLeft  = 50
	chartRight = 50
	bandH      = 18
)

// stateColor is the callback state's colour in the availability band.
func stateColor(state schema.CallbackState) string {
	switch state {
	case schema.StateUp:
		return "#4ac26b"
	case schema.StateSlow:
		return "#e3b341"
	case schema.StateDenying:
		return "#a371f7"
	case schema.StateMisanswering:
		return "#db61a2"
	case schema.StateErroring:
		return "#f0883e"
	case schema.StateDown:
		return "#e5534b"
	}
	return "#e6e9ef"
}

// timelineSVG draws attempts started and failures per bucket as bars,
// active publishers as a line on its own axis, and the callback's answers
// as a band under the time axis.
func timelineSVG(t *Timeline, s *Summary) template.HTML {
	bs := t.Buckets()
	if len(bs) == 0 {
		return template.HTML(`<p class="muted">No attempts in the stream.</p>`)
	}
	maxBar, maxActive := 1, 1
	for _, b := range bs {
		maxBar = max(maxBar, b.Started, b.Refused+b.Dropped)
		maxActive = max(maxActive, b.Active)
	}
	plotW := float64(chartW - chartLeft - chartRight)
	bw := plotW / float64(len(bs))
	y := func(v, of int) float64 { return chartH - float64(v)/float64(of)*(chartH-20) }
	var sb strings.Builder
	states := len(s.Availability) > 0
	extra := 0
	if states {
		extra = bandH + 6
	}
	// The load machine's band, when the stream has its samples, goes
	// between the hook's and the callback's.
	mb := 0
	if s.Machine != nil {
		mb = bandH + 6
		extra += mb
	}
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="attempts, failures and active publishers over time">`, chartW, chartH+bandH+50+extra)
	// Axes and gridlines.
	for _, f := range []float64{0, 0.5, 1} {
		yy := chartH - f*(chartH-20)
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`, chartLeft, yy, chartW-chartRight, yy)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" class="axis" text-anchor="end">%d</text>`, chartLeft-6, yy+4, int(math.Round(f*float64(maxBar))))
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" class="axis active-axis">%d</text>`, chartW-chartRight+6, yy+4, int(math.Round(f*float64(maxActive))))
	}
	var line, starvedLine []string
	for i, b := range bs {
		x := chartLeft + float64(i)*bw
		half := max(bw/2-0.5, 0.5)
		if b.Started > 0 {
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="started"><title>%s: %d started</title></rect>`,
				x, y(b.Started, maxBar), half, chartH-y(b.Started, maxBar), b.Start, b.Started)
		}
		if f := b.Refused + b.Dropped; f > 0 {
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="failed"><title>%s: %d refused, %d dropped</title></rect>`,
				x+half, y(f, maxBar), half, chartH-y(f, maxBar), b.Start, b.Refused, b.Dropped)
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+bw/2, y(b.Active, maxActive)))
		starvedLine = append(starvedLine, fmt.Sprintf("%.1f,%.1f", x+bw/2, y(b.Starved, maxActive)))
		// The callback band: grey without calls, green when every answer
		// was 2xx, red in proportion to the failed ones.
		class, title := "band-none", "no on_publish calls"
		if n := b.HookOK + b.HookFail; n > 0 {
			class, title = "band-ok", fmt.Sprintf("%d answered", b.HookOK)
			if b.HookFail > 0 {
				class, title = "band-fail", fmt.Sprintf("%d answered, %d failed", b.HookOK, b.HookFail)
			}
		}
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%d" width="%.1f" height="%d" class="%s"><title>%s: hook %s</title></rect>`,
			x, chartH+8, bw, bandH, class, b.Start, title)
	}
	fmt.Fprintf(&sb, `<polyline points="%s" class="active"/>`, strings.Join(line, " "))
	if t.HadStarved() {
		fmt.Fprintf(&sb, `<polyline points="%s" class="starved"><title>starved publishers (below real time)</title></polyline>`, strings.Join(starvedLine, " "))
	}
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axisline"/>`, chartLeft, chartH, chartW-chartRight, chartH)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis" text-anchor="end">hook</text>`, chartLeft-6, chartH+8+bandH-5)
	total := time.Duration(len(bs)) * t.Width()
	at := func(tm time.Time) float64 {
		f := float64(tm.Sub(s.Run.Started)) / float64(total)
		return chartLeft + plotW*min(max(f, 0), 1)
	}
	if v := s.Machine; v != nil {
		machineBand(&sb, v, at, chartH+8+bandH+6, s.Run.Started)
	}
	if states {
		// The callback's availability (its fault schedule or a probe), as
		// recorded: each state from its change to the next.
		yb := chartH + 8 + bandH + 6 + mb
		for i, c := range s.Availability {
			end := s.Run.Started.Add(total)
			if i+1 < len(s.Availability) {
				end = s.Availability[i+1].At
			}
			x0, x1 := at(c.At), at(end)
			if x1 <= x0 {
				continue
			}
			label := string(c.State)
			if c.Fault != "" {
				label += " (" + c.Fault + ")"
			}
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s from %s: callback %s</title></rect>`,
				x0, yb, x1-x0, bandH, stateColor(c.State), c.Source, c.At.Sub(s.Run.Started).Round(100*time.Millisecond), label)
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis" text-anchor="end">callback</text>`, chartLeft-6, yb+bandH-5)
		for i, st := range []schema.CallbackState{schema.StateUp, schema.StateSlow, schema.StateDenying, schema.StateMisanswering, schema.StateErroring, schema.StateDown} {
			lx := chartLeft + i*90
			fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="axis">%s</text>`,
				lx, yb+bandH+30, stateColor(st), lx+14, yb+bandH+39, st)
		}
	}
	for i := 0; i <= 5; i++ {
		x := chartLeft + plotW*float64(i)/5
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" class="axis" text-anchor="middle">%s</text>`, x, chartH+bandH+26+extra, (total * time.Duration(i) / 5).Round(time.Second))
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis">attempts per %s</text>`, chartLeft, 12, t.Width())
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis active-axis" text-anchor="end">active publishers</text>`, chartW-chartRight+40, 12)
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// machineBand draws the load machine's samples as a band at y: green while
// fine, orange while saturated, red while the generator stalled, each with its
// figures as a tooltip.
func machineBand(sb *strings.Builder, v *MachineView, at func(time.Time) float64, y int, start time.Time) {
	for _, m := range v.Samples {
		x0, x1 := at(m.At.Add(-m.Span)), at(m.At)
		if x1 <= x0 {
			continue
		}
		fill, why := "#cfe8d5", strainOf(m.MachineSample)
		switch {
		case strings.Contains(why, "generator stalled"):
			fill = "#e5534b"
		case why != "":
			fill = "#f0a35e"
		}
		title := fmt.Sprintf("%s: CPU %.0f%% busy, run queue %d on %d cores, timer %s late", m.At.Sub(start).Round(time.Second),
			100*(m.CPUBusy+m.CPUSteal), m.RunQueue, m.Cores, m.TimerLate.Round(time.Millisecond))
		if why != "" {
			title += ": strained, " + why
		}
		fmt.Fprintf(sb, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
			x0, y, x1-x0, bandH, fill, html.EscapeString(title))
	}
	fmt.Fprintf(sb, `<text x="%d" y="%d" class="axis" text-anchor="end">machine</text>`, chartLeft-6, y+bandH-5)
}

// percentileSVG draws one metric's percentiles per group as horizontal bars
// on a shared scale. The summary keeps HDR histograms only as percentiles,
// so this is the histogram as its quantiles.
func percentileSVG(rows []LatencyRow) template.HTML {
	const labelW, rowH, w = 150, 16, 900
	maxV := 0.001
	for _, r := range rows {
		maxV = max(maxV, r.Max)
	}
	stats := []string{"p50", "p90", "p95", "p99", "p99.9", "max"}
	h := len(rows)*(len(stats)*rowH+14) + 10
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s percentiles">`, w, h, template.HTMLEscapeString(rows[0].Metric))
	yy := 4
	for _, r := range rows {
		vals := []float64{r.P50, r.P90, r.P95, r.P99, r.P999, r.Max}
		fmt.Fprintf(&sb, `<text x="0" y="%d" class="axis group">%s (n=%d)</text>`, yy+11, template.HTMLEscapeString(r.Group), r.Count)
		yy += 14
		for i, v := range vals {
			bw := v / maxV * float64(w-labelW-90)
			fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis" text-anchor="end">%s</text>`, labelW-8, yy+11, stats[i])
			fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.1f" height="%d" class="lat lat%d"/>`, labelW, yy+2, max(bw, 1), rowH-4, i)
			fmt.Fprintf(&sb, `<text x="%.1f" y="%d" class="axis">%s ms</text>`, float64(labelW)+max(bw, 1)+6, yy+11, ms(v))
			yy += rowH
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// histogramSVG draws a row's histogram: one bar per log-spaced bucket,
// labelled with its upper bound, its count above it.
func histogramSVG(r LatencyRow) template.HTML {
	if len(r.Histogram) == 0 {
		return ""
	}
	const barW, gap, plotH, top, bottom = 54, 6, 70, 14, 16
	var maxC int64 = 1
	for _, b := range r.Histogram {
		maxC = max(maxC, b.Count)
	}
	w := len(r.Histogram)*(barW+gap) + gap
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" class="hist" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s histogram">`,
		w, top+plotH+bottom, w, top+plotH+bottom, template.HTMLEscapeString(r.Metric))
	for i, b := range r.Histogram {
		x := gap + i*(barW+gap)
		h := float64(b.Count) / float64(maxC) * plotH
		label, span := bucketSpan(b)
		fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="%d" height="%.1f" class="lat lat0"><title>%d samples %s</title></rect>`,
			x, top+plotH-h, barW, math.Max(h, 0.5), b.Count, span)
		if b.Count > 0 {
			fmt.Fprintf(&sb, `<text x="%d" y="%.1f" class="axis" text-anchor="middle">%d</text>`, x+barW/2, top+plotH-h-3, b.Count)
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="axis" text-anchor="middle">%s ms</text>`, x+barW/2, top+plotH+12, label)
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// bucketSpan is a bucket's axis label ("≤2") and the range it counts
// ("in (1, 2] ms"); the scale's lower neighbour bounds it, whatever buckets
// the row shows.
func bucketSpan(b LatencyBucket) (label, span string) {
	last := bucketBounds[len(bucketBounds)-1]
	if b.LeMS == 0 {
		return ">" + trimMS(last), "over " + trimMS(last) + " ms"
	}
	lower := 0.0
	if i := slices.Index(bucketBounds, b.LeMS); i > 0 {
		lower = bucketBounds[i-1]
	}
	return "≤" + trimMS(b.LeMS), fmt.Sprintf("in (%s, %s] ms", trimMS(lower), trimMS(b.LeMS))
}

// trimMS prints a bucket bound without trailing zeros: 0.1, 2, 50000.
func trimMS(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

const (
	phaseBarW = 460
	phaseBarH = 14
)

// phaseBarSVG draws an attempt's timeline as one bar from its spawn to its
// last mark, each stretch coloured by what it was spent on, the hook's call
// as ticks; hovering a stretch names it.
func phaseBarSVG(marks []PhaseMark) template.HTML {
	if len(marks) < 2 {
		return ""
	}
	end := marks[len(marks)-1].MS
	if end <= 0 {
		return ""
	}
	x := func(v float64) float64 { return v / end * phaseBarW }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="phases" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, phaseBarW, phaseBarH, phaseBarW, phaseBarH)
	hookTick := func(m PhaseMark) bool { return m.Phase == PhaseMarkHookArrived || m.Phase == PhaseMarkHookAnswered }
	// Each stretch runs from the last mark that is not the hook's: the hook's
	// call is drawn as ticks inside the wait it belongs to.
	from := marks[0]
	for _, to := range marks[1:] {
		if hookTick(to) {
			continue
		}
		color, stretch := phaseColor(to.Phase)
		w := math.Max(x(to.MS)-x(from.MS), 0.5)
		fmt.Fprintf(&sb, `<rect x="%.1f" y="0" width="%.1f" height="%d" fill="%s"><title>%s: %s to %s, %s ms</title></rect>`,
			x(from.MS), w, phaseBarH, color, stretch, template.HTMLEscapeString(from.Phase), template.HTMLEscapeString(to.Phase), ms(to.MS-from.MS))
		from = to
	}
	for _, m := range marks {
		if hookTick(m) {
			fmt.Fprintf(&sb, `<rect x="%.1f" y="0" width="2" height="%d" fill="#8250df"><title>%s at %s ms</title></rect>`,
				math.Min(x(m.MS), phaseBarW-2), phaseBarH, m.Phase, ms(m.MS))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// phaseList is an attempt's timeline as text: "tcp_connect 152.0, c0c1 152.3 ... ms".
// The details of connect and publish (the tcUrl and the stream key) are left
// out: the row names the stream already.
func phaseList(marks []PhaseMark) string {
	parts := make([]string, 0, len(marks))
	for _, m := range marks {
		p := m.Phase + " " + ms(m.MS)
		if m.Detail != "" && m.Phase != schema.WireConnect && m.Phase != schema.WirePublish {
			p += " (" + m.Detail + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ") + " ms"
}
