package runner

import (
	"testing"
	"time"
)

// A fan-out output is judged by its own connection's bytes, from whichever
// counter the run has (the tap's, or without it the embedded server's): its
// first count is the base, later ones make a speed at the clip's rate.
func TestConnsJudgeByConnBytes(t *testing.T) {
	counts := map[string]uint64{"a-1": 5000, "other": 1}
	r := &run{s: newStream(), clipRate: 1000,
		connBytes: func(fn func(string, uint64)) {
			for id, b := range counts {
				fn(id, b)
			}
		}}
	r.conns.add("a-1", time.Time{})
	t0 := time.Now()
	r.conns.judge(r, t0)
	counts["a-1"] = 5000 + 2000 // 2 s of real time
	r.conns.judge(r, t0.Add(2*time.Second))
	r.conns.remove("a-1")
	r.conns.judge(r, t0.Add(3*time.Second))

	var got []event
	for len(r.s.ch) > 0 {
		got = append(got, <-r.s.ch)
	}
	if len(got) != 2 {
		t.Fatalf("%d events, want 2 (one per judge while a-1 was in): %+v", len(got), got)
	}
	for _, e := range got {
		if e.attempt != "a-1" || e.progress == nil {
			t.Fatalf("event %+v, want a-1's progress", e)
		}
	}
	if p := got[0].progress; p.TotalSize != 5000 || p.Speed != 0 {
		t.Errorf("first block %+v, want the base with no speed yet", p)
	}
	want := (2000 + 1000*connSlack.Seconds()) / 2000
	if p := got[1].progress; p.TotalSize != 7000 || p.Speed != want {
		t.Errorf("second block %+v, want 7000 bytes at speed %v", p, want)
	}
}

// Without a byte counter (a managed server and no tap) nothing is judged here:
// the outputs' process's -progress is.
func TestConnsJudgeWithoutCounter(t *testing.T) {
	r := &run{s: newStream(), clipRate: 1000}
	r.conns.add("a-1", time.Time{})
	r.conns.judge(r, time.Now())
	if len(r.s.ch) != 0 {
		t.Fatalf("%d events without a counter", len(r.s.ch))
	}
}
