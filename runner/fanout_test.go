package runner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// attemptsOf gives each attempt's events by phase.
func attemptsOf(evs []schema.Event) map[string]map[string]*schema.AttemptEvent {
	out := make(map[string]map[string]*schema.AttemptEvent)
	for _, ev := range evs {
		if ae := ev.Attempt; ae != nil {
			if out[ae.ID] == nil {
				out[ae.ID] = make(map[string]*schema.AttemptEvent)
			}
			out[ae.ID][ae.Phase] = ae
		}
	}
	return out
}

// TestFanoutRefusedOutputReconnectsAlone: three publishers share one ffmpeg
// (tee); the name of the middle one is held by another publisher, so the
// server refuses that output alone. The other two publish on; the refused
// one has its own outcome (stream_busy), message and hook call, and
// reconnects as its own ffmpeg once the name is free.
//
// Both ways of opening the outputs are run: in turn (tee's own), and
// parallel (each behind its own queue, its open seen on the wire).
func TestFanoutRefusedOutputReconnectsAlone(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	for _, parallel := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-turn", true: "parallel"}[parallel], func(t *testing.T) {
			t.Parallel()
			testFanoutRefused(t, parallel)
		})
	}
}

func testFanoutRefused(t *testing.T, parallel bool) {
	sc := scenario(t, `
name: fanout-refused
duration: 22s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: owner, count: 1, name: "f-1", hold: 10s}
  - group: fleet
    count: 3
    name: "f-{i}"
    start: 6s
    fanout: 3
    reconnect: {delay: 5s, max: 2}
`)
	res := runScenario(t, sc, Options{FanoutParallel: parallel})
	evs := testkit.Events(t, res.ResultsPath)
	if open := evs[0].Run.Options["fanout_open"]; open != fanoutOpen(parallel) {
		t.Errorf("run header says fan-out opens %q, want %q", open, fanoutOpen(parallel))
	}
	atts := attemptsOf(evs)
	var fleet []string // the fleet's first attempts, in slot order
	for id, a := range atts {
		if s := a[schema.PhaseSpawn]; s != nil && s.Group == "fleet" && !strings.Contains(id, ".") {
			fleet = append(fleet, id)
		}
	}
	if len(fleet) != 3 {
		t.Fatalf("fleet's first attempts: %v, want 3", fleet)
	}
	var pid int
	var refused string
	for _, id := range fleet {
		sp := atts[id][schema.PhaseSpawn]
		if sp.Outputs != 3 || sp.Process == "" {
			t.Errorf("%s: spawn %+v, want an output of a 3-output process", id, sp)
		}
		if pid == 0 {
			pid = sp.PID
		} else if sp.PID != pid {
			t.Errorf("%s: pid %d, want the fleet's one process %d", id, sp.PID, pid)
		}
		if sp.Stream == "f-1" {
			refused = id
		}
	}
	byID := make(map[string]report.Failure)
	for _, f := range res.Summary.Failures {
		byID[f.ID] = f
	}
	f, ok := byID[refused]
	if !ok || f.Outcome != schema.OutcomeStreamBusy || !strings.Contains(f.Message, "Input/output error") {
		t.Errorf("refused output %s: %+v, want stream_busy with ffmpeg's Input/output error", refused, f)
	}
	if ex := atts[refused][schema.PhaseExit]; ex == nil || len(ex.StderrTail) == 0 || !strings.Contains(strings.Join(ex.StderrTail, "\n"), refused) {
		t.Errorf("refused output's exit %+v: want its own stderr lines", ex)
	}
	hooked := false
	for _, ev := range evs {
		if h := ev.Hook; h != nil && h.Action == "on_publish" && h.Attempt == refused {
			hooked = true
		}
	}
	if !hooked {
		t.Errorf("no on_publish hook call recorded for the refused output %s", refused)
	}
	for _, id := range fleet {
		if id != refused {
			if f, failed := byID[id]; failed {
				t.Errorf("%s failed (%s), want it published beside the refused one", id, f.Outcome)
			}
		}
	}
	again := atts[refused+".1"]
	if again == nil || again[schema.PhaseSpawn] == nil {
		t.Fatalf("the refused output did not reconnect: %v", again)
	}
	if sp := again[schema.PhaseSpawn]; sp.Process != "" || sp.PID == pid {
		t.Errorf("reconnect %+v: want its own process", sp)
	}
	if _, failed := byID[refused+".1"]; failed || again[schema.PhasePublishing] == nil {
		t.Errorf("reconnect of %s did not publish: %+v", refused, byID[refused+".1"])
	}
}

