package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// A results file written by rtmpload before the vocabulary was typed (schema
// 1, 2026-11-25: a run with a fault schedule, hence every kind of event)
// still reads, and every event marshals back to the same JSON.
func TestSchema1FileReadsAndRoundTrips(t *testing.T) {
	raw, err := os.ReadFile("testdata/schema1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	types := map[string]int{}
	i := 0
	err = Read(bytes.NewReader(raw), func(ev Event) error {
		types[ev.Type]++
		back, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		var was, now any
		if err := json.Unmarshal(lines[i], &was); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := json.Unmarshal(back, &now); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(was, now) {
			t.Errorf("line %d changed:\nwas %s\nnow %s", i+1, lines[i], back)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{TypeRun: 1, TypeAttempt: 14, TypeHook: 6, TypeServer: 8, TypeSnap: 13, TypeState: 6, TypeWire: 6, TypeEnd: 1}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("event types %v, want %v", types, want)
	}
	// The typed words read back as written.
	var states []CallbackState
	var classes []ExitClass
	err = Read(bytes.NewReader(raw), func(ev Event) error {
		if ev.State != nil {
			states = append(states, ev.State.State)
		}
		if ev.Attempt != nil && ev.Attempt.Class != "" {
			classes = append(classes, ev.Attempt.Class)
		}
		if ev.Hook != nil && ev.Hook.Action != ActionPublish && ev.Hook.Action != ActionUnpublish {
			t.Errorf("hook action %q", ev.Hook.Action)
		}
		return nil
	})
	if err != nil || len(states) != 6 || states[1] != StateDown || len(classes) == 0 {
		t.Errorf("states %v, classes %v, err %v", states, classes, err)
	}
}

// A run header's schema must be one this rtmpload reads: 0 (or none) is no
// rtmpload's, a later one needs a newer rtmpload.
func TestReadRefusesOtherSchemas(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":0,"id":"r"}}`, "schema 0: rtmpload writes schema 1 and up"},
		{`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"id":"r"}}`, "schema 0: rtmpload writes schema 1 and up"},
		{`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":-3,"id":"r"}}`, "schema -3"},
		{`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":99,"id":"r"}}`, "newer than this rtmpload"},
	} {
		err := Read(strings.NewReader(c.header+"\n"), func(Event) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.header, err, c.want)
		}
	}
	ok := `{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"r"}}` + "\n"
	if err := Read(strings.NewReader(ok), func(Event) error { return nil }); err != nil {
		t.Errorf("schema 1: %v", err)
	}
}

// Schema 2 adds machine events: one reads back as written, beside a header of
// either schema; a newer schema is refused with what to do.
func TestSchema2MachineEvent(t *testing.T) {
	line := `{"type":"machine","t":"2026-12-06T01:00:00Z","machine":{"span_ns":1000000000,"cores":2,"cpu_busy":0.97,"cpu_steal":0.01,"run_queue":7,"timer_late_ns":1200000000,"gc_pause_ns":1000000,"tap_publishing":40,"tap_quiet_ns":3000000000}}`
	for _, v := range []string{"1", "2"} {
		in := `{"type":"run","t":"2026-12-06T01:00:00Z","run":{"schema":` + v + `,"id":"x","started":"2026-12-06T01:00:00Z","scenario":{"name":"s","source":"","duration_ns":0,"groups":null},"target":"","hook_mode":""}}` + "\n" + line + "\n"
		var got []Event
		if err := Read(bytes.NewReader([]byte(in)), func(ev Event) error { got = append(got, ev); return nil }); err != nil {
			t.Fatalf("schema %s: %v", v, err)
		}
		m := got[1].Machine
		if len(got) != 2 || got[1].Type != TypeMachine || m == nil || m.RunQueue != 7 || m.TapPublishing != 40 || m.TimerLate.Seconds() != 1.2 {
			t.Fatalf("schema %s: read %+v", v, got)
		}
		back, _ := json.Marshal(got[1])
		var was, now any
		json.Unmarshal([]byte(line), &was) //nolint:errcheck
		json.Unmarshal(back, &now)         //nolint:errcheck
		if !reflect.DeepEqual(was, now) {
			t.Errorf("machine event changed:\nwas %s\nnow %s", line, back)
		}
	}
	newer := `{"type":"run","t":"2026-12-06T01:00:00Z","run":{"schema":` + strconv.Itoa(Schema+1) + `,"id":"x"}}` + "\n"
	if err := Read(bytes.NewReader([]byte(newer)), func(Event) error { return nil }); err == nil || !bytes.Contains([]byte(err.Error()), []byte("upgrade rtmpload")) {
		t.Errorf("schema %d read with err %v", Schema+1, err)
	}
}

// Schema 3 marks a native publisher's attempts: the engine reads back as
// written; an attempt of an older stream has none (ffmpeg's).
func TestSchema3NativeAttempt(t *testing.T) {
	for _, v := range []string{"2", "3"} {
		in := `{"type":"run","t":"2026-12-06T01:00:00Z","run":{"schema":` + v + `,"id":"x"}}` + "\n" +
			`{"type":"attempt","t":"2026-12-06T01:00:01Z","attempt":{"id":"x-1","phase":"spawn","group":"g","stream":"s","slot":0,"engine":"native"}}` + "\n" +
			`{"type":"attempt","t":"2026-12-06T01:00:01Z","attempt":{"id":"x-2","phase":"spawn","group":"g","stream":"t","slot":1,"pid":42}}` + "\n"
		var got []Event
		if err := Read(strings.NewReader(in), func(ev Event) error { got = append(got, ev); return nil }); err != nil {
			t.Fatalf("schema %s: %v", v, err)
		}
		if len(got) != 3 || got[1].Attempt.Engine != EngineNative || got[2].Attempt.Engine != "" || got[2].Attempt.PID != 42 {
			t.Fatalf("schema %s: %+v %+v", v, got[1].Attempt, got[2].Attempt)
		}
	}
}

// Schema 4 adds viewers: a view event reads back with its play, and a
// stream of schema 3 (no viewers) still reads.
func TestSchema4ViewEvent(t *testing.T) {
	for _, v := range []string{"3", "4"} {
		in := `{"type":"run","t":"2026-12-06T01:00:00Z","run":{"schema":` + v + `,"id":"x"}}` + "\n" +
			`{"type":"view","t":"2026-12-06T01:00:02Z","view":{"id":"x-v1","group":"viewers","stream":"cam-00","slot":0,"protocol":"rtmp","engine":"native","start":"2026-12-06T01:00:01Z"}}` + "\n"
		var got []Event
		if err := Read(strings.NewReader(in), func(ev Event) error { got = append(got, ev); return nil }); err != nil {
			t.Fatalf("schema %s: %v", v, err)
		}
		if len(got) != 2 || got[1].Type != TypeView || got[1].View == nil || got[1].View.ID != "x-v1" || got[1].View.Protocol != "rtmp" {
			t.Fatalf("schema %s: %+v", v, got[1])
		}
	}
}
