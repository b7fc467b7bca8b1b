// Package native is a publisher written in Go that does on the wire what
// `ffmpeg -re -stream_loop -1 -i CLIP -c copy -f flv URL` does: handshake,
// connect, releaseStream/FCPublish, createStream, publish, then the clip's
// FLV tags in real time, looped with timestamps that keep rising. It costs a
// fraction of an ffmpeg per publisher: the clip is read once and encoded
// into RTMP chunks once, and every connection sends slices of those shared
// bytes, many messages a write, from a few writer goroutines on a shared
// tick (docs/design.md, "The native engine").
package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/chunk"
)

// Chunk stream ids as ffmpeg's RTMP client uses them (libavformat's
// rtmppkt.h): audio and metadata on 4, video on 6, commands on 3, the
// publish command on 8, control messages on 2.
const (
	csControl = 2
	csCommand = 3
	csAudio   = 4
	csVideo   = 6
	csPublish = 8
)

// RTMP message types.
const (
	typeSetChunkSize = 1
	typeAck          = 3
	typeUserControl  = 4
	typeAudio        = 8
	typeVideo        = 9
	typeData         = 18
	typeCommand      = 20
)

// streamID is the message stream id createStream answers with on SRS, nginx
// and the embedded server; the publish command and the media carry the id
// the server actually answered, but every known server answers 1, so media
// encoded for 1 is shared, and another id gets its own encoding.
const streamID = 1

// tag is one FLV tag: an RTMP message to send.
type tag struct {
	typ  byte
	ts   uint32 // milliseconds from the clip's start
	body []byte
}

// Clip is a cached clip read once: the metadata and sequence headers sent
// once at the start of a publish, and the media tags that loop. It is
// shared by every connection of a run and safe for concurrent use.
type Clip struct {
	head  []tag         // @setDataFrame metadata, then the sequence headers, in file order
	media []tag         // everything else, in file order
	loop  time.Duration // how far each pass moves the timestamps on
	size  int           // bytes of the file

	mu  sync.Mutex
	enc map[encKey]*encoding
}

// encKey selects an encoding: the chunk size the server asked for (a
// publisher's chunks follow it, as ffmpeg's do) and the stream id.
type encKey struct {
	chunkSize uint32
	streamID  uint32
}

// LoadClip reads an FLV clip (media.Ensure's output).
func LoadClip(path string) (*Clip, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("native publisher: %w", err)
	}
	c, err := parseFLV(b)
	if err != nil {
		return nil, fmt.Errorf("native publisher: clip %s: %w", path, err)
	}
	return c, nil
}

// Loop is how far each pass of the clip moves the timestamps on.
func (c *Clip) Loop() time.Duration { return c.loop }

func parseFLV(b []byte) (*Clip, error) {
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, errors.New("not an FLV file")
	}
	off := int(binary.BigEndian.Uint32(b[5:9])) + 4
	c := &Clip{size: len(b), enc: map[encKey]*encoding{}}
	last := map[byte][2]uint32{} // per tag type: last ts, last delta
	first := map[byte]uint32{}
	for off+11 <= len(b) {
		typ := b[off] & 0x1f
		size := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		ts := uint32(b[off+4])<<16 | uint32(b[off+5])<<8 | uint32(b[off+6]) | uint32(b[off+7])<<24
		data := off + 11
		if data+size+4 > len(b) {
			return nil, fmt.Errorf("tag at byte %d is cut short", off)
		}
		body := b[data : data+size]
		off = data + size + 4
		switch {
		case typ == typeData:
			md, err := metadata(body)
			if err != nil {
				return nil, err
			}
			c.head = append(c.head, tag{typ: typ, ts: ts, body: md})
		case typ != typeAudio && typ != typeVideo || size < 2:
			continue
		case isSequenceHeader(typ, body):
			c.head = append(c.head, tag{typ: typ, ts: ts, body: body})
		default:
			if _, ok := first[typ]; !ok {
				first[typ] = ts
			}
			l := last[typ]
			if len(c.media) > 0 && ts >= l[0] {
				l[1] = ts - l[0]
			}
			last[typ] = [2]uint32{ts, l[1]}
			c.media = append(c.media, tag{typ: typ, ts: ts, body: body})
		}
	}
	if len(c.media) == 0 {
		return nil, errors.New("no audio or video tags")
	}
	// ffmpeg's -stream_loop moves each pass on by the input's duration:
	// the longest stream, its last frame's duration included.
	var loop uint32
	for typ, l := range last {
		loop = max(loop, l[0]+l[1]-first[typ])
	}
	if loop == 0 {
		return nil, errors.New("the clip has no duration")
	}
	c.loop = time.Duration(loop) * time.Millisecond
	return c, nil
}

