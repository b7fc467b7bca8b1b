package runner

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/schema"

	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/scenarios"
)

// slot runs one scheduled publisher from its start to its stop: its first
// attempt, a new attempt at each churn time, and reconnects after an
// attempt ends on its own, as its group's policy allows. Attempt ids are
// <run>-<seq+1> and then <run>-<seq+1>.<k>, the same in every shard.
func (r *run) slot(ctx context.Context, start time.Time, slot scenarios.Slot) {
	r.slotAfter(ctx, start, slot, 0, nil)
}

// slotAfter runs the slot's attempts from the k-th on, each its own ffmpeg.
// prev, when set, is how attempt k-1 ended elsewhere (an output of a
// fan-out process that ended on its own): the slot goes on from it as it
// would from its own attempt.
func (r *run) slotAfter(ctx context.Context, start time.Time, slot scenarios.Slot, k int, prev *publisher.Result) {
	sc := r.p.sc
	rc := sc.Publishers[groupIndex(sc, slot.Group)].Reconnect
	stop := start.Add(slot.Stop)
	reconnects := 0
	res, churn := prev, false
	for ; ; k++ {
		if res != nil {
			switch {
			case ctx.Err() != nil || !r.clock.Now().Before(stop):
				return // the run or the slot is over
			case res.Stopped && churn:
				// churned: restart at once
			case reconnects >= rc.Max:
				return
			default:
				reconnects++
				if !r.clock.Sleep(ctx, reconnectDelay(rc, reconnects)) || !r.clock.Now().Before(stop) {
					return
				}
			}
		}
		end := stop
		churn = false
		if at, ok := sc.NextChurn(slot, r.clock.Now().Sub(start)); ok {
			end, churn = start.Add(at), true
		}
		actx, cancel := r.clock.WithDeadline(ctx, end)
		a := r.attempt(actx, slot, r.attemptID(slot, k))
		cancel()
		res = &a
	}
}

// reconnectDelay is how long the n-th reconnect (1..) waits:
// Delay * Backoff^(n-1).
func reconnectDelay(rc scenarios.Reconnect, n int) time.Duration {
	return time.Duration(float64(rc.Delay) * math.Pow(max(rc.Backoff, 1), float64(n-1)))
}

// attemptID is the id of the slot's k-th attempt: <run>-<seq+1>, then
// <run>-<seq+1>.<k>.
func (r *run) attemptID(slot scenarios.Slot, k int) string {
	id := fmt.Sprintf("%s-%d", r.p.id, slot.Seq+1)
	if k > 0 {
		id += fmt.Sprintf(".%d", k)
	}
	return id
}

// urlOf is where the attempt id publishes the slot's stream.
func (r *run) urlOf(slot scenarios.Slot, id string) string {
	return publishURL(r.rtmpBase, slot.Stream, joinQuery(r.query, r.p.sc.ParamOf(slot)), id)
}

func groupIndex(sc *scenarios.Scenario, group string) int {
	for i, g := range sc.Publishers {
		if g.Group == group {
			return i
		}
	}
	return 0
}

// attempt runs one publisher through the run's Spawner until it ends or
// ctx is done, and sends its phases to the stream: spawn, publishing (its
// first -progress block: the output is open), its progress blocks, exit.
func (r *run) attempt(ctx context.Context, slot scenarios.Slot, id string) publisher.Result {
	u := r.urlOf(slot, id)
	engine := ""
	if r.native != nil && r.engineOf(slot) == schema.EngineNative {
		engine = schema.EngineNative
		u = publishURL(r.nativeBase, slot.Stream, joinQuery(r.query, r.p.sc.ParamOf(slot)), id)
	}
	base := schema.AttemptEvent{ID: id, Group: slot.Group, Stream: slot.Stream, Slot: slot.Seq}
	emit := func(at time.Time, phase string, fill func(*schema.AttemptEvent)) {
		ae := base
		ae.Phase = phase
		if fill != nil {
			fill(&ae)
		}
		r.s.write(schema.Event{Type: schema.TypeAttempt, Time: at, Attempt: &ae})
	}
	var once sync.Once
	spec := SpawnSpec{
		Outputs: []SpawnOutput{{Attempt: id, URL: u}},
		OnStart: func(at time.Time, pid int) {
			emit(at, schema.PhaseSpawn, func(ae *schema.AttemptEvent) { ae.URL, ae.PID, ae.Engine = u, pid, engine })
		},
		OnProgress: func(p publisher.Progress) {
			once.Do(func() { emit(p.At, schema.PhasePublishing, nil) })
			r.s.emit(event{attempt: id, progress: &p})
		},
	}
	var res publisher.Result
	if engine == schema.EngineNative {
		res = r.nativeAttempt(ctx, slot, id, u, spec)
	} else {
		res = r.spawn(ctx, spec)
	}
	if res.Spawned.IsZero() {
		emit(r.clock.Now(), schema.PhaseSpawn, func(ae *schema.AttemptEvent) { ae.URL = u })
	}
	emit(res.Exited, schema.PhaseExit, res.RecordExit)
	return res
}
