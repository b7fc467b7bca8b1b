package report

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
