package hook

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

func fault(t *testing.T, at, dur time.Duration, spec string) Fault {
	t.Helper()
	f, err := ParseFault(spec)
	if err != nil {
		t.Fatal(err)
	}
	f.At, f.For = at, dur
	return f
}

func refused(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return errors.New("connection accepted")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	return nil
}

// Every fault kind as a client sees it, with the fault recorded on the call.
func TestFaultEffects(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		status  int
		body    string
		verdict string
		allowed bool
		minWait time.Duration
	}{
		{spec: "status:500", status: 500, body: "rtmpload hook fault status:500\n", verdict: VerdictError},
		{spec: "status:404", status: 404, body: "rtmpload hook fault status:404\n", verdict: VerdictError},
		{spec: "deny", status: 200, body: `{"code":1,"msg":"fault deny"}`, verdict: VerdictDeny},
		{spec: "garbage", status: 200, body: "OK", verdict: VerdictBadAnswer},
		{spec: "delay:300ms", status: 200, body: `{"code":0,"msg":null}`, verdict: VerdictAllow, allowed: true, minWait: 300 * time.Millisecond},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s := start(t, Config{Faults: []Fault{fault(t, 0, time.Hour, tc.spec)}})
			// Before Arm no fault applies.
			if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "before", "")); !srsAllows(r) {
				t.Fatalf("unarmed fault answered %d %q", r.status, r.body)
			}
			s.Arm(time.Now())
			t0 := time.Now()
			r := post(t, s.OnPublishURL(), srsCall("on_publish", "2", "cam01", "?rtmpload=r1-1"))
			if r.status != tc.status || r.body != tc.body || srsAllows(r) != tc.allowed {
				t.Fatalf("answer %d %q, want %d %q (allow %v)", r.status, r.body, tc.status, tc.body, tc.allowed)
			}
			if d := time.Since(t0); d < tc.minWait {
				t.Fatalf("answered after %s, want >= %s", d, tc.minWait)
			}
			c := call(t, s, 2)
			if c.Fault != tc.spec || c.Status != tc.status || c.Attempt != "r1-1" || c.Verdict != tc.verdict || c.Answer != tc.body {
				t.Fatalf("call recorded as %+v", c)
			}
			if !tc.allowed && (c.Verdict == "allow" || !strings.Contains(c.Reason, "fault "+tc.spec)) {
				t.Fatalf("refused call recorded as %+v", c)
			}
			if got := call(t, s, 1).Fault; got != "" {
				t.Fatalf("call before Arm recorded fault %q", got)
			}
			if live := s.Live(); len(live) != 1+btoi(tc.allowed) {
				t.Fatalf("Live() = %q under %s", live, tc.spec)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// status:N answers an error status, which the report tells from a deny.
func TestFaultVerdicts(t *testing.T) {
	s, clk, _ := startFake(t, Config{Faults: []Fault{
		fault(t, 0, 200*time.Millisecond, "status:503"),
		fault(t, 0, time.Hour, "deny"), // overlapped: the first in the list wins while both apply
	}})
	epoch := clk.Now()
	s.Arm(epoch)
	post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if c := call(t, s, 1); c.Verdict != "error" || c.Fault != "status:503" {
		t.Fatalf("status fault recorded as %+v", c)
	}
	clk.Advance(epoch.Add(250 * time.Millisecond))
	post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", ""))
	if c := call(t, s, 2); c.Verdict != "deny" || c.Fault != "deny" {
		t.Fatalf("deny fault recorded as %+v", c)
	}
}

// A delay past the caller's patience ends as a canceled call, not live.
func TestFaultDelayCanceled(t *testing.T) {
	calls := make(chan Call, 1)
	s := start(t, Config{Faults: []Fault{fault(t, 0, time.Hour, "delay:35s")}, OnCall: func(c Call) { calls <- c }})
	s.Arm(time.Now())
	c := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := c.Post(s.OnPublishURL(), "application/json", strings.NewReader(srsCall("on_publish", "1", "cam01", ""))); err == nil {
		resp.Body.Close()
		t.Fatal("answered within a 35s delay")
	}
	select {
	case got := <-calls:
		if !got.Canceled || got.Fault != "delay:35s" || got.Verdict != "" {
			t.Fatalf("recorded as %+v", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the canceled call was not recorded")
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q", live)
	}
}

type stateLog chan StateChange

// next is the next change reported. The fake clock (testkit.Clock) runs a
// schedule's timers in the goroutine that moves it, so a change is
// reported by then.
func (l stateLog) next(t *testing.T) StateChange {
	t.Helper()
	select {
	case c := <-l:
		return c
	case <-time.After(3 * time.Second):
		t.Fatal("no state change within 3s")
		return StateChange{}
	}
}

// expect takes the next change and holds it to state and fault, timed at.
func (l stateLog) expect(t *testing.T, at time.Time, state schema.CallbackState, fault string) {
	t.Helper()
	if c := l.next(t); c.State != state || c.Fault != fault || !c.At.Equal(at) {
		t.Fatalf("state change %+v, want %s (%q) at %s", c, state, fault, at.Format("15:04:05.000"))
	}
}

// none fails if a change was reported.
func (l stateLog) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-l:
		t.Fatalf("unexpected change %+v", c)
	default:
	}
}

// startFake starts a hook whose fault schedule runs on a fake clock, with
// its state changes in a log.
func startFake(t *testing.T, cfg Config) (*Server, *testkit.Clock, stateLog) {
	t.Helper()
	clk := testkit.NewClock()
	log := make(stateLog, 16)
	cfg.clock, cfg.OnState = clk, func(c StateChange) { log <- c }
	return start(t, cfg), clk, log
}

// Down closes the port and reopens it; changes come at the window edges, in
// order. A change that closes or opens the listener is timed when that
// really happened (a timer that woke up late: after the edge); any other
// change is timed at the edge exactly.
func TestDownAndStateEdges(t *testing.T) {
	s, clk, log := startFake(t, Config{Faults: []Fault{
		fault(t, 100*time.Millisecond, 200*time.Millisecond, "down"),
		fault(t, 400*time.Millisecond, 100*time.Millisecond, "status:500"),
	}})
	if s.State() != schema.StateUp {
		t.Fatalf("State() before Arm = %q", s.State())
	}
	// A keep-alive connection opened before the window must not outlive it.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	kc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	if resp, err := kc.Post(s.OnPublishURL(), "application/json", strings.NewReader(srsCall("on_publish", "1", "cam01", ""))); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	epoch := clk.Now()
	ms := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Millisecond) }
	s.Arm(epoch)
	log.expect(t, epoch, schema.StateUp, "")
	clk.WakeLate(ms(130))
	log.expect(t, ms(130), schema.StateDown, "down")
	if s.State() != schema.StateDown {
		t.Fatalf("State() = %q in the down window", s.State())
	}
	if err := refused(s.Addr()); err != nil {
		t.Fatalf("in the down window: %v, want connection refused", err)
	}
	if resp, err := kc.Post(s.OnPublishURL(), "application/json", strings.NewReader(srsCall("on_publish", "2", "cam02", ""))); err == nil {
		resp.Body.Close()
		t.Fatal("a kept-alive connection was answered in the down window")
	}
	clk.Advance(ms(300))
	log.expect(t, ms(300), schema.StateUp, "")
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "3", "cam03", "")); !srsAllows(r) {
		t.Fatalf("after the down window: %d %q", r.status, r.body)
	}
	clk.WakeLate(ms(450))
	log.expect(t, ms(400), schema.StateErroring, "status:500")
	clk.Advance(ms(10000))
	log.expect(t, ms(500), schema.StateUp, "")
	log.none(t)
	// The call before the window made cam01 live; cam02 never arrived.
	if live := s.Live(); strings.Join(live, ",") != "__defaultVhost__/live/cam01,__defaultVhost__/live/cam03" {
		t.Fatalf("Live() = %q", live)
	}
}

