package runner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rtmpload/rtmpload/report"
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
}

func readCPU() cpuClock {
	c := cpuClock{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c.busy, c.all, c.machineErr = machineTicks()
	return c
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

// capacity asks for a capacity scenario's step judgements: at the end of
// each step it sends the stream a judgement with the CPU the step used; the
// steps sink judges it by the stop rules and ends the run at the first
// step that breaks one. It returns when the run ends.
func (r *run) capacity(ctx context.Context, start time.Time) {
	c := r.p.sc.Capacity
	steps := c.Steps(r.p.sc.Publishers[0].Count)
	prev := readCPU()
	for k := range steps {
		t := time.NewTimer(time.Until(start.Add(time.Duration(k+1) * c.Every)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := readCPU()
		self, machine := now.since(prev)
		prev = now
		r.s.emit(event{judge: &judgement{step: k, at: now.at, selfCPU: self, machineCPU: machine}})
	}
}

// errKnee ends a capacity run at its knee: a normal end, not an interrupt.
var errKnee = fmt.Errorf("capacity: a stop rule broke")

// judgement asks the steps sink to judge a step that just ended.
type judgement struct {
	step                int // 0-based
	at                  time.Time
	selfCPU, machineCPU float64
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
				if metric == report.MetricPublish {
					s.step(r.step).publish.record(d)
				}
			})
		}
	case e.Type == report.TypeAttempt && e.Attempt != nil:
		s.attempt(e)
	}
}

func (s *stepsSink) attempt(e event) {
	a := e.Attempt
	r := s.running[a.ID]
	switch {
	case a.Phase == report.PhaseSpawn:
		slot, _ := s.p.slotOf(a.ID)
		r = &stepRun{step: s.p.sc.StepOf(slot), spawned: e.Time}
		s.running[a.ID] = r
		s.step(r.step).started++
	case r == nil:
	case a.Phase == report.PhasePublishing:
		// ffmpeg's own spawn-to-publishing time: the fallback without a tap.
		s.step(r.step).publishStart.record(e.Time.Sub(r.spawned))
	case a.Phase == report.PhaseStarved:
		r.starved = true
		s.step(r.step).everStarved++
	case a.Phase == report.PhaseRecovered:
		r.starved = false
	case a.Phase == report.PhaseExit:
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
	res := s.judgeStep(j.step, j.selfCPU, j.machineCPU)
	s.derive(event{Event: report.Event{Type: report.TypeStep, Time: j.at, Step: res}})
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

// judgeStep checks step k against the stop rules.
func (s *stepsSink) judgeStep(k int, selfCPU, machineCPU float64) *report.Step {
	rules := s.p.sc.Capacity.Stop
	starved, active := s.starvedNow(k)
	st := s.step(k)
	res := &report.Step{
		Step: k + 1, Publishers: s.p.plannedUpTo(k), Active: active,
		Started: st.started, Refused: st.refused, Dropped: st.dropped,
		Starved: starved, CPU: selfCPU, MachineCPU: machineCPU,
	}
	p95, ok := st.publish.p95()
	res.P95Source = report.MetricPublish
	if !ok {
		p95, ok = st.publishStart.p95()
		res.P95Source = report.MetricPublishStart
	}
	if ok {
		res.P95Ms = float64(p95.Microseconds()) / 1000
	}
	var broke []string
	if st.started > 0 {
		if rate := float64(st.refused+st.dropped) / float64(st.started); rate > rules.FailureRate {
			broke = append(broke, fmt.Sprintf("failure rate %.0f%% > %.0f%%", 100*rate, 100*rules.FailureRate))
		}
	}
	if ok && p95 > rules.P95Publish {
		broke = append(broke, fmt.Sprintf("p95 %s %v > %v", res.P95Source, p95.Round(time.Millisecond), rules.P95Publish))
	}
	if active > 0 {
		if share := float64(starved) / float64(active); share > rules.StarvedShare {
			broke = append(broke, fmt.Sprintf("%d of %d publishers starved (%.0f%% > %.0f%%)", starved, active, 100*share, 100*rules.StarvedShare))
		}
	}
	if selfCPU > rules.CPU {
		broke = append(broke, fmt.Sprintf("rtmpload itself used %.2f cores > %.2f", selfCPU, rules.CPU))
	}
	if machineCPU > rules.MachineCPU {
		broke = append(broke, fmt.Sprintf("the machine was %.0f%% busy > %.0f%%", 100*machineCPU, 100*rules.MachineCPU))
	}
	res.Broke = broke
	res.Held = len(broke) == 0
	return res
}
