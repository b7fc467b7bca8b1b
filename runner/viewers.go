package runner

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/native"
	"github.com/rtmpload/rtmpload/player"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// LatencyEvery puts one viewer in this many (by schedule order) in the
// latency sample: its frames are paired with its publisher's send times.
// A sample, because thousands of viewers' goroutines waiting for the CPU
// would measure the machine, not the server.
const LatencyEvery = 10

// viewers are the run's players: where they play and the publishers' send
// times their latency sample reads.
type viewers struct {
	ffmpeg   string // for engine ffmpeg
	rtmpBase string // rtmp://[user@]host:port/app/ of the server itself (not the tap)
	flvBase  string // http://host:port/app/ of its HTTP-FLV listener ("": none)
	query    string // --target's own query

	mu    sync.Mutex
	sends map[string]*player.SendTimes // stream -> its publisher's send times
}

// SendTimesOf is the send-time table of stream, created on first use: a
// native publisher of stream records each video message it sends in it
// (player.SendTimes.Sent), and the viewers in the latency sample pair their
// arrivals with it. Two publishers of one name (a contest) would mix their
// timestamps; the viewers' latency is then not paired (Unpaired counts).
func (v *viewers) SendTimesOf(stream string) *player.SendTimes {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sends == nil {
		v.sends = make(map[string]*player.SendTimes)
	}
	st := v.sends[stream]
	if st == nil {
		st = &player.SendTimes{}
		v.sends[stream] = st
	}
	return st
}

// sendTimes is stream's table if a publisher filled it.
func (v *viewers) sendTimes(stream string) *player.SendTimes {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sends[stream]
}

// viewerSlots is this shard's part of the viewers' schedule: every n-th,
// as Shard does for publishers.
func (p *plan) viewerSlots() []scenarios.ViewerSlot {
	all := p.sc.ViewerSchedule()
	if p.o.Shards <= 1 {
		return all
	}
	var out []scenarios.ViewerSlot
	for _, s := range all {
		if s.Seq%p.o.Shards == p.o.Shard {
			out = append(out, s)
		}
	}
	return out
}

// checkFLV checks Options.FLV: http://host:port.
func checkFLV(o Options) error {
	if o.FLV == "" {
		return nil
	}
	if u, err := url.Parse(o.FLV); err != nil || u.Scheme != "http" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return option.New("Options.FLV", func(name string) string {
			return fmt.Sprintf("%s %q: want http://host:port, the server's HTTP-FLV listener", name, o.FLV)
		})
	}
	return nil
}

// runViewers starts every viewer of this shard at its time and waits for
// all of them.
func (r *run) runViewers(ctx context.Context, start time.Time, vs *viewers) {
	var wg sync.WaitGroup
	for _, slot := range r.p.viewerSlots() {
		wg.Go(func() {
			if !r.clock.Sleep(ctx, start.Add(slot.Start).Sub(r.clock.Now())) {
				return
			}
			r.viewerSlot(ctx, start, slot, vs)
		})
	}
	wg.Wait()
}

// viewerSlot runs one viewer from its start to its stop: a play, and plays
// again after one that ended on its own, as its group's reconnect allows.
// Play ids are <run>-v<seq+1>, then <run>-v<seq+1>.<k>.
func (r *run) viewerSlot(ctx context.Context, start time.Time, slot scenarios.ViewerSlot, vs *viewers) {
	rc := r.p.sc.Viewers[viewerGroupIndex(r.p.sc, slot.Group)].Reconnect
	stop := start.Add(slot.Stop)
	for k := 0; ; k++ {
		id := fmt.Sprintf("%s-v%d", r.p.id, slot.Seq+1)
		if k > 0 {
			id += fmt.Sprintf(".%d", k)
		}
		actx, cancel := r.clock.WithDeadline(ctx, stop)
		ev := vs.play(actx, slot, id)
		cancel()
		r.s.write(schema.Event{Type: schema.TypeView, Time: ev.Start.Add(ev.End), View: ev})
		if ctx.Err() != nil || !r.clock.Now().Before(stop) || ev.Ending == schema.ViewHeld || k >= rc.Max {
			return
		}
		if !r.clock.Sleep(ctx, reconnectDelay(rc, k+1)) || !r.clock.Now().Before(stop) {
			return
		}
	}
}

func viewerGroupIndex(sc *scenarios.Scenario, group string) int {
	for i, g := range sc.Viewers {
		if g.Group == group {
			return i
		}
	}
	return 0
}

// playURL is where viewer id plays slot's stream: the server itself, with
// the target's query and ?rtmpload=<id>, so that the callback's on_play
// call names the viewer.
func (v *viewers) playURL(slot scenarios.ViewerSlot, id string) (string, error) {
	q := joinQuery(v.query, "rtmpload="+url.QueryEscape(id))
	if slot.Protocol == scenarios.ViewHTTPFLV {
		if v.flvBase == "" {
			return "", fmt.Errorf("http-flv: no HTTP-FLV address is known for this server (Options.FLV gives a target's)")
		}
		return v.flvBase + url.PathEscape(slot.Stream) + ".flv?" + q, nil
	}
	return v.rtmpBase + url.PathEscape(slot.Stream) + "?" + q, nil
}

