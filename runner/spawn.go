package runner

import (
	"context"
	"time"

	"github.com/rtmpload/rtmpload/publisher"
)

// Spawner is the seam between a run's scheduling and the processes that
// publish. The slot loop (a slot's attempts: churn, hold, reconnects with
// their delay, backoff and maximum) and the fan-out loop decide when an
// attempt starts and when it must stop (ctx's deadline on the run's clock,
// or ctx canceled when the run ends); a Spawner starts one publisher
// process for spec, reports its start, its -progress blocks and its
// outputs through spec's callbacks, and blocks until the process and
// everything it started have ended. Tests give the run a fake Spawner and
// a fake clock, so slots are tested without ffmpeg.
//
// One spawn may carry several attempts: each of spec.Outputs is one
// attempt (its id and publish URL: one RTMP connection). With one output
// the process is a lone ffmpeg (publisher.Args) and the Result is the
// attempt's. With several (fan-out) it is one ffmpeg publishing to every
// URL through the tee muxer (publisher.TeeArgs): the Result is the
// process's, Result.Outputs[i] is what output i did (opened, failed with
// ffmpeg's own line, its own stderr tail), and OnOutput reports each
// output opening or failing as it happens. Stopping a spawn stops every
// output of it: outputs that must stop at different times belong to
// different spawns.
type Spawner func(ctx context.Context, spec SpawnSpec) publisher.Result

// SpawnSpec is one publisher process to start.
type SpawnSpec struct {
	Outputs []SpawnOutput // at least one
	// OnStart, if set, is called once the process runs, with its start time
	// and pid, before any other callback.
	OnStart func(at time.Time, pid int)
	// OnProgress, if set, is called for each -progress block of the
	// process, in order; its outputs share them.
	OnProgress func(publisher.Progress)
	// OnOutput, if set and there are several outputs, is called when one of
	// them opens (never with Parallel) or fails.
	OnOutput func(publisher.Output)
	// Parallel opens several outputs at once, each with its own queue
	// (publisher.TeeArgs): the caller learns from the wire that one opened.
	Parallel bool
}

// SpawnOutput is one attempt of a spawn: where it publishes.
type SpawnOutput struct {
	Attempt string // the attempt id, also in URL's rtmpload= parameter
	URL     string
}

// ffmpegSpawner runs one ffmpeg per spawn, publishing clip to the spawn's
// outputs; grace is how long a stopped ffmpeg may take before SIGKILL.
func ffmpegSpawner(ffmpeg, clip string, grace time.Duration) Spawner {
	return func(ctx context.Context, spec SpawnSpec) publisher.Result {
		ps := publisher.Spec{FFmpeg: ffmpeg, Grace: grace, OnStart: spec.OnStart, OnProgress: spec.OnProgress}
		if len(spec.Outputs) == 1 {
			ps.Args = publisher.Args(clip, spec.Outputs[0].URL)
			return publisher.Run(ctx, ps)
		}
		for _, o := range spec.Outputs {
			ps.Outputs = append(ps.Outputs, o.URL)
		}
		ps.Args, ps.OnOutput = publisher.TeeArgs(clip, ps.Outputs, spec.Parallel), spec.OnOutput
		ps.Parallel = spec.Parallel
		return publisher.Run(ctx, ps)
	}
}

// clock is the run's time as the slot loop sees it: the real one, or a
// fake in tests.
type clock interface {
	Now() time.Time
	// Sleep waits for d; it returns false, early, if ctx ends first.
	Sleep(ctx context.Context, d time.Duration) bool
	// WithDeadline is context.WithDeadline on this clock.
	WithDeadline(ctx context.Context, at time.Time) (context.Context, context.CancelFunc)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (realClock) WithDeadline(ctx context.Context, at time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, at)
}
