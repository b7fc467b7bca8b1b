package runner

import (
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/runner/health"
	"github.com/rtmpload/rtmpload/runner/metrics"
	"github.com/rtmpload/rtmpload/runner/publisher"
)

// watch is the live side of a run: the health of every running publisher,
// Prometheus metrics, and the per-step figures of a capacity run. Its
// memory is bounded by the publishers running at once (plus one small
// record per capacity step).
type watch struct {
	m *metrics.Metrics // nil: no --metrics

	mu      sync.Mutex
	running map[string]*running // by attempt id
	steps   map[int]*stepStats
}

// running is one attempt in flight.
type running struct {
	group   string
	step    int
	tracker health.Tracker
	starved bool
}

func newWatch(m *metrics.Metrics) *watch {
	return &watch{m: m, running: make(map[string]*running), steps: make(map[int]*stepStats)}
}

func (w *watch) step(k int) *stepStats {
	s, ok := w.steps[k]
	if !ok {
		s = newStepStats()
		w.steps[k] = s
	}
	return s
}

func (w *watch) started(id, group string, step int) {
	w.mu.Lock()
	w.running[id] = &running{group: group, step: step}
	w.step(step).started++
	w.mu.Unlock()
	if w.m != nil {
		w.m.AttemptStarted(group)
		w.m.Active(group, 1)
	}
}

func (w *watch) publishing(group string) {
	if w.m != nil {
		w.m.Publishing(group, 1)
	}
}

// progress judges a -progress block; it returns a starved/recovered change
// to record, if any.
func (w *watch) progress(id string, p publisher.Progress) (changed, starved bool, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.running[id]
	if !ok {
		return false, false, ""
	}
	changed, starved, reason = r.tracker.Observe(p)
	if changed {
		w.setStarved(r, starved)
	}
	return changed, starved, reason
}

// setStarved keeps counts and metrics of a starved change; w.mu is held.
func (w *watch) setStarved(r *running, starved bool) {
	r.starved = starved
	if starved {
		w.step(r.step).everStarved++
	}
	if w.m != nil {
		d := -1
		if starved {
			d = 1
		}
		w.m.Starved(r.group, d)
	}
}

// stalls checks every running publisher for output that stopped with no
// -progress block at all (ffmpeg hung); fn records each change.
func (w *watch) stalls(now time.Time, fn func(id string, starved bool, reason string)) {
	w.mu.Lock()
	type change struct {
		id      string
		starved bool
		reason  string
	}
	var changes []change
	for id, r := range w.running {
		if changed, starved, reason := r.tracker.Check(now); changed {
			w.setStarved(r, starved)
			changes = append(changes, change{id, starved, reason})
		}
	}
	w.mu.Unlock()
	for _, c := range changes {
		fn(c.id, c.starved, c.reason)
	}
}

func (w *watch) exited(id string, published bool, res publisher.Result) {
	w.mu.Lock()
	r, ok := w.running[id]
	delete(w.running, id)
	if ok {
		st := w.step(r.step)
		switch {
		case !published:
			st.refused++
		case res.Class != publisher.ClassStopped && res.Class != publisher.ClassExited:
			st.dropped++
		}
	}
	w.mu.Unlock()
	if !ok || w.m == nil {
		return
	}
	w.m.Active(r.group, -1)
	if published {
		w.m.Publishing(r.group, -1)
	}
	if r.starved {
		w.m.Starved(r.group, -1)
	}
	result := metrics.ResultPublished
	switch {
	case !published:
		result = metrics.ResultRefused
	case res.Class == publisher.ClassStopped:
		result = metrics.ResultStopped
	case res.Class != publisher.ClassExited:
		result = metrics.ResultDropped
	}
	w.m.AttemptOutcome(r.group, result)
}

// starvedNow counts the running publishers of steps up to step, and those
// of them that are starved. A step is judged as the next one starts, so its
// first publisher may be running already: it is not the judged step's.
func (w *watch) starvedNow(step int) (starved, active int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
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

// wire feeds the wire's figures of one connection (as the report measures
// them) to the metrics, and its publish latency to its capacity step.
func (w *watch) wire(c *report.WireConn, group string, step int) {
	c.Durations(time.Time{}, func(metric string, d time.Duration) {
		if metric == report.MetricPublish {
			w.mu.Lock()
			w.step(step).publish.record(d)
			w.mu.Unlock()
		}
		if w.m != nil {
			w.m.Wire(metric, group, d)
		}
	})
}

// publishStart records ffmpeg's own spawn-to-publishing time for a capacity
// step, the fallback when there is no tap.
func (w *watch) publishStart(step int, d time.Duration) {
	w.mu.Lock()
	w.step(step).publishStart.record(d)
	w.mu.Unlock()
}
