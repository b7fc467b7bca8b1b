package runner

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/schema"

	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/scenarios"
)

// fanout runs a batch of publishers that share one ffmpeg process (tee
// muxer), from the first one's start to the last one's stop. Each output is
// its own attempt (id, URL, events, outcome). Hold and churn act on the whole
// process: it stops when its last publisher's time is up, and a churn (on the
// first publisher's churn times) restarts the whole process with the next
// attempt of every publisher still in it. An output that ends on its own
// (refused, dropped) leaves the process, which publishes on, and its
// publisher goes on alone: it reconnects as its own process (fan-out 1) as
// its group's policy allows. When the process itself ends on its own, every
// output still in it does the same.
func (r *run) fanout(ctx context.Context, start time.Time, batch []scenarios.Slot) {
	var stop time.Duration
	for _, s := range batch {
		stop = max(stop, s.Stop)
	}
	var alone sync.WaitGroup
	defer alone.Wait()
	goAlone := func(slot scenarios.Slot, k int, res publisher.Result) {
		alone.Go(func() { r.slotAfter(ctx, start, slot, k+1, &res) })
	}
	members := batch
	for k := 0; len(members) > 0; k++ {
		end, churn := start.Add(stop), false
		if at, ok := r.p.sc.NextChurn(members[0], r.clock.Now().Sub(start)); ok {
			end, churn = start.Add(at), true
		}
		actx, cancel := r.clock.WithDeadline(ctx, end)
		left, stopped := r.teeAttempt(actx, members, k, goAlone)
		cancel()
		if ctx.Err() != nil || !r.clock.Now().Before(start.Add(stop)) || !(stopped && churn) {
			return
		}
		members = left
	}
}

// teeOutput is one output of a fan-out process: one attempt.
type teeOutput struct {
	slot      scenarios.Slot
	id, url   string
	opened    bool // ffmpeg reported it open (the server accepted the publish)
	published bool // and media flows: the process's first -progress block came
	done      bool // its exit is recorded
}

// teeAttempt runs one fan-out process for members' k-th attempts until it
// ends or ctx is done, and sends every output's phases to the stream as a
// lone attempt's. An output that ends on its own, or every output when the
// process does, is passed to alone. It returns the members whose outputs
// were still in the process when it was stopped, and whether it was.
func (r *run) teeAttempt(ctx context.Context, members []scenarios.Slot, k int,
	alone func(scenarios.Slot, int, publisher.Result)) (left []scenarios.Slot, stopped bool) {
	tp := &teeProcess{r: r, ctx: ctx, k: k, alone: alone, outs: make([]*teeOutput, len(members))}
	spec := make([]SpawnOutput, len(members))
	for j, slot := range members {
		id := r.attemptID(slot, k)
		tp.outs[j] = &teeOutput{slot: slot, id: id, url: r.urlOf(slot, id)}
		spec[j] = SpawnOutput{Attempt: id, URL: tp.outs[j].url}
	}
	// Parallel outputs open at once, and the wire (the tap, or the embedded
	// server in this process) says when each did; in turn, tee says so
	// itself.
	parallel := r.p.o.FanoutParallel
	if parallel {
		for j, o := range tp.outs {
			r.teeOpens.Store(o.id, func(at time.Time) { tp.onOutput(publisher.Output{Index: j, Opened: at}) })
		}
		defer func() {
			for _, o := range tp.outs {
				r.teeOpens.Delete(o.id)
			}
		}()
	}
	res := r.spawn(ctx, SpawnSpec{Outputs: spec, OnStart: tp.onStart, OnOutput: tp.onOutput, OnProgress: tp.onProgress, Parallel: parallel})
	return tp.ended(res)
}

// wireOpened tells a parallel fan-out output that the server accepted its
// publish (the tap saw NetStream.Publish.Start, or the embedded server
// accepted it).
func (r *run) wireOpened(attempt string, at time.Time) {
	if fn, ok := r.teeOpens.Load(attempt); ok {
		fn.(func(time.Time))(at)
	}
}

// teeProcess is one fan-out process's outputs, as its callbacks and its end
// see them.
type teeProcess struct {
	r     *run
	ctx   context.Context // the process's: done once it is being stopped
	k     int             // the outputs' attempt number
	outs  []*teeOutput
	alone func(scenarios.Slot, int, publisher.Result)

	mu      sync.Mutex // the outputs' state: OnOutput and OnProgress come from two goroutines
	mediaAt time.Time
}

func (tp *teeProcess) emit(o *teeOutput, at time.Time, phase string, fill func(*schema.AttemptEvent)) {
	ae := schema.AttemptEvent{ID: o.id, Phase: phase, Group: o.slot.Group, Stream: o.slot.Stream, Slot: o.slot.Seq}
	if fill != nil {
		fill(&ae)
	}
	tp.r.s.write(schema.Event{Type: schema.TypeAttempt, Time: at, Attempt: &ae})
}

// spawned records every output's spawn; tp.mu is held.
func (tp *teeProcess) spawned(at time.Time, pid int) {
	for j, o := range tp.outs {
		tp.emit(o, at, schema.PhaseSpawn, func(ae *schema.AttemptEvent) {
			ae.URL, ae.PID = o.url, pid
			ae.Process, ae.Output, ae.Outputs = tp.outs[0].id, j+1, len(tp.outs)
		})
	}
}

// publish records an output publishing; tp.mu is held.
func (tp *teeProcess) publish(o *teeOutput, at time.Time) {
	if o.published || o.done {
		return
	}
	o.published = true
	tp.emit(o, at, schema.PhasePublishing, nil)
	if tp.r.connBytes != nil {
		tp.r.conns.add(o.id, at)
	}
}

