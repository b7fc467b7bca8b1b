package player

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// BenchmarkMediaMessage is a viewer's cost per media message read (a 360p
// clip's: 1.5 kB video, 200 B audio), chunk parsing and accounting.
func BenchmarkMediaMessage(b *testing.B) {
	var buf bytes.Buffer
	bc := bytecounter.NewWriter(&buf)
	w := rawmessage.NewWriter(bc, bc, false)
	w.SetChunkSize(4096)
	const n = 1000
	for i := range n {
		m := &rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Timestamp: time.Duration(i*20) * time.Millisecond, Body: videoBody(i%50 == 0, 1500)}
		if i%2 == 1 {
			m = &rawmessage.Message{ChunkStreamID: 4, Type: typAudio, Timestamp: time.Duration(i*20) * time.Millisecond, Body: audioBody(200)}
		}
		w.Write(m)
	}
	data := buf.Bytes()
	v := &viewer{o: Options{}.withDefaults()}
	v.res.Start = time.Now()
	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, readBuffer)
	r := newChunkReader(br)
	r.chunkSize = 4096
	b.SetBytes(int64(len(data) / n))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			rd.Reset(data)
			br.Reset(rd)
			for _, s := range r.streams {
				if s != nil {
					*s = chunkStream{body: s.body}
				}
			}
		}
		m, err := r.next()
		if err != nil {
			b.Fatal(err)
		}
		v.tag(m.typ, m.ts, m.size, m.body)
	}
}

// BenchmarkViewerMemory is the heap each playing RTMP viewer holds (its
// goroutine's stack apart), against an in-process server that sends the
// headers and a few frames, then nothing.
func BenchmarkViewerMemory(b *testing.B) {
	const viewers = 500
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	var srv sync.WaitGroup
	srv.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			srv.Go(func() {
				defer nc.Close()
				sc := &gortmplib.ServerConn{RW: nc}
				if sc.Initialize() != nil || sc.Accept() != nil || sc.AcceptAction() != nil {
					return
				}
				bc := bytecounter.NewWriter(nc)
				w := rawmessage.NewWriter(bc, bc, false)
				w.SetChunkSize(65536)
				w.Write(&rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Body: videoSH, MessageStreamID: 1})
				for i := range 5 {
					w.Write(&rawmessage.Message{ChunkStreamID: 6, Type: typVideo, Timestamp: time.Duration(i*40) * time.Millisecond,
						Body: videoBody(i == 0, 20000), MessageStreamID: 1})
				}
				<-hold
			})
		}
	})
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var started sync.WaitGroup
		started.Add(viewers)
		for range viewers {
			wg.Go(func() {
				o := Options{URL: "rtmp://" + ln.Addr().String() + "/live/x", Arrivals: arrivalFunc(func() { started.Done() })}
				Play(ctx, o)
			})
		}
		started.Wait()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/viewers, "heap-B/viewer")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/viewers, "stack-B/viewer")
		cancel()
		wg.Wait()
	}
	close(hold)
	ln.Close()
	srv.Wait()
}

// arrivalFunc calls f at the fifth video frame.
type arrivalFunc func()

func (f arrivalFunc) Arrived(ts uint32, key bool, at time.Time) {
	if ts == 160 {
		f()
	}
}
