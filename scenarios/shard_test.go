package scenarios

import (
	"fmt"
	"testing"
)

// shardScenarios is every built-in plus generated scenarios whose group
// counts and ramps make the slot count fall on and between multiples of n.
func shardScenarios(t *testing.T) map[string]*Scenario {
	t.Helper()
	out := map[string]*Scenario{"inline": mustParse(t, scheduleYAML)}
	for _, info := range Builtins() {
		s, err := Builtin(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		out["builtin:"+info.Name] = s
	}
	for _, counts := range [][2]int{{1, 0}, {7, 3}, {16, 16}, {33, 5}, {100, 1}} {
		src := fmt.Sprintf(`
name: gen
duration: 60s
publishers:
  - group: a
    count: %d
    name: "a-{i}"
    ramp: 7s
    hold: 20s
`, counts[0])
		if counts[1] > 0 {
			src += fmt.Sprintf(`  - group: b
    count: %d
    name: "a-{i%%3}"
    start: 3s
    ramp: 1s
`, counts[1])
		}
		out[fmt.Sprintf("gen-%d-%d", counts[0], counts[1])] = mustParse(t, src)
	}
	return out
}

func TestShardsPartitionTheSchedule(t *testing.T) {
	pairs := 0
	for name, sc := range shardScenarios(t) {
		whole := sc.Schedule()
		for _, n := range []int{1, 2, 3, 4, 5, 8, 13, len(whole), len(whole) + 1, 64} {
			if n < 1 {
				continue
			}
			pairs++
			seen := make(map[int]int)
			// A schedule computed again (once per n: the capacity built-in
			// has thousands of slots) is sharded and compared with whole.
			again := sc.Schedule()
			for i := range n {
				shard := Shard(again, i, n)
				// Balanced: the shards differ by at most one slot.
				if lo, hi := len(whole)/n, (len(whole)+n-1)/n; len(shard) < lo || len(shard) > hi {
					t.Errorf("%s n=%d shard %d: %d slots, want %d..%d", name, n, i, len(shard), lo, hi)
				}
				for _, s := range shard {
					if s.Seq < 0 || s.Seq >= len(whole) {
						t.Fatalf("%s n=%d shard %d: Seq %d out of range", name, n, i, s.Seq)
					}
					if s != whole[s.Seq] {
						t.Errorf("%s n=%d shard %d: slot %+v, the whole schedule has %+v", name, n, i, s, whole[s.Seq])
					}
					seen[s.Seq]++
				}
			}
			for seq := range whole {
				if seen[seq] != 1 {
					t.Errorf("%s n=%d: slot %d is in %d shards, want exactly 1", name, n, seq, seen[seq])
				}
			}
		}
	}
	if pairs < 50 {
		t.Errorf("only %d (scenario, n) pairs checked", pairs)
	}
}
