package managed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/rtmpload/rtmpload/internal/testkit"

	"github.com/rtmpload/rtmpload/server"
)

// TestPublishTimeoutsOnSRS: SRS's publish timeouts are looks at fixed
// points (firstpkt_timeout after the publish, then every normal_timeout),
// not a deadline after each message (docs/srs-behaviour.md, "Publish
// timeouts"). On SRS 7.0.18 and on the embedded server, with the timeouts
// shortened alike (4 s and 2 s instead of 20 s and 5 s, so that the test
// takes 8 s, not half a minute): a publisher that sends one message and
// then nothing for 2.6 s (more than normal_timeout) before going on lives;
// one that sends one message and then nothing is dropped at the second
// look, 6 s after its publish, not 2 s after its message.
func TestPublishTimeoutsOnSRS(t *testing.T) {
	bin := testkit.SRS(t)
	t.Parallel()
	const (
		first  = 4 * time.Second
		normal = 2 * time.Second
	)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "0") }))
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	real, emb := startBoth(ctx, t, bin, svc.URL, server.Config{FirstPacketTimeout: first, NormalTimeout: normal})

	var wg sync.WaitGroup
	for _, s := range []struct{ name, addr string }{{"SRS", real.RTMPAddr()}, {"embedded", emb.RTMPAddr()}} {
		wg.Go(func() {
			gap, err := publishMeta(ctx, s.addr, "gap")
			if err != nil {
				t.Errorf("%s: %v", s.name, err)
				return
			}
			defer gap.Close()
			silent, err := publishMeta(ctx, s.addr, "silent")
			if err != nil {
				t.Errorf("%s: %v", s.name, err)
				return
			}
			defer silent.Close()
			published := time.Now()
			dropped := make(chan time.Duration, 1)
			go func() {
				_, _ = io.Copy(io.Discard, silent.NetConn()) // until the server closes it
				dropped <- time.Since(published)
			}()
			time.Sleep(normal + 600*time.Millisecond)
			for time.Since(published) < first+normal+2*time.Second {
				if err := sendMeta(gap); err != nil {
					t.Errorf("%s: the publisher that waited %s was dropped after %s: %v", s.name, normal+600*time.Millisecond, time.Since(published), err)
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
			select {
			case d := <-dropped:
				if d < first+normal-400*time.Millisecond {
					t.Errorf("%s: the silent publisher was dropped %s after its publish, before the second look (%s)", s.name, d, first+normal)
				}
			default:
				t.Errorf("%s: the silent publisher still publishes %s after its publish; want it dropped at %s", s.name, first+normal+2*time.Second, first+normal)
			}
			// The other one is still open: a read waits, it does not end.
			_ = gap.NetConn().SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := gap.NetConn().Read(make([]byte, 4096)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%s: the publisher that waited is closed: %v", s.name, err)
			}
		})
	}
	wg.Wait()
	log, err := os.ReadFile(real.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "publish timeout 2000ms, nb_msgs=1") {
		t.Errorf("SRS's log lacks its publish timeout for the silent publisher (nb_msgs=1)")
	}
}

// publishMeta publishes stream on the server at addr and sends one
// metadata message. It may run on its own goroutine.
func publishMeta(ctx context.Context, addr, stream string) (*gortmplib.Client, error) {
	u, err := url.Parse("rtmp://" + addr + "/live#" + stream) // gortmplib takes the key from the fragment
	if err != nil {
		return nil, err
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		return nil, fmt.Errorf("publish %s on %s: %w", stream, addr, err)
	}
	if err := sendMeta(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("metadata of %s on %s: %w", stream, addr, err)
	}
	return c, nil
}

func sendMeta(c *gortmplib.Client) error {
	return c.Write(&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000, Payload: []any{
		"@setDataFrame", "onMetaData", amf0.Object{{Key: "width", Value: float64(1280)}},
	}})
}
