package player

import (
	"context"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/rtmpload/rtmpload/internal/testkit"
)

type flvTagT struct {
	typ  uint8
	ts   uint32
	body []byte
}

// readFLV reads a whole FLV file's tags.
func readFLV(t *testing.T, path string) []flvTagT {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tags []flvTagT
	for p := int(be32(b[5:9])) + 4; p+11 <= len(b); {
		size := int(be24(b[p+1:]))
		if p+11+size > len(b) {
			break
		}
		tags = append(tags, flvTagT{typ: b[p] & 0x1f, ts: uint32(b[p+7])<<24 | be24(b[p+4:]), body: b[p+11 : p+11+size]})
		p += 11 + size + 4
	}
	return tags
}

// publishClip publishes the clip's tags in real time, looping, until ctx
// ends, and records each video frame's send time in st: a stand-in for the
// native publisher, which fills a SendTimes the same way.
func publishClip(ctx context.Context, t *testing.T, rawURL string, tags []flvTagT, st *SendTimes) {
	u, _ := url.Parse(rawURL)
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		t.Errorf("publish: %v", err)
		return
	}
	defer c.Close()
	bc := bytecounter.NewWriter(c.NetConn())
	w := rawmessage.NewWriter(bc, bc, false)
	w.SetChunkSize(65536)
	var loop uint32
	for _, tg := range tags {
		loop = max(loop, tg.ts+40)
	}
	start := time.Now()
	for pass := uint32(0); ctx.Err() == nil; pass++ {
		for _, tg := range tags {
			if tg.typ != typAudio && tg.typ != typVideo && tg.typ != typData {
				continue
			}
			seq := isSequenceHeader(tg.typ, tg.body) || tg.typ == typData
			if pass > 0 && seq {
				continue
			}
			ts := tg.ts + pass*loop
			if seq {
				ts = 0
			}
			if d := time.Until(start.Add(time.Duration(ts) * time.Millisecond)); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			cs := byte(4)
			if tg.typ == typVideo {
				cs = 6
			}
			// On record as the write begins: a viewer may read the frame
			// before the write returns.
			if tg.typ == typVideo && !seq {
				st.Sent(ts, isKeyframe(tg.body), time.Now())
			}
			if err := w.Write(&rawmessage.Message{ChunkStreamID: cs, Type: tg.typ, Timestamp: time.Duration(ts) * time.Millisecond,
				MessageStreamID: 1, Body: tg.body}); err != nil {
				if ctx.Err() == nil {
					t.Errorf("publish: %v", err)
				}
				return
			}
		}
	}
}

// TestLatencySRS measures the latency from publisher to viewer through
// SRS 7.0.18, over RTMP and HTTP-FLV, with the Pairer: the figures the
// report's publisher_to_viewer rows give for native publishers.
func TestLatencySRS(t *testing.T) {
	bin := testkit.SRS(t)
	ff := testkit.FFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tags := readFLV(t, clip(t, ctx, ff))
	rtmp, flv, _ := startSRS(t, bin)
	testkit.WaitFor(t, 10*time.Second, "SRS", func() bool {
		return Play(ctx, Options{URL: "rtmp://" + rtmp + "/live/x", SetupTimeout: time.Second, Silence: 100 * time.Millisecond}).Ending == EndSilent
	})
	var st SendTimes
	pctx, stop := context.WithCancel(ctx)
	var pub sync.WaitGroup
	pub.Go(func() { publishClip(pctx, t, "rtmp://"+rtmp+"/live/lat", tags, &st) })
	defer func() { stop(); pub.Wait() }()
	time.Sleep(3 * time.Second) // a GOP cache to burst

	type got struct {
		lat []time.Duration
		p   *Pairer
		r   Result
	}
	res := map[string]*got{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for name, u := range map[string]string{"rtmp": "rtmp://" + rtmp + "/live/lat", "http-flv": "http://" + flv + "/live/lat.flv"} {
		g := &got{}
		g.p = &Pairer{Times: &st, Record: func(d time.Duration) { mu.Lock(); g.lat = append(g.lat, d); mu.Unlock() }}
		res[name] = g
		wg.Go(func() { g.r = Play(ctx, Options{URL: u, Hold: 6 * time.Second, Arrivals: g.p}) })
	}
	wg.Wait()
	for name, g := range res {
		slices.Sort(g.lat)
		if g.r.Ending != EndHeld || len(g.lat) < 100 || g.p.Unpaired > 0 {
			t.Errorf("%s: %s (%s), %d latencies, %d unpaired; want 6 s of paired frames", name, g.r.Ending, g.r.Err, len(g.lat), g.p.Unpaired)
			continue
		}
		q := func(f float64) time.Duration { return g.lat[int(f*float64(len(g.lat)-1))] }
		t.Logf("%s: %d frames after the burst: latency p50 %v p99 %v max %v (min %v)", name, len(g.lat), q(0.5), q(0.99), g.lat[len(g.lat)-1], g.lat[0])
		// On loopback the figure is SRS's own queueing: its merged write
		// (350 ms) and nothing like a GOP (2 s).
		if q(0.5) <= 0 || q(0.99) > time.Second {
			t.Errorf("%s: p50 %v p99 %v: not a latency of a live play on loopback", name, q(0.5), q(0.99))
		}
	}
}
