package report_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// TestGoldenTakeover renders a recorded takeover (the embedded server with
// --takeover: the owner closed as the rival was accepted) in every format:
// each names the takeover and none raises duplicate_accepted.
func TestGoldenTakeover(t *testing.T) {
	load := func() (*report.Summary, report.Extras) {
		f, err := os.Open("testdata/takeover.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s, tl, err := report.SummarizeTimeline(f)
		if err != nil {
			t.Fatal(err)
		}
		return s, report.Extras{Timeline: tl}
	}
	formats := []struct {
		file   string
		render func(io.Writer, *report.Summary, report.Extras) error
		want   []string
	}{
		{"takeover.table.golden", report.TableWith, []string{"(TAKEOVER)", "(taken over by #2)"}},
		{"takeover.json.golden", report.JSONWith, []string{`"takeover": true`, `"taken_over_by": "20261202T050331-0ac3-2"`, "taken over by 20261202T050331-0ac3-2 (rival)"}},
		{"takeover.md.golden", report.Markdown, []string{"(TAKEOVER)", "(taken over by #2)", "taken over by 20261202T050331-0ac3-2 (rival)"}},
		{"takeover.html.golden", report.HTML, []string{"(TAKEOVER)", "(taken over by #2)", "taken over by 20261202T050331-0ac3-2 (rival)"}},
	}
	for _, f := range formats {
		t.Run(f.file, func(t *testing.T) {
			s, x := load()
			var b bytes.Buffer
			if err := f.render(&b, s, x); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range f.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q", w)
				}
			}
			if strings.Contains(out, string(schema.OutcomeDuplicateAccepted)+":") || strings.Contains(out, "TWO LIVE") {
				t.Error("a takeover reported as a duplicate")
			}
			golden(t, f.file, b.Bytes())
		})
	}
}
