package report

import (
	"slices"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

func fanoutSummary(attempts []*Attempt, open string) *FanoutSummary {
	f := FanoutSummary{Parallel: open == schema.FanoutParallel}
	procs := make(map[string]bool)
	var waits []time.Duration
	for _, a := range attempts {
		if a.Outputs < 2 {
			continue
		}
		f.Outputs++
		procs[a.Process] = true
		f.MaxOutputs = max(f.MaxOutputs, a.Outputs)
		t, ok := a.Wire.PublishStarted()
		media := a.Publishing
		if f.Parallel {
			// Each output is fed as soon as it opens: its own first media
			// on the wire. (In turn, tee sends the headers at each open.)
			media, _ = a.Wire.FirstMedia()
		}
		if ok && !media.IsZero() {
			waits = append(waits, max(media.Sub(t), 0))
		}
	}
	if f.Outputs == 0 {
		return nil
	}
	f.Processes = len(procs)
	if f.Waits = len(waits); f.Waits > 0 {
		slices.Sort(waits)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		f.MediaWaitP50Ms, f.MediaWaitMaxMs = ms(waits[len(waits)/2]), ms(waits[len(waits)-1])
	}
	return &f
}
