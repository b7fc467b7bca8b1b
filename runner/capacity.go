package runner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// stepStats is what a capacity step's attempts did.
type stepStats struct {
	started, refused, dropped, everStarved int
	publish, publishStart                  latencies
}

func newStepStats() *stepStats {
	return &stepStats{publish: newLatencies(), publishStart: newLatencies()}
}

// latencies is an HDR histogram in microseconds (1 µs to 1 h).
type latencies struct{ h *hdrhistogram.Histogram }

func newLatencies() latencies {
	return latencies{hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)}
}

func (l latencies) record(d time.Duration) {
	_ = l.h.RecordValue(min(max(d.Microseconds(), 1), l.h.HighestTrackableValue()))
}

func (l latencies) p95() (time.Duration, bool) {
	if l.h.TotalCount() == 0 {
		return 0, false
	}
	return time.Duration(l.h.ValueAtQuantile(95)) * time.Microsecond, true
}

// cpuClock reads rtmpload's own CPU time and the machine's busy and total
// CPU ticks, so a step can say how busy each was.
type cpuClock struct {
	self       time.Duration
	busy, all  uint64
	at         time.Time
	machineErr bool
	// gen is the generator's CPU: rtmpload, its ffmpegs that ended (reaped)
	// and those running (read from /proc), but not the server it started.
	gen time.Duration
	// server is the server's own CPU (its process and its reaped children);
	// serverOK is false when there is no server process to read.
	server   time.Duration
	serverOK bool
}

func readCPU() cpuClock { return readCPUs(0) }

// readCPUs reads the clock with the server's process: server is its pid (0:
// the server is not a process of its own).
func readCPUs(server int) cpuClock {
	c := cpuClock{at: time.Now()}
	var ru, kids syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c.gen = c.self
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids) == nil {
		c.gen += time.Duration(kids.Utime.Nano() + kids.Stime.Nano())
	}
	c.gen += liveChildrenCPU(os.Getpid(), server)
	if server > 0 {
		if st, ok := procStat(server); ok {
			c.server, c.serverOK = st.cpu+st.kidsCPU, true
		}
	}
	c.busy, c.all, c.machineErr = machineTicks()
	return c
}

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTick = time.Second / 100

// pstat is what a run reads of a process in /proc/<pid>/stat.
type pstat struct {
	ppid         int
	cpu, kidsCPU time.Duration // utime+stime; cutime+cstime (its reaped children)
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (pstat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return pstat{}, false
	}
	// The command name may hold spaces and parentheses: the fields start
	// after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return pstat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return pstat{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	return pstat{
		ppid:    int(n(1)),
		cpu:     time.Duration(n(11)+n(12)) * clockTick,
		kidsCPU: time.Duration(n(13)+n(14)) * clockTick,
	}, true
}

// liveChildrenCPU sums the CPU of parent's running children (its ffmpegs),
// with their own reaped children, except skip (the server).
func liveChildrenCPU(parent, skip int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == skip {
			continue
		}
		if st, ok := procStat(pid); ok && st.ppid == parent {
			sum += st.cpu + st.kidsCPU
		}
	}
	return sum
}

// machineTicks reads the first line of /proc/stat: busy and total ticks of
// every CPU together.
func machineTicks() (busy, all uint64, failed bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, true
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, true
	}
	for i, v := range fields[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, true
		}
		all += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, all, false
}

// since is the CPU used between two readings: rtmpload's in cores, the
// machine's as a busy share (-1 when /proc/stat could not be read).
func (c cpuClock) since(prev cpuClock) (self, machine float64) {
	wall := c.at.Sub(prev.at).Seconds()
	if wall > 0 {
		self = (c.self - prev.self).Seconds() / wall
	}
	machine = -1
	if !c.machineErr && !prev.machineErr && c.all > prev.all {
		machine = float64(c.busy-prev.busy) / float64(c.all-prev.all)
	}
	return self, machine
}

