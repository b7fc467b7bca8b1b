package runner

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRigClosesInReverse: what the rig opened is closed newest first, once,
// even when a stage already stopped a part of it.
func TestRigClosesInReverse(t *testing.T) {
	var g rig
	var closed []string
	stops := map[string]func(){}
	for _, name := range []string{"metrics", "hook", "target", "tap", "results"} {
		stops[name] = g.opened(func() { closed = append(closed, name) })
	}
	stops["tap"]()
	stops["target"]()
	g.close()
	if want := []string{"tap", "target", "results", "hook", "metrics"}; !slices.Equal(closed, want) {
		t.Errorf("closed %v, want %v", closed, want)
	}
}

// TestMetricsClosedWhenRunReturns: the metrics server is the rig's, not the
// caller context's: it is gone when Run returns, here after a setup error
// (the target refuses connections), with ctx still live.
func TestMetricsClosedWhenRunReturns(t *testing.T) {
	sc := scenario(t, `
name: m
duration: 1s
publishers: [{group: g, count: 1, name: s}]
`)
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	var addr string
	_, err = Run(context.Background(), Options{
		Scenario: sc, ResultsDir: filepath.Join(t.TempDir(), "out"), CacheDir: t.TempDir(),
		Target: "rtmp://" + refused + "/live", Metrics: "127.0.0.1:0", OnMetrics: func(a string) { addr = a },
	})
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("Run: %v, want a setup error (the target refuses)", err)
	}
	if addr == "" {
		t.Fatal("the metrics server was not started before the target")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("metrics still served on %s after Run returned", addr)
	}
}
