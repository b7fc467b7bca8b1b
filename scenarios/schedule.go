package scenarios

import (
	"cmp"
	"slices"
	"time"
)

// Slot is one scheduled publisher.
type Slot struct {
	Seq    int    // 0.. over the whole scenario in schedule order
	Group  string // Group.Group
	Index  int    // i within its group
	Stream string // expanded name
	Start  time.Duration
	Stop   time.Duration // stopped cleanly here: Start+Hold, capped at the run's Duration
}

// Schedule lists every publisher of a valid scenario, sorted by Start, then group order, then
// Index. It is a pure function of the scenario: the same scenario always gives the same slots.
// A name pattern that does not expand (only possible in a scenario that fails Validate) is used
// as the stream name as written.
func (s *Scenario) Schedule() []Slot {
	var slots []Slot
	for _, g := range s.Publishers {
		pat, err := compilePattern(g.Name)
		for i := range g.Count {
			slot := Slot{Group: g.Group, Index: i, Stream: g.Name, Start: g.Start + spread(g.Ramp, i, g.Count)}
			if s.Mode == ModeCapacity && s.Capacity.Step > 0 {
				// Step k adds publishers k*Step.. at k*Every, spread over Ramp.
				c := s.Capacity
				k, j := i/c.Step, i%c.Step
				slot.Start = time.Duration(k)*c.Every + spread(c.Ramp, j, c.Step)
			}
			if err == nil {
				slot.Stream = pat.expand(i)
			}
			slot.Stop = s.Duration
			if g.Hold > 0 && slot.Start+g.Hold < s.Duration {
				slot.Stop = slot.Start + g.Hold
			}
			slots = append(slots, slot)
		}
	}
	// Slots are generated in group order, then index order, so a stable sort by start alone
	// gives the documented tie-break.
	slices.SortStableFunc(slots, func(a, b Slot) int { return cmp.Compare(a.Start, b.Start) })
	for i := range slots {
		slots[i].Seq = i
	}
	return slots
}

// spread is ramp*i/count without the overflow that the plain product risks on long ramps.
func spread(ramp time.Duration, i, count int) time.Duration {
	if count <= 0 {
		return 0
	}
	n := time.Duration(count)
	return ramp/n*time.Duration(i) + ramp%n*time.Duration(i)/n
}

// ActiveAt returns the slots that are publishing at the given elapsed time:
// Start <= elapsed < Stop.
func (s *Scenario) ActiveAt(elapsed time.Duration) []Slot {
	var active []Slot
	for _, slot := range s.Schedule() {
		if slot.Start <= elapsed && elapsed < slot.Stop {
			active = append(active, slot)
		}
	}
	return active
}

// StepOf is the capacity step a slot belongs to (0 in mode load).
func (s *Scenario) StepOf(slot Slot) int {
	if s.Mode != ModeCapacity || s.Capacity.Step < 1 {
		return 0
	}
	return slot.Index / s.Capacity.Step
}

// Shard returns slice i of n of the schedule: every n-th slot, starting at
// slot i. The slots keep their Seq, names and start times, so the union of
// all n shards is exactly the whole schedule, and each shard's load is
// spread over the run like the whole one's.
func Shard(slots []Slot, i, n int) []Slot {
	if n <= 1 {
		return slots
	}
	out := make([]Slot, 0, len(slots)/n+1)
	for _, s := range slots {
		if s.Seq%n == i {
			out = append(out, s)
		}
	}
	return out
}

// Churned reports whether the slot is restarted at churn tick j (at
// j*Churn.Every). It is a pure, well-mixed function of (j, Seq), so the
// share holds over the fleet and each shard makes the same choice.
func (s *Scenario) Churned(seq, j int) bool {
	if s.Churn.Every <= 0 || s.Churn.Share <= 0 || j <= 0 {
		return false
	}
	// splitmix64 of (j, seq): cheap, deterministic, evenly spread.
	x := uint64(j)<<32 ^ uint64(seq)
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x%1_000_000) < s.Churn.Share*1_000_000
}

// NextChurn is the first churn time of the slot strictly after elapsed and
// before its stop; ok is false when there is none.
func (s *Scenario) NextChurn(slot Slot, elapsed time.Duration) (at time.Duration, ok bool) {
	if s.Churn.Every <= 0 || s.Churn.Share <= 0 {
		return 0, false
	}
	for j := int(elapsed/s.Churn.Every) + 1; ; j++ {
		at = time.Duration(j) * s.Churn.Every
		if at >= slot.Stop {
			return 0, false
		}
		if s.Churned(slot.Seq, j) {
			return at, true
		}
	}
}
