package scenarios

import (
	"github.com/rtmpload/rtmpload/schema"
	"reflect"
	"strings"
	"testing"
	"time"
)

const scheduleYAML = `
name: sched
duration: 10s
publishers:
  - group: late
    count: 2
    name: "late-{i}"
    start: 2s
  - group: ramped
    count: 4
    name: "r-{i:02}"
    start: 1s
    ramp: 2s
    hold: 3s
  - group: capped
    count: 3
    name: "c-{i%2}"
    start: 6s
    ramp: 3s
    hold: 5s
`

func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	s, err := Parse("inline.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchedule(t *testing.T) {
	s := mustParse(t, scheduleYAML)
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	want := []Slot{
		{0, "ramped", 0, "r-00", sec(1), sec(4)},
		{1, "ramped", 1, "r-01", sec(1.5), sec(4.5)},
		// Equal starts: group order in the file decides, so "late" comes before "ramped".
		{2, "late", 0, "late-0", sec(2), sec(10)},
		{3, "late", 1, "late-1", sec(2), sec(10)},
		{4, "ramped", 2, "r-02", sec(2), sec(5)},
		{5, "ramped", 3, "r-03", sec(2.5), sec(5.5)},
		// Hold is capped at the end of the run; names repeat through {i%2}.
		{6, "capped", 0, "c-0", sec(6), sec(10)},
		{7, "capped", 1, "c-1", sec(7), sec(10)},
		{8, "capped", 2, "c-0", sec(8), sec(10)},
	}
	got := s.Schedule()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Schedule:\n got %+v\nwant %+v", got, want)
	}
	// Deterministic: again, and from a fresh parse.
	if again := mustParse(t, scheduleYAML).Schedule(); !reflect.DeepEqual(again, got) {
		t.Errorf("second Schedule differs:\n%+v\n%+v", again, got)
	}
}

func TestScheduleRampUneven(t *testing.T) {
	// 1s over 3 publishers: exact integer nanoseconds, 0, 333333333, 666666666.
	s := mustParse(t, "duration: 5s\npublishers:\n  - {group: g, count: 3, name: \"n{i}\", ramp: 1s}\n")
	var starts []time.Duration
	for _, slot := range s.Schedule() {
		starts = append(starts, slot.Start)
	}
	want := []time.Duration{0, 333333333, 666666666}
	if !reflect.DeepEqual(starts, want) {
		t.Errorf("starts = %v, want %v", starts, want)
	}
	// Long ramps with many publishers would overflow ramp*i in int64 nanoseconds.
	if got := spread(200*time.Hour, 99999, 100000); got != 200*time.Hour/100000*99999 {
		t.Errorf("spread overflowed: %v", got)
	}
}

