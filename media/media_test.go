package media

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
)

func TestFileNameKeysEveryParameter(t *testing.T) {
	base := Params{Clip: "testsrc-360p", BitrateBps: 500_000, Seconds: 10}
	names := map[string]Params{base.fileName(): base}
	for _, p := range []Params{
		{Clip: "testsrc-720p", BitrateBps: 500_000, Seconds: 10},
		{Clip: "testsrc-360p", BitrateBps: 800_000, Seconds: 10},
		{Clip: "testsrc-360p", BitrateBps: 500_000, Seconds: 4},
	} {
		if other, ok := names[p.fileName()]; ok {
			t.Errorf("%+v and %+v share the cache file %s", p, other, p.fileName())
		}
		names[p.fileName()] = p
	}
	if !strings.Contains(base.fileName(), "_r"+strconv.Itoa(recipe)) {
		t.Errorf("file name %s does not name the recipe", base.fileName())
	}
}

func TestEnsureRejectsBadParams(t *testing.T) {
	for _, p := range []Params{
		{Clip: "testsrc-4k"},
		{BitrateBps: 80_000},
		{Seconds: -1},
	} {
		if _, err := Ensure(t.Context(), "", t.TempDir(), p, nil); err == nil {
			t.Errorf("Ensure(%+v) succeeded", p)
		}
	}
}

func TestEnsureWithoutFFmpegSaysWhatToDo(t *testing.T) {
	_, err := Ensure(t.Context(), filepath.Join(t.TempDir(), "no-ffmpeg"), t.TempDir(), Params{}, nil)
	if err == nil || !strings.Contains(err.Error(), "pass FFmpeg with") {
		t.Errorf("error = %v, want one that names the option FFmpeg", err)
	}
}

func TestEnsureReportsFFmpegFailure(t *testing.T) {
	dir := t.TempDir()
	fake := testkit.FakeFFmpeg(t, "echo \"Unknown encoder 'libx264'\" >&2\nexit 1\n")
	cache := filepath.Join(dir, "cache")
	_, err := Ensure(t.Context(), fake, cache, Params{}, nil)
	if err == nil || !strings.Contains(err.Error(), "Unknown encoder 'libx264'") || !strings.Contains(err.Error(), "needs libx264") {
		t.Errorf("error = %v, want ffmpeg's own line and what to do", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("cache holds %d entries after a failed encoding, want none", len(entries))
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if got, err := DefaultCacheDir(); err != nil || got != "/tmp/xdg/rtmpload/clips" {
		t.Errorf("DefaultCacheDir() = %q, %v", got, err)
	}
}

type probe struct {
	Streams []struct {
		CodecName  string `json:"codec_name"`
		CodecType  string `json:"codec_type"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		PixFmt     string `json:"pix_fmt"`
		FrameRate  string `json:"r_frame_rate"`
		SampleRate string `json:"sample_rate"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

func TestEnsureEncodesOnceAndCaches(t *testing.T) {
	ff := testkit.FFmpeg(t)
	dir := t.TempDir()
	// 3 s: long enough for a second keyframe at 2 s.
	p := Params{Clip: "testsrc-360p", BitrateBps: 500_000, Seconds: 3}

	// Two concurrent callers stand in for two processes racing to fill the cache.
	var wg sync.WaitGroup
	paths, errs := make([]string, 2), make([]error, 2)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = Ensure(t.Context(), ff, dir, p, nil) })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatalf("Ensure: %v", errs[i])
		}
	}
	path := paths[0]
	if paths[1] != path || filepath.Dir(path) != dir {
		t.Errorf("paths %q, want one file in %s", paths, dir)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("cache holds %d entries, want only the clip (no temporary files left)", len(entries))
	}

	if err := CheckClip(path); err != nil {
		t.Errorf("ffmpeg's own clip fails CheckClip: %v", err)
	}
	if ffprobe, err := exec.LookPath("ffprobe"); err == nil {
		checkClip(t, ffprobe, path, p)
	} else {
		t.Log("ffprobe not installed: clip contents not checked")
	}

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A missing ffmpeg proves that a cache hit runs nothing.
	start := time.Now()
	again, err := Ensure(t.Context(), filepath.Join(dir, "no-ffmpeg"), dir, p, nil)
	if err != nil || again != path {
		t.Fatalf("second Ensure = %q, %v; want the cached %q", again, err, path)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("cache hit took %v", took)
	}
	if after, err := os.Stat(path); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("clip changed on a cache hit: %v", err)
	}

	// Other parameters are another clip: no hit, so it needs the (missing) ffmpeg.
	other := p
	other.BitrateBps = 800_000
	if got, err := Ensure(t.Context(), filepath.Join(dir, "no-ffmpeg"), dir, other, nil); err == nil {
		t.Errorf("Ensure(%+v) = %q, want a new encoding, not %q", other, got, path)
	}
}

func checkClip(t *testing.T, ffprobe, path string, p Params) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), ffprobe, "-v", "error", "-show_entries",
		"format=format_name,duration,bit_rate:stream=codec_name,codec_type,width,height,pix_fmt,r_frame_rate,sample_rate",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var pr probe
	if err := json.Unmarshal(out, &pr); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if pr.Format.FormatName != "flv" || len(pr.Streams) != 2 {
		t.Fatalf("probe = %+v, want flv with two streams", pr)
	}
	v, a := pr.Streams[0], pr.Streams[1]
	if v.CodecType != "video" {
		v, a = a, v
	}
	if v.CodecName != "h264" || v.Width != 640 || v.Height != 360 || v.PixFmt != "yuv420p" || v.FrameRate != "25/1" {
		t.Errorf("video stream = %+v, want h264 640x360 yuv420p 25/1", v)
	}
	if a.CodecName != "aac" || a.SampleRate != "44100" {
		t.Errorf("audio stream = %+v, want aac 44100", a)
	}
	if d, _ := strconv.ParseFloat(pr.Format.Duration, 64); d < float64(p.Seconds)-0.2 || d > float64(p.Seconds)+0.3 {
		t.Errorf("duration %s, want about %d s", pr.Format.Duration, p.Seconds)
	}
	if br, _ := strconv.Atoi(pr.Format.BitRate); br < p.BitrateBps/2 || br > p.BitrateBps*3/2 {
		t.Errorf("bit rate %s, want about %d", pr.Format.BitRate, p.BitrateBps)
	}

	out, err = exec.CommandContext(t.Context(), ffprobe, "-v", "error", "-select_streams", "v:0",
		"-skip_frame", "nokey", "-show_entries", "frame=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe keyframes: %v", err)
	}
	var keys []float64
	for f := range strings.FieldsFuncSeq(string(out), func(r rune) bool { return r == '\n' || r == ',' }) {
		k, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatalf("keyframe time %q: %v", f, err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 2 || keys[1]-keys[0] < 1.99 || keys[1]-keys[0] > 2.01 {
		t.Errorf("keyframes at %v s, want two, 2 s apart", keys)
	}
}

func TestEnsureCanceled(t *testing.T) {
	ff := testkit.FFmpeg(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	// An hour of 720p cannot finish before the deadline.
	_, err := Ensure(ctx, ff, dir, Params{Clip: "testsrc-720p", Seconds: 3600}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the deadline", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("cache holds %d entries after a canceled encoding, want none", len(entries))
	}
}

// Every clip a scenario may name has a recipe here.
func TestEveryClipHasASize(t *testing.T) {
	for _, c := range schema.Clips {
		if clipSizes[c] == "" {
			t.Errorf("clip %q has no size", c)
		}
	}
}
