// Package threshold parses and evaluates pass/fail thresholds such as
// "rate(ok) >= 0.99", "p95(publish_start) < 300ms" or
// "max(hook_latency){group=cams} < baseline*1.2" against a report.Summary.
// It is pure: no I/O, no clock.
package threshold

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// Aggregates, in the order error messages list them.
var (
	countAggs   = []string{"rate", "count"}
	latencyAggs = []string{"p50", "p90", "p95", "p99", "p99.9", "max"}
	ops         = []string{"<=", ">=", "==", "!=", "<", ">"} // two-character ones first: longest match
)

// Threshold is one parsed expression.
type Threshold struct {
	Expr   string  // as written
	Agg    string  // rate | count | p50 | p90 | p95 | p99 | p99.9 | max
	Metric string  // an outcome (rate, count) or a latency metric
	Group  string  // "" for the whole run
	Op     string  // < <= > >= == !=
	Value  float64 // the limit: a share, a count, or milliseconds; the factor when Relative
	// Relative is set for "baseline*F": the limit is F times the same
	// expression evaluated on the baseline run.
	Relative bool
}

// Result is one evaluated threshold.
type Result = report.ThresholdResult

// ParseError points at the character where an expression went wrong.
type ParseError struct {
	Expr   string
	Column int // 1-based, in runes
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: %s at column %d", e.Expr, e.Msg, e.Column)
}

// Caret is the expression with a caret line under the offending character.
func (e *ParseError) Caret() string {
	return e.Expr + "\n" + strings.Repeat(" ", max(e.Column-1, 0)) + "^"
}

func (t Threshold) latency() bool { return slices.Contains(latencyAggs, t.Agg) }

// ViewersGroup names every viewer in a threshold's group:
// "rate(ok){group=viewers} >= 0.999".
const ViewersGroup = "viewers"

// Outcome metrics rate and count accept: every attempt outcome plus the
// duplicate_accepted anomaly.
func outcomeMetrics() []string {
	var out []string
	for _, o := range append(slices.Clone(schema.Outcomes), schema.OutcomeDuplicateAccepted) {
		out = append(out, string(o))
	}
	for _, o := range schema.ViewerOutcomes {
		if !slices.Contains(out, string(o)) {
			out = append(out, string(o))
		}
	}
	return out
}

type parser struct {
	src []rune
	pos int
}

