package schema

import "strings"

// Publisher engines (a scenario group's engine, AttemptEvent.Engine).
const (
	EngineFFmpeg = "ffmpeg" // one ffmpeg process per publisher (or per fan-out batch)
	EngineNative = "native" // rtmpload's own RTMP publisher (native/)
)

// What a native attempt's exit message says the server did, where ffmpeg
// says only "Input/output error" (native.Failure's words).
const (
	NativeClosed  = "server closed the connection"
	NativeReset   = "server reset the connection"
	NativeRefused = "connection refused"
)

// ServerHungUp tells an exit message that says the server ended the
// connection without an RTMP status: ffmpeg's "Input/output error", or a
// native attempt's close or reset.
func ServerHungUp(msg string) bool {
	return strings.Contains(msg, "Input/output error") || strings.Contains(msg, NativeClosed) || strings.Contains(msg, NativeReset)
}

// ConnectionRefused tells an exit message that says the RTMP port refused
// the TCP connection, in ffmpeg's words or a native attempt's.
func ConnectionRefused(msg string) bool {
	return strings.Contains(msg, "Connection refused") || strings.HasPrefix(msg, NativeRefused)
}
