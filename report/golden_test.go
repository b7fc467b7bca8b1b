package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/report/threshold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenExpect mixes passing and failing thresholds, a group filter and a
// relative one, so every format shows both kinds.
var goldenExpect = []string{
	"rate(ok) >= 0.99",
	"count(duplicate_accepted) == 0",
	"p95(publish_start) < 2s",
	"max(hook_latency) < baseline*1.2",
	"rate(stream_busy){group=rivals} <= 0.5",
	"count(ok){group=owners} == 10",
}

func loadGolden(t *testing.T) (*report.Summary, report.Extras) {
	t.Helper()
	f, err := os.Open("testdata/dup.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, tl, err := report.SummarizeTimeline(f)
	if err != nil {
		t.Fatal(err)
	}
	base, err := report.Load("testdata/smoke.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := threshold.ParseAll(goldenExpect)
	if err != nil {
		t.Fatal(err)
	}
	return s, report.Extras{
		Thresholds: threshold.EvaluateAll(ts, s, base),
		Baseline:   report.Compare(s, base),
		Timeline:   tl,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report/ -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./report/ -update\ngot:\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	formats := []struct {
		file   string
		render func(io.Writer, *report.Summary, report.Extras) error
	}{
		{"dup.table.golden", report.TableWith},
		{"dup.json.golden", report.JSONWith},
		{"dup.md.golden", report.Markdown},
		{"dup.junit.xml.golden", report.JUnit},
		{"dup.html.golden", report.HTML},
	}
	for _, f := range formats {
		t.Run(f.file, func(t *testing.T) {
			s, x := loadGolden(t)
			var a, b bytes.Buffer
			if err := f.render(&a, s, x); err != nil {
				t.Fatal(err)
			}
			// Rendering twice from a fresh load must agree: no map order,
			// no clock.
			s2, x2 := loadGolden(t)
			if err := f.render(&b, s2, x2); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two renderings of the same stream differ")
			}
			golden(t, f.file, a.Bytes())
		})
	}
}

// The golden stream has failures (stream_busy) and a baseline with a
// different scenario: thresholds must fail for those reasons, and every
// format must put the failed ones first.
func TestGoldenThresholdsFailFirst(t *testing.T) {
	s, x := loadGolden(t)
	if report.Failed(x.Thresholds) == 0 {
		t.Fatal("the golden thresholds should include failures")
	}
	var firstFail string
	for _, r := range x.Thresholds {
		if !r.Passed {
			firstFail = r.Expr
			break
		}
	}
	var firstPass string
	for _, r := range x.Thresholds {
		if r.Passed {
			firstPass = r.Expr
			break
		}
	}
	if firstPass == "" {
		t.Fatal("the golden thresholds should include passes")
	}
	for name, render := range map[string]func(io.Writer, *report.Summary, report.Extras) error{
		"table": report.TableWith, "json": report.JSONWith, "markdown": report.Markdown, "junit": report.JUnit, "html": report.HTML,
	} {
		var b bytes.Buffer
		if err := render(&b, s, x); err != nil {
			t.Fatal(name, err)
		}
		out := b.String()
		i, j := strings.Index(out, escapeFor(name, firstFail)), strings.Index(out, escapeFor(name, firstPass))
		if i < 0 || j < 0 || i > j {
			t.Errorf("%s: failed threshold %q at %d, passed %q at %d: want the failure first", name, firstFail, i, firstPass, j)
		}
	}
}

func escapeFor(format, s string) string {
	switch format {
	case "html", "junit":
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	case "json":
		return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(s)
	}
	return s
}

func TestJUnitIsValidXMLWithEvidence(t *testing.T) {
	s, x := loadGolden(t)
	var b bytes.Buffer
	if err := report.JUnit(&b, s, x); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 || doc.Tests != len(goldenExpect)+len(s.Groups) || doc.Failures != report.Failed(x.Thresholds)+failedGroups(x, s) {
		t.Fatalf("tests %d failures %d suites %d", doc.Tests, doc.Failures, len(doc.Suites))
	}
	found := false
	for _, c := range doc.Suites[0].Cases {
		if c.Name == "group rivals" {
			found = true
			if c.Failure == nil || !strings.Contains(c.Failure.Text, "stream_busy") {
				t.Errorf("group rivals: want a failure with stream_busy evidence, got %+v", c.Failure)
			}
		}
	}
	if !found {
		t.Error("no testcase for group rivals")
	}
}

func failedGroups(x report.Extras, s *report.Summary) int {
	n := 0
	for _, g := range s.Groups {
		for _, r := range x.Thresholds {
			if r.Group == g.Name && !r.Passed {
				n++
				break
			}
		}
	}
	return n
}