func (p *parser) fail(at int, format string, args ...any) *ParseError {
	return &ParseError{Expr: string(p.src), Column: at + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// word reads the longest run of characters accepted by ok.
func (p *parser) word(ok func(rune) bool) (string, int) {
	p.space()
	start := p.pos
	for p.pos < len(p.src) && ok(p.src[p.pos]) {
		p.pos++
	}
	return string(p.src[start:p.pos]), start
}

func (p *parser) expect(c rune, what string) *ParseError {
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return p.fail(p.pos, "want %s", what)
	}
	p.pos++
	return nil
}

func isName(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

func isValue(r rune) bool { return isName(r) || r == 'µ' || r == '+' }

// Parse parses one expression: AGG(METRIC)[{group=NAME}] OP VALUE.
func Parse(expr string) (Threshold, error) {
	p := &parser{src: []rune(expr)}
	t := Threshold{Expr: expr}
	if err := p.aggregate(&t); err != nil {
		return t, err
	}
	if err := p.groupFilter(&t); err != nil {
		return t, err
	}
	if err := p.comparison(&t); err != nil {
		return t, err
	}
	val, at := p.word(isValue)
	if err := t.parseValue(p, val, at); err != nil {
		return t, err
	}
	p.space()
	if p.pos < len(p.src) {
		return t, p.fail(p.pos, "unexpected %q after the value", string(p.src[p.pos:]))
	}
	return t, nil
}

// aggregate parses AGG(METRIC) into t: a count of an outcome, or a latency.
func (p *parser) aggregate(t *Threshold) *ParseError {
	agg, at := p.word(isName)
	if !slices.Contains(countAggs, agg) && !slices.Contains(latencyAggs, agg) {
		if agg == "" {
			return p.fail(at, "want an aggregate (%s)", strings.Join(append(slices.Clone(countAggs), latencyAggs...), ", "))
		}
		return p.fail(at, "unknown aggregate %q (want one of %s)", agg, strings.Join(append(slices.Clone(countAggs), latencyAggs...), ", "))
	}
	t.Agg = agg
	if err := p.expect('(', `"(" after `+agg); err != nil {
		return err
	}
	metric, at := p.word(isName)
	switch {
	case metric == "":
		return p.fail(at, "want a metric name")
	case !t.latency() && !slices.Contains(outcomeMetrics(), metric):
		return p.fail(at, "%s counts outcomes: unknown outcome %q (want one of %s)", agg, metric, strings.Join(outcomeMetrics(), ", "))
	case t.latency() && !slices.Contains(report.LatencyMetrics, metric):
		return p.fail(at, "%s takes a latency: unknown metric %q (want one of %s)", agg, metric, strings.Join(report.LatencyMetrics, ", "))
	}
	t.Metric = metric
	return p.expect(')', `")"`)
}

// groupFilter parses the optional {group=NAME} into t.Group.
func (p *parser) groupFilter(t *Threshold) *ParseError {
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return nil
	}
	p.pos++
	key, at := p.word(isName)
	if key != "group" {
		return p.fail(at, `want "group" (the only filter)`)
	}
	if err := p.expect('=', `"="`); err != nil {
		return err
	}
	p.space()
	quoted := p.pos < len(p.src) && p.src[p.pos] == '"'
	if quoted {
		p.pos++
	}
	name, at := p.word(isName)
	if name == "" {
		return p.fail(at, "want a group name")
	}
	if quoted {
		if err := p.expect('"', `closing '"'`); err != nil {
			return err
		}
	}
	t.Group = name
	return p.expect('}', `"}"`)
}

// comparison parses the operator into t.Op.
func (p *parser) comparison(t *Threshold) *ParseError {
	p.space()
	opAt := p.pos
	for _, op := range ops {
		if strings.HasPrefix(string(p.src[p.pos:]), op) {
			t.Op = op
			p.pos += len(op)
			break
		}
	}
	if t.Op == "" {
		return p.fail(opAt, "want a comparison (%s)", strings.Join(ops, " "))
	}
	return nil
}

func (t *Threshold) parseValue(p *parser, val string, at int) *ParseError {
	if val == "baseline" {
		t.Relative, t.Value = true, 1
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '*' {
			p.pos++
			f, fat := p.word(isValue)
			v, err := parseFinite(f)
			if err != nil || v <= 0 {
				return p.fail(fat, "want a positive factor after baseline*")
			}
			t.Value = v
		}
		return nil
	}
	if t.latency() {
		d, err := time.ParseDuration(val)
		if err != nil {
			return p.fail(at, "want a duration (like 300ms or 2s) or baseline*F")
		}
		t.Value = float64(d) / float64(time.Millisecond)
		return nil
	}
	v, err := parseFinite(val)
	if err != nil {
		return p.fail(at, "want a number or baseline*F")
	}
	if t.Agg == "rate" && (v < 0 || v > 1) {
		return p.fail(at, "a rate is a share of attempts between 0 and 1")
	}
	if t.Agg == "count" && (v < 0 || v != float64(int64(v))) {
		return p.fail(at, "a count is a whole number")
	}
	t.Value = v
	return nil
}

// parseFinite parses a number; NaN and infinities, which ParseFloat takes,
// are none: every comparison with NaN is false, so a threshold holding it
// would never fail (or never pass) whatever the run did.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return 0, fmt.Errorf("%s is not a finite number", s)
	}
	return v, err
}

