package hook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

func probe(t *testing.T, cfg ProbeConfig) (stateLog, context.CancelFunc) {
	t.Helper()
	log := make(stateLog, 16)
	cfg.OnState = func(c StateChange) { log <- c }
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Probe(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Probe: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Error("Probe did not return after cancel")
		}
	})
	return log, cancel
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	log, _ := probe(t, ProbeConfig{URL: "http://" + ln.Addr().String() + "/api/v1/hooks/on_publish"})
	if c := log.next(t); c.State != schema.StateUp {
		t.Fatalf("first result %+v, want up", c)
	}
	ln.Close()
	if c := log.next(t); c.State != schema.StateDown || !strings.Contains(c.Detail, "refused") {
		t.Fatalf("after close %+v, want down: refused", c)
	}
	select {
	case c := <-log:
		t.Fatalf("repeated or spurious change %+v", c)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestProbePublishJudgedBySRSRule(t *testing.T) {
	s := start(t, Config{Mode: schema.HookConflict, Faults: []Fault{
		fault(t, 150*time.Millisecond, 150*time.Millisecond, "deny"),
		fault(t, 300*time.Millisecond, 150*time.Millisecond, "status:500"),
		fault(t, 450*time.Millisecond, 150*time.Millisecond, "garbage"),
	}})
	s.Arm(time.Now())
	log, cancel := probe(t, ProbeConfig{URL: s.OnPublishURL(), Method: ProbePublish})
	for _, want := range []schema.CallbackState{schema.StateUp, schema.StateDenying, schema.StateErroring, schema.StateMisanswering, schema.StateUp} {
		if c := log.next(t); c.State != want {
			t.Fatalf("probe state %+v, want %s", c, want)
		}
	}
	cancel()
	calls := s.Calls()
	if len(calls) < 4 {
		t.Fatalf("%d probe calls", len(calls))
	}
	// Each probe is a fresh name, so conflict mode never refuses it.
	for _, c := range calls {
		if c.Action != "on_publish" || !strings.HasPrefix(c.Stream, "rtmpload-probe-") || c.LiveOwner != "" {
			t.Fatalf("probe call %+v", c)
		}
	}
}

// get: any answer is up, 5xx is erroring, and no on_publish body is sent.
func TestProbeGet(t *testing.T) {
	var status atomic.Int32
	status.Store(404)
	var posts atomic.Int32
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.ContentLength > 0 {
			posts.Add(1)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer u.Close()
	log, _ := probe(t, ProbeConfig{URL: u.URL, Method: ProbeGet})
	if c := log.next(t); c.State != schema.StateUp {
		t.Fatalf("404 probed as %+v, want up", c)
	}
	status.Store(502)
	if c := log.next(t); c.State != schema.StateErroring {
		t.Fatalf("502 probed as %+v, want erroring", c)
	}
	if n := posts.Load(); n != 0 {
		t.Fatalf("%d requests were not bare GETs", n)
	}
}

// A callback's redirect is its answer, as SRS takes it: the probe does not
// follow it (a 302 to a service that allows is still erroring).
func TestProbeDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	allow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		w.Write([]byte(`{"code":0}`))
	}))
	defer allow.Close()
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, allow.URL, http.StatusFound)
	}))
	defer u.Close()
	log, cancel := probe(t, ProbeConfig{URL: u.URL, Method: ProbePublish})
	c := log.next(t)
	cancel()
	if c.State != schema.StateErroring || !strings.Contains(c.Detail, "HTTP 302") || followed.Load() != 0 {
		t.Errorf("302 probed as %+v (target called %d times), want erroring", c, followed.Load())
	}
}

func TestProbeBadConfig(t *testing.T) {
	ctx := context.Background()
	if err := Probe(ctx, ProbeConfig{URL: "127.0.0.1:8080"}); err == nil {
		t.Error("URL without scheme accepted")
	}
	if err := Probe(ctx, ProbeConfig{URL: "http://127.0.0.1:1/", Method: "ping"}); err == nil {
		t.Error("unknown method accepted")
	}
}

// play: an on_play for a probe stream, judged by SRS's rule; the hook
// answers plays in every mode, faults included.
func TestProbePlay(t *testing.T) {
	s := start(t, Config{Mode: schema.HookDeny, Faults: []Fault{fault(t, 150*time.Millisecond, 150*time.Millisecond, "deny")}})
	s.Arm(time.Now())
	log, cancel := probe(t, ProbeConfig{URL: s.OnPlayURL(), Method: ProbePlay})
	for _, want := range []schema.CallbackState{schema.StateUp, schema.StateDenying, schema.StateUp} {
		if c := log.next(t); c.State != want {
			t.Fatalf("probe state %+v, want %s", c, want)
		}
	}
	cancel()
	for _, c := range s.Calls() {
		if c.Action != schema.ActionPlay || !strings.HasPrefix(c.Stream, "rtmpload-probe-") {
			t.Fatalf("probe call %+v", c)
		}
	}
	if err := CheckProbe(ProbeConfig{URL: s.OnPlayURL(), Method: "stop"}); err == nil || !strings.Contains(err.Error(), "publish or play") {
		t.Errorf("CheckProbe of an unknown method: %v", err)
	}
}
