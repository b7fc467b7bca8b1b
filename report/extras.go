package report

import (
	"encoding/json"
	"io"

	"github.com/rtmpload/rtmpload/schema"
)

// ThresholdResult is one evaluated threshold. It lives here, not in
// report/threshold, so that renderers can show results without report
// importing the package that imports it.
type ThresholdResult struct {
	Expr   string `json:"expr"`
	Passed bool   `json:"passed"`
	Actual string `json:"actual"`
	Limit  string `json:"limit"`
	Group  string `json:"group,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Extras is what a rendering shows beside the summary. Every field is
// optional.
type Extras struct {
	Thresholds []ThresholdResult
	Baseline   *Comparison
	Timeline   *Timeline
}

// failedFirst returns the results with failures first, each part in the
// order given: CI readers look for what broke before what held.
func failedFirst(rs []ThresholdResult) []ThresholdResult {
	out := make([]ThresholdResult, 0, len(rs))
	for _, r := range rs {
		if !r.Passed {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		if r.Passed {
			out = append(out, r)
		}
	}
	return out
}

// Failed counts the thresholds that failed.
func Failed(rs []ThresholdResult) int {
	n := 0
	for _, r := range rs {
		if !r.Passed {
			n++
		}
	}
	return n
}

// SummarizeTimeline reads a results stream once into both its summary and
// its timeline, so that stdin can be reported with charts.
func SummarizeTimeline(r io.Reader) (*Summary, *Timeline, error) {
	b, t := NewBuilder(), NewTimeline()
	err := schema.Read(r, func(ev schema.Event) error {
		if err := b.Add(ev); err != nil {
			return err
		}
		return t.Add(ev)
	})
	if err != nil {
		return nil, nil, err
	}
	return b.Summary(), t, nil
}

// JSONWith writes report.json's content with the thresholds (failed first)
// ahead of the summary's fields and the baseline comparison after them.
func JSONWith(w io.Writer, s *Summary, x Extras) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Thresholds []ThresholdResult `json:"thresholds,omitempty"`
		*Summary
		Baseline *Comparison `json:"baseline,omitempty"`
	}{failedFirst(x.Thresholds), s, x.Baseline})
}

// TableWith writes the terminal report with the thresholds (failed first)
// above it and the changes beyond noise against the baseline below it.
func TableWith(w io.Writer, s *Summary, x Extras) error {
	termSafe(s, &x)
	ew := &errWriter{w: w}
	if len(x.Thresholds) > 0 {
		ew.printf("Thresholds: %d of %d failed\n", Failed(x.Thresholds), len(x.Thresholds))
		for _, t := range failedFirst(x.Thresholds) {
			mark := "PASS"
			if !t.Passed {
				mark = "FAIL"
			}
			ew.printf("  %s  %s  actual %s, limit %s", mark, t.Expr, t.Actual, t.Limit)
			if !t.Passed && t.Reason != "" {
				ew.printf("\n        %s", t.Reason)
			}
			ew.printf("\n")
		}
		ew.printf("\n")
	}
	if ew.err != nil {
		return ew.err
	}
	if err := Table(w, s); err != nil {
		return err
	}
	if x.Timeline != nil && (faulted(s) || len(s.Failures) > 0) {
		if err := timelineTable(w, s, x.Timeline); err != nil {
			return err
		}
	}
	if c := x.Baseline; c != nil {
		ew.printf("\nAgainst baseline %s (changes beyond noise):\n", c.BaselineID)
		n := 0
		for _, l := range c.Latency {
			if l.Beyond {
				n++
				ew.printf("  %s %s %s: %sms -> %sms (%s)\n", l.Metric, l.Group, l.Stat, ms(l.Old), ms(l.New), pct(l.Change))
			}
		}
		for _, o := range c.Outcomes {
			if o.Beyond {
				n++
				ew.printf("  %s %s: %s -> %s (%s)\n", o.Outcome, o.Group, rateCount(o.OldRate, o.OldCount), rateCount(o.NewRate, o.NewCount), points(o.NewRate-o.OldRate))
			}
		}
		if n == 0 {
			ew.printf("  none\n")
		}
	}
	return ew.err
}
