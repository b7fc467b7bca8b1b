package report

import (
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Wire phases, the onStatus code of an accepted publish and the wire-observed
// metrics moved to package schema, with WireConn.
const (
	// Deprecated alias: use schema.WireTCPConnect.
	WireTCPConnect = schema.WireTCPConnect
	// Deprecated alias: use schema.WireC0C1.
	WireC0C1 = schema.WireC0C1
	// Deprecated alias: use schema.WireS0S1S2.
	WireS0S1S2 = schema.WireS0S1S2
	// Deprecated alias: use schema.WireConnect.
	WireConnect = schema.WireConnect
	// Deprecated alias: use schema.WireConnectResult.
	WireConnectResult = schema.WireConnectResult
	// Deprecated alias: use schema.WirePublish.
	WirePublish = schema.WirePublish
	// Deprecated alias: use schema.WireOnStatus.
	WireOnStatus = schema.WireOnStatus
	// Deprecated alias: use schema.WireFirstAudio.
	WireFirstAudio = schema.WireFirstAudio
	// Deprecated alias: use schema.WireFirstVideo.
	WireFirstVideo = schema.WireFirstVideo
	// Deprecated alias: use schema.WireServerClose.
	WireServerClose = schema.WireServerClose
	// Deprecated alias: use schema.WireClientClose.
	WireClientClose = schema.WireClientClose
	// Deprecated alias: use schema.WireUnparsed.
	WireUnparsed = schema.WireUnparsed
	// Deprecated alias: use schema.MetricFFmpegStartup.
	MetricFFmpegStartup = schema.MetricFFmpegStartup
	// Deprecated alias: use schema.MetricHandshake.
	MetricHandshake = schema.MetricHandshake
	// Deprecated alias: use schema.MetricConnect.
	MetricConnect = schema.MetricConnect
	// Deprecated alias: use schema.MetricPublish.
	MetricPublish = schema.MetricPublish
	// Deprecated alias: use schema.MetricHookWait.
	MetricHookWait = schema.MetricHookWait
	// Deprecated alias: use schema.MetricFirstMedia.
	MetricFirstMedia = schema.MetricFirstMedia
	// Deprecated alias: use schema.PublishStartCode.
	PublishStartCode = schema.PublishStartCode
)

// recordWire adds an attempt's wire metrics to the histograms.
func recordWire(hs *histograms, a *Attempt) {
	a.Wire.Durations(a.Spawn, func(metric string, d time.Duration) {
		hs.record(metric, "wire", a.Group, d)
	})
}
