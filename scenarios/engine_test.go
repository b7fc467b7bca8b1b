package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// TestEngine: a group names its engine; a native group is never batched
// (fan-out shares an ffmpeg process, a native publisher has none), even
// with --fanout; an unknown engine is refused where it is written.
func TestEngine(t *testing.T) {
	s := mustParse(t, `
name: engines
duration: 10s
publishers:
  - {group: bulk, count: 4, name: "b-{i}", engine: native, fanout: 4}
  - {group: witness, count: 4, name: "w-{i}", engine: ffmpeg}
  - {group: plain, count: 1, name: "p"}
`)
	if s.Publishers[0].Engine != schema.EngineNative || s.Publishers[1].Engine != schema.EngineFFmpeg || s.Publishers[2].Engine != "" {
		t.Fatalf("engines %+v", s.Publishers)
	}
	for _, b := range s.Batches(s.Schedule(), 4) {
		if b[0].Group == "bulk" && len(b) != 1 {
			t.Fatalf("a native batch of %d", len(b))
		}
		if b[0].Group == "witness" && len(b) != 4 {
			t.Fatalf("the ffmpeg group's fan-out is lost: batch of %d", len(b))
		}
	}
	_, err := Parse("bad.yaml", []byte("name: x\nduration: 5s\npublishers:\n  - {group: g, count: 1, name: n, engine: gstreamer}\n"))
	if err == nil || !strings.Contains(err.Error(), `engine "gstreamer": use ffmpeg or native`) || !strings.Contains(err.Error(), "bad.yaml:4") {
		t.Fatalf("error %v", err)
	}
}

func TestIsWitness(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
		want  []int
	}{
		{40, 0.05, []int{0, 20}},
		{10, 0, nil},
		{3, 1, []int{0, 1, 2}},
		{10, 0.25, []int{0, 4, 8}},
	} {
		var got []int
		for i := range tc.n {
			if IsWitness(i, tc.share) {
				got = append(got, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%d at %v: witnesses %v, want %v", tc.n, tc.share, got, tc.want)
		}
	}
	s := mustParse(t, "name: w\nduration: 5s\npublishers:\n  - {group: g, count: 4, name: \"n{i}\", engine: native, witness: 5%}\n")
	if s.Publishers[0].Witness != 0.05 {
		t.Fatalf("witness %v", s.Publishers[0].Witness)
	}
	_, err := Parse("w.yaml", []byte("name: w\nduration: 5s\npublishers:\n  - {group: g, count: 4, name: n, witness: 150%}\n"))
	if err == nil || !strings.Contains(err.Error(), "witness must be a share") {
		t.Fatalf("error %v", err)
	}
}
