package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

// TestExternalTargetRaceDetected drives the external-target path: `rtmpload
// serve` with SRS 7.0.18's duplicate-accept race switched on runs as its own
// process behind a slow `rtmpload hook`, and `rtmpload run --target --api
// --hook external` must find the accepted duplicate through the server's
// SRS-shaped API alone (it sees neither the server's log nor the hook). The
// hook takes 3.5 s, longer than the server's 3 s source cleanup, so a tick
// surely falls in the owner's hook and the later publisher is accepted too
// (docs/srs-behaviour.md, "Duplicate names").
func TestExternalTargetRaceDetected(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	tmp := t.TempDir()
	bin := rtmploadBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	hk := startChild(t, ctx, io.Discard, bin, "hook", "--listen", "127.0.0.1:0", "--mode", "allow", "--latency", "3500ms", "--json")
	hookURL := waitOutput(t, &hk.stderr, `\(on_publish (http://\S+)\)`)[1]
	var serveOut syncBuffer
	startChild(t, ctx, &serveOut, bin, "serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--on-publish", hookURL, "--duplicate-race")
	rtmpURL := waitOutput(t, &serveOut, `rtmp (rtmp://\S+)\n`)[1]
	apiURL := waitOutput(t, &serveOut, `api (http://\S+)\n`)[1]

	scenario := filepath.Join(tmp, "race.yaml")
	if err := os.WriteFile(scenario, []byte(`name: race
duration: 14s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: first, count: 1, name: "dup"}
  - {group: second, count: 1, name: "dup", start: 5s}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	run := startChild(t, ctx, io.Discard, bin, "run", scenario, "--target", rtmpURL, "--api", apiURL,
		"--hook", "external", "--hook-probe", hookURL, "--out", out, "--cache-dir", cacheDir(t), "--progress", "none")
	if code := run.wait(); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, run.stderr.String())
	}
	s := readReport(t, out)
	if !strings.HasPrefix(s.Run.Target, "external rtmp://") || s.Run.HookMode != "external" || !strings.HasPrefix(s.Run.Versions["server"], "SRS ") {
		t.Errorf("run header: target %q hook %q server %q", s.Run.Target, s.Run.HookMode, s.Run.Versions["server"])
	}
	if s.Server == nil || s.Server.Snapshots < 5 || len(s.Server.Duplicates) != 1 || !strings.HasPrefix(s.Server.Duplicates[0], "dup ") {
		t.Fatalf("the server's API should show two publishers of dup: %+v", s.Server)
	}
	found := false
	for _, a := range s.Anomalies {
		found = found || strings.HasPrefix(a, string(schema.OutcomeDuplicateAccepted)+": the server's API")
	}
	if !found {
		t.Errorf("anomalies %q: want duplicate_accepted from the server's API", s.Anomalies)
	}
	// The probe watched the callback we do not serve.
	if len(s.Availability) == 0 || s.Availability[0].Source != "probe" || s.Availability[0].State != schema.StateUp {
		t.Errorf("availability %+v: want the probe's view of the external callback", s.Availability)
	}
}
