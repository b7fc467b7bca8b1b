package scenarios

import (
	"fmt"
	"strings"
	"testing"
)

func batchSeqs(bs [][]Slot) [][]int {
	out := make([][]int, len(bs))
	for i, b := range bs {
		for _, s := range b {
			out[i] = append(out[i], s.Seq)
		}
	}
	return out
}

func TestBatches(t *testing.T) {
	s := mustParse(t, `
name: fan
duration: 60s
publishers:
  - group: fleet
    count: 7
    name: "f-{i}"
    fanout: 3
  - group: slow
    count: 3
    name: "s-{i}"
    ramp: 30s
    fanout: 3
  - group: single
    count: 2
    name: "x-{i}"
`)
	slots := s.Schedule()
	got := batchSeqs(s.Batches(slots, 0))
	// Seqs: fleet 0-6, slow-0 7, single 8-9, slow-1 10, slow-2 11.
	// fleet starts together: 3+3+1; slow's starts are 10 s apart (> FanoutWindow): one each;
	// single has no fanout: one each.
	want := "[[0 1 2] [3 4 5] [6] [7] [8] [9] [10] [11]]"
	if g := fmt.Sprint(got); g != want {
		t.Errorf("Batches = %s, want %s", g, want)
	}
	// A run-wide fanout applies to groups that set none.
	got = batchSeqs(s.Batches(slots, 2))
	if fmt.Sprint(got) != "[[0 1 2] [3 4 5] [6] [7] [8 9] [10] [11]]" {
		t.Errorf("Batches with fanout 2 = %v, want single's two in one batch", got)
	}
	n := 0
	for _, b := range got {
		n += len(b)
	}
	if n != len(slots) {
		t.Errorf("%d slots in batches, want %d", n, len(slots))
	}
}

func TestFanoutValidated(t *testing.T) {
	_, err := Parse("f.yaml", []byte("name: f\nduration: 10s\npublishers:\n  - {group: g, count: 2, name: \"g-{i}\", fanout: 33}\n"))
	if err == nil || !strings.Contains(err.Error(), "fanout must be from 1 to 32") {
		t.Errorf("fanout 33: %v, want an error", err)
	}
}
