package threshold

import (
	"errors"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Threshold
	}{
		{"rate(ok) >= 0.99", Threshold{Agg: "rate", Metric: "ok", Op: ">=", Value: 0.99}},
		{"p95(publish_start)<300ms", Threshold{Agg: "p95", Metric: "publish_start", Op: "<", Value: 300}},
		{"count(duplicate_accepted) == 0", Threshold{Agg: "count", Metric: "duplicate_accepted", Op: "==", Value: 0}},
		{"max(hook_latency) < 2s", Threshold{Agg: "max", Metric: "hook_latency", Op: "<", Value: 2000}},
		{`rate(ok){group=cams} != 1`, Threshold{Agg: "rate", Metric: "ok", Group: "cams", Op: "!=", Value: 1}},
		{`p99.9(handshake){ group = "edge-1" } <= baseline*1.2`, Threshold{Agg: "p99.9", Metric: "handshake", Group: "edge-1", Op: "<=", Value: 1.2, Relative: true}},
		{"p50(publish) > baseline", Threshold{Agg: "p50", Metric: "publish", Op: ">", Value: 1, Relative: true}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		tc.want.Expr = tc.in
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseErrorsPointAtTheCharacter(t *testing.T) {
	for _, tc := range []struct {
		in, msg string
		col     int
	}{
		{"rate(ok) >= x", "want a number", 13},
		{"rate(ok) >= 1.5", "between 0 and 1", 13},
		{"p42(publish) < 1s", "unknown aggregate", 1},
		{"rate(okay) > 0.5", "unknown outcome", 6},
		{"rate ok > 0.5", `want "(" after rate`, 6},
		{"p95(publish < 1s", `want ")"`, 13},
		{"p95(publish) ~ 1s", "want a comparison", 14},
		{"p95(publish) < 300", "want a duration", 16},
		{"p95(publish){grp=a} < 1s", `want "group"`, 14},
		{"count(ok) == 2.5", "whole number", 14},
		{"p95(publish) < 1s and more", "unexpected", 19},
		{"p95(publish) < baseline*0", "positive factor", 25},
		// NaN and infinities parse as floats but compare false with anything.
		{"rate(ok) >= NaN", "want a number", 13},
		{"rate(ok) >= nan", "want a number", 13},
		{"count(ok) >= +Inf", "want a number", 14},
		{"p95(publish) < baseline*NaN", "positive factor", 25},
		{"p95(publish) < baseline*Inf", "positive factor", 25},
		{"", "want an aggregate", 1},
	} {
		_, err := Parse(tc.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a ParseError", tc.in, err)
			continue
		}
		if !strings.Contains(pe.Msg, tc.msg) || pe.Column != tc.col {
			t.Errorf("%q: got %q at column %d, want %q at column %d", tc.in, pe.Msg, pe.Column, tc.msg, tc.col)
		}
	}
	_, err := ParseAll([]string{"rate(ok) >= 0.9", "rate(ok) >= x"})
	var pe *ParseError
	if err == nil || !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "expect[1]: rate(ok) >= x: want a number") {
		t.Fatalf("ParseAll: %v", err)
	}
	if want := "rate(ok) >= x\n            ^"; pe.Caret() != want {
		t.Errorf("caret:\n%s\nwant:\n%s", pe.Caret(), want)
	}
}

func summary(ok, busy int, p95 float64) *report.Summary {
	return &report.Summary{
		Attempts: ok + busy,
		Outcomes: map[schema.Outcome]int{"ok": ok, "stream_busy": busy},
		Groups: []report.GroupSummary{
			{Name: "cams", Attempts: ok, Outcomes: map[schema.Outcome]int{"ok": ok}},
			{Name: "rivals", Attempts: busy, Outcomes: map[schema.Outcome]int{"stream_busy": busy}},
		},
		Latency: []report.LatencyRow{
			{Metric: "publish", Group: "all", Count: 10, P95: p95, Max: 2 * p95},
			{Metric: "publish", Group: "cams", Count: 10, P95: p95 / 2},
		},
		Failures: []report.Failure{{ID: "r-9", Group: "rivals", Stream: "cam-1", Outcome: "stream_busy", Evidence: " [hook: allow]"}},
		Contests: []report.Contest{{Stream: "cam-1", TwoLive: true, Attempts: []report.ContestEntry{{Group: "cams"}, {Group: "rivals"}}}},
	}
}

func TestEvaluate(t *testing.T) {
	s := summary(9, 1, 250)
	base := summary(10, 0, 200)
	for _, tc := range []struct {
		expr   string
		base   *report.Summary
		passed bool
		reason string
	}{
		{"rate(ok) >= 0.9", nil, true, ""},
		{"rate(ok) > 0.9", nil, false, "stream_busy ×1 (e.g. r-9 cam-1: [hook: allow])"},
		{"rate(stream_busy){group=rivals} == 1", nil, true, ""},
		{"count(ok){group=cams} == 9", nil, true, ""},
		{"count(ok){group=nope} == 9", nil, false, `no group "nope"`},
		{"count(duplicate_accepted) == 0", nil, false, "is 1"},
		{"count(duplicate_accepted){group=rivals} == 1", nil, true, ""},
		{"p95(publish) < 300ms", nil, true, ""},
		{"p95(publish) < 250ms", nil, false, "is 250ms, want < 250ms"},
		{"p95(publish){group=cams} <= 125ms", nil, true, ""},
		{"max(publish) == 500ms", nil, true, ""},
		{"p95(handshake) < 1s", nil, false, "no handshake samples in this run (latency metrics present: publish)"},
		{"p95(publish) < baseline*1.2", base, false, "want < 240ms (baseline"},
		{"p95(publish) < baseline*1.3", base, true, ""},
		{"p95(publish) < baseline*1.3", nil, false, "none was given"},
		{"rate(ok) >= baseline*0.9", base, true, ""},
	} {
		th, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		r := Evaluate(th, s, tc.base)
		if r.Passed != tc.passed || !strings.Contains(r.Reason, tc.reason) || r.Expr != tc.expr {
			t.Errorf("%q: passed %v reason %q (actual %s limit %s), want passed %v reason containing %q", tc.expr, r.Passed, r.Reason, r.Actual, r.Limit, tc.passed, tc.reason)
		}
	}
}

// hook_bad_answer is an outcome like any other: it parses in count and rate,
// and a failed threshold quotes the answer from the evidence.
func TestBadAnswerThreshold(t *testing.T) {
	for _, expr := range []string{"count(hook_bad_answer) == 0", "rate(hook_bad_answer) <= 0.01", "count(hook_bad_answer){group=cams} < 3"} {
		th, err := Parse(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if th.Metric != string(schema.OutcomeHookBadAnswer) {
			t.Errorf("%q: metric %q", expr, th.Metric)
		}
	}
	ev := " [the callback answered 200 with `{\"status\":\"ok\"}`; SRS allows only 0 or {\"code\":0}]"
	s := &report.Summary{
		Attempts: 4,
		Outcomes: map[schema.Outcome]int{"ok": 3, schema.OutcomeHookBadAnswer: 1},
		Groups:   []report.GroupSummary{{Name: "cams", Attempts: 4, Outcomes: map[schema.Outcome]int{"ok": 3, schema.OutcomeHookBadAnswer: 1}}},
		Failures: []report.Failure{{ID: "r-2", Group: "cams", Stream: "cam-2", Outcome: schema.OutcomeHookBadAnswer, Evidence: ev}},
	}
	for _, tc := range []struct {
		expr   string
		passed bool
		reason string
	}{
		{"count(hook_bad_answer) == 0", false, "is 1"},
		{"count(hook_bad_answer){group=cams} == 1", true, ""},
		{"rate(hook_bad_answer) <= 0.25", true, ""},
		{"rate(ok) >= 0.9", false, "hook_bad_answer ×1 (e.g. r-2 cam-2:" + ev},
	} {
		th, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		r := Evaluate(th, s, nil)
		if r.Passed != tc.passed || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%q: passed %v reason %q, want passed %v reason containing %q", tc.expr, r.Passed, r.Reason, tc.passed, tc.reason)
		}
	}
}

func TestViewerThresholds(t *testing.T) {
	s := &report.Summary{
		Attempts: 2, Outcomes: map[schema.Outcome]int{"ok": 2},
		Groups: []report.GroupSummary{{Name: "cams", Attempts: 2, Outcomes: map[schema.Outcome]int{"ok": 2}}},
		Viewers: &report.ViewerSummary{
			Plays: 1000, Outcomes: map[schema.Outcome]int{"ok": 998, schema.OutcomeStalled: 2},
			Groups: []report.ViewerGroupSummary{
				{Name: "rt", Plays: 600, Outcomes: map[schema.Outcome]int{"ok": 598, schema.OutcomeStalled: 2}},
				{Name: "web", Plays: 400, Outcomes: map[schema.Outcome]int{"ok": 400}},
			},
			Latency: []report.LatencyRow{{Metric: report.MetricPublisherToViewer, Source: "viewer", Group: "all", Count: 100, P50: 170, P99: 360}},
		},
	}
	for _, tc := range []struct {
		expr   string
		passed bool
	}{
		{"rate(ok){group=viewers} >= 0.999", false},
		{"rate(ok){group=viewers} >= 0.998", true},
		{"count(stalled){group=rt} == 0", false},
		{"count(stalled){group=web} == 0", true},
		{"count(no_such_stream){group=viewers} == 0", true},
		{"p99(publisher_to_viewer) < 400ms", true},
		{"p50(publisher_to_viewer) < 100ms", false},
		{"rate(ok) >= 1", true}, // the publishers
	} {
		th, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if r := Evaluate(th, s, nil); r.Passed != tc.passed {
			t.Errorf("%q: passed %v (%s, %s), want %v", tc.expr, r.Passed, r.Actual, r.Reason, tc.passed)
		}
	}
}
