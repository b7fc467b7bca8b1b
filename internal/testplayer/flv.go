package testplayer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// FLV tag types (the RTMP message types they carry).
const (
	TagAudio  = 8
	TagVideo  = 9
	TagScript = 18
)

// maxTagSize bounds one FLV tag: the format allows 16 MB; a larger size
// field means the stream is not FLV.
const maxTagSize = 16 << 20

// Tag is one FLV tag.
type Tag struct {
	Type      uint8
	Timestamp uint32 // ms
	Body      []byte // valid until the next Next
}

// Keyframe tells whether t is a video keyframe that is not a sequence
// header (AVC/HEVC packet type 1, or any legacy codec's keyframe).
func (t *Tag) Keyframe() bool {
	return t.Type == TagVideo && len(t.Body) >= 2 && t.Body[0]>>4 == 1 && t.Body[1] == 1
}

// FLVReader reads an FLV stream: its header, then tags.
type FLVReader struct {
	r      *bufio.Reader
	header bool
	buf    []byte
}

// NewFLVReader reads FLV from r.
func NewFLVReader(r io.Reader) *FLVReader { return &FLVReader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next tag; io.EOF at a clean end between tags.
func (f *FLVReader) Next() (Tag, error) {
	if !f.header {
		var h [13]byte
		if _, err := io.ReadFull(f.r, h[:]); err != nil {
			return Tag{}, fmt.Errorf("flv header: %w", err)
		}
		if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
			return Tag{}, errors.New("flv: the stream does not start with an FLV header")
		}
		f.header = true
	}
	var h [11]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Tag{}, err
		}
		return Tag{}, err // io.EOF: ended between tags
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if size > maxTagSize {
		return Tag{}, fmt.Errorf("flv: tag of %d bytes: not an FLV stream", size)
	}
	if cap(f.buf) < size+4 {
		f.buf = make([]byte, size+4)
	}
	b := f.buf[:size+4]
	if _, err := io.ReadFull(f.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Tag{}, err
	}
	ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	return Tag{Type: h[0] & 0x1f, Timestamp: ts, Body: b[:size]}, nil
}

// FLV is a playing HTTP-FLV response. Create it with DialFLV.
type FLV struct {
	Resp *http.Response
	*FLVReader
	// Head is the time from the request to the response head.
	Head time.Duration
}

// DialFLV GETs rawURL (http://host:port/app/stream.flv) and returns once
// the response head came. A server that closes the connection without an
// answer (how SRS refuses, docs/srs-behaviour.md, "Play") gives
// ErrClosedWithoutStatus; another status than 200 an error naming it.
func DialFLV(ctx context.Context, client *http.Client, rawURL string) (*FLV, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("player: %w", err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, io.EOF) && ctx.Err() == nil {
			return nil, ErrClosedWithoutStatus
		}
		return nil, fmt.Errorf("player: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("player: %s: HTTP %s", rawURL, resp.Status)
	}
	return &FLV{Resp: resp, FLVReader: NewFLVReader(resp.Body), Head: time.Since(start)}, nil
}

// Close ends the play.
func (f *FLV) Close() error { return f.Resp.Body.Close() }
