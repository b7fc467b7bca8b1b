package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// machine adds one sample a second from..to (s), each as sample gives it.
func (s *stream) machine(from, to int, sample func(sec int) schema.MachineSample) {
	for sec := from; sec <= to; sec++ {
		m := sample(sec)
		m.Span, m.Cores = time.Second, 2
		s.evs = append(s.evs, schema.Event{Type: schema.TypeMachine, Time: at(sec * 1000), Machine: &m})
	}
}

// A publisher dropped while the load machine was saturated and rtmpload
// stalled is said to be so: in its evidence, in report.json, in the failures
// vs availability table and its note. One dropped while the machine was
// fine is the server's as before, and a stream without samples (schema 1)
// shows no such column.
func TestFailureDuringSaturatedStretchNamesTheLoadMachine(t *testing.T) {
	var s stream
	s.header(schema.GroupInfo{Name: "cams", Count: 4})
	s.attempt("r1-1", "cams", "cam-1", 0, 1000, 40_000, schema.ClassFailed, 1, "Connection reset by peer")
	s.attempt("r1-2", "cams", "cam-2", 0, 1000, 20_000, schema.ClassFailed, 1, "Connection reset by peer")
	s.attempt("r1-3", "cams", "cam-3", 0, 1000, 60_000, schema.ClassStopped, 255, "")
	// Refused by the callback in the strained stretch: its own verdict
	// explains it, whatever the machine did.
	s.attempt("r1-4", "cams", "cam-4", 32_000, -1, 33_000, schema.ClassFailed, 1, "Input/output error")
	s.hook("r1-4", "cam-4", 32_100, 32_200, 403, "deny")
	s.machine(1, 60, func(sec int) schema.MachineSample {
		if sec >= 30 && sec <= 40 { // saturated, and rtmpload's timer late
			return schema.MachineSample{CPUBusy: 0.97, CPUSteal: 0.02, RunQueue: 9, TimerLate: 1200 * time.Millisecond}
		}
		return schema.MachineSample{CPUBusy: 0.4, RunQueue: 1, TimerLate: 2 * time.Millisecond}
	})
	s.end(61_000, schema.EndNormal)
	sum := s.summary(t)

	v := sum.Machine
	if v == nil || len(v.Samples) != 60 {
		t.Fatalf("machine view %+v", v)
	}
	if len(v.Strained) != 1 || !v.Strained[0].From.Equal(at(29_000)) || !v.Strained[0].To.Equal(at(40_000)) {
		t.Fatalf("strained stretches %+v, want one from 29 s to 40 s", v.Strained)
	}
	if v.Failures != 3 || v.Judged != 2 || len(v.Coincided) != 1 || v.Coincided[schema.OutcomeDropped] != 1 {
		t.Errorf("failures %d, judged %d, coincided %v; want 3, 2 and 1 dropped", v.Failures, v.Judged, v.Coincided)
	}
	byID := map[string]Failure{}
	for _, f := range sum.Failures {
		byID[f.ID] = f
	}
	f1, f2, f4 := byID["r1-1"], byID["r1-2"], byID["r1-4"]
	if f4.Outcome != schema.OutcomeHookDenied || f4.Machine != "" || strings.Contains(f4.Evidence, "load machine") {
		t.Errorf("cam-4, denied in the strained stretch: %s, machine %q, evidence %s", f4.Outcome, f4.Machine, f4.Evidence)
	}
	if f1.Outcome != schema.OutcomeDropped || !strings.Contains(f1.Machine, "saturated (CPU 99% busy") ||
		!strings.Contains(f1.Machine, "run queue 9 on 2 cores") || !strings.Contains(f1.Machine, "generator stalled (rtmpload's timer woke 1.2s late") {
		t.Errorf("cam-1's load machine %q", f1.Machine)
	}
	if !strings.Contains(f1.Evidence, "[load machine saturated") || !strings.Contains(f1.Evidence, "the generator may not have kept up") {
		t.Errorf("cam-1's evidence does not name the load machine: %s", f1.Evidence)
	}
	if f2.Outcome != schema.OutcomeDropped || f2.Machine != "" || strings.Contains(f2.Evidence, "load machine") {
		t.Errorf("cam-2, dropped on a fine machine: machine %q, evidence %s", f2.Machine, f2.Evidence)
	}

	var tb bytes.Buffer
	if err := Table(&tb, sum); err != nil {
		t.Fatal(err)
	}
	out := tb.String()
	for _, want := range []string{machineColumn, "Load machine: strained 11s of the run, in 1 stretch 29s-40s: saturated",
		"1 of the 2 failures a slow generator can explain coincided with it"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table report lacks %q:\n%s", want, out)
		}
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, sum, Extras{}) },
		"html":     func(b *bytes.Buffer) error { return HTML(b, sum, Extras{Timeline: timelineOf(t, s.evs)}) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), machineColumn) || !strings.Contains(b.String(), "1 of the 2 failures a slow generator can explain coincided with it") {
			t.Errorf("the %s report lacks the load machine's column or note", name)
		}
		if name == "html" && (!strings.Contains(b.String(), `text-anchor="end">machine</text>`) || !strings.Contains(b.String(), "30s: CPU 99% busy, run queue 9 on 2 cores, timer 1.2s late: strained")) {
			t.Errorf("the html report's timeline lacks the load machine's band")
		}
	}
	cols, rows := byStateTable(sum)
	if cols[len(cols)-1] != machineColumn {
		t.Fatalf("columns %v", cols)
	}
	for _, r := range rows {
		want := map[string]string{"ok": "-", "dropped": "1", "hook_denied": "-"}[r[0]]
		if r[len(r)-1] != want {
			t.Errorf("row %v: load machine cell %q, want %q", r, r[len(r)-1], want)
		}
	}

	// The same run without samples, as schema 1 wrote it.
	var old stream
	for _, ev := range s.evs {
		if ev.Type != schema.TypeMachine {
			old.evs = append(old.evs, ev)
		}
	}
	old.evs[0].Run.Schema = 1
	osum := old.summary(t)
	if osum.Machine != nil {
		t.Errorf("a stream without samples has a machine view %+v", osum.Machine)
	}
	if cols, _ := byStateTable(osum); len(cols) > 0 && cols[len(cols)-1] == machineColumn {
		t.Errorf("a stream without samples has the load machine column: %v", cols)
	}
	for _, f := range osum.Failures {
		if f.Machine != "" || strings.Contains(f.Evidence, "load machine") {
			t.Errorf("%s names the load machine without samples: %s", f.ID, f.Evidence)
		}
	}
}

