// Package synth publishes a synthetic H.264 + AAC stream over RTMP with
// gortmplib's client, for tests that need a publisher without ffmpeg: 25
// video frames a second, each followed by an audio frame, the metadata and
// sequence headers first.
package synth

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// FrameInterval is the video frame spacing (25 fps).
const FrameInterval = 40 * time.Millisecond

// sps is a valid 1920x1080 baseline SPS: servers parse it for their API.
var sps = []byte{
	0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02,
	0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
	0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
}

// msid is message stream 1 as gortmplib's chunk encoder writes it.
const msid = 0x1000000

// Publisher is one publishing connection.
type Publisher struct {
	C *gortmplib.Client
	// Pad makes each video frame this many bytes longer (zeros before its
	// number), for tests that need volume.
	Pad   int
	mu    sync.Mutex
	frame int // the next video frame's number
}

// Dial publishes to rtmp://host:port/app/stream (up to Publish.Start).
func Dial(ctx context.Context, rawURL string) (*Publisher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	app, stream, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok {
		return nil, fmt.Errorf("synth: %q names no app/stream", rawURL)
	}
	if u.RawQuery != "" {
		stream += "?" + u.RawQuery
	}
	// gortmplib takes the stream key from the fragment.
	cu := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + app, Fragment: stream}
	c := &gortmplib.Client{URL: cu, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		return nil, err
	}
	return &Publisher{C: c}, nil
}

// Headers sends the metadata (behind @setDataFrame, as ffmpeg does) and the
// video and audio sequence headers.
func (p *Publisher) Headers() error {
	for _, m := range []message.Message{
		&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: msid, Payload: []any{"@setDataFrame", "onMetaData",
			amf0.ECMAArray{{Key: "width", Value: float64(1920)}, {Key: "height", Value: float64(1080)}}}},
		&message.Video{ChunkStreamID: 6, MessageStreamID: msid, Codec: message.CodecH264, IsKeyFrame: true, Type: message.VideoTypeConfig,
			AVCConfig: &mp4.AVCDecoderConfiguration{
				AnyTypeBox: mp4.AnyTypeBox{Type: mp4.BoxTypeAvcC()}, ConfigurationVersion: 1, Profile: 66,
				ProfileCompatibility: 0xc0, Level: 40, Reserved: 0b111111, LengthSizeMinusOne: 3, Reserved2: 0b111,
				NumOfSequenceParameterSets: 1, SequenceParameterSets: []mp4.AVCParameterSet{{Length: uint16(len(sps)), NALUnit: sps}},
				NumOfPictureParameterSets: 1, PictureParameterSets: []mp4.AVCParameterSet{{Length: 4, NALUnit: []byte{0x68, 0xce, 0x38, 0x80}}},
			}},
		&message.Audio{ChunkStreamID: 4, MessageStreamID: msid, Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100,
			Depth: message.AudioDepth16, IsStereo: true, AACType: message.AudioAACTypeConfig,
			AACConfig: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2}},
	} {
		if err := p.C.Write(m); err != nil {
			return err
		}
	}
	return nil
}

// GOP sends a keyframe and n-1 more frames at once, timestamps continuing
// from the last frame. Each frame's AU ends with its number's low byte.
func (p *Publisher) GOP(n int) error {
	for i := range n {
		if err := p.Frame(i == 0); err != nil {
			return err
		}
	}
	return nil
}

// Frame sends the next video frame and an audio frame 5 ms after it.
func (p *Publisher) Frame(key bool) error {
	p.mu.Lock()
	n := p.frame
	p.frame++
	p.mu.Unlock()
	dts := time.Duration(n) * FrameInterval
	au := make([]byte, 6+p.Pad)
	binary.BigEndian.PutUint32(au, uint32(2+p.Pad)) // one NAL unit: an AUD, padded
	au[4] = 0x09
	au[len(au)-1] = byte(n + 1)
	err := p.C.Write(&message.Video{ChunkStreamID: 6, MessageStreamID: msid, Codec: message.CodecH264, IsKeyFrame: key,
		Type: message.VideoTypeAU, DTS: dts, AU: au})
	if err != nil {
		return err
	}
	return p.C.Write(&message.Audio{ChunkStreamID: 4, MessageStreamID: msid, Codec: message.CodecMPEG4Audio,
		Rate: message.AudioRate44100, Depth: message.AudioDepth16, IsStereo: true, AACType: message.AudioAACTypeAU,
		DTS: dts + 5*time.Millisecond, AU: []byte{0x21, 0x10, 0x04}})
}

// Live sends frames in real time, a keyframe every gop frames, until stop
// is called or ctx ends (or after max frames). stop waits for the sender.
func (p *Publisher) Live(ctx context.Context, gop, max int) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		for i := range max {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * FrameInterval))):
			}
			if p.Frame(i%gop == 0) != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// Close ends the publish.
func (p *Publisher) Close() { p.C.Close() }
