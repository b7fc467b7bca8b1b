package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/scenarios"
)

func needFFmpeg(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH: run scripts/deps.sh")
	}
	return p
}

func testCache(t *testing.T) string {
	d := filepath.Join(os.TempDir(), "rtmpload-test-clips")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func scenario(t *testing.T, yaml string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runScenario(t *testing.T, sc *scenarios.Scenario, o Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.Scenario = sc
	o.FFmpeg = needFFmpeg(t)
	o.ResultsDir = filepath.Join(t.TempDir(), "out")
	o.CacheDir = testCache(t)
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("run did not end within its bound")
	}
	return res
}

func latency(s *report.Summary, metric string) *report.LatencyRow {
	for i := range s.Latency {
		if s.Latency[i].Metric == metric && s.Latency[i].Group == "all" {
			return &s.Latency[i]
		}
	}
	return nil
}

// TestTapPhasesAndHookLatency: through the tap to the embedded server, every
// wire phase shows up in order, and a 200 ms hook shows in hook_latency and
// hook_wait but not in the handshake.
func TestTapPhasesAndHookLatency(t *testing.T) {
	needFFmpeg(t)
	sc := scenario(t, `
name: tap
duration: 5s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: allow, latency: 200ms}
publishers:
  - {group: g, count: 3, name: "tap-{i}", ramp: 1s}
`)
	res := runScenario(t, sc, Options{})
	s := res.Summary
	if s.Outcomes[report.OutcomeOK] != 3 {
		t.Fatalf("outcomes %v, failures %+v", s.Outcomes, s.Failures)
	}
	for _, m := range []string{report.MetricHookLatency, report.MetricHookWait} {
		l := latency(s, m)
		if l == nil || l.Count != 3 || l.P50 < 200 {
			t.Errorf("%s: %+v, want 3 samples of at least 200 ms", m, l)
		}
	}
	if l := latency(s, report.MetricHandshake); l == nil || l.Count != 3 || l.Max >= 100 {
		t.Errorf("handshake %+v: want 3 samples well under the hook's 200 ms", l)
	}
	for _, m := range []string{report.MetricFFmpegStartup, report.MetricConnect, report.MetricPublish, report.MetricFirstMedia, report.MetricPublishStart} {
		if l := latency(s, m); l == nil || l.Count != 3 {
			t.Errorf("%s: %+v, want 3 samples", m, l)
		}
	}

	// Every attempt's wire marks come in the order of a publish.
	order := []string{report.WireTCPConnect, report.WireC0C1, report.WireS0S1S2, report.WireConnect,
		report.WireConnectResult, report.WirePublish, report.WireOnStatus}
	f, err := os.Open(res.ResultsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wires := 0
	err = report.Read(f, func(ev report.Event) error {
		if ev.Type != report.TypeWire {
			return nil
		}
		wires++
		w := ev.Wire
		if w.Attempt == "" || w.Stream == "" || w.Unparsed {
			t.Errorf("wire record %+v: want an attempt id, a stream and a parsed stream", w)
		}
		seen := make(map[string]time.Time)
		for _, m := range w.Marks {
			seen[m.Phase] = m.At
		}
		var prev time.Time
		for _, p := range order {
			at, ok := seen[p]
			if !ok {
				t.Errorf("attempt %s: no %s mark", w.Attempt, p)
				continue
			}
			if at.Before(prev) {
				t.Errorf("attempt %s: %s before the phase preceding it", w.Attempt, p)
			}
			prev = at
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wires != 3 {
		t.Errorf("wire records: %d, want 3", wires)
	}
}

// TestNoTap publishes straight to the server: same outcomes, no wire figures.
func TestNoTap(t *testing.T) {
	needFFmpeg(t)
	sc := scenario(t, `
name: notap
duration: 4s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: g, count: 2, name: "n-{i}"}
`)
	s := runScenario(t, sc, Options{NoTap: true}).Summary
	if s.Outcomes[report.OutcomeOK] != 2 {
		t.Fatalf("outcomes %v, failures %+v", s.Outcomes, s.Failures)
	}
	if l := latency(s, report.MetricHandshake); l != nil {
		t.Errorf("without the tap there is no wire figure, got %+v", l)
	}
	if l := latency(s, report.MetricPublishStart); l == nil || l.Count != 2 {
		t.Errorf("ffmpeg's own publish_start: %+v", l)
	}
}
