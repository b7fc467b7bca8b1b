package runner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rtmpload/rtmpload/native"
	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// withEngines is sc with every group's engine decided: its own, or the
// run's (--engine, default ffmpeg). sc itself is left as it was. It checks
// the native engine's tick too.
func withEngines(sc *scenarios.Scenario, engine string, tick time.Duration) (*scenarios.Scenario, error) {
	switch engine {
	case "", schema.EngineFFmpeg, schema.EngineNative:
	default:
		return nil, fmt.Errorf("engine %q: use ffmpeg or native", engine)
	}
	if tick != 0 && (tick < time.Millisecond || tick > time.Second) {
		return nil, fmt.Errorf("native tick %v: want 1ms to 1s (default 100ms)", tick)
	}
	out := *sc
	out.Publishers = slices.Clone(sc.Publishers)
	for i := range out.Publishers {
		if out.Publishers[i].Engine == "" {
			out.Publishers[i].Engine = cmpOr(engine, schema.EngineFFmpeg)
		}
	}
	return &out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// engineOf is the engine of a slot: its group's, but ffmpeg for the
// witnesses of a native group.
func (r *run) engineOf(slot scenarios.Slot) string {
	g := r.p.sc.Publishers[groupIndex(r.p.sc, slot.Group)]
	if g.Engine == schema.EngineNative && scenarios.IsWitness(slot.Index, g.Witness) {
		return schema.EngineFFmpeg
	}
	return g.Engine
}

// startNative loads the clip into the native engine when a group needs it.
func (r *run) startNative(g *rig) error {
	if !slices.ContainsFunc(r.p.sc.Publishers, func(gr scenarios.Group) bool { return gr.Engine == schema.EngineNative }) {
		return nil
	}
	clip, err := native.LoadClip(g.clip)
	if err != nil {
		return err
	}
	g.native = native.New(clip, native.Options{Tick: r.p.o.NativeTick})
	g.opened(g.native.Close)
	return nil
}

// nativeAttempt publishes one attempt with the native engine. It reports
// through spec's callbacks as an ffmpeg spawn does (no pid; the publish
// start as its first progress block), records the wire phases the tap would
// have seen, and returns a Result whose Message is what the server did.
func (r *run) nativeAttempt(ctx context.Context, slot scenarios.Slot, id, u string, spec SpawnSpec) publisher.Result {
	start := time.Now()
	if spec.OnStart != nil {
		spec.OnStart(start, 0)
	}
	var nr native.Result
	hooks := native.Hooks{Sent: r.sendTimes(slot.Stream),
		OnPhase: func(p string, at time.Time, so native.Timeline) {
			if p != native.PhaseMedia {
				return
			}
			r.s.emit(event{attempt: id, onStatus: nativeWire(id, slot.Stream, native.Result{Timeline: so})})
			if spec.OnProgress != nil {
				spec.OnProgress(publisher.Progress{At: at})
			}
		},
		OnProgress: func(p native.Progress) {
			if spec.OnProgress == nil {
				return
			}
			speed := 0.0
			if p.Since > 0 {
				speed = p.Media.Seconds() / p.Since.Seconds()
			}
			spec.OnProgress(publisher.Progress{At: p.At, TotalSize: p.Bytes, OutTimeUS: p.Media.Microseconds(), Speed: speed})
		},
	}
	nr = r.native.Publish(ctx, u, hooks)
	r.s.write(schema.Event{Type: schema.TypeWire, Time: nr.End, Wire: nativeWire(id, slot.Stream, nr)})
	res := publisher.Result{Spawned: start, FirstProgress: nr.PublishStart, Exited: nr.End,
		LastProgress: publisher.Progress{At: nr.End, TotalSize: nr.BytesSent}}
	switch {
	case nr.Failure != nil:
		res.Class, res.ExitCode, res.Message = schema.ClassFailed, 1, nr.Failure.String()
	default:
		res.Class, res.Stopped = schema.ClassStopped, true
	}
	return res
}

// nativeWire is a native attempt's phases as the tap names them, so that
// the report reads them as it reads the tap's.
func nativeWire(id, stream string, nr native.Result) *schema.WireConn {
	w := &schema.WireConn{Attempt: id, Stream: stream, BytesUp: uint64(max(nr.BytesSent, 0))}
	mark := func(phase string, at time.Time, detail string) {
		if !at.IsZero() {
			w.Marks = append(w.Marks, schema.WireMark{Phase: phase, At: at, Detail: detail})
		}
	}
	mark(schema.WireTCPConnect, nr.Connected, "")
	mark(schema.WireC0C1, nr.Connected, "")
	mark(schema.WireS0S1S2, nr.Handshaked, "")
	mark(schema.WireConnect, nr.Handshaked, "")
	mark(schema.WireConnectResult, nr.ConnectResult, "")
	mark(schema.WirePublish, nr.PublishSent, "")
	switch f := nr.Failure; {
	case !nr.PublishStart.IsZero():
		mark(schema.WireOnStatus, nr.PublishStart, schema.PublishStartCode)
	case f != nil && f.What == native.WhatStatus:
		mark(schema.WireOnStatus, nr.End, f.Code)
	}
	mark(schema.WireFirstVideo, nr.FirstMedia, "")
	mark(schema.WireFirstAudio, nr.FirstMedia, "")
	if f := nr.Failure; f != nil {
		switch f.What {
		case native.WhatClose:
			mark(schema.WireServerClose, nr.End, "EOF")
		case native.WhatReset:
			mark(schema.WireServerClose, nr.End, "connection reset by peer")
		}
	} else if nr.Stopped && !nr.Connected.IsZero() {
		mark(schema.WireClientClose, nr.End, "")
	}
	return w
}
