package report

import (
	"math"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

func TestFisher(t *testing.T) {
	for _, tc := range []struct {
		a, b, c, d int
		want       float64
	}{
		{1, 9, 11, 3, 0.002759},    // the tea-tasting textbook table
		{3, 1, 1, 3, 0.4857},       // Fisher's lady tasting tea
		{480, 0, 10, 0, 1},         // all ok on both sides
		{470, 10, 5, 5, 3.008e-06}, // witnesses fail far more often (exact sums in Python agree)
	} {
		if got := fisher(tc.a, tc.b, tc.c, tc.d); math.Abs(got-tc.want) > tc.want*0.01 {
			t.Errorf("fisher(%d %d %d %d) = %.6g, want %.4g", tc.a, tc.b, tc.c, tc.d, got, tc.want)
		}
	}
}

// TestEnginesSayWhenTheyDiffer: a run with both engines gets a line that
// compares them, and says so when their ok rates differ beyond chance; a
// run with one engine gets none.
func TestEnginesSayWhenTheyDiffer(t *testing.T) {
	var as []*Attempt
	add := func(engine string, n int, o schema.Outcome) {
		for range n {
			as = append(as, &Attempt{Engine: engine, Outcome: o})
		}
	}
	if engines([]*Attempt{{Outcome: schema.OutcomeOK}}) != nil {
		t.Fatal("ffmpeg alone: no line")
	}
	add(schema.EngineNative, 100, schema.OutcomeOK)
	var one strings.Builder
	writeEngines(&one, engines(as))
	if one.String() != "engines: native 100 attempts, 100.0% ok\n" {
		t.Fatalf("native alone: %q", one.String())
	}
	add("", 5, schema.OutcomeOK)
	e := engines(as)
	if e == nil || e.Differ || e.Rows[0].Attempts != 100 || e.Rows[1].OK != 5 {
		t.Fatalf("alike: %+v", e)
	}
	add("", 5, schema.OutcomeHookUnreachable)
	e = engines(as)
	var b strings.Builder
	writeEngines(&b, e)
	if !e.Differ || !strings.Contains(b.String(), "native 100 attempts, 100.0% ok; ffmpeg 10 attempts, 50.0% ok; the ok rates DIFFER") {
		t.Fatalf("differ: %+v %q", e, b.String())
	}
}

// TestSaidHeader: the failures' message column names ffmpeg only in a run
// of ffmpeg alone.
func TestSaidHeader(t *testing.T) {
	f := []Failure{{ID: "r-1", Outcome: schema.OutcomeStreamBusy, Message: schema.NativeClosed + " during publish"}}
	for _, tc := range []struct {
		s    *Summary
		want string
	}{
		{&Summary{}, "FFMPEG SAID"},
		{&Summary{Engines: &Engines{Rows: []EngineRow{{Engine: schema.EngineNative, Attempts: 1}}}}, "PUBLISHER SAID"},
	} {
		var b strings.Builder
		tc.s.Failures = f
		if err := failuresTable(&b, tc.s); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ToUpper(b.String()), tc.want) {
			t.Errorf("want %s in\n%s", tc.want, b.String())
		}
	}
}
