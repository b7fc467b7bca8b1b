package report

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The latency rows keep raw values but must give exactly the figures of an
// HDR histogram of histSigs digits over [histMin, histMax], which the
// reports had before (and the runner still uses).
func TestLatencyMatchesHDR(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(300)
		hs := newHistograms()
		h := hdrhistogram.New(histMin, histMax, histSigs)
		for range n {
			var d time.Duration
			switch rng.IntN(4) {
			case 0: // exact range, with its edges
				d = time.Duration(rng.IntN(2100)) * time.Microsecond
			case 1:
				d = time.Duration(rng.Int64N(int64(10*time.Second))) + time.Microsecond
			case 2: // past the range: clamped
				d = time.Duration(rng.Int64N(int64(3 * time.Hour)))
			default: // powers of two and their neighbours, where HDR's buckets change
				d = time.Duration(int64(1)<<rng.IntN(33)+int64(rng.IntN(3))-1) * time.Microsecond
			}
			hs.record(MetricHookLatency, "hook", "all", d)
			_ = h.RecordValue(min(max(d.Microseconds(), histMin), histMax))
		}
		rows := hs.rows()
		if len(rows) != 1 {
			t.Fatalf("round %d: %d rows", round, len(rows))
		}
		r := rows[0]
		ms := func(us int64) float64 { return float64(us) / 1000 }
		want := LatencyRow{Metric: r.Metric, Source: r.Source, Group: r.Group, Count: h.TotalCount(),
			P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)),
			P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
			Histogram: hdrBuckets(h)}
		if got, w := fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want); got != w {
			t.Fatalf("round %d (%d values):\n got %s\nwant %s", round, n, got, w)
		}
	}
}

// hdrBuckets is how buckets spread an HDR histogram before it kept values.
func hdrBuckets(h *hdrhistogram.Histogram) []LatencyBucket {
	var values []int64
	for _, bar := range h.Distribution() {
		for range bar.Count {
			values = append(values, bar.From)
		}
	}
	slices.Sort(values)
	return buckets(values)
}

// A results stream naming thousands of groups (crafted, or a corrupt CI
// artifact) costs memory in proportion to its size: an HDR histogram per
// group made this one, ~700 KB of text, allocate 3.7 GB.
func TestManyGroupsStayCheap(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x"}}` + "\n")
	for i := range 3000 {
		fmt.Fprintf(&sb, `{"type":"attempt","t":"2026-01-01T00:00:01Z","attempt":{"id":"a%d","phase":"spawn","group":"g%d","stream":"s%d"}}`+"\n", i, i, i)
		fmt.Fprintf(&sb, `{"type":"attempt","t":"2026-01-01T00:00:02Z","attempt":{"id":"a%d","phase":"publishing","group":"g%d","stream":"s%d"}}`+"\n", i, i, i)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Summarize(strings.NewReader(sb.String()))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, r := range s.Latency {
		if r.Metric == MetricPublishStart {
			rows++
		}
	}
	if rows != 3001 {
		t.Errorf("%d publish_start rows, want 3001 (all and each group)", rows)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d KB of results: %d MB allocated", sb.Len()>>10, alloc>>20)
	if alloc > 200<<20 {
		t.Errorf("summarizing %d KB of results allocated %d MB", sb.Len()>>10, alloc>>20)
	}
}
