package server

import "github.com/rtmpload/rtmpload/srs"

// SRS's wire types moved to package srs; these aliases keep other branches
// compiling while they land.
type (
	// Deprecated alias: use srs.HookRequest.
	HookRequest = srs.HookRequest
	// Deprecated alias: use srs.Stream.
	StreamInfo = srs.Stream
	// Deprecated alias: use srs.Kbps.
	Kbps = srs.Kbps
	// Deprecated alias: use srs.Publish.
	PublishInfo = srs.Publish
	// Deprecated alias: use srs.Video.
	VideoInfo = srs.Video
	// Deprecated alias: use srs.Audio.
	AudioInfo = srs.Audio
	// Deprecated alias: use srs.Client.
	ClientInfo = srs.Client
)
