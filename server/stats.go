package server

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/rtmpload/rtmpload/srs"
)

// rateWindow keeps one byte-count sample per second for SRS's 30 s rates.
type rateWindow struct {
	samples [32]rateSample
	n, next int
}

type rateSample struct {
	t     time.Time
	bytes uint64
}

func (w *rateWindow) add(now time.Time, bytes uint64) {
	if w.n > 0 {
		last := w.samples[(w.next+len(w.samples)-1)%len(w.samples)]
		if now.Sub(last.t) < time.Second {
			return
		}
	}
	w.samples[w.next] = rateSample{now, bytes}
	w.next = (w.next + 1) % len(w.samples)
	w.n = min(w.n+1, len(w.samples))
}

// kbps is the rate since the oldest sample of the last 30 s.
func (w *rateWindow) kbps(now time.Time, bytes uint64) int {
	for i := w.n; i > 0; i-- {
		s := w.samples[(w.next+len(w.samples)-i)%len(w.samples)]
		if now.Sub(s.t) > 30*time.Second {
			continue
		}
		ms := now.Sub(s.t).Milliseconds()
		if ms <= 0 || bytes < s.bytes {
			return 0
		}
		return int((bytes - s.bytes) * 8 / uint64(ms))
	}
	return 0
}

func (c *client) count(msg message.Message, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate.add(now, c.sc.BytesReceived())
	switch m := msg.(type) {
	case *message.Video:
		c.videoMsgs++
		if cfg := m.AVCConfig; cfg != nil {
			var sps []byte
			if len(cfg.SequenceParameterSets) > 0 {
				sps = cfg.SequenceParameterSets[0].NALUnit
			}
			c.video = avcInfo(cfg.Profile, cfg.Level, sps)
		} else if c.video == nil {
			c.video = &srs.Video{Codec: map[uint8]string{message.CodecH264: "H264", message.CodecH265: "H265"}[m.Codec]}
		}
	case *message.VideoExSequenceStart:
		c.videoMsgs++
		if cfg := m.AVCConfig; cfg != nil {
			var sps []byte
			if len(cfg.SequenceParameterSets) > 0 {
				sps = cfg.SequenceParameterSets[0].NALUnit
			}
			c.video = avcInfo(cfg.Profile, cfg.Level, sps)
		} else {
			c.video = &srs.Video{Codec: fourCCName(m.FourCC)}
		}
	case *message.VideoExCodedFrames, *message.VideoExFramesX, *message.VideoExMultitrack,
		*message.VideoExSequenceEnd, *message.VideoExMetadata:
		c.videoMsgs++
	case *message.Audio:
		c.audioMsgs++
		if m.AACConfig != nil {
			c.audio = aacInfo(m.AACConfig)
		} else if c.audio == nil {
			c.audio = &srs.Audio{Codec: map[uint8]string{
				message.CodecMPEG4Audio: "AAC", message.CodecMPEG1Audio: "MP3",
				message.CodecPCMA: "PCMA", message.CodecPCMU: "PCMU", message.CodecLPCM: "LPCM",
			}[m.Codec]}
		}
		// SRS reports the FLV tag's sound type (mono 1, stereo 2), not the
		// AAC configuration's channels: ffmpeg marks AAC stereo even when it
		// is mono (docs/servers.md, "The HTTP API: embedded server and SRS").
		c.audio.Channel = 1
		if m.IsStereo {
			c.audio.Channel = 2
		}
	case *message.AudioExSequenceStart, *message.AudioExCodedFrames, *message.AudioExMultitrack,
		*message.AudioExSequenceEnd, *message.AudioExMultichannelConfig:
		c.audioMsgs++
	}
}

func fourCCName(f message.FourCC) string {
	return map[message.FourCC]string{
		message.FourCCAVC: "H264", message.FourCCHEVC: "H265", message.FourCCAV1: "AV1", message.FourCCVP9: "VP9",
	}[f]
}

func avcInfo(profile, level uint8, sps []byte) *srs.Video {
	// SRS writes level 3.0 as "3" and 3.1 as "3.1".
	v := &srs.Video{Codec: "H264", Level: fmt.Sprintf("%d.%d", level/10, level%10)}
	if level%10 == 0 {
		v.Level = strconv.Itoa(int(level / 10))
	}
	v.Profile = map[uint8]string{
		66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High10", 122: "High422", 244: "High444",
	}[profile]
	if v.Profile == "" {
		v.Profile = strconv.Itoa(int(profile))
	}
	var s h264.SPS
	if sps != nil && s.Unmarshal(sps) == nil {
		v.Width, v.Height = s.Width(), s.Height()
	}
	return v
}