// ParseAll parses every expression; errors name the entry as "expect[i]".
func ParseAll(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for i, e := range exprs {
		t, err := Parse(e)
		if err != nil {
			return nil, fmt.Errorf("expect[%d]: %w", i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// NeedBaseline returns an error naming the first threshold of ts that is
// relative to a baseline ("baseline*F"): for a caller that has none, so the
// mistake is found before a run, not after it.
func NeedBaseline(ts []Threshold) error {
	for i, t := range ts {
		if t.Relative {
			return fmt.Errorf("expect[%d]: %s: relative to a baseline, but none is given", i, t.Expr)
		}
	}
	return nil
}

// value is what the threshold's left side amounts to on s, with a short
// rendering of it; ok is false when s has no data for it (reason says why).
func (t Threshold) value(s *report.Summary) (v float64, shown string, ok bool, reason string) {
	if t.latency() {
		group := t.Group
		if group == "" {
			group = "all"
		}
		var metrics []string
		rows := s.Latency
		if s.Viewers != nil {
			rows = append(slices.Clone(rows), s.Viewers.Latency...)
		}
		for _, r := range rows {
			if !slices.Contains(metrics, r.Metric) {
				metrics = append(metrics, r.Metric)
			}
			if r.Metric != t.Metric || r.Group != group {
				continue
			}
			v = map[string]float64{"p50": r.P50, "p90": r.P90, "p95": r.P95, "p99": r.P99, "p99.9": r.P999, "max": r.Max}[t.Agg]
			return v, fmtMS(v) + fmt.Sprintf(" (n=%d)", r.Count), true, ""
		}
		if !slices.Contains(metrics, t.Metric) {
			return 0, "no samples", false, fmt.Sprintf("no %s samples in this run (latency metrics present: %s)", t.Metric, strings.Join(metrics, ", "))
		}
		return 0, "no samples", false, fmt.Sprintf("no %s samples for group %q", t.Metric, t.Group)
	}

	attempts, outcomes := s.Attempts, s.Outcomes
	if t.Group != "" {
		found := false
		for _, g := range s.Groups {
			if g.Name == t.Group {
				attempts, outcomes, found = g.Attempts, g.Outcomes, true
			}
		}
		// A viewer group's plays, or every viewer's ({group=viewers}, unless
		// a group has that name).
		if v := s.Viewers; v != nil && !found {
			for _, g := range v.Groups {
				if g.Name == t.Group {
					attempts, outcomes, found = g.Plays, g.Outcomes, true
				}
			}
			if !found && t.Group == ViewersGroup {
				attempts, outcomes, found = v.Plays, v.Outcomes, true
			}
		}
		if !found {
			return 0, "no group", false, fmt.Sprintf("the run has no group %q", t.Group)
		}
	}
	n := outcomes[schema.Outcome(t.Metric)]
	if schema.Outcome(t.Metric) == schema.OutcomeDuplicateAccepted {
		n = duplicates(s, t.Group)
	}
	if t.Agg == "count" {
		return float64(n), strconv.Itoa(n), true, ""
	}
	if attempts == 0 {
		return 0, "no attempts", false, "no attempts to take a rate of"
	}
	v = float64(n) / float64(attempts)
	return v, fmt.Sprintf("%.4f (%d/%d)", v, n, attempts), true, ""
}

// duplicates counts names that had two live publishers, restricted to
// contests where group took part when group is set.
func duplicates(s *report.Summary, group string) int {
	n := 0
	for _, c := range s.Contests {
		if !c.TwoLive {
			continue
		}
		if group == "" || slices.ContainsFunc(c.Attempts, func(e report.ContestEntry) bool { return e.Group == group }) {
			n++
		}
	}
	return n
}

func fmtMS(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond * 100).String()
}

func (t Threshold) show(v float64) string {
	switch {
	case t.latency():
		return fmtMS(v)
	case t.Agg == "count":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	return false
}

// Evaluate checks t against s. baseline is the earlier run for relative
// limits; nil when there is none. A threshold without data fails: a typo
// in a metric name must not pass a CI gate.
func Evaluate(t Threshold, s, baseline *report.Summary) Result {
	r := Result{Expr: t.Expr, Group: t.Group}
	limit := t.Value
	r.Limit = t.Op + " " + t.show(limit)
	if t.Relative {
		r.Limit = fmt.Sprintf("%s baseline*%s", t.Op, strconv.FormatFloat(t.Value, 'f', -1, 64))
		if baseline == nil {
			r.Actual, r.Reason = "-", "relative to a baseline, but none was given (--baseline)"
			return r
		}
		bv, bshown, ok, why := t.value(baseline)
		if !ok {
			r.Actual, r.Reason = "-", "baseline: "+why
			return r
		}
		limit = bv * t.Value
		r.Limit = fmt.Sprintf("%s %s (baseline %s × %s)", t.Op, t.show(limit), bshown, strconv.FormatFloat(t.Value, 'f', -1, 64))
	}
	v, shown, ok, why := t.value(s)
	r.Actual = shown
	if !ok {
		r.Reason = why
		return r
	}
	r.Passed = compare(v, t.Op, limit)
	if !r.Passed {
		r.Reason = fmt.Sprintf("%s(%s) is %s, want %s", t.Agg, t.Metric, t.show(v), r.Limit)
		if ev := evidence(t, s); ev != "" {
			r.Reason += "; " + ev
		}
	}
	return r
}

// evidence names what made an outcome threshold fail: the failures behind
// it, most frequent outcome first, with one example each.
func evidence(t Threshold, s *report.Summary) string {
	if t.latency() {
		return ""
	}
	if schema.Outcome(t.Metric) == schema.OutcomeDuplicateAccepted {
		return strings.Join(s.Anomalies, "; ")
	}
	type cause struct {
		outcome schema.Outcome
		n       int
		example string
	}
	var causes []cause
	for _, f := range s.Failures {
		if t.Group != "" && f.Group != t.Group {
			continue
		}
		if schema.Outcome(t.Metric) != schema.OutcomeOK && f.Outcome != schema.Outcome(t.Metric) {
			continue
		}
		i := slices.IndexFunc(causes, func(c cause) bool { return c.outcome == f.Outcome })
		if i < 0 {
			causes = append(causes, cause{outcome: f.Outcome, example: f.ID + " " + f.Stream + ": " + strings.TrimSpace(f.Evidence)})
			i = len(causes) - 1
		}
		causes[i].n++
	}
	slices.SortStableFunc(causes, func(a, b cause) int { return b.n - a.n })
	var parts []string
	for _, c := range causes {
		parts = append(parts, fmt.Sprintf("%s ×%d (e.g. %s)", c.outcome, c.n, c.example))
	}
	return strings.Join(parts, "; ")
}

// EvaluateAll evaluates every threshold in order.
func EvaluateAll(ts []Threshold, s, baseline *report.Summary) []Result {
	out := make([]Result, 0, len(ts))
	for _, t := range ts {
		out = append(out, Evaluate(t, s, baseline))
	}
	return out
}
