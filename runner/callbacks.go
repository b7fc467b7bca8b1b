package runner

import (
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srsapi"
	"github.com/rtmpload/rtmpload/tap"
)

// The components of a run (the callback server, the tap, the embedded
// server, the API reader, the machine sampler) call these as things
// happen; each turns what it saw into an event of the run's one stream.

func (r *run) onHookCall(c hook.Call) {
	h := &schema.HookCall{
		Seq: c.Seq, Action: c.Action, Attempt: c.Attempt, ClientID: c.ClientID,
		Stream: c.Stream, App: c.App, Param: c.Param,
		Arrived: c.Arrived, Answered: c.Answered, Status: c.Status,
		Verdict: c.Verdict, Reason: c.Reason, Canceled: c.Canceled, Fault: c.Fault,
		Dialect: c.Dialect, Upstream: c.Upstream.Record(),
	}
	if c.Status != 0 && c.Action == schema.ActionPublish {
		h.Body, h.BodyBytes = schema.HookBody(c.Answer)
	}
	r.s.write(schema.Event{Type: schema.TypeHook, Time: c.Answered, Hook: h})
}

func (r *run) onWire(c *tap.Conn) {
	r.s.write(schema.Event{Type: schema.TypeWire, Time: c.End, Wire: c.Record()})
}

// onMark feeds the live figures (metrics, capacity steps) as soon as the
// server has answered the publish, not when the connection ends.
func (r *run) onMark(c *tap.Conn, m tap.Mark) {
	if m.Phase != tap.OnStatus {
		return
	}
	if m.Detail == schema.PublishStartCode {
		r.wireOpened(c.Attempt, m.At)
	}
	r.s.emit(event{attempt: c.Attempt, onStatus: c.Record()})
}

func (r *run) onHookState(c hook.StateChange) { r.state("hook", c) }

func (r *run) onProbeState(c hook.StateChange) { r.state("probe", c) }

func (r *run) state(source string, c hook.StateChange) {
	r.s.write(schema.Event{Type: schema.TypeState, Time: c.At, State: &schema.StateChange{
		Source: source, State: c.State, Fault: c.Fault, Detail: c.Detail, Action: c.Action,
	}})
}

func (r *run) onMachine(at time.Time, s schema.MachineSample) {
	r.s.write(schema.Event{Type: schema.TypeMachine, Time: at, Machine: &s})
}

func (r *run) onSnapshot(s srsapi.Snapshot) {
	r.s.write(schema.Event{Type: schema.TypeSnap, Time: s.At, Snapshot: s.Record()})
}

// fanoutOpen says in the run header how a fan-out process opens its
// outputs (see teeAttempt).
func fanoutOpen(parallel bool) string {
	if parallel {
		return schema.FanoutParallel
	}
	return schema.FanoutInTurn
}

// hookDesc says in the run header how the callback was handled.
func hookDesc(p HookPlan, mode schema.HookMode) string {
	switch {
	case p.Proxy != "":
		return "proxy to " + p.Proxy
	case !p.Serve():
		return "external"
	}
	return string(mode)
}

func hookURL(hk *hook.Server) string {
	if hk == nil {
		return ""
	}
	return hk.OnPublishURL()
}

func (r *run) onServerEvent(e server.Event) {
	switch e.Kind {
	case server.EventAccept:
		r.wireOpened(hook.AttemptFromParam(e.Param), e.Time)
	case server.EventReject, server.EventUnpublish, server.EventPlayReject:
	default:
		return
	}
	r.s.write(schema.Event{Type: schema.TypeServer, Time: e.Time, Server: &schema.ServerEvent{
		Kind: e.Kind, Attempt: hook.AttemptFromParam(e.Param), ClientID: e.ClientID,
		Stream: e.Stream, Reason: e.Reason, HookStatus: e.HookStatus, HookErr: e.HookErr, HookBody: e.HookBody,
		HookLatency: int64(e.HookLatency), BytesIn: e.BytesIn, VideoMsgs: e.VideoMsgs, AudioMsgs: e.AudioMsgs,
	}})
}