// TestFanoutInterrupted: canceling a run while a fan-out process publishes
// stops it, records every output's end, and leaves no process behind.
func TestFanoutInterrupted(t *testing.T) {
	ff := testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: fanout-interrupt
duration: 60s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: fleet, count: 4, name: "i-{i}", fanout: 4}
`)
	dir := filepath.Join(t.TempDir(), "out")
	live := NewLive()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			for _, g := range live.Snapshot() {
				if g.Name == "fleet" && g.Publishing == 4 {
					cancel()
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	res, err := Run(ctx, Options{Scenario: sc, FFmpeg: ff, ResultsDir: dir, CacheDir: testCache(t), Live: live})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Fatal("the run was not interrupted: its outputs never all published")
	}
	atts := attemptsOf(testkit.Events(t, res.ResultsPath))
	pids := make(map[int]bool)
	for id, a := range atts {
		if a[schema.PhaseSpawn] == nil || a[schema.PhaseExit] == nil {
			t.Errorf("%s: spawn %v exit %v, want both", id, a[schema.PhaseSpawn], a[schema.PhaseExit])
			continue
		}
		pids[a[schema.PhaseSpawn].PID] = true
		if ex := a[schema.PhaseExit]; !ex.Stopped {
			t.Errorf("%s: exit %+v, want stopped by rtmpload", id, ex)
		}
	}
	if len(atts) != 4 || len(pids) != 1 {
		t.Errorf("%d attempts in %d processes, want 4 in 1", len(atts), len(pids))
	}
	for pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still exists (kill: %v)", pid, err)
		}
	}
	if res.Summary.Outcomes[schema.OutcomeOK] != 4 {
		t.Errorf("outcomes %v, want 4 ok", res.Summary.Outcomes)
	}
}

// TestFanoutDroppedOutputReconnectsAlone: three publishers share one ffmpeg;
// a rival takes one name over (the embedded server's takeover mode closes
// the old publisher after the rival's first 2 s of media: the rival holds
// 4 s). That output alone is dropped, with tee's own line; the
// other two publish on in the same process, and the dropped one reconnects
// as its own ffmpeg (and takes its name back).
func TestFanoutDroppedOutputReconnectsAlone(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	sc := scenario(t, `
name: fanout-dropped
duration: 18s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - group: fleet
    count: 3
    name: "d-{i}"
    fanout: 3
    reconnect: {delay: 2s, max: 2}
  - {group: rival, count: 1, name: "d-1", start: 7s, hold: 4s}
`)
	res := runScenario(t, sc, Options{Takeover: true})
	atts := attemptsOf(testkit.Events(t, res.ResultsPath))
	byID := make(map[string]report.Failure)
	for _, f := range res.Summary.Failures {
		byID[f.ID] = f
	}
	var dropped string
	var pid int
	for id, a := range atts {
		sp := a[schema.PhaseSpawn]
		if sp == nil || sp.Group != "fleet" || strings.Contains(id, ".") {
			continue
		}
		if pid == 0 {
			pid = sp.PID
		} else if sp.PID != pid || sp.Outputs != 3 {
			t.Errorf("%s: spawn %+v, want an output of the fleet's one process %d", id, sp, pid)
		}
		if sp.Stream == "d-1" {
			dropped = id
			continue
		}
		if f, failed := byID[id]; failed {
			t.Errorf("%s failed (%s: %s), want it published on beside the dropped one", id, f.Outcome, f.Evidence)
		}
	}
	f, ok := byID[dropped]
	if !ok || f.Outcome != schema.OutcomeDropped || !strings.Contains(f.Message, "Slave muxer") {
		t.Errorf("taken-over output %s: %+v, want dropped with tee's own line", dropped, f)
	}
	again := atts[dropped+".1"]
	if again == nil || again[schema.PhaseSpawn] == nil {
		t.Fatalf("the dropped output did not reconnect (attempts %v)", len(atts))
	}
	if sp := again[schema.PhaseSpawn]; sp.Process != "" || sp.PID == pid {
		t.Errorf("reconnect %+v: want its own process", sp)
	}
	if again[schema.PhasePublishing] == nil {
		t.Errorf("the reconnect of %s did not publish", dropped)
	}
}

// TestFanoutParallelNeedsAView: parallel outputs learn that they opened
// from the wire; with neither the tap nor the embedded server in this
// process, the run is refused before it starts.
func TestFanoutParallelNeedsAView(t *testing.T) {
	sc := scenario(t, `
name: p
duration: 5s
publishers:
  - {group: g, count: 2, name: "g-{i}", fanout: 2}
`)
	for _, c := range []struct {
		o  Options
		ok bool
	}{
		{Options{FanoutParallel: true}, true},
		{Options{FanoutParallel: true, NoTap: true}, true}, // the embedded server sees each
		{Options{FanoutParallel: true, NoTap: true, Target: "rtmp://127.0.0.1:1935/live"}, false},
		{Options{FanoutParallel: false, NoTap: true, Target: "rtmp://127.0.0.1:1935/live"}, true},
	} {
		c.o.Scenario, c.o.RunID, c.o.CacheDir = sc, "r", t.TempDir()
		_, err := prepare(c.o, time.Now())
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "drop Options.NoTap")) {
			t.Errorf("parallel %v, no tap %v, target %q: err %v, want ok %v", c.o.FanoutParallel, c.o.NoTap, c.o.Target, err, c.ok)
		}
	}
}