// isSequenceHeader: an AVC or HEVC decoder configuration, or an AAC
// AudioSpecificConfig; ffmpeg sends these once, before the first pass, and
// not again when the input loops.
func isSequenceHeader(typ byte, body []byte) bool {
	if typ == typeVideo {
		return (body[0]&0x0f == 7 || body[0]&0x0f == 12) && body[1] == 0
	}
	return body[0]>>4 == 10 && body[1] == 0
}

// metadata turns the file's onMetaData into what ffmpeg's flv muxer sends
// to a live output: "@setDataFrame" first, duration and filesize 0 (the
// output is not seekable, so ffmpeg never learns them).
func metadata(body []byte) ([]byte, error) {
	d, err := amf0.Unmarshal(body)
	if err != nil || len(d) < 2 {
		return nil, fmt.Errorf("unreadable metadata tag: %v", err)
	}
	if arr, ok := d[1].(amf0.ECMAArray); ok {
		arr = append(amf0.ECMAArray(nil), arr...)
		for i, e := range arr {
			if e.Key == "duration" || e.Key == "filesize" {
				arr[i].Value = float64(0)
			}
		}
		d[1] = arr
	}
	return append(amf0.Data{"@setDataFrame"}, d...).Marshal()
}

// encoding is the clip as chunk bytes for one chunk size and stream id.
// Timestamps ride in type-1 chunk headers as deltas from the previous
// message of the same chunk stream, so the bytes of every pass after the
// first are the same for every pass and every connection: the first pass
// differs only in the first message of each chunk stream (its delta counts
// from the sequence headers, not from the previous pass). Nothing is
// patched per connection.
type encoding struct {
	head  []byte
	first pass
	next  pass
}

// pass is one pass of the clip's media: msgs[i] ends at byte ends[i] of
// bytes and is due at ms milliseconds after the pass starts.
type pass struct {
	bytes []byte
	ends  []int
	due   []uint32
	// frame is each message's kind for the send-time record (Hooks.Sent):
	// frameAudio, frameVideo or frameKey (a video keyframe).
	frame []uint8
}

// Message kinds of a pass (pass.frame).
const (
	frameAudio uint8 = iota
	frameVideo
	frameKey
)

func (c *Clip) encoding(chunkSize, sid uint32) (*encoding, error) {
	k := encKey{chunkSize, sid}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.enc[k]; e != nil {
		return e, nil
	}
	e, err := c.encode(chunkSize, sid)
	if err != nil {
		return nil, err
	}
	c.enc[k] = e
	return e, nil
}

func csOf(typ byte) byte {
	if typ == typeVideo {
		return csVideo
	}
	return csAudio
}

