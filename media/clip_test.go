package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

// tinyFLV builds an FLV file of the given tags (type, first data byte).
func tinyFLV(tags ...[2]byte) []byte {
	b := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	for _, tg := range tags {
		data := []byte{tg[1], 0, 0, 0}
		b = append(b, tg[0], 0, 0, byte(len(data)), 0, 0, 0, 0, 0, 0, 0)
		b = append(b, data...)
		b = binary.BigEndian.AppendUint32(b, uint32(11+len(data)))
	}
	return b
}

var (
	keyframe = [2]byte{9, 0x17} // video, keyframe, AVC
	audioTag = [2]byte{8, 0xaf} // AAC
)

func TestCheckFLV(t *testing.T) {
	good := tinyFLV(keyframe, audioTag, [2]byte{9, 0x27})
	if err := checkFLV(good); err != nil {
		t.Fatalf("a whole FLV: %v", err)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"not flv":     []byte("Invalid data found when processing input\n"),
		"cut short":   good[:len(good)-3],
		"no keyframe": tinyFLV([2]byte{9, 0x27}, audioTag),
		"no audio":    tinyFLV(keyframe),
		"bad length":  append(tinyFLV(keyframe, audioTag)[:len(tinyFLV(keyframe, audioTag))-1], 99),
	} {
		if err := checkFLV(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := CheckClip(filepath.Join(t.TempDir(), "none.flv")); err == nil {
		t.Error("a missing file accepted")
	}
}

// An ffmpeg that exits 0 and writes nothing (--ffmpeg /bin/true) must not
// leave a clip in the cache for every later run to trust.
func TestEnsureRefusesAnEmptyEncoding(t *testing.T) {
	cache := t.TempDir()
	_, err := Ensure(t.Context(), "/bin/true", cache, Params{}, nil)
	if err == nil || !strings.Contains(err.Error(), "unusable") || !strings.Contains(err.Error(), "pass FFmpeg with") {
		t.Errorf("error = %v, want one that says the output is unusable and names the option FFmpeg", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("cache holds %v after an empty encoding", entries)
	}
}

// A bad clip already in the cache is encoded again, with a log line.
func TestEnsureReencodesABadCachedClip(t *testing.T) {
	cache := t.TempDir()
	p := Params{}.withDefaults()
	path := filepath.Join(cache, p.fileName())
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "good.flv")
	if err := os.WriteFile(src, tinyFLV(keyframe, audioTag), 0o644); err != nil {
		t.Fatal(err)
	}
	// The output is the last argument.
	ff := testkit.FakeFFmpeg(t, `for a; do out=$a; done; cp '`+src+`' "$out"`+"\n")
	var log bytes.Buffer
	got, err := Ensure(t.Context(), ff, cache, Params{}, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil || got != path {
		t.Fatalf("Ensure = %q, %v", got, err)
	}
	if err := CheckClip(path); err != nil {
		t.Errorf("the cache still holds a bad clip: %v", err)
	}
	if !strings.Contains(log.String(), "cached clip is unusable") || !strings.Contains(log.String(), "empty") {
		t.Errorf("no log line names the bad clip: %q", log.String())
	}
}

// An ffmpeg that hangs while encoding is stopped after the timeout, with a
// message that says what to do; it is not reported as an interrupt.
func TestEnsureStopsAHungEncoding(t *testing.T) {
	ff := testkit.FakeFFmpeg(t, "exec sleep 60\n")
	cache := t.TempDir()
	_, err := ensure(t.Context(), ff, cache, Params{}, nil, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "hangs") || !strings.Contains(err.Error(), "pass FFmpeg with") {
		t.Errorf("error = %v, want one that says it hangs and names the option FFmpeg", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a timeout reads as an interrupt: %v", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("cache holds %v after a hung encoding", entries)
	}
}