func aacInfo(c *mpeg4audio.AudioSpecificConfig) *srs.Audio {
	a := &srs.Audio{Codec: "AAC", SampleRate: c.SampleRate, Channel: int(c.ChannelConfig)}
	if c.ChannelConfig == 7 {
		a.Channel = 8
	}
	switch {
	case c.Type == mpeg4audio.ObjectTypePS || c.ExtensionType == mpeg4audio.ObjectTypePS:
		a.Profile = "HEv2"
	case c.Type == mpeg4audio.ObjectTypeSBR || c.ExtensionType == mpeg4audio.ObjectTypeSBR:
		a.Profile = "HE"
	case c.Type == mpeg4audio.ObjectTypeAACLC:
		a.Profile = "LC"
	default:
		a.Profile = strconv.Itoa(int(c.Type))
	}
	return a
}

// EachLive calls fn with the param and the bytes received so far of every
// accepted publisher. It is how a run without the tap judges each output of a
// fan-out process by its own connection.
func (s *Server) EachLive(fn func(param string, bytesIn uint64)) {
	s.mu.Lock()
	type pub struct {
		param string
		c     *client
	}
	live := make([]pub, 0, len(s.live))
	for _, c := range s.live {
		live = append(live, pub{c.param, c})
	}
	s.mu.Unlock()
	for _, p := range live {
		fn(p.param, p.c.sc.BytesReceived())
	}
}

// Streams lists the streams that have a client (a publisher accepted or
// waiting for its hooks, or players), in SRS's /api/v1/streams/ shape,
// ordered by url. SRS lists a stream only players use too, named by them.
func (s *Server) Streams() []srs.Stream {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]srs.Stream, 0, len(s.streams))
	for url, st := range s.streams {
		info := srs.Stream{ID: st.id, Vhost: s.vhostID, URL: url, LiveMs: now.UnixMilli(), Clients: st.clients}
		pub := s.live[url]
		if pub == nil {
			// Not yet accepted: describe it from any of its waiting clients.
			for _, c := range s.clients {
				if c.streamURL == url {
					pub = c
					break
				}
			}
		}
		if pub == nil && st.viewer != nil {
			// SRS names a stream a player made by that player's name:
			// "NAME.flv" for HTTP-FLV.
			v := st.viewer
			info.Name, info.App, info.TcURL = v.api.Name, v.app, v.api.TcURL
		}
		if pub != nil {
			info.Name, info.App, info.TcURL = pub.stream, pub.app, pub.tcURL
			if s.live[url] == pub {
				recv := pub.sc.BytesReceived()
				pub.mu.Lock()
				info.Publish = srs.Publish{Active: true, CID: pub.id}
				info.Frames = pub.videoMsgs
				info.RecvBytes = recv
				info.SendBytes = pub.sc.BytesSent()
				info.Kbps.Recv30s = pub.rate.kbps(now, recv)
				if pub.video != nil {
					v := *pub.video
					info.Video = &v
				}
				if pub.audio != nil {
					a := *pub.audio
					info.Audio = &a
				}
				pub.mu.Unlock()
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b srs.Stream) int { return strings.Compare(a.URL, b.URL) })
	return out
}

// Clients lists the clients, publishers and players, in SRS's
// /api/v1/clients/ shape, ordered by client id. A player's bytes are
// counted as they go (SRS updates its own late).
func (s *Server) Clients() []srs.Client {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]srs.Client, 0, len(s.clients))
	for _, c := range s.clients {
		c.mu.Lock()
		closed := c.takenOver
		c.mu.Unlock()
		if c.learning || closed {
			// With Takeover (MediaMTX's way) the API lists a name's
			// publisher alone: not the newer one while it learns its
			// tracks, nor the older once it was closed for it.
			continue
		}
		info := srs.Client{
			ID: c.id, Vhost: s.vhostID, IP: c.ip, TcURL: c.tcURL, URL: c.streamURL, Name: c.stream,
			// ffmpeg and OBS send releaseStream/FCPublish, which SRS calls FMLE;
			// gortmplib hides those commands, so every publisher is reported so.
			Type: "fmle-publish", Publish: true,
			Alive: float64(now.Sub(c.created).Milliseconds()) / 1000, // SRS: ms precision
		}
		if st := s.streams[c.streamURL]; st != nil {
			info.Stream = st.id
		}
		recv := c.sc.BytesReceived()
		info.RecvBytes, info.SendBytes = recv, c.sc.BytesSent()
		c.mu.Lock()
		info.Kbps.Recv30s = c.rate.kbps(now, recv)
		c.mu.Unlock()
		out = append(out, info)
	}
	for _, c := range s.viewers {
		info := *c.api
		info.ID, info.Vhost, info.IP, info.URL = c.id, s.vhostID, c.ip, c.streamURL
		info.Alive = float64(now.Sub(c.created).Milliseconds()) / 1000
		if st := s.streams[c.streamURL]; st != nil {
			info.Stream = st.id
		}
		info.SendBytes = c.sent.Load()
		if c.sc != nil {
			info.RecvBytes = c.sc.BytesReceived()
			info.SendBytes += c.sc.BytesSent()
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b srs.Client) int {
		ai, _ := strconv.ParseUint(a.ID, 10, 64)
		bi, _ := strconv.ParseUint(b.ID, 10, 64)
		return cmp.Compare(ai, bi)
	})
	return out
}
