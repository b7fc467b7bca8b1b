package report_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
)

// A scenario name, a group name and a run id holding terminal escapes, as a
// results file may carry them, are shown escaped by every readable format:
// the table, the Markdown and the HTML never hold an ESC or CSI byte.
func TestReportsEscapeControls(t *testing.T) {
	raw, err := os.ReadFile("testdata/smoke.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	data := strings.NewReplacer(
		`"name":"smoke"`, `"name":"sm\u001b]0;pwned\u0007oke"`,
		`"cams"`, `"ca\u001b[31mms\u009b"`,
		"20261125T200929-a5cb", `run\u001b[2J`,
	).Replace(string(raw))
	if data == string(raw) {
		t.Fatal("fixture changed: nothing replaced")
	}
	for name, render := range map[string]func(io.Writer, *report.Summary, report.Extras) error{
		"table": report.TableWith, "markdown": report.Markdown, "html": report.HTML, "junit": report.JUnit,
	} {
		s, tl, err := report.SummarizeTimeline(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := render(&out, s, report.Extras{Timeline: tl}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if i := bytes.IndexAny(out.Bytes(), "\x1b\x07\u009b"); i >= 0 {
			t.Errorf("%s holds a control character: %q", name, out.Bytes()[max(0, i-40):min(out.Len(), i+40)])
		}
		if name != "html" && name != "junit" && !strings.Contains(out.String(), `ca\x1b[31mms\u009b`) {
			t.Errorf("%s does not show the group escaped:\n%s", name, out.String())
		}
	}
}

// Evidence whose attempt id was cut short on its way (ffmpeg cuts a publish
// URL's path at 1,023 bytes) matches no attempt: the report says so instead
// of showing the attempt ok without its hook and server records.
func TestCutAttemptIDsAreAnAnomaly(t *testing.T) {
	raw, err := os.ReadFile("testdata/smoke.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.Summarize(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Anomalies {
		if strings.Contains(a, "matches no attempt") {
			t.Fatalf("the fixture already has: %s", a)
		}
	}
	cut := strings.ReplaceAll(string(raw), `"attempt":"20261125T200929-a5cb-1"`, `"attempt":"20261125T200929-a5"`)
	if cut == string(raw) {
		t.Fatal("fixture changed: nothing replaced")
	}
	if s, err = report.Summarize(strings.NewReader(cut)); err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := report.TableWith(&table, s, report.Extras{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), `matches no attempt (such as "20261125T200929-a5")`) {
		t.Errorf("no anomaly for the cut ids: %q\n%s", s.Anomalies, table.String())
	}
}
