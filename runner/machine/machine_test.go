package machine

import (
	"math"
	"runtime"
	"testing"
	"time"
)

const stat1 = `cpu  100 10 50 800 20 5 5 10 7 0
cpu0 50 5 25 400 10 3 2 5 0 0
cpu1 50 5 25 400 10 2 3 5 0 0
intr 12345
ctxt 999
procs_running 3
procs_blocked 0
`

const stat2 = `cpu  250 10 90 820 20 10 10 30 9 0
cpu0 125 5 45 410 10 5 5 15 0 0
cpu1 125 5 45 410 10 5 5 15 0 0
procs_running 9
`

// Busy is user+nice+system+irq+softirq, steal apart, both shares of every
// tick of the span; the run queue leaves out the reader itself.
func TestSampleFromProcStat(t *testing.T) {
	a, b := ParseProcStat([]byte(stat1)), ParseProcStat([]byte(stat2))
	if !a.OK || a.Cores != 2 || a.ProcsRunning != 3 || a.Total != 1000 || a.Busy != 170 || a.Steal != 10 {
		t.Fatalf("parsed %+v", a)
	}
	s := Sample(a, b)
	// total 1000 -> 1240 (240 ticks): busy 170 -> 370 (200), steal 10 -> 30 (20).
	if s.Cores != 2 || s.RunQueue != 8 || math.Abs(s.CPUBusy-200.0/240) > 1e-9 || math.Abs(s.CPUSteal-20.0/240) > 1e-9 {
		t.Errorf("sample %+v", s)
	}
	// Unreadable: unknown, not idle.
	if s := Sample(ProcStat{}, ProcStat{}); s.CPUBusy != -1 || s.CPUSteal != -1 || s.RunQueue != -1 {
		t.Errorf("unreadable /proc/stat gave %+v", s)
	}
	if st := ParseProcStat([]byte("cpu x y z\n")); st.OK {
		t.Errorf("garbage parsed as %+v", st)
	}
}

// The collector's pause histogram is read as deltas: a collection between
// two looks shows as a pause, bounded by its bucket.
func TestGCPausesAreDeltas(t *testing.T) {
	g := newGCPauses()
	runtime.GC()
	if d := g.max(); d <= 0 || d > time.Second {
		t.Errorf("a forced collection gave pause %v", d)
	}
}
