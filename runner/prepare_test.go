package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// A run id or a publish URL that ffmpeg would cut (the path after
// host:port at 1,023 bytes, rtmpload=<id> last) is refused before the run:
// the cut id would match no attempt, and the report would lose the hook and
// wire timings without a word.
func TestPublishURLFitsFFmpeg(t *testing.T) {
	param := func(n int) string { return "token=" + strings.Repeat("x", n) + "{i}" }
	sc := func(p string) string {
		return "name: u\nduration: 5s\npublishers:\n  - {group: g, count: 20, name: \"cam-{i}\", param: \"" + p + "\"}\n"
	}
	for _, c := range []struct {
		name, runID, param, target, want string
	}{
		{"ordinary", "r-1", param(100), "", ""},
		{"longest id, long param", strings.Repeat("r", MaxRunID), param(800), "", ""},
		{"id too long", strings.Repeat("r", 400), param(10), "", "at most 64"},
		{"id with an escape", "r\x1b[31m", param(10), "", "control characters"},
		{"id and the longest param", strings.Repeat("r", MaxRunID), param(880), "", ""},
		{"target's query too", "r-1", param(600), "rtmp://127.0.0.1:1935/live?auth=" + strings.Repeat("a", 400), "ffmpeg keeps 1023"},
		{"target's app", "r-1", param(800), "rtmp://127.0.0.1:1935/" + strings.Repeat("a", 200), "shorten the param"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := prepare(Options{Scenario: scenario(t, sc(c.param)), RunID: c.runID, Target: c.target, CacheDir: t.TempDir()}, time.Now())
			if c.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}

// A threshold on a group the scenario lacks is refused before the run, not
// failed after it.
func TestThresholdOnMissingGroup(t *testing.T) {
	sc := scenario(t, "name: u\nduration: 5s\nexpect:\n  - \"rate(ok){group=cams} >= 0.9\"\npublishers:\n  - {group: cams, count: 2, name: \"c-{i}\"}\n")
	if _, err := prepare(Options{Scenario: sc, RunID: "r", CacheDir: t.TempDir(), Expect: []string{"count(ok){group=cams} >= 1"}}, time.Now()); err != nil {
		t.Errorf("existing group refused: %v", err)
	}
	_, err := prepare(Options{Scenario: sc, RunID: "r", CacheDir: t.TempDir(), Expect: []string{"rate(ok){group=camz} >= 0.9"}}, time.Now())
	if err == nil || !strings.Contains(err.Error(), `expect[1]: rate(ok){group=camz} >= 0.9: the scenario has no group "camz" (its groups: cams)`) {
		t.Errorf("missing group: %v", err)
	}
}

// A full disk at the end of a run (the results cannot be written) is an
// OutputError that says what was lost and what is kept, not an interrupt.
func TestFinishOnAFullDisk(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	sc := scenario(t, "name: u\nduration: 5s\npublishers:\n  - {group: g, count: 1, name: c}\n")
	p, err := prepare(Options{Scenario: sc, RunID: "r", CacheDir: t.TempDir(), ResultsDir: t.TempDir()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &run{p: p, s: newStream(), clock: realClock{}}
	g := &rig{w: schema.NewWriter(full), resultsPath: filepath.Join(p.o.ResultsDir, "results.jsonl"), closeResults: full.Close}
	res, err := r.finish(g, outcome{})
	var lost *OutputError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "were not written to "+g.resultsPath) ||
		!strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "no report was written") {
		t.Fatalf("err %v", err)
	}
	if res == nil || res.Summary != nil || res.ReportPath != "" {
		t.Errorf("result %+v", res)
	}
}
