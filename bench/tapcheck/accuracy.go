package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// target is the bound on the p99 difference between tap and capture.
const target = time.Millisecond

// sample collects one figure over attempts.
type sample []time.Duration

// pct is the nearest-rank percentile: with a few dozen attempts, p99 is the
// maximum or next to it, and the output says n so nobody reads more into it.
func (s sample) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c[max(0, int(math.Ceil(p*float64(len(c))))-1)]
}

type metricFigures struct {
	name           string
	capture, tap   sample
	absDiff        sample
	upFwd, downFwd sample // see printAccuracy
}

func (m *metricFigures) add(capFrom, capTo, tapFrom, tapTo time.Time) {
	c, t := capTo.Sub(capFrom), tapTo.Sub(tapFrom)
	m.capture = append(m.capture, c)
	m.tap = append(m.tap, t)
	m.absDiff = append(m.absDiff, (t - c).Abs())
	m.upFwd = append(m.upFwd, capFrom.Sub(tapFrom))
	m.downFwd = append(m.downFwd, tapTo.Sub(capTo))
}

func printAccuracy(w io.Writer, conns []*capConn, wires map[string]*schema.WireConn) error {
	hs := &metricFigures{name: schema.MetricHandshake}
	pub := &metricFigures{name: schema.MetricPublish}
	tapped := 0
	for _, c := range conns {
		if c.attemptID == "" {
			continue
		}
		tapped++
		wc := wires[c.attemptID]
		if wc == nil {
			continue
		}
		marks := make(map[string]schema.WireMark, len(wc.Marks))
		for _, m := range wc.Marks {
			marks[m.Phase] = m
		}
		c0, ok1 := marks[schema.WireC0C1]
		s2, ok2 := marks[schema.WireS0S1S2]
		if ok1 && ok2 && !c.c0c1.IsZero() && !c.s012.IsZero() {
			hs.add(c.c0c1, c.s012, c0.At, s2.At)
		}
		p, ok1 := marks[schema.WirePublish]
		st, ok2 := marks[schema.WireOnStatus]
		if ok1 && ok2 && st.Detail == schema.PublishStartCode && !c.publish.IsZero() && !c.start.IsZero() {
			pub.add(c.publish, c.start, p.At, st.At)
		}
	}
	fmt.Fprintf(w, "capture: %d connections to the server, %d with an rtmpload=<id> publish; tap: %d attempts; matched: handshake %d, publish %d\n\n",
		len(conns), tapped, len(wires), len(hs.tap), len(pub.tap))
	if len(hs.tap) == 0 || len(pub.tap) == 0 {
		return errors.New("no attempt matched between capture and tap: was the capture on the server's port?")
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric (ms)\tn\tcapture p50\tp99\tmax\ttap p50\tp99\tmax\t|tap-capture| p50\tp99\tmax\t")
	for _, m := range []*metricFigures{hs, pub} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.name, len(m.tap),
			ms(m.capture.pct(.5)), ms(m.capture.pct(.99)), ms(m.capture.pct(1)),
			ms(m.tap.pct(.5)), ms(m.tap.pct(.99)), ms(m.tap.pct(1)),
			ms(m.absDiff.pct(.5)), ms(m.absDiff.pct(.99)), ms(m.absDiff.pct(1)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// The tap marks a client message when its read returns, before forwarding
	// it, and a server message at the kernel's receive stamp of the read
	// (internal/netbuf, StampArrivals), as late as the capture saw it; where
	// there is no stamp, when its read returns. So tap minus capture is the
	// sum of two parts, shown separately: to-server: tap's mark of the
	// request -> the request on the server leg (the forwarding), from-server:
	// the answer on the server leg -> the tap's mark of it (about 0 with the
	// stamp; the wake-up and the read without).
	fmt.Fprintln(w, "\nwhere the difference comes from (ms; same wall clock for tap and tcpdump):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tpart\tp50\tp99\tmax\t")
	for _, m := range []*metricFigures{hs, pub} {
		for _, part := range []struct {
			name string
			s    sample
		}{{"to-server (tap mark -> packet)", m.upFwd}, {"from-server (packet -> tap mark)", m.downFwd}} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.name, part.name, ms(part.s.pct(.5)), ms(part.s.pct(.99)), ms(part.s.pct(1)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	var missed []string
	for _, m := range []*metricFigures{hs, pub} {
		verdict := "met"
		if m.absDiff.pct(.99) >= target {
			verdict = "MISSED"
			missed = append(missed, m.name)
		}
		over := 0
		for _, d := range m.absDiff {
			if d >= target {
				over++
			}
		}
		fmt.Fprintf(w, "target p99 |tap-capture| < %v for %s: %s (%s ms; %d of %d attempts at or over)\n",
			target, m.name, verdict, ms(m.absDiff.pct(.99)), over, len(m.absDiff))
	}
	if len(missed) > 0 {
		return fmt.Errorf("the tap missed its target (p99 |tap-capture| < %v) for %s", target, strings.Join(missed, " and "))
	}
	return nil
}