// Each threshold on its own strains the machine; below them all, nothing.
func TestStrainThresholds(t *testing.T) {
	for _, c := range []struct {
		s    schema.MachineSample
		want string
	}{
		{schema.MachineSample{Cores: 2, CPUBusy: 0.5, RunQueue: 2, TimerLate: 10 * time.Millisecond}, ""},
		{schema.MachineSample{Cores: 2, CPUBusy: 0.80, CPUSteal: 0.16}, "saturated (CPU 96% busy, 16% of it stolen by the hypervisor)"},
		{schema.MachineSample{Cores: 2, CPUBusy: 0.5, RunQueue: 5}, "saturated (run queue 5 on 2 cores)"},
		{schema.MachineSample{Cores: 2, CPUBusy: -1, CPUSteal: -1, GCPause: 300 * time.Millisecond}, "generator stalled (a GC pause of rtmpload of up to 300ms)"},
		{schema.MachineSample{Cores: 2, CPUBusy: 0.5, TimerLate: 400 * time.Millisecond, GCPause: 50 * time.Millisecond}, ""},
		{schema.MachineSample{Cores: 2, TapQuiet: 3 * time.Second}, "generator stalled (the tap relayed no media for 3s while publishers published)"},
	} {
		if got := strainOf(c.s); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}

// Which failures a slow generator can explain: not a verdict someone gave,
// nor a callback that was down.
func TestMachineCanCause(t *testing.T) {
	for _, c := range []struct {
		o     schema.Outcome
		state schema.CallbackState
		want  bool
	}{
		{schema.OutcomeDropped, schema.StateUp, true},
		{schema.OutcomeRejectedUnknown, schema.StateUnknown, true},
		{schema.OutcomeHookTimeout, schema.StateUp, true},
		{schema.OutcomeHookUnreachable, schema.StateUp, true},
		{schema.OutcomeHookUnreachable, schema.StateDown, false},
		{schema.OutcomeHookDenied, schema.StateUp, false},
		{schema.OutcomeStreamBusy, schema.StateUp, false},
		{schema.OutcomeOK, schema.StateUp, false},
	} {
		if got := machineCanCause(c.o, c.state); got != c.want {
			t.Errorf("%s with the callback %s: %v, want %v", c.o, c.state, got, c.want)
		}
	}
}

// timelineOf is the timeline of a stream, as a run builds it.
func timelineOf(t *testing.T, evs []schema.Event) *Timeline {
	t.Helper()
	var buf bytes.Buffer
	w := schema.NewWriter(&buf)
	for _, ev := range evs {
		w.Write(ev)
	}
	_, tl, err := SummarizeTimeline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}
