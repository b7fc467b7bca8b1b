package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rtmpload/rtmpload/runner"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// startProgress shows the run's progress: mpb bars on a terminal, a slog
// line every 5 s elsewhere (CI). It returns a function that stops it.
func startProgress(mode string, stderr io.Writer, logger *slog.Logger, live *runner.Live, sc *scenarios.Scenario) (stop func()) {
	if mode == "auto" {
		mode = "log"
		if isTerminal(stderr) {
			mode = "bars"
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	switch mode {
	case "bars":
		p := mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(30), mpb.WithRefreshRate(200*time.Millisecond))
		bars := make(map[string]*mpb.Bar)
		for _, g := range sc.Publishers {
			name := g.Group
			bars[name] = p.AddBar(int64(g.Count),
				mpb.PrependDecorators(decor.Name(schema.TermSafe(name), decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
					for _, s := range live.Snapshot() {
						if s.Name == name {
							line := fmt.Sprintf("active %d  publishing %d  starved %d  failed %d  done %d/%d", s.Active, s.Publishing, s.Starved, s.Failed, s.Done, s.Planned)
							if m := live.Machine(); strings.Contains(m, "strained") {
								line += "  load machine " + m
							}
							return line
						}
					}
					return ""
				})))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				for _, s := range live.Snapshot() {
					if b := bars[s.Name]; b != nil {
						b.SetCurrent(int64(s.Done))
					}
				}
				select {
				case <-done:
					for _, b := range bars {
						b.Abort(false)
					}
					p.Wait()
					return
				case <-t.C:
				}
			}
		}()
	case "log":
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				for _, s := range live.Snapshot() {
					logger.Info("progress", "group", s.Name, "active", s.Active, "publishing", s.Publishing,
						"starved", s.Starved, "failed", s.Failed, "done", s.Done, "planned", s.Planned)
				}
				if m := live.Machine(); m != "" {
					logger.Info("progress", "load_machine", m)
				}
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done); wg.Wait() })
	}
}
