package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// find returns the metric of family name whose labels include every pair in labels.
func find(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func TestServeAndScrape(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := New()
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	for range 3 {
		m.AttemptStarted("cams")
		m.Active("cams", 1)
	}
	m.AttemptStarted("intruders")
	m.AttemptOutcome("cams", ResultPublished)
	m.AttemptOutcome("cams", ResultRefused)
	m.AttemptOutcome("cams", ResultRefused)
	m.Active("cams", -1)
	m.Publishing("cams", 2)
	m.Starved("cams", 1)
	m.CallbackState("up")
	m.CallbackState("down")
	m.HookLatency("cams", 200*time.Microsecond)
	m.HookLatency("cams", 2*time.Second)
	m.Wire("publish", "cams", 15*time.Millisecond)
	m.ToolCPU(1.5)
	m.ToolCPU(2.25)

	mfs := scrape(t, addr)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"rtmpload_attempts_started_total", []string{"group", "cams"}, 3},
		{"rtmpload_attempts_started_total", []string{"group", "intruders"}, 1},
		{"rtmpload_attempt_results_total", []string{"group", "cams", "result", "refused"}, 2},
		{"rtmpload_attempt_results_total", []string{"group", "cams", "result", "published"}, 1},
		{"rtmpload_publishers_active", []string{"group", "cams"}, 2},
		{"rtmpload_publishers_publishing", []string{"group", "cams"}, 2},
		{"rtmpload_publishers_starved", []string{"group", "cams"}, 1},
		{"rtmpload_callback_state", []string{"state", "down"}, 1},
		{"rtmpload_callback_state", []string{"state", "up"}, 0},
		{"rtmpload_tool_cpu_seconds_total", nil, 2.25},
	} {
		m := find(t, mfs, c.name, c.labels...)
		got := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	h := find(t, mfs, "rtmpload_hook_latency_seconds", "group", "cams").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.0002 {
		t.Errorf("hook latency: count %d sum %v, want 2 and 2.0002", h.GetSampleCount(), h.GetSampleSum())
	}
	// The 0.2 ms answer must land in a bucket well below 1 ms, the 2 s one below 30 s: the
	// buckets cover the range the issue asks for.
	var under1ms, under30s uint64
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() <= 0.001 {
			under1ms = b.GetCumulativeCount()
		}
		if b.GetUpperBound() <= 30.0001 {
			under30s = b.GetCumulativeCount()
		}
	}
	if under1ms != 1 || under30s != 2 {
		t.Errorf("buckets: %d under 1 ms, %d under 30 s; want 1 and 2", under1ms, under30s)
	}
	w := find(t, mfs, "rtmpload_wire_seconds", "metric", "publish", "group", "cams").GetHistogram()
	if w.GetSampleCount() != 1 || w.GetSampleSum() != 0.015 {
		t.Errorf("wire publish: count %d sum %v", w.GetSampleCount(), w.GetSampleSum())
	}
	if _, ok := mfs["process_resident_memory_bytes"]; !ok {
		t.Error("no process collector metrics")
	}
	for name := range mfs {
		if !strings.HasPrefix(name, "rtmpload_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "go_") {
			t.Errorf("unexpected metric %s: the registry must be our own", name)
		}
	}

	// The server ends with ctx.
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening 5 s after ctx ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = New().Serve(t.Context(), ln.Addr().String())
	if err == nil {
		t.Fatal("serving on a busy port did not fail")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "address already in use") {
		t.Errorf("error %q: want one line naming the busy address", msg)
	}
}

func TestTwoInstances(t *testing.T) {
	// Own registries: a second New must not panic on duplicate registration.
	a, b := New(), New()
	a.AttemptStarted("x")
	b.AttemptStarted("x")
}

func TestServeHeapProfile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := New().Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cli := &http.Client{Timeout: 10 * time.Second}
	resp, err := cli.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), "heap profile:") {
		t.Fatalf("heap profile: %s %.200s", resp.Status, b.String())
	}
}
