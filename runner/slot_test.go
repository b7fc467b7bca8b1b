package runner

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// fakeClock is a run's time that moves only when the code under test
// sleeps or a fake publisher runs: a slot's whole life takes no real time.
// It serves one goroutine (one slot).
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	c.now = c.now.Add(max(d, 0))
	return true
}

func (c *fakeClock) WithDeadline(ctx context.Context, at time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	return deadlineCtx{ctx, at}, cancel
}

// deadlineCtx carries a deadline on the fake clock; only the fake spawner
// reads it.
type deadlineCtx struct {
	context.Context
	at time.Time
}

func (d deadlineCtx) Deadline() (time.Time, bool) { return d.at, true }

// life is how a fake publisher goes when nobody stops it.
type life struct {
	publishAfter time.Duration    // its first -progress block; 0: it never publishes
	endAfter     time.Duration    // it ends on its own then; 0: it runs until stopped
	class        schema.ExitClass // how it ends on its own
}

// fakeSpawner stands in for ffmpeg: each spawn lives as lives says (the
// last one repeats), on the fake clock, until its ctx's deadline.
type fakeSpawner struct {
	clk    *fakeClock
	t0     time.Time
	lives  []life
	cancel context.CancelFunc // ends the slot if it spawns without bound
	spawns []spawned
}

// spawned is one fake spawn as the test checks it.
type spawned struct {
	at      time.Duration // since the run's start
	id      string
	stopped bool
}

const maxFakeSpawns = 50

func (f *fakeSpawner) spawn(ctx context.Context, spec SpawnSpec) publisher.Result {
	l := f.lives[min(len(f.spawns), len(f.lives)-1)]
	now := f.clk.Now()
	res := publisher.Result{Spawned: now, PID: 1000 + len(f.spawns), Class: l.class, ExitCode: 1}
	if l.class == schema.ClassExited {
		res.ExitCode = 0
	}
	spec.OnStart(now, res.PID)
	end := now.Add(time.Hour)
	if l.endAfter > 0 {
		end = now.Add(l.endAfter)
	}
	if dl, ok := ctx.Deadline(); ok && !dl.After(end) {
		end, res.Stopped = dl, true
	}
	if ctx.Err() != nil {
		end, res.Stopped = now, true
	}
	if res.Stopped {
		res.Class, res.ExitCode = schema.ClassStopped, 255
	}
	if at := now.Add(l.publishAfter); l.publishAfter > 0 && at.Before(end) {
		spec.OnProgress(publisher.Progress{At: at, Frame: 1, TotalSize: 1000, Speed: 1})
		res.FirstProgress = at
	}
	res.Exited = end
	f.clk.now = end
	f.spawns = append(f.spawns, spawned{at: now.Sub(f.t0), id: spec.Outputs[0].Attempt, stopped: res.Stopped})
	if len(f.spawns) >= maxFakeSpawns {
		f.cancel()
	}
	return res
}

// eventLog is a sink that keeps every attempt event.
type eventLog struct {
	mu  sync.Mutex
	evs []schema.AttemptEvent
}

func (l *eventLog) add(e event) {
	if e.Attempt != nil {
		l.mu.Lock()
		l.evs = append(l.evs, *e.Attempt)
		l.mu.Unlock()
	}
}