// sides is the CPU used between two readings by the generator and the
// server, in cores (server -1 when it could not be read).
func (c cpuClock) sides(prev cpuClock) (gen, server float64) {
	wall := c.at.Sub(prev.at).Seconds()
	server = -1
	if wall <= 0 {
		return 0, server
	}
	gen = (c.gen - prev.gen).Seconds() / wall
	if c.serverOK && prev.serverOK {
		server = (c.server - prev.server).Seconds() / wall
	}
	return gen, server
}

// capacity asks for a capacity scenario's step judgements: at the end of
// each step it sends the stream a judgement with the CPU the step used; the
// steps sink judges it by the stop rules and ends the run at the first
// step that breaks one. It returns when the run ends.
func (r *run) capacity(ctx context.Context, start time.Time) {
	c := r.p.sc.Capacity
	steps := c.Steps(r.p.sc.Publishers[0].Count)
	prev := readCPUs(r.serverPID)
	for k := range steps {
		t := time.NewTimer(time.Until(start.Add(time.Duration(k+1) * c.Every)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := readCPUs(r.serverPID)
		self, machine := now.since(prev)
		gen, server := now.sides(prev)
		prev = now
		r.s.emit(event{judge: &judgement{step: k, at: now.at, selfCPU: self, machineCPU: machine, genCPU: gen, serverCPU: server}})
	}
}

// errKnee ends a capacity run at its knee: a normal end, not an interrupt.
var errKnee = fmt.Errorf("capacity: a stop rule broke")

// judgement asks the steps sink to judge a step that just ended.
type judgement struct {
	step                int // 0-based
	at                  time.Time
	selfCPU, machineCPU float64
	genCPU, serverCPU   float64 // serverCPU -1: unknown
}

// stepsSink keeps what each capacity step's attempts did, and judges a
// step when it is due. Its memory is bounded by the publishers running at
// once plus one small record per step.
type stepsSink struct {
	p       *plan
	derive  func(event)
	knee    func() // ends the run: a step broke a stop rule
	kneed   bool
	running map[string]*stepRun // by attempt id
	steps   map[int]*stepStats
}

// stepRun is one running attempt as its step sees it.
type stepRun struct {
	step    int
	spawned time.Time
	starved bool
}

func newStepsSink(p *plan, derive func(event), knee func()) *stepsSink {
	return &stepsSink{p: p, derive: derive, knee: knee, running: make(map[string]*stepRun), steps: make(map[int]*stepStats)}
}

func (s *stepsSink) step(k int) *stepStats {
	st, ok := s.steps[k]
	if !ok {
		st = newStepStats()
		s.steps[k] = st
	}
	return st
}

func (s *stepsSink) add(e event) {
	switch {
	case e.judge != nil:
		s.judge(*e.judge)
	case e.onStatus != nil:
		// The server's answer to the publish, as the report measures it.
		if r := s.running[e.attempt]; r != nil {
			e.onStatus.Durations(time.Time{}, func(metric string, d time.Duration) {
				if metric == schema.MetricPublish {
					s.step(r.step).publish.record(d)
				}
			})
		}
	case e.Type == schema.TypeAttempt && e.Attempt != nil:
		s.attempt(e)
	}
}

func (s *stepsSink) attempt(e event) {
	a := e.Attempt
	r := s.running[a.ID]
	switch {
	case a.Phase == schema.PhaseSpawn:
		slot, _ := s.p.slotOf(a.ID)
		r = &stepRun{step: s.p.sc.StepOf(slot), spawned: e.Time}
		s.running[a.ID] = r
		s.step(r.step).started++
	case r == nil:
	case a.Phase == schema.PhasePublishing:
		// ffmpeg's own spawn-to-publishing time: the fallback without a tap.
		s.step(r.step).publishStart.record(e.Time.Sub(r.spawned))
	case a.Phase == schema.PhaseStarved:
		r.starved = true
		s.step(r.step).everStarved++
	case a.Phase == schema.PhaseRecovered:
		r.starved = false
	case a.Phase == schema.PhaseExit:
		delete(s.running, a.ID)
		switch e.exit.end {
		case report.EndedRefused:
			s.step(r.step).refused++
		case report.EndedDropped:
			s.step(r.step).dropped++
		}
	}
}

// judge checks a step against the stop rules, records it, and ends the run
// at the first step that breaks one.
func (s *stepsSink) judge(j judgement) {
	if s.kneed {
		return
	}
	res := s.judgeStep(j)
	s.derive(event{Event: schema.Event{Type: schema.TypeStep, Time: j.at, Step: res}})
	if !res.Held {
		s.kneed = true
		s.knee()
	}
}

// starvedNow counts the running publishers of steps up to step, and those
// of them that are starved. A step is judged as the next one starts, so its
// first publisher may be running already: it is not the judged step's.
func (s *stepsSink) starvedNow(step int) (starved, active int) {
	for _, r := range s.running {
		if r.step > step {
			continue
		}
		active++
		if r.starved {
			starved++
		}
	}
	return starved, active
}

// judgeStep checks a step against the stop rules, and names the side that
// ran out: the server (it refused, dropped, answered late or used its CPU),
// the generator (rtmpload and its ffmpegs used their share) or the machine
// (both together used it all, or publishers starved: the CPU they wait for
// is the machine's; the step's CPU figures say whose).
func (s *stepsSink) judgeStep(j judgement) *schema.Step {
	k := j.step
	rules := s.p.sc.Capacity.Stop
	genRule := rules.GeneratorCPU
	if genRule == 0 {
		genRule = float64(runtime.NumCPU()) / 2
	}
	starved, active := s.starvedNow(k)
	st := s.step(k)
	res := &schema.Step{
		Step: k + 1, Publishers: s.p.plannedUpTo(k), Active: active,
		Started: st.started, Refused: st.refused, Dropped: st.dropped,
		Starved: starved, CPU: j.selfCPU, MachineCPU: j.machineCPU,
		GeneratorCPU: j.genCPU, ServerCPU: j.serverCPU,
	}
	p95, ok := st.publish.p95()
	res.P95Source = schema.MetricPublish
	if !ok {
		p95, ok = st.publishStart.p95()
		res.P95Source = report.MetricPublishStart
	}
	if ok {
		res.P95Ms = float64(p95.Microseconds()) / 1000
	}
	var broke []string
	side := ""
	brk := func(who, format string, args ...any) {
		broke = append(broke, fmt.Sprintf(format, args...))
		if side == "" {
			side = who
		}
	}
	// The generator's own limits first: when it is short of CPU, what the
	// server seems to do says nothing of the server.
	if j.selfCPU > rules.CPU {
		brk(schema.SideGenerator, "rtmpload itself used %.2f cores > %.2f", j.selfCPU, rules.CPU)
	}
	if j.genCPU > genRule {
		brk(schema.SideGenerator, "the generator (rtmpload and its ffmpegs) used %.2f cores > %.2f", j.genCPU, genRule)
	}
	if j.serverCPU > rules.ServerCPU {
		brk(schema.SideServer, "the server used %.2f cores > %.2f", j.serverCPU, rules.ServerCPU)
	}
	if st.started > 0 {
		if rate := float64(st.refused+st.dropped) / float64(st.started); rate > rules.FailureRate {
			brk(schema.SideServer, "failure rate %.0f%% > %.0f%%", 100*rate, 100*rules.FailureRate)
		}
	}
	if ok && p95 > rules.P95Publish {
		brk(schema.SideServer, "p95 %s %v > %v", res.P95Source, p95.Round(time.Millisecond), rules.P95Publish)
	}
	if active > 0 {
		if share := float64(starved) / float64(active); share > rules.StarvedShare {
			brk(schema.SideMachine, "%d of %d publishers starved (%.0f%% > %.0f%%)", starved, active, 100*share, 100*rules.StarvedShare)
		}
	}
	if j.machineCPU > rules.MachineCPU {
		// Busy with what? When the generator and the server together used
		// less than half of what the machine did, something else did.
		who := schema.SideMachine
		if ours := j.genCPU + max(j.serverCPU, 0); ours < j.machineCPU*float64(runtime.NumCPU())/2 {
			who = schema.SideOther
		}
		brk(who, "the machine was %.0f%% busy > %.0f%%", 100*j.machineCPU, 100*rules.MachineCPU)
	}
	res.Broke, res.Side = broke, side
	res.Held = len(broke) == 0
	return res
}