func TestActiveAt(t *testing.T) {
	s := mustParse(t, scheduleYAML)
	names := func(elapsed time.Duration) []string {
		var out []string
		for _, slot := range s.ActiveAt(elapsed) {
			out = append(out, slot.Group+"/"+slot.Stream)
		}
		return out
	}
	ms := time.Millisecond
	tests := []struct {
		at   time.Duration
		want []string
	}{
		{-ms, nil},
		{0, nil},
		{1000*ms - 1, nil},
		{1000 * ms, []string{"ramped/r-00"}}, // Start is inclusive
		{2000 * ms, []string{"ramped/r-00", "ramped/r-01", "late/late-0", "late/late-1", "ramped/r-02"}},
		{4000*ms - 1, []string{"ramped/r-00", "ramped/r-01", "late/late-0", "late/late-1", "ramped/r-02", "ramped/r-03"}},
		{4000 * ms, []string{"ramped/r-01", "late/late-0", "late/late-1", "ramped/r-02", "ramped/r-03"}}, // Stop is exclusive
		{5500 * ms, []string{"late/late-0", "late/late-1"}},
		{8000 * ms, []string{"late/late-0", "late/late-1", "capped/c-0", "capped/c-1", "capped/c-0"}},
		{10000*ms - 1, []string{"late/late-0", "late/late-1", "capped/c-0", "capped/c-1", "capped/c-0"}},
		{10000 * ms, nil},
	}
	for _, tt := range tests {
		if got := names(tt.at); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ActiveAt(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestReconnectAndChurn(t *testing.T) {
	src := "name: soak\nduration: 10m\nchurn: {every: 1m, share: 25%}\npublishers:\n  - group: a\n    count: 400\n    name: \"a-{i}\"\n    reconnect: {delay: 2s, max: 5, backoff: 2}\n"
	s, err := Parse("soak.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if rc := s.Publishers[0].Reconnect; rc != (Reconnect{Delay: 2 * time.Second, Max: 5, Backoff: 2}) {
		t.Errorf("reconnect %+v", rc)
	}
	if s.Churn != (Churn{Every: time.Minute, Share: 0.25}) {
		t.Errorf("churn %+v", s.Churn)
	}
	// The share holds over the fleet at every tick, and the choice is pure.
	for j := 1; j <= 9; j++ {
		n := 0
		for seq := range 400 {
			if s.Churned(seq, j) {
				n++
			}
			if s.Churned(seq, j) != s.Churned(seq, j) {
				t.Fatal("Churned is not deterministic")
			}
		}
		if n < 70 || n > 130 {
			t.Errorf("tick %d: %d of 400 churned, want about 100", j, n)
		}
	}
	slot := s.Schedule()[7]
	at, ok := s.NextChurn(slot, 0)
	if !ok || at%time.Minute != 0 || !s.Churned(slot.Seq, int(at/time.Minute)) {
		t.Errorf("NextChurn: %v %v", at, ok)
	}
	for j := 1; j < int(at/time.Minute); j++ {
		if s.Churned(slot.Seq, j) {
			t.Errorf("NextChurn skipped tick %d", j)
		}
	}
	if _, ok := s.NextChurn(Slot{Seq: 3, Stop: 30 * time.Second}, 0); ok {
		t.Error("no churn may fall after the slot's stop")
	}
	for _, bad := range []string{
		"churn: {every: 1m}\n", "churn: {every: 1m, share: 150%}\n", "churn: {share: 10%}\n",
	} {
		src := "name: x\nduration: 10m\n" + bad + "publishers:\n  - {group: a, count: 1, name: a}\n"
		if _, err := Parse("x.yaml", []byte(src)); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:3:") {
			t.Errorf("%q: error %v, want one at line 3", bad, err)
		}
	}
	bad := "name: x\nduration: 10m\npublishers:\n  - group: a\n    count: 1\n    name: a\n    reconnect: {max: -1}\n"
	if _, err := Parse("x.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "reconnect") {
		t.Errorf("negative max: %v", err)
	}
}

func TestCapacitySchedule(t *testing.T) {
	s, err := Builtin("capacity")
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != ModeCapacity || s.Duration != 25*time.Minute || s.Capacity.Steps(2400) != 50 || s.Publishers[0].Engine != schema.EngineNative || s.Publishers[0].Witness != 0.02 {
		t.Fatalf("capacity built-in: mode %q duration %v steps %d engine %q witness %v", s.Mode, s.Duration, s.Capacity.Steps(2400), s.Publishers[0].Engine, s.Publishers[0].Witness)
	}
	if s.Capacity.Ramp != 7500*time.Millisecond || s.Capacity.Stop.P95Publish != time.Second {
		t.Errorf("defaults: %+v", s.Capacity)
	}
	slots := s.Schedule()
	perStep := make(map[int]int)
	for _, sl := range slots {
		k := s.StepOf(sl)
		perStep[k]++
		lo := time.Duration(k) * 30 * time.Second
		if sl.Start < lo || sl.Start >= lo+s.Capacity.Ramp || sl.Stop != s.Duration {
			t.Errorf("slot %d (step %d) starts at %v, stops at %v", sl.Index, k, sl.Start, sl.Stop)
		}
	}
	for k := range 50 {
		if perStep[k] != 48 {
			t.Errorf("step %d has %d publishers, want 48", k, perStep[k])
		}
	}
	// Each step's 48 start within its ramp (7.5 s): processes of at most 24,
	// whose starts lie within 5 s, two or three per step.
	for i, b := range s.Batches(slots, 0) {
		if len(b) > 24 || s.StepOf(b[0]) != s.StepOf(b[len(b)-1]) || b[len(b)-1].Start-b[0].Start > FanoutWindow {
			t.Fatalf("batch %d: %d publishers from %v to %v", i, len(b), b[0].Start, b[len(b)-1].Start)
		}
	}
	for _, bad := range []struct{ yaml, want string }{
		{"mode: capacity\ncapacity: {step: 5, every: 10s}\nduration: 20s\npublishers:\n  - {group: a, count: 20, name: \"a-{i}\"}\n", "at least 40s"},
		{"mode: capacity\ncapacity: {every: 10s}\npublishers:\n  - {group: a, count: 20, name: \"a-{i}\"}\n", "capacity.step"},
		{"mode: capacity\ncapacity: {step: 5, every: 10s}\npublishers:\n  - {group: a, count: 20, name: \"a-{i}\"}\n  - {group: b, count: 2, name: \"b-{i}\"}\n", "exactly one"},
		{"mode: soak\nduration: 1m\npublishers:\n  - {group: a, count: 2, name: \"a-{i}\"}\n", "unknown mode"},
	} {
		if _, err := Parse("c.yaml", []byte("name: c\n"+bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}
