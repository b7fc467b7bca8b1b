package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/rtmpload/rtmpload/schema"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr,omitempty"`
	Props     []junitProperty `xml:"properties>property,omitempty"`
	Cases     []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes the report as JUnit XML: one testsuite for the run, a
// testcase per threshold (failed ones first) and one per publisher group.
// A group's testcase fails only through a threshold on that group
// ({group=NAME}): whether refusals are wrong is the scenario's call, not
// the report's. Failures carry the evidence.
func JUnit(w io.Writer, s *Summary, x Extras) error {
	termSafe(s, &x)
	suite := junitSuite{
		Name: "rtmpload " + s.Run.Scenario.Name,
		Time: "0",
	}
	if !s.Ended.IsZero() && !s.Run.Started.IsZero() {
		suite.Time = fmt.Sprintf("%.3f", s.Ended.Sub(s.Run.Started).Seconds())
	}
	if !s.Run.Started.IsZero() {
		suite.Timestamp = s.Run.Started.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Props = []junitProperty{
		{"run", s.Run.ID}, {"target", s.Run.Target}, {"hook_mode", s.Run.HookMode}, {"end_reason", s.EndReason},
	}
	classname := "rtmpload." + s.Run.Scenario.Name

	for _, t := range failedFirst(x.Thresholds) {
		c := junitCase{Name: "threshold " + t.Expr, Classname: classname + ".thresholds",
			SystemOut: fmt.Sprintf("actual %s, limit %s", t.Actual, t.Limit)}
		if !t.Passed {
			c.Failure = &junitFailure{Message: t.Expr + ": " + t.Reason, Type: "threshold", Text: t.Reason}
		}
		suite.Cases = append(suite.Cases, c)
	}

	for _, g := range s.Groups {
		c := junitCase{Name: "group " + g.Name, Classname: classname + ".groups", SystemOut: groupText(s, g)}
		var failed []string
		for _, t := range x.Thresholds {
			if t.Group == g.Name && !t.Passed {
				failed = append(failed, t.Expr+": "+t.Reason)
			}
		}
		if len(failed) > 0 {
			c.Failure = &junitFailure{
				Message: fmt.Sprintf("%d threshold(s) on group %s failed", len(failed), g.Name),
				Type:    "threshold",
				Text:    strings.Join(failed, "\n") + "\n\n" + groupFailures(s, g.Name),
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	if s.EndReason != schema.EndNormal {
		// A run that did not end normally is a failure whatever the thresholds say.
		suite.Cases = append(suite.Cases, junitCase{Name: "run ended", Classname: classname,
			Failure: &junitFailure{Message: "run ended: " + s.EndReason, Type: "run", Text: s.EndError}})
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
	}
	doc := junitSuites{Name: "rtmpload", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// groupText is a group's outcome counts, one per line.
func groupText(s *Summary, g GroupSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "attempts %d\n", g.Attempts)
	for _, o := range schema.Outcomes {
		if n := g.Outcomes[o]; n > 0 {
			fmt.Fprintf(&b, "%s %d\n", o, n)
		}
	}
	for _, l := range s.Latency {
		if l.Group == g.Name {
			fmt.Fprintf(&b, "%s p50 %sms p95 %sms max %sms (n=%d)\n", l.Metric, ms(l.P50), ms(l.P95), ms(l.Max), l.Count)
		}
	}
	return b.String()
}

// groupFailures lists a group's failed attempts with their evidence.
func groupFailures(s *Summary, group string) string {
	var lines []string
	for _, f := range s.Failures {
		if f.Group == group {
			lines = append(lines, fmt.Sprintf("%s %s %s: %s; hook saw %s;%s", f.ID, f.Stream, f.Outcome, lastPart(f.Message), f.Hook, f.Evidence))
		}
	}
	return strings.Join(lines, "\n")
}