// A garbage window is "misanswering", not "erroring" or "denying": nobody
// said no, the answer is in the wrong format.
func TestGarbageState(t *testing.T) {
	s, clk, log := startFake(t, Config{Faults: []Fault{
		fault(t, 100*time.Millisecond, 100*time.Millisecond, "garbage"),
	}})
	epoch := clk.Now()
	s.Arm(epoch)
	log.expect(t, epoch, schema.StateUp, "")
	clk.Advance(epoch.Add(150 * time.Millisecond))
	c := log.next(t)
	if c.State != schema.StateMisanswering || c.Fault != "garbage" || !strings.Contains(c.Detail, "not SRS's allow") {
		t.Fatalf("garbage window state %+v", c)
	}
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); srsAllows(r) {
		t.Fatalf("a garbage answer %d %q passed SRS's allow rule", r.status, r.body)
	}
	clk.Advance(epoch.Add(time.Second))
	log.expect(t, epoch.Add(200*time.Millisecond), schema.StateUp, "")
}

func TestFlap(t *testing.T) {
	s, clk, log := startFake(t, Config{Faults: []Fault{
		fault(t, 0, 400*time.Millisecond, "flap:100ms"),
	}})
	epoch := clk.Now()
	ms := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Millisecond) }
	s.Arm(epoch)
	log.expect(t, epoch, schema.StateDown, "flap:100ms") // a flap starts down
	if err := refused(s.Addr()); err != nil {
		t.Fatalf("flap down half: %v", err)
	}
	clk.Advance(ms(150))
	log.expect(t, ms(100), schema.StateUp, "flap:100ms")
	if r := post(t, s.OnPublishURL(), srsCall("on_publish", "1", "cam01", "")); !srsAllows(r) {
		t.Fatalf("flap up half: %d %q", r.status, r.body)
	}
	if c := call(t, s, 1); c.Fault != "" {
		t.Fatalf("a call answered normally in the up half recorded fault %q", c.Fault)
	}
	clk.Advance(ms(250))
	log.expect(t, ms(200), schema.StateDown, "flap:100ms")
	if err := refused(s.Addr()); err != nil {
		t.Fatalf("flap's second down half: %v", err)
	}
	clk.Advance(ms(1000))
	log.expect(t, ms(300), schema.StateUp, "flap:100ms")
	log.expect(t, ms(400), schema.StateUp, "")
	log.none(t)
}

