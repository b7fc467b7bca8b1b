// Package machine samples the load machine's state while a run goes on: how
// busy its CPUs are (and how much a hypervisor stole), how many processes wait
// to run, and whether rtmpload itself ran when it should have (its own timer's
// lateness, its garbage collector's pauses, the tap's relay of media). A run
// writes one sample a second to its results (schema.MachineSample), so that a
// failure can be told from a generator that could not keep up.
package machine

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

const (
	// Span is how much time one sample covers.
	Span = time.Second
	// tick is the period of the timer whose lateness measures rtmpload's own
	// stalls: short enough that a stall of a few hundred ms is seen whole.
	tick = 50 * time.Millisecond
)

// Config is what Run samples besides the machine itself.
type Config struct {
	// Tap, if set, reports the tap's relay (tap.Tap.Forwarding).
	Tap func() (publishing int, last time.Time, writing bool)
	// Emit receives each sample, at the end of its span.
	Emit func(at time.Time, s schema.MachineSample)
}

// Run samples until ctx ends.
func Run(ctx context.Context, cfg Config) {
	prevStat := readProcStat()
	gc := newGCPauses()
	spanStart := time.Now()
	var late time.Duration
	t := time.NewTimer(tick)
	defer t.Stop()
	want := spanStart.Add(tick)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		late = max(late, now.Sub(want))
		want = now.Add(tick)
		t.Reset(tick)
		if now.Sub(spanStart) < Span {
			continue
		}
		cur := readProcStat()
		s := Sample(prevStat, cur)
		s.Span = now.Sub(spanStart)
		s.TimerLate = late
		s.GCPause = gc.max()
		if cfg.Tap != nil {
			var last time.Time
			var writing bool
			s.TapPublishing, last, writing = cfg.Tap()
			// A write under way means the server holds the tap up: the
			// quiet is then not the publishers' (nor the tap's) doing.
			if s.TapPublishing > 0 && !writing && !last.IsZero() && now.Sub(last) > 0 {
				s.TapQuiet = now.Sub(last)
			}
		}
		if cfg.Emit != nil {
			cfg.Emit(now, s)
		}
		prevStat, spanStart, late = cur, now, 0
	}
}

// ProcStat is the part of /proc/stat a sample needs.
type ProcStat struct {
	OK              bool
	Busy, Steal     uint64 // ticks of all CPUs
	Total           uint64
	Cores           int
	ProcsRunning    int
	HasProcsRunning bool
}

// Sample is the machine's part of a sample between two readings of
// /proc/stat (CPU shares over the span, the run queue at its end).
func Sample(prev, cur ProcStat) schema.MachineSample {
	s := schema.MachineSample{Cores: cur.Cores, CPUBusy: -1, CPUSteal: -1, RunQueue: -1}
	if prev.OK && cur.OK && cur.Total > prev.Total {
		all := float64(cur.Total - prev.Total)
		s.CPUBusy = float64(cur.Busy-prev.Busy) / all
		s.CPUSteal = float64(cur.Steal-prev.Steal) / all
	}
	if cur.HasProcsRunning {
		// The reader itself is one of them.
		s.RunQueue = max(cur.ProcsRunning-1, 0)
	}
	return s
}

func readProcStat() ProcStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ProcStat{}
	}
	return ParseProcStat(b)
}

// ParseProcStat reads the first "cpu" line (user nice system idle iowait irq
// softirq steal ...), counts the "cpuN" lines and takes procs_running.
func ParseProcStat(b []byte) ProcStat {
	var st ProcStat
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		name := string(f[0])
		switch {
		case name == "cpu":
			var v [8]uint64
			n := 0
			for i := 1; i < len(f) && n < len(v); i++ {
				x, err := strconv.ParseUint(string(f[i]), 10, 64)
				if err != nil {
					return ProcStat{}
				}
				v[n] = x
				n++
			}
			if n < 4 {
				return ProcStat{}
			}
			// guest and guest_nice are already inside user and nice.
			for _, x := range v[:n] {
				st.Total += x
			}
			st.Busy = v[0] + v[1] + v[2] + v[5] + v[6]
			st.Steal = v[7]
			st.OK = true
		case len(name) > 3 && name[:3] == "cpu":
			st.Cores++
		case name == "procs_running":
			if n, err := strconv.Atoi(string(f[1])); err == nil {
				st.ProcsRunning, st.HasProcsRunning = n, true
			}
		}
	}
	return st
}

// gcPauses follows the garbage collector's stop-the-world pauses.
type gcPauses struct {
	s    []metrics.Sample
	prev []uint64
}

const gcPauseMetric = "/sched/pauses/total/gc:seconds"

func newGCPauses() *gcPauses {
	g := &gcPauses{s: []metrics.Sample{{Name: gcPauseMetric}}}
	g.max()
	return g
}

// max is the longest pause since the last call: the upper bound of the
// highest bucket that gained a pause (its lower bound for the open last one).
func (g *gcPauses) max() time.Duration {
	metrics.Read(g.s)
	if g.s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := g.s[0].Value.Float64Histogram()
	var longest float64
	for i, c := range h.Counts {
		if i < len(g.prev) && c > g.prev[i] {
			hi := h.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = h.Buckets[i]
			}
			longest = hi
		}
	}
	g.prev = append(g.prev[:0], h.Counts...)
	return time.Duration(longest * float64(time.Second))
}