func (c *Clip) encode(chunkSize, sid uint32) (*encoding, error) {
	e := &encoding{}
	prev := map[byte]uint32{} // chunk stream -> last timestamp
	for _, t := range c.head {
		// Like ffmpeg, a full header for every message at timestamp 0.
		cs := csOf(t.typ)
		b, err := marshalMessage(cs, full(cs, t.ts, t.typ, sid, len(t.body)), t.body, chunkSize)
		if err != nil {
			return nil, err
		}
		e.head = append(e.head, b...)
		prev[cs] = t.ts
	}
	loop := uint32(c.loop / time.Millisecond)
	var err error
	if e.first, err = c.encodePass(chunkSize, sid, prev); err != nil {
		return nil, err
	}
	// The next pass follows the first: each chunk stream's last timestamp,
	// one loop earlier.
	for cs, ts := range prev {
		prev[cs] = ts - loop
	}
	if e.next, err = c.encodePass(chunkSize, sid, prev); err != nil {
		return nil, err
	}
	return e, nil
}

// encodePass encodes one pass; prev holds each chunk stream's last
// timestamp before it (relative to this pass's start, wrapping below 0) and
// is updated to the pass's own.
func (c *Clip) encodePass(chunkSize, sid uint32, prev map[byte]uint32) (pass, error) {
	var p pass
	for _, t := range c.media {
		cs := csOf(t.typ)
		ts := t.ts
		var b []byte
		var err error
		if last, ok := prev[cs]; ok {
			d := ts - last // unsigned: wraps correctly across a pass
			if d >= 0xffffff {
				return pass{}, fmt.Errorf("timestamp jump of %d ms in the clip", d)
			}
			b, err = marshalMessage(cs, delta(cs, d, t.typ, len(t.body)), t.body, chunkSize)
		} else {
			b, err = marshalMessage(cs, full(cs, ts, t.typ, sid, len(t.body)), t.body, chunkSize)
		}
		if err != nil {
			return pass{}, err
		}
		prev[cs] = ts
		p.bytes = append(p.bytes, b...)
		p.ends = append(p.ends, len(p.bytes))
		p.due = append(p.due, ts)
		kind := frameAudio
		if t.typ == typeVideo {
			kind = frameVideo
			if len(t.body) > 0 && (t.body[0]>>4)&0x7 == 1 {
				kind = frameKey
			}
		}
		p.frame = append(p.frame, kind)
	}
	return p, nil
}

// leStreamID: the message stream id is little-endian on the wire, and
// gortmplib's chunk types write it big-endian, so the id is given to them
// byte-swapped (as gortmplib's own client does with 0x1000000).
func leStreamID(id uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], id)
	return binary.BigEndian.Uint32(b[:])
}

// marshalMessage writes one message on chunk stream cs: its first chunk
// with the header first gives (a type-0 or type-1 chunk around the body
// piece it is handed), the rest as type-3 chunks of at most chunkSize bytes.
func marshalMessage(cs byte, first func(piece []byte) ([]byte, error), body []byte, chunkSize uint32) ([]byte, error) {
	n := min(uint32(len(body)), chunkSize)
	out, err := first(body[:n])
	if err != nil {
		return nil, err
	}
	for pos := n; pos < uint32(len(body)); {
		m := min(uint32(len(body))-pos, chunkSize)
		b, err := chunk.Chunk3{ChunkStreamID: cs, Body: body[pos : pos+m]}.Marshal(false)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		pos += m
	}
	return out, nil
}

// full is a type-0 first chunk: every field of the header.
func full(cs byte, ts uint32, typ byte, sid uint32, bodyLen int) func([]byte) ([]byte, error) {
	return func(piece []byte) ([]byte, error) {
		return chunk.Chunk0{ChunkStreamID: cs, Timestamp: ts, Type: typ, MessageStreamID: leStreamID(sid),
			BodyLen: uint32(bodyLen), Body: piece}.Marshal(false)
	}
}

// delta is a type-1 first chunk: the stream id of the chunk stream's
// previous message, the timestamp as a delta from it.
func delta(cs byte, d uint32, typ byte, bodyLen int) func([]byte) ([]byte, error) {
	return func(piece []byte) ([]byte, error) {
		return chunk.Chunk1{ChunkStreamID: cs, TimestampDelta: d, Type: typ, BodyLen: uint32(bodyLen), Body: piece}.Marshal(false)
	}
}
