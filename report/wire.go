package report

import (
	"time"
)

// recordWire adds an attempt's wire metrics to the histograms.
func recordWire(hs *histograms, a *Attempt) {
	a.Wire.Durations(a.Spawn, func(metric string, d time.Duration) {
		hs.record(metric, "wire", a.Group, d)
	})
}
