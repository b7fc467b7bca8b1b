package report

import (
	"cmp"
	"math"
	"slices"

	"github.com/rtmpload/rtmpload/schema"
)

// Noise limits: a change smaller than these is not worth a reader's look.
const (
	latencyNoiseFrac = 0.10 // and
	latencyNoiseMS   = 1.0
	rateNoise        = 0.02 // two percentage points
)

// Comparison is a run against an earlier one (the baseline).
type Comparison struct {
	BaselineID string          `json:"baseline_id"`
	Latency    []LatencyChange `json:"latency"`
	Outcomes   []RateChange    `json:"outcomes"`
}

// LatencyChange is one statistic of one latency metric in both runs.
type LatencyChange struct {
	Metric string  `json:"metric"`
	Group  string  `json:"group"`
	Stat   string  `json:"stat"` // p50 | p95 | p99 | max
	Old    float64 `json:"old_ms"`
	New    float64 `json:"new_ms"`
	// Change is (New-Old)/Old; NaN-free: 0 when Old is 0.
	Change float64 `json:"change"`
	Beyond bool    `json:"beyond_noise"`
}

// RateChange is one outcome's share of attempts in both runs.
type RateChange struct {
	Group    string         `json:"group"` // "all" for the whole run
	Outcome  schema.Outcome `json:"outcome"`
	OldCount int            `json:"old_count"`
	NewCount int            `json:"new_count"`
	OldRate  float64        `json:"old_rate"`
	NewRate  float64        `json:"new_rate"`
	Beyond   bool           `json:"beyond_noise"`
}

// Compare lines cur up against base: every latency metric and outcome rate
// present in either, with the changes beyond noise marked.
func Compare(cur, base *Summary) *Comparison {
	return &Comparison{BaselineID: base.Run.ID, Latency: latencyChanges(cur, base), Outcomes: rateChanges(cur, base)}
}

// latencyChanges compares the p50, p95, p99 and max of every latency row
// (metric and group) present in either summary.
func latencyChanges(cur, base *Summary) []LatencyChange {
	changes := []LatencyChange{}
	type key struct{ metric, group string }
	rows := func(s *Summary) map[key]LatencyRow {
		m := make(map[key]LatencyRow)
		for _, r := range s.Latency {
			m[key{r.Metric, r.Group}] = r
		}
		return m
	}
	oldRows, newRows := rows(base), rows(cur)
	var keys []key
	for k := range oldRows {
		keys = append(keys, k)
	}
	for k := range newRows {
		if _, ok := oldRows[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y key) int {
		if c := cmp.Compare(x.metric, y.metric); c != 0 {
			return c
		}
		return cmp.Compare(groupOrder(x.group), groupOrder(y.group))
	})
	for _, k := range keys {
		o, n := oldRows[k], newRows[k]
		for _, st := range []struct {
			name     string
			old, new float64
		}{{"p50", o.P50, n.P50}, {"p95", o.P95, n.P95}, {"p99", o.P99, n.P99}, {"max", o.Max, n.Max}} {
			ch := LatencyChange{Metric: k.metric, Group: k.group, Stat: st.name, Old: st.old, New: st.new}
			if st.old > 0 {
				ch.Change = (st.new - st.old) / st.old
			}
			d := math.Abs(st.new - st.old)
			ch.Beyond = d > latencyNoiseMS && (st.old == 0 || d/st.old > latencyNoiseFrac)
			changes = append(changes, ch)
		}
	}
	return changes
}

// rateChanges compares the rate of every outcome that occurred, per group
// and over all, in either summary.
func rateChanges(cur, base *Summary) []RateChange {
	changes := []RateChange{}
	groups := func(s *Summary) map[string]GroupSummary {
		m := map[string]GroupSummary{"all": {Name: "all", Attempts: s.Attempts, Outcomes: s.Outcomes}}
		for _, g := range s.Groups {
			m[g.Name] = g
		}
		return m
	}
	oldG, newG := groups(base), groups(cur)
	var names []string
	for n := range oldG {
		names = append(names, n)
	}
	for n := range newG {
		if _, ok := oldG[n]; !ok {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(x, y string) int { return cmp.Compare(groupOrder(x), groupOrder(y)) })
	rate := func(n, of int) float64 {
		if of == 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	for _, name := range names {
		o, n := oldG[name], newG[name]
		for _, out := range schema.Outcomes {
			oc, nc := o.Outcomes[out], n.Outcomes[out]
			if oc == 0 && nc == 0 {
				continue
			}
			rc := RateChange{Group: name, Outcome: out, OldCount: oc, NewCount: nc,
				OldRate: rate(oc, o.Attempts), NewRate: rate(nc, n.Attempts)}
			rc.Beyond = math.Abs(rc.NewRate-rc.OldRate) > rateNoise
			changes = append(changes, rc)
		}
	}
	return changes
}

// groupOrder sorts "all" before every group name.
func groupOrder(g string) string {
	if g == "all" {
		return ""
	}
	return "\x01" + g
}
