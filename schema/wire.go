package schema

import "time"

// Wire phases as the tap names them (tap). Readers know them by
// name, so that they need no socket code.
const (
	WireTCPConnect    = "tcp_connect"
	WireC0C1          = "c0c1"
	WireS0S1S2        = "s0s1s2"
	WireConnect       = "connect"
	WireConnectResult = "connect_result"
	WirePublish       = "publish"
	WireOnStatus      = "on_status"
	WireFirstAudio    = "first_audio"
	WireFirstVideo    = "first_video"
	WireServerClose   = "server_close"
	WireClientClose   = "client_close"
	WireUnparsed      = "unparsed"
)

// PublishStartCode is the onStatus code of an accepted publish.
const PublishStartCode = "NetStream.Publish.Start"

// Wire-observed metrics (docs/design.md, "One attempt, observed three ways"),
// measured by the tap between ffmpeg and the server.
const (
	MetricFFmpegStartup = "ffmpeg_startup" // spawn to TCP connect
	MetricHandshake     = "handshake"      // C0+C1 to S0+S1+S2
	MetricConnect       = "connect"        // connect command to its _result
	MetricPublish       = "publish"        // publish command to NetStream.Publish.Start
	MetricHookWait      = "hook_wait"      // publish command to the verdict (Publish.Start or the server's close)
	MetricFirstMedia    = "first_media"    // Publish.Start to the first audio or video message
)

// Mark returns the time of a phase and its detail.
func (w *WireConn) Mark(phase string) (time.Time, string, bool) {
	if w == nil {
		return time.Time{}, "", false
	}
	for _, m := range w.Marks {
		if m.Phase == phase {
			return m.At, m.Detail, true
		}
	}
	return time.Time{}, "", false
}

// Between is the time from phase a to phase b, when both were seen.
func (w *WireConn) Between(a, b string) (time.Duration, bool) {
	ta, _, oka := w.Mark(a)
	tb, _, okb := w.Mark(b)
	if !oka || !okb || tb.Before(ta) {
		return 0, false
	}
	return tb.Sub(ta), true
}

// PublishStarted is when the server said NetStream.Publish.Start, if it did.
func (w *WireConn) PublishStarted() (time.Time, bool) {
	t, code, ok := w.Mark(WireOnStatus)
	if !ok || code != PublishStartCode {
		return time.Time{}, false
	}
	return t, true
}

// Verdict is when the publisher learnt the server's decision: onStatus, or
// the server closing the connection.
func (w *WireConn) Verdict() (time.Time, bool) {
	if t, _, ok := w.Mark(WireOnStatus); ok {
		return t, true
	}
	t, _, ok := w.Mark(WireServerClose)
	return t, ok
}

// Durations yields each wire metric the connection's marks allow, so the
// report and the live figures (metrics, capacity steps) measure alike.
// spawn is the ffmpeg's start (zero: no ffmpeg_startup).
func (w *WireConn) Durations(spawn time.Time, yield func(metric string, d time.Duration)) {
	if w == nil {
		return
	}
	if t, _, ok := w.Mark(WireTCPConnect); ok && !spawn.IsZero() && !t.Before(spawn) {
		yield(MetricFFmpegStartup, t.Sub(spawn))
	}
	for _, m := range []struct{ metric, from, to string }{
		{MetricHandshake, WireC0C1, WireS0S1S2},
		{MetricConnect, WireConnect, WireConnectResult},
	} {
		if d, ok := w.Between(m.from, m.to); ok {
			yield(m.metric, d)
		}
	}
	pub, _, okPub := w.Mark(WirePublish)
	if !okPub {
		return
	}
	if v, ok := w.Verdict(); ok && !v.Before(pub) {
		yield(MetricHookWait, v.Sub(pub))
	}
	start, ok := w.PublishStarted()
	if !ok {
		return
	}
	yield(MetricPublish, start.Sub(pub))
	if first, ok := w.FirstMedia(); ok && !first.Before(start) {
		yield(MetricFirstMedia, first.Sub(start))
	}
}

// FirstMedia is the publisher's first audio or video message, if it sent one.
func (w *WireConn) FirstMedia() (time.Time, bool) {
	first := time.Time{}
	for _, p := range []string{WireFirstAudio, WireFirstVideo} {
		if t, _, ok := w.Mark(p); ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first, !first.IsZero()
}
