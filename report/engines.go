package report

import (
	"fmt"
	"io"
	"math"

	"github.com/rtmpload/rtmpload/schema"
)

// Engines counts a run's attempts by engine when it had native publishers,
// and compares them with ffmpeg beside them (witnesses, or groups of their
// own) when it had both.
type Engines struct {
	Rows []EngineRow `json:"rows"` // native first, then ffmpeg when there was any
	// P is the two-sided p-value of Fisher's exact test that both engines'
	// attempts were ok at the same rate (1 with one engine); Differ says it
	// is below DifferP: the difference is beyond chance.
	P      float64 `json:"p"`
	Differ bool    `json:"differ"`
}

// EngineRow is one engine's attempts.
type EngineRow struct {
	Engine   string `json:"engine"`
	Attempts int    `json:"attempts"`
	OK       int    `json:"ok"`
}

// DifferP is the p-value under which Engines says the engines' ok rates
// differ: 1 %, so that a run with a handful of witnesses does not cry
// wolf at one unlucky ffmpeg.
const DifferP = 0.01

// engines is nil unless some attempts were native.
func engines(attempts []*Attempt) *Engines {
	rows := []EngineRow{{Engine: schema.EngineNative}, {Engine: schema.EngineFFmpeg}}
	for _, a := range attempts {
		r := &rows[1]
		if a.Engine == schema.EngineNative {
			r = &rows[0]
		}
		r.Attempts++
		if a.Outcome == schema.OutcomeOK {
			r.OK++
		}
	}
	switch {
	case rows[0].Attempts == 0:
		return nil
	case rows[1].Attempts == 0:
		return &Engines{Rows: rows[:1], P: 1}
	}
	p := fisher(rows[0].OK, rows[0].Attempts-rows[0].OK, rows[1].OK, rows[1].Attempts-rows[1].OK)
	return &Engines{Rows: rows, P: p, Differ: p < DifferP}
}

// fisher is the two-sided p-value of Fisher's exact test on the table
// [[a b] [c d]]: the probability, with the margins fixed, of a table at
// most as likely as this one.
func fisher(a, b, c, d int) float64 {
	row1, col1, n := a+b, a+c, a+b+c+d
	logP := func(x int) float64 { // P(top-left cell = x)
		return lchoose(row1, x) + lchoose(n-row1, col1-x) - lchoose(n, col1)
	}
	observed := logP(a)
	p := 0.0
	for x := max(0, col1-(n-row1)); x <= min(row1, col1); x++ {
		if lp := logP(x); lp <= observed+1e-7 {
			p += math.Exp(lp)
		}
	}
	return min(p, 1)
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// saidHeader names the failures' message column: ffmpeg's own line, or,
// in a run with native publishers, either engine's word for what happened.
func saidHeader(s *Summary) string {
	if s.Engines != nil {
		return "publisher said"
	}
	return "ffmpeg said"
}

// writeEngines is the report's line about the two engines.
func writeEngines(w io.Writer, e *Engines) {
	if e == nil {
		return
	}
	fmt.Fprint(w, "engines:")
	for i, r := range e.Rows {
		sep := ""
		if i > 0 {
			sep = ";"
		}
		fmt.Fprintf(w, "%s %s %d attempts, %.1f%% ok", sep, r.Engine, r.Attempts, 100*float64(r.OK)/float64(r.Attempts))
	}
	if len(e.Rows) < 2 {
		fmt.Fprintln(w)
		return
	}
	if e.Differ {
		fmt.Fprintf(w, "; the ok rates DIFFER beyond chance (Fisher p=%.2g): what ffmpeg met is not what the native publishers met\n", e.P)
		return
	}
	fmt.Fprintf(w, "; alike within chance (Fisher p=%.2g)\n", e.P)
}