// play plays once and returns the view event.
func (v *viewers) play(ctx context.Context, slot scenarios.ViewerSlot, id string) *schema.ViewEvent {
	ev := &schema.ViewEvent{ID: id, Group: slot.Group, Stream: slot.Stream, Slot: slot.Seq, Protocol: slot.Protocol, Engine: slot.Engine}
	u, err := v.playURL(slot, id)
	if err != nil {
		ev.Start, ev.Ending, ev.Message = time.Now(), schema.ViewError, err.Error()
		return ev
	}
	ev.URL = u
	o := player.Options{URL: u}
	var lat *latencyRecorder
	if slot.Seq%LatencyEvery == 0 && slot.Engine == scenarios.ViewNative {
		if st := v.sendTimes(slot.Stream); st != nil {
			lat = &latencyRecorder{}
			o.Arrivals = &player.Pairer{Times: st, Record: lat.record}
		}
	}
	var res player.Result
	if slot.Engine == scenarios.ViewFFmpeg {
		res = player.PlayFFmpeg(ctx, v.ffmpeg, o)
	} else {
		res = player.Play(ctx, o)
	}
	viewFromResult(ev, &res, o)
	if lat != nil {
		ev.Latency = lat.sample(o.Arrivals.(*player.Pairer).Unpaired)
	}
	return ev
}

// viewFromResult copies a play's result into its event.
func viewFromResult(ev *schema.ViewEvent, r *player.Result, o player.Options) {
	tl := r.Timeline
	ev.Start, ev.End = r.Start, r.End
	ev.Dial, ev.Handshake, ev.Connect, ev.PlaySent, ev.PlayStart = tl.Dial, tl.Handshake, tl.Connect, tl.PlaySent, tl.PlayStart
	ev.FirstTag, ev.FirstFrame, ev.FirstKeyframe = tl.FirstTag, tl.FirstFrame, tl.FirstKeyframe
	ev.Ending, ev.Message, ev.Status, ev.HTTPStatus = string(r.Ending), r.Err, r.Status, r.HTTPStatus
	ev.Bytes, ev.MediaBytes = r.Bytes, r.MediaBytes
	ev.VideoFrames, ev.AudioFrames, ev.Keyframes, ev.MediaSpan = r.VideoFrames, r.AudioFrames, r.Keyframes, r.MediaSpan
	ev.Stalls, ev.StallTime, ev.MaxLag, ev.StallAt = r.Stalls, r.StallTime, r.MaxLag, r.StallAt
	if ev.Stalls > 0 {
		ev.StallAfter = o.StallAfter
		if ev.StallAfter == 0 {
			ev.StallAfter = time.Second // player's default
		}
	}
	if strings.HasPrefix(ev.Message, "player: ") {
		ev.Message = strings.TrimPrefix(ev.Message, "player: ")
	}
}

// latencyRecorder gathers one sampled viewer's latencies in the schema's
// buckets.
type latencyRecorder struct {
	buckets []int64
	n       int64
	max     time.Duration
}

func (l *latencyRecorder) record(d time.Duration) {
	i := schema.LatencyBucket(d)
	for len(l.buckets) <= i {
		l.buckets = append(l.buckets, 0)
	}
	l.buckets[i]++
	l.n++
	l.max = max(l.max, d)
}

func (l *latencyRecorder) sample(unpaired int) *schema.LatencySample {
	s := &schema.LatencySample{Count: l.n, Buckets: l.buckets, Unpaired: unpaired, Max: ms(l.max)}
	s.P50, s.P99 = ms(schema.BucketQuantile(l.buckets, 0.5)), ms(schema.BucketQuantile(l.buckets, 0.99))
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newViewers is where the viewers play: the server itself, not the tap
// (the tap reads publishes), and its HTTP-FLV listener when one is known.
func newViewers(tg *target, o Options) *viewers {
	v := &viewers{ffmpeg: o.FFmpeg, rtmpBase: tg.base(tg.addr), query: tg.query}
	if flv := cmp.Or(tg.flv, o.FLV); flv != "" {
		v.flvBase = strings.TrimSuffix(flv, "/") + "/" + tg.app + "/"
	}
	return v
}

// viewerGroups lists the viewer groups for the run header.
func viewerGroups(sc *scenarios.Scenario) []schema.GroupInfo {
	var gs []schema.GroupInfo
	for _, g := range sc.Viewers {
		gs = append(gs, schema.GroupInfo{Name: g.Group, Count: g.Count})
	}
	return gs
}

// viewerHooks are the play callbacks a server the run starts calls: the
// built-in hook's on_play and on_stop when the scenario has viewers.
func viewerHooks(sc *scenarios.Scenario, hk *hook.Server) (play, stop string) {
	if hk == nil || len(sc.Viewers) == 0 {
		return "", ""
	}
	return hk.OnPlayURL(), hk.OnStopURL()
}

// viewerFLVListen is the embedded server's HTTP-FLV listener: a free port
// when the scenario has viewers.
func viewerFLVListen(sc *scenarios.Scenario) string {
	if len(sc.Viewers) == 0 {
		return ""
	}
	return "127.0.0.1:0"
}

// sendTimes is the send-time record a native publisher of stream fills,
// when the run has viewers (nil: none, and no cost).
func (r *run) sendTimes(stream string) native.SendRecorder {
	if r.views == nil {
		return nil
	}
	return r.views.SendTimesOf(stream)
}