// runSlot runs the scenario's first slot with a fake spawner and clock.
func runSlot(t *testing.T, yaml string, lives ...life) (*fakeSpawner, *eventLog, GroupLive) {
	t.Helper()
	sc := scenario(t, yaml)
	p, err := prepare(Options{Scenario: sc, RunID: "r", CacheDir: t.TempDir()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeSpawner{clk: clk, t0: t0, lives: lives, cancel: cancel}
	r := &run{p: p, s: newStream(), clock: clk, spawn: f.spawn, rtmpBase: "rtmp://127.0.0.1:1935/live/"}
	log := &eventLog{}
	r.s.run(newHealthSink(r.s.derive), log, p.o.Live)
	r.slot(ctx, t0, p.slots[0])
	r.s.close()
	if len(f.spawns) >= maxFakeSpawns {
		t.Fatalf("the slot spawned %d times without end", len(f.spawns))
	}
	return f, log, p.o.Live.Snapshot()[0]
}

func (f *fakeSpawner) times() []time.Duration {
	var out []time.Duration
	for _, s := range f.spawns {
		out = append(out, s.at)
	}
	return out
}

func (f *fakeSpawner) ids() []string {
	var out []string
	for _, s := range f.spawns {
		out = append(out, s.id)
	}
	return out
}

func secs(s ...float64) []time.Duration {
	var out []time.Duration
	for _, v := range s {
		out = append(out, time.Duration(v*float64(time.Second)))
	}
	return out
}

func TestSlotHold(t *testing.T) {
	f, log, live := runSlot(t, `
name: hold
duration: 1m
publishers: [{group: g, count: 1, name: s, hold: 10s}]
`, life{publishAfter: 300 * time.Millisecond})
	if got := f.times(); !slices.Equal(got, secs(0)) || !f.spawns[0].stopped {
		t.Errorf("spawns %v (%+v): want one at 0, stopped at its hold", got, f.spawns)
	}
	var phases []string
	for _, e := range log.evs {
		phases = append(phases, e.Phase)
	}
	if want := []string{schema.PhaseSpawn, schema.PhasePublishing, schema.PhaseExit}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if live.Done != 1 || live.Published != 1 || live.Failed != 0 || live.Active != 0 || live.Publishing != 0 {
		t.Errorf("live %+v: want one attempt published and stopped, not failed", live)
	}
}

func TestSlotReconnectBackoff(t *testing.T) {
	// Refused after 2 s each time; reconnects wait 1 s, 2 s, 4 s; at most 3.
	f, _, live := runSlot(t, `
name: backoff
duration: 1m
publishers: [{group: g, count: 1, name: s, reconnect: {delay: 1s, max: 3, backoff: 2}}]
`, life{endAfter: 2 * time.Second, class: schema.ClassFailed})
	if got, want := f.times(), secs(0, 3, 7, 13); !slices.Equal(got, want) {
		t.Errorf("spawns at %v, want %v", got, want)
	}
	if got, want := f.ids(), []string{"r-1", "r-1.1", "r-1.2", "r-1.3"}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	if live.Done != 4 || live.Failed != 4 {
		t.Errorf("live %+v: want 4 attempts, all failed", live)
	}
}

func TestSlotReconnectEndsAtStop(t *testing.T) {
	// A constant 1 s delay, no limit but the slot's stop at 6 s: spawns at
	// 0 and 3; the one that ends at 5 would reconnect at 6, the stop.
	f, _, _ := runSlot(t, `
name: stop
duration: 1m
publishers: [{group: g, count: 1, name: s, hold: 6s, reconnect: {delay: 1s, max: 100}}]
`, life{endAfter: 2 * time.Second, class: schema.ClassFailed})
	if got, want := f.times(), secs(0, 3); !slices.Equal(got, want) {
		t.Errorf("spawns at %v, want %v", got, want)
	}
}

func TestSlotDroppedThenReconnected(t *testing.T) {
	// Published, dropped at 2 s; the reconnect publishes until the hold.
	f, _, live := runSlot(t, `
name: dropped
duration: 1m
publishers: [{group: g, count: 1, name: s, hold: 10s, reconnect: {delay: 500ms, max: 1}}]
`, life{publishAfter: 200 * time.Millisecond, endAfter: 2 * time.Second, class: schema.ClassFailed},
		life{publishAfter: 200 * time.Millisecond})
	if got, want := f.times(), secs(0, 2.5); !slices.Equal(got, want) {
		t.Errorf("spawns at %v, want %v", got, want)
	}
	if live.Done != 2 || live.Published != 2 || live.Failed != 1 {
		t.Errorf("live %+v: want 2 published, the dropped one failed", live)
	}
}

func TestSlotNoReconnect(t *testing.T) {
	// Without a reconnect policy an attempt that ends on its own is the
	// slot's last, whether it failed or ended with status 0.
	for _, class := range []schema.ExitClass{schema.ClassFailed, schema.ClassExited} {
		f, _, live := runSlot(t, `
name: once
duration: 1m
publishers: [{group: g, count: 1, name: s}]
`, life{publishAfter: 100 * time.Millisecond, endAfter: 2 * time.Second, class: class})
		if got := f.times(); !slices.Equal(got, secs(0)) {
			t.Errorf("%s: spawns at %v, want one", class, got)
		}
		if failed := class == schema.ClassFailed; (live.Failed == 1) != failed {
			t.Errorf("%s: live %+v", class, live)
		}
	}
}

func TestSlotChurn(t *testing.T) {
	// Every publisher restarts at each 5 s churn tick, until its 12 s hold;
	// a churn restart is immediate and is not a reconnect.
	f, _, live := runSlot(t, `
name: churn
duration: 1m
churn: {every: 5s, share: 100%}
publishers: [{group: g, count: 1, name: s, hold: 12s}]
`, life{publishAfter: 100 * time.Millisecond})
	if got, want := f.times(), secs(0, 5, 10); !slices.Equal(got, want) {
		t.Errorf("spawns at %v, want %v", got, want)
	}
	if got, want := f.ids(), []string{"r-1", "r-1.1", "r-1.2"}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	for _, s := range f.spawns {
		if !s.stopped {
			t.Errorf("%s was not stopped", s.id)
		}
	}
	if live.Done != 3 || live.Failed != 0 {
		t.Errorf("live %+v: want 3 ok attempts", live)
	}
}

func TestSlotRunCanceled(t *testing.T) {
	// The run's end stops the attempt and the slot: no reconnect.
	sc := scenario(t, `
name: cancel
duration: 1m
publishers: [{group: g, count: 1, name: s, reconnect: {delay: 1s, max: 5}}]
`)
	p, err := prepare(Options{Scenario: sc, RunID: "r", CacheDir: t.TempDir()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	clk := &fakeClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeSpawner{clk: clk, t0: t0, lives: []life{{}}, cancel: cancel}
	r := &run{p: p, s: newStream(), clock: clk, spawn: f.spawn}
	r.s.run()
	r.slot(ctx, t0, p.slots[0])
	r.s.close()
	if len(f.spawns) != 1 || !f.spawns[0].stopped {
		t.Errorf("spawns %+v: want one, stopped", f.spawns)
	}
}

func TestReconnectDelay(t *testing.T) {
	for _, c := range []struct {
		backoff float64
		want    []time.Duration
	}{
		{0, secs(1, 1, 1)}, {1, secs(1, 1, 1)}, {2, secs(1, 2, 4)}, {1.5, secs(1, 1.5, 2.25)},
	} {
		var got []time.Duration
		for n := 1; n <= 3; n++ {
			got = append(got, reconnectDelay(scenariosReconnect(time.Second, c.backoff), n))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("backoff %v: %v, want %v", c.backoff, got, c.want)
		}
	}
}

func scenariosReconnect(delay time.Duration, backoff float64) scenarios.Reconnect {
	return scenarios.Reconnect{Delay: delay, Max: 3, Backoff: backoff}
}
