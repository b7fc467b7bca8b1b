package server

import (
	"bytes"
	"sync"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// The relay from a publisher to its players (docs/srs-behaviour.md, "Play").
// Each message is encoded once, as it arrives, into a relayMsg whose body
// every player shares (SRS's SrsSharedPtrMessage); a player only adds its
// own chunk or tag header.

// RTMP message types the relay carries.
const (
	typeAudio = uint8(message.TypeAudio)
	typeVideo = uint8(message.TypeVideo)
	typeData  = uint8(message.TypeDataAMF0)
)

// gopMaxFrames is SRS's gop_cache_max_frames default: a GOP longer than
// this is dropped from the cache rather than kept whole.
const gopMaxFrames = 2500

// pureAudioGOP is SRS's bound for a stream without video: its GOP cache is
// cleared past this many audio messages (SrsGopCache, 115).
const pureAudioGOP = 115

// relayMsg is one message of a stream as its players get it.
type relayMsg struct {
	typ  uint8
	ts   int64 // the publisher's timestamp, ms
	body []byte
	key  bool // a video keyframe (not a sequence header)
	sh   bool // an audio or video sequence header
}

func (m *relayMsg) av() bool { return m.typ != typeData }

// encodeRelay turns a message read from a publisher back into its RTMP body,
// or nil for a message players do not get. gortmplib decodes what it reads,
// so the body is rebuilt here, once per message; the enhanced-RTMP (ex)
// messages are not relayed (gortmplib gives no way to rebuild them).
func encodeRelay(msg message.Message) *relayMsg {
	switch m := msg.(type) {
	case *message.Video:
		var data []byte
		switch {
		case m.Type == message.VideoTypeConfig && m.Codec == message.CodecH264 && m.AVCConfig != nil:
			var b bytes.Buffer
			if _, err := mp4.Marshal(&b, m.AVCConfig, mp4.Context{}); err != nil {
				return nil
			}
			data = b.Bytes()
		case m.Type == message.VideoTypeConfig && m.Codec == message.CodecH265 && m.HEVCConfig != nil:
			var b bytes.Buffer
			if _, err := mp4.Marshal(&b, m.HEVCConfig, mp4.Context{}); err != nil {
				return nil
			}
			data = b.Bytes()
		case m.Type == message.VideoTypeAU:
			data = m.AU
		}
		body := make([]byte, 5+len(data))
		body[0] = 2<<4 | m.Codec
		if m.IsKeyFrame {
			body[0] = 1<<4 | m.Codec
		}
		body[1] = uint8(m.Type)
		cts := uint32(m.PTSDelta.Milliseconds())
		body[2], body[3], body[4] = byte(cts>>16), byte(cts>>8), byte(cts)
		copy(body[5:], data)
		return &relayMsg{
			typ: typeVideo, ts: m.DTS.Milliseconds(), body: body,
			key: m.IsKeyFrame && m.Type == message.VideoTypeAU, sh: m.Type == message.VideoTypeConfig,
		}
	case *message.Audio:
		data := m.AU
		head := []byte{m.Codec<<4 | byte(m.Rate)<<2 | byte(m.Depth)<<1}
		if m.IsStereo {
			head[0] |= 1
		}
		sh := false
		if m.Codec == message.CodecMPEG4Audio {
			head = append(head, byte(m.AACType))
			if m.AACType == message.AudioAACTypeConfig {
				sh = true
				data = nil
				if m.AACConfig != nil {
					var err error
					if data, err = m.AACConfig.Marshal(); err != nil {
						return nil
					}
				}
			}
		}
		return &relayMsg{typ: typeAudio, ts: m.DTS.Milliseconds(), body: append(head, data...), sh: sh}
	case *message.DataAMF0:
		// SRS keeps and sends the metadata as onMetaData, without the
		// @setDataFrame that publishers put before it.
		p := m.Payload
		if len(p) > 0 && p[0] == "@setDataFrame" {
			p = p[1:]
		}
		if len(p) < 2 || p[0] != "onMetaData" {
			return nil
		}
		body, err := amf0.Data(p).Marshal()
		if err != nil {
			return nil
		}
		return &relayMsg{typ: typeData, body: body}
	}
	return nil
}

// relay is a source's state for its players: the metadata and sequence
// headers, the GOP cache, and the players. Its lock is the source's own,
// not the server's, so that publishers do not contend on one lock.
type relay struct {
	mu       sync.Mutex
	meta     *relayMsg
	ash, vsh *relayMsg
	gop      []*relayMsg
	gopVideo int // video messages in gop
	gopAudio int // audio messages since the last video
	players  map[*viewer]struct{}
}

// publish hands one message of the publisher to the caches and to every
// player (SrsLiveSource::on_audio/on_video/on_meta_data).
func (r *relay) publish(m *relayMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case m.typ == typeData:
		r.meta = m
	case m.sh && m.typ == typeAudio:
		r.ash = m
	case m.sh && m.typ == typeVideo:
		r.vsh = m
	default:
		r.cache(m)
	}
	for p := range r.players {
		p.enqueue(m)
	}
}

// cache is SrsGopCache::cache: the GOP restarts at each keyframe.
func (r *relay) cache(m *relayMsg) {
	if m.typ == typeVideo {
		r.gopVideo++
		r.gopAudio = 0
	} else {
		if r.gopVideo == 0 && r.gopAudio > pureAudioGOP {
			r.clearGOP()
		}
		r.gopAudio++
	}
	if m.key {
		r.clearGOP()
		r.gopVideo = 1
	}
	if len(r.gop) >= gopMaxFrames {
		r.clearGOP()
	}
	r.gop = append(r.gop, m)
}

func (r *relay) clearGOP() {
	clear(r.gop)
	r.gop = r.gop[:0]
	r.gopVideo, r.gopAudio = 0, 0
}

// unpublish forgets the publisher's caches and ends the players that end
// with it (HTTP-FLV, docs/srs-behaviour.md, "Play"); RTMP players wait for
// the next publisher.
func (r *relay) unpublish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta, r.ash, r.vsh = nil, nil, nil
	r.clearGOP()
	r.gop = nil
	for p := range r.players {
		if p.endsWithPublisher {
			p.stop(EndUnpublished)
		}
	}
}

// attach adds p and queues what a new player starts with: metadata, audio
// then video sequence header, then the GOP from its keyframe
// (SrsMetaCache::dumps, SrsGopCache::dump).
func (r *relay) attach(p *viewer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.players == nil {
		r.players = map[*viewer]struct{}{}
	}
	r.players[p] = struct{}{}
	for _, m := range []*relayMsg{r.meta, r.ash, r.vsh} {
		if m != nil {
			p.enqueue(m)
		}
	}
	for _, m := range r.gop {
		p.enqueue(m)
	}
}

func (r *relay) detach(p *viewer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.players, p)
}