// Live bookkeeping under faults: only an answer the server takes as
// allow makes a stream live; an on_unpublish always frees its owner's.
func TestLiveUnderFaults(t *testing.T) {
	s, clk, _ := startFake(t, Config{Mode: schema.HookConflict, Faults: []Fault{
		fault(t, 0, 150*time.Millisecond, "deny"),
		fault(t, 150*time.Millisecond, 150*time.Millisecond, "garbage"),
	}})
	epoch := clk.Now()
	s.Arm(epoch)
	pub := s.OnPublishURL()
	post(t, pub, srsCall("on_publish", "1", "cam01", ""))
	post(t, pub, nginxCall("publish", "7", "cam09", ""))
	clk.Advance(epoch.Add(170 * time.Millisecond))
	post(t, pub, srsCall("on_publish", "2", "cam01", ""))
	r := postForm(t, pub, nginxCall("publish", "8", "cam09", ""))
	if r.status != 200 || r.body != "OK" {
		t.Fatalf("nginx garbage answer %d %q", r.status, r.body)
	}
	calls := waitCalls(t, s, 4)
	if calls[3].Verdict != "allow" || !strings.Contains(calls[3].Reason, "nginx-rtmp takes as allow") {
		t.Fatalf("nginx garbage recorded as %+v", calls[3])
	}
	if live := s.Live(); len(live) != 1 || live[0] != "live/cam09" {
		t.Fatalf("Live() = %q, want only the nginx stream garbage let through", live)
	}
	clk.Advance(epoch.Add(320 * time.Millisecond))
	// The owner's unpublish frees the name, and conflict mode works again.
	postForm(t, pub, nginxCall("publish", "9", "cam09", ""))
	if c := call(t, s, 5); c.Verdict != "deny" || c.LiveOwner != "8" {
		t.Fatalf("duplicate after the faults recorded as %+v", c)
	}
	postForm(t, pub, nginxCall("publish_done", "8", "cam09", ""))
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q after the owner left", live)
	}
}

func TestBadFaults(t *testing.T) {
	for _, f := range []Fault{
		{Kind: "down"},
		{Kind: "explode", For: time.Second},
		{Kind: "flap", For: time.Second},
		{Kind: "status", Status: 42, For: time.Second},
	} {
		if _, err := Start(Config{Faults: []Fault{f}}); err == nil {
			t.Errorf("fault %+v accepted", f)
		}
	}
}

// Close stops the schedule: no change is reported after it returns.
func TestCloseDisarms(t *testing.T) {
	clk := testkit.NewClock()
	log := make(stateLog, 16)
	s, err := Start(Config{clock: clk, OnState: func(c StateChange) { log <- c }, Faults: []Fault{
		fault(t, 50*time.Millisecond, time.Second, "down"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	epoch := clk.Now()
	s.Arm(epoch)
	log.next(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(epoch.Add(2 * time.Second))
	log.none(t)
	if err := refused(s.Addr()); err != nil {
		t.Fatalf("after Close: %v", err)
	}
}

// A down window cuts calls in flight too, as a service going away would.
func TestDownCutsCallsInFlight(t *testing.T) {
	calls := make(chan Call, 1)
	s := start(t, Config{Latency: 2 * time.Second, OnCall: func(c Call) { calls <- c },
		Faults: []Fault{fault(t, 100*time.Millisecond, time.Hour, "down")}})
	s.Arm(time.Now())
	t0 := time.Now()
	if resp, err := client.Post(s.OnPublishURL(), "application/json", strings.NewReader(srsCall("on_publish", "1", "cam01", ""))); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d across the down edge", resp.StatusCode)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("the call was cut only after %s", d)
	}
	select {
	case c := <-calls:
		if !c.Canceled || c.Reason != "connection cut by fault down" || c.Verdict != "" {
			t.Fatalf("cut call recorded as %+v", c)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the cut call was not recorded")
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("Live() = %q", live)
	}
}