// exit records an output's end; tp.mu is held.
func (tp *teeProcess) exit(o *teeOutput, res publisher.Result) {
	o.done = true
	tp.r.conns.remove(o.id)
	tp.emit(o, res.Exited, schema.PhaseExit, func(ae *schema.AttemptEvent) {
		res.RecordExit(ae)
		ae.Bytes = 0 // the process's bytes, not this output's
	})
}

func (tp *teeProcess) onStart(at time.Time, pid int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.spawned(at, pid)
}

func (tp *teeProcess) onOutput(out publisher.Output) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	o := tp.outs[out.Index]
	if o.done {
		return
	}
	if !out.Opened.IsZero() && !o.opened {
		o.opened = true
		if !tp.mediaAt.IsZero() {
			tp.publish(o, out.Opened)
		}
	}
	// Once we stop the process, tee reports outputs whose trailer could not be
	// written (the server closes after deleteStream: "End of file"): that is
	// the stop, which the process's exit records, not a failure.
	if !out.Failed.IsZero() && tp.ctx.Err() == nil {
		// tee gave up on this output and goes on with the others: as a lone
		// ffmpeg would have, it ends with status 1 and its own message.
		res := publisher.Result{
			Exited: out.Failed, ExitCode: 1, Class: schema.ClassFailed,
			Message: out.Message, StderrTail: out.StderrTail,
		}
		tp.exit(o, res)
		tp.alone(o.slot, tp.k, res)
	}
}

func (tp *teeProcess) onProgress(p publisher.Progress) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.mediaAt.IsZero() {
		tp.mediaAt = p.At // tee sends media once every output has opened or failed
		for _, o := range tp.outs {
			if o.opened {
				tp.publish(o, p.At)
			}
		}
	}
	if tp.r.connBytes != nil {
		return // each output is judged by its own connection (conns)
	}
	for _, o := range tp.outs {
		if o.published && !o.done {
			tp.r.s.emit(event{attempt: o.id, progress: &p})
		}
	}
}

// ended records the exit of every output still in the process when it
// ended; see teeAttempt.
func (tp *teeProcess) ended(res publisher.Result) (left []scenarios.Slot, stopped bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if res.Spawned.IsZero() {
		tp.spawned(tp.r.clock.Now(), 0)
	}
	for j, o := range tp.outs {
		if o.done {
			continue
		}
		ores := res
		ores.Outputs = nil
		// The output's own line first. The process's best line may be about
		// another output; it is this one's only when the process ended on its
		// own (it ended them all), not when we stopped it.
		ores.Message = ""
		if j < len(res.Outputs) {
			ores.Message = res.Outputs[j].Message
			if len(res.Outputs[j].StderrTail) > 0 {
				ores.StderrTail = res.Outputs[j].StderrTail
			}
		}
		if ores.Message == "" && !res.Stopped {
			ores.Message = res.Message
		}
		tp.exit(o, ores)
		if res.Stopped {
			left = append(left, o.slot)
		} else {
			tp.alone(o.slot, tp.k, ores)
		}
	}
	return left, res.Stopped
}

// conns are the fan-out outputs whose connections are counted (by the tap,
// or without it by the embedded server): each is judged by its own
// connection's bytes, not by its process's -progress (one slow process of 16
// would count as 16 starved).
type conns struct {
	mu sync.Mutex
	m  map[string]*connOf
}

// connOf is one output's connection as judged so far.
type connOf struct {
	at   time.Time // the first count seen, after it started publishing
	base uint64
}

// connSlack is how far a connection's bytes may lag its real-time count
// without being slow: the tap lets media gather up to 350 ms between reads,
// at either end of the span judged (the embedded server's merged reads wait
// as long).
const connSlack = 700 * time.Millisecond

func (c *conns) add(id string, _ time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*connOf)
	}
	c.m[id] = &connOf{}
}

func (c *conns) remove(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// judge sends the stream, for each output, a progress block made from its
// connection's bytes (tap or server): the bytes since the first count make a
// speed as ffmpeg's own (an average since the start, at the clip's rate for
// real time), and bytes that stop growing are a stall, both judged by the
// health sink as any publisher's blocks.
func (c *conns) judge(r *run, now time.Time) {
	c.mu.Lock()
	n := len(c.m)
	c.mu.Unlock()
	if n == 0 || r.connBytes == nil {
		return
	}
	bytes := make(map[string]uint64, n)
	r.connBytes(func(attempt string, up uint64) { bytes[attempt] = up })
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, o := range c.m {
		b, ok := bytes[id]
		if !ok {
			continue
		}
		if o.at.IsZero() {
			o.at, o.base = now, b
		}
		p := publisher.Progress{At: now, TotalSize: int64(b)}
		if el := now.Sub(o.at); el > 0 && r.clipRate > 0 {
			p.Speed = (float64(b-o.base) + r.clipRate*connSlack.Seconds()) / (r.clipRate * el.Seconds())
		}
		r.s.emit(event{attempt: id, progress: &p})
	}
}

// clipByteRate is the clip's bytes per second (its size over its length):
// what an output publishing in real time sends, within the RTMP framing's
// few percent. 0 when the clip cannot be read.
func clipByteRate(clip string) float64 {
	st, err := os.Stat(clip)
	if err != nil {
		return 0
	}
	// 5 % below the file's own rate: the RTMP framing and the clip's last frame
	// (10.08 s of media in a 10 s clip) move the wire's count by a few percent.
	return 0.95 * float64(st.Size()) / media.DefaultSeconds
}
