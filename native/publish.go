package native

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// DefaultFlashVer is the flashVer of the connect command of ffmpeg 5.1
// (libavformat 59.27.100), the ffmpeg the project's tests run: nginx-rtmp's
// callback body carries it, so a server or callback sees the same string
// from either engine.
const DefaultFlashVer = "FMLE/3.0 (compatible; Lavf59.27.100)"

// DefaultTick is how often a writer sends each of its connections what
// became due. Real time is kept on average; a message leaves at most one
// tick after its time, which no server's timeouts (seconds) can see, and
// fewer, larger writes are what make a native publisher cheap
// (docs/design.md, "The native engine").
const DefaultTick = 100 * time.Millisecond

// Options configures an Engine. Zero values take the defaults.
type Options struct {
	FlashVer string        // the connect command's flashVer; default DefaultFlashVer
	Tick     time.Duration // default DefaultTick
	Writers  int           // writer goroutines; default GOMAXPROCS
	// ReplyTimeout bounds each wait for the server's answer during setup
	// (handshake, connect, createStream, publish): past it the attempt
	// fails with What "silence". 0: wait until ctx ends, as ffmpeg does.
	ReplyTimeout time.Duration
}

// Engine publishes one clip to any number of URLs. Its writers run until
// Close.
type Engine struct {
	clip    *Clip
	opts    Options
	writers []*writer
	next    atomic.Uint32
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// New starts an Engine's writers.
func New(clip *Clip, o Options) *Engine {
	o.FlashVer = cmp.Or(o.FlashVer, DefaultFlashVer)
	o.Tick = cmp.Or(o.Tick, DefaultTick)
	o.Writers = cmp.Or(o.Writers, runtime.GOMAXPROCS(0))
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{clip: clip, opts: o, cancel: cancel}
	for range o.Writers {
		w := &writer{tick: o.Tick}
		e.writers = append(e.writers, w)
		e.done.Add(1)
		go func() {
			defer e.done.Done()
			w.run(ctx)
		}()
	}
	return e
}

// Close stops the writers. Publishes still running stop sending media;
// cancel their contexts first.
func (e *Engine) Close() {
	e.cancel()
	e.done.Wait()
}

// attempt is one publish in progress.
type attempt struct {
	e     *Engine
	t     target
	hooks Hooks
	ctx   context.Context
	res   Result
	nc    net.Conn
	r     *message.Reader
	w     *message.Writer // setup only
	cmdID int
	// chunkSize is the server's: ffmpeg answers a server's Set Chunk Size
	// with the same value and sends its own chunks at that size.
	chunkSize uint32
	pc        *pconn // once publishing
}

// Publish runs one attempt: it connects, publishes and sends the clip
// until ctx ends (Result.Stopped) or the server ends it (Result.Failure).
func (e *Engine) Publish(ctx context.Context, rawURL string, hooks Hooks) Result {
	a := &attempt{e: e, hooks: hooks, ctx: ctx, chunkSize: 128}
	a.res.Start = time.Now()
	a.run(rawURL)
	a.res.End = time.Now()
	return a.res
}

func (a *attempt) phase(p string) {
	a.res.Phase = p
	if a.hooks.OnPhase != nil {
		a.hooks.OnPhase(p, time.Now(), a.res.Timeline)
	}
}

func (a *attempt) fail(f *Failure) {
	if a.ctx.Err() != nil {
		a.res.Stopped = true
		return
	}
	f.Phase = a.res.Phase
	a.res.Failure = f
}

// failErr classifies a network or protocol error.
func (a *attempt) failErr(err error) {
	var ne net.Error
	switch {
	case a.ctx.Err() != nil:
		a.res.Stopped = true
	case errors.Is(err, syscall.ECONNREFUSED):
		a.fail(&Failure{What: WhatRefused})
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		a.fail(&Failure{What: WhatClose})
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		a.fail(&Failure{What: WhatReset})
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		a.fail(&Failure{What: WhatSilence})
	default:
		a.fail(&Failure{What: WhatError, Err: err.Error()})
	}
}

func (a *attempt) run(rawURL string) {
	t, err := parseTarget(rawURL)
	if err != nil {
		a.res.Phase = PhaseDial
		a.fail(&Failure{What: WhatError, Err: err.Error()})
		return
	}
	a.t = t
	a.phase(PhaseDial)
	var d net.Dialer
	nc, err := d.DialContext(a.ctx, "tcp", t.addr)
	if err != nil {
		a.failErr(err)
		return
	}
	a.nc = nc
	a.res.Connected = time.Now()
	// Canceling ctx unblocks every read and write at once; the attempt
	// then sees ctx.Err and stops rather than fails.
	stop := context.AfterFunc(a.ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		nc.Close()
	}()
	if err := a.setup(); err != nil {
		a.failErr(err)
		return
	}
	if a.res.Failure != nil || a.res.Stopped {
		return
	}
	a.publishing()
}

// wait arms the reply timeout for one wait on the server.
func (a *attempt) wait() {
	if a.e.opts.ReplyTimeout > 0 && a.ctx.Err() == nil {
		a.nc.SetReadDeadline(time.Now().Add(a.e.opts.ReplyTimeout))
	}
}

// setup runs the handshake and the commands up to NetStream.Publish.Start.
// A returned error is a network or protocol error; a refusal by status is
// recorded in a.res.Failure.
func (a *attempt) setup() error {
	a.phase(PhaseHandshake)
	a.wait()
	if _, _, err := handshake.DoClient(a.nc, false, false); err != nil {
		return err
	}
	a.res.Handshaked = time.Now()
	bcr := bytecounter.NewReader(a.nc)
	a.r = message.NewReader(bcr, bcr, a.ack)
	a.w = message.NewWriter(a.nc, bytecounter.NewWriter(a.nc), false)

	a.phase(PhaseConnect)
	if err := a.command(csCommand, 0, "connect", amf0.Object{
		{Key: "app", Value: a.t.app},
		{Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: a.e.opts.FlashVer},
		{Key: "tcUrl", Value: a.t.tcURL},
	}); err != nil {
		return err
	}
	if _, ok, err := a.result(); !ok || err != nil {
		return err
	}
	a.res.ConnectResult = time.Now()

	// ffmpeg sends these three at once, without waiting between them.
	a.phase(PhaseCreate)
	for _, name := range []string{"releaseStream", "FCPublish"} {
		if err := a.command(csCommand, 0, name, nil, a.t.stream); err != nil {
			return err
		}
	}
	if err := a.command(csCommand, 0, "createStream", nil); err != nil {
		return err
	}
	args, ok, err := a.result()
	if !ok || err != nil {
		return err
	}
	sid := uint32(streamID)
	if len(args) > 1 {
		if f, ok := args[1].(float64); ok && f >= 1 {
			sid = uint32(f)
		}
	}

	a.phase(PhasePublish)
	if err := a.command(csPublish, sid, "publish", nil, a.t.stream, a.t.app); err != nil {
		return err
	}
	a.res.PublishSent = time.Now()
	for {
		a.wait()
		msg, err := a.r.Read()
		if err != nil {
			return err
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok {
			if err := a.control(msg); err != nil {
				return err
			}
			continue
		}
		if cmd.Name == "_error" {
			a.fail(statusFailure(cmd.Arguments))
			return nil
		}
		if cmd.Name != "onStatus" {
			continue
		}
		code, level, desc := status(cmd.Arguments)
		a.res.Status = code
		if level == "error" || code != "NetStream.Publish.Start" && strings.Contains(code, ".Publish.") {
			a.fail(&Failure{What: WhatStatus, Code: code, Description: desc})
			return nil
		}
		if code == "NetStream.Publish.Start" {
			a.res.PublishStart = time.Now()
			a.nc.SetReadDeadline(time.Time{})
			if a.ctx.Err() != nil {
				a.nc.SetDeadline(time.Unix(1, 0))
			}
			return a.startMedia(sid)
		}
	}
}

func (a *attempt) command(cs byte, sid uint32, name string, args ...any) error {
	a.cmdID++
	return a.w.Write(&message.CommandAMF0{ChunkStreamID: cs, MessageStreamID: leStreamID(sid),
		Name: name, CommandID: a.cmdID, Arguments: args})
}

// result reads until the _result (ok) or _error (a failure recorded) of
// the last command, answering control messages on the way.
func (a *attempt) result() (amf0.Data, bool, error) {
	for {
		a.wait()
		msg, err := a.r.Read()
		if err != nil {
			return nil, false, err
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok {
			if err := a.control(msg); err != nil {
				return nil, false, err
			}
			continue
		}
		if cmd.CommandID != a.cmdID {
			continue // answers to releaseStream, FCPublish; onFCPublish
		}
		switch cmd.Name {
		case "_result":
			return cmd.Arguments, true, nil
		case "_error":
			a.fail(statusFailure(cmd.Arguments))
			return nil, false, nil
		}
	}
}

// control answers what ffmpeg answers during setup: a Set Chunk Size with
// the same value (ffmpeg's handle_chunk_size), a ping with a pong.
func (a *attempt) control(msg message.Message) error {
	switch m := msg.(type) {
	case *message.SetChunkSize:
		a.chunkSize = m.Value
		return a.w.Write(&message.SetChunkSize{Value: m.Value})
	case *message.UserControlPingRequest:
		return a.w.Write(&message.UserControlPingResponse{ServerTime: m.ServerTime})
	}
	return nil
}

// ack sends an Acknowledgement when the server's window asks for one.
func (a *attempt) ack(count uint32) error {
	if a.pc != nil {
		a.pc.queue(controlAck(count))
		return nil
	}
	return a.w.Write(&message.Acknowledge{Value: count})
}

// statusFailure reads the information object of an _error or onStatus.
func statusFailure(args amf0.Data) *Failure {
	code, _, desc := status(args)
	return &Failure{What: WhatStatus, Code: code, Description: desc}
}

func status(args amf0.Data) (code, level, desc string) {
	for _, arg := range args {
		if o, ok := arg.(amf0.Object); ok {
			code, _ = o.GetString("code")
			level, _ = o.GetString("level")
			desc, _ = o.GetString("description")
			if code != "" {
				return
			}
		}
	}
	return
}

// startMedia hands the connection to a writer.
func (a *attempt) startMedia(sid uint32) error {
	enc, err := a.e.clip.encoding(a.chunkSize, sid)
	if err != nil {
		return err
	}
	rc, err := a.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	a.w = nil // setup's writer is done: control messages go through the pconn now
	a.pc = &pconn{rc: rc, enc: enc, loop: uint32(a.e.clip.loop / time.Millisecond), t0: time.Now(),
		chunkSize: a.chunkSize, sid: sid, record: a.hooks.Sent}
	a.phase(PhaseMedia)
	// The metadata, the sequence headers and the first frame go out now,
	// as ffmpeg sends them right after Publish.Start, not at the next tick;
	// the writer has not seen the connection yet, so this write is alone.
	if !a.pc.service(time.Now(), &writer{}) {
		return a.pc.err
	}
	w := a.e.writers[int(a.e.next.Add(1))%len(a.e.writers)]
	w.add(a.pc)
	if a.hooks.OnProgress != nil {
		a.progress(cmp.Or(a.hooks.ProgressEvery, time.Second))
	}
	return nil
}

// progress reports the attempt's progress every d until the writer lets
// go of it, from a timer: no goroutine waits for it.
func (a *attempt) progress(d time.Duration) {
	var tick func()
	tick = func() {
		p, ok := a.pc.progress()
		if !ok {
			return
		}
		a.hooks.OnProgress(p)
		time.AfterFunc(d, tick)
	}
	time.AfterFunc(d, tick)
}

// publishing reads what the server sends while the writer sends media,
// until the server ends the connection or ctx ends the attempt.
func (a *attempt) publishing() {
	for {
		msg, err := a.r.Read()
		if err != nil {
			a.finish(err)
			return
		}
		switch m := msg.(type) {
		case *message.UserControlPingRequest:
			a.pc.queue(controlPong(m.ServerTime))
		case *message.CommandAMF0:
			if m.Name == "onStatus" {
				code, level, desc := status(m.Arguments)
				a.res.Status = code
				if level == "error" {
					a.fail(&Failure{What: WhatStatus, Code: code, Description: desc})
				}
			}
		}
	}
}

// finish takes the connection back from its writer and, when ctx stopped
// the attempt, unpublishes as ffmpeg does on SIGINT (FCUnpublish,
// deleteStream) before the close.
func (a *attempt) finish(err error) {
	first, sent, pend, werr := a.pc.detach()
	a.res.FirstMedia, a.res.BytesSent = first, sent
	if a.res.Failure != nil {
		return // an error status came before the end
	}
	if a.ctx.Err() != nil {
		a.res.Stopped = true
		if werr == nil {
			a.unpublish(pend)
		}
		return
	}
	if werr != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)) {
		err = werr
	}
	a.failErr(err)
}

// unpublish finishes a message the writer left half-written, then says
// goodbye, within a second.
func (a *attempt) unpublish(pend [][]byte) {
	a.nc.SetWriteDeadline(time.Now().Add(time.Second))
	bufs := net.Buffers(pend)
	if _, err := bufs.WriteTo(a.nc); err != nil {
		return
	}
	a.cmdID++
	b := controlCommand(a.cmdID, 0, "FCUnpublish", a.pc.chunkSize, nil, a.t.stream)
	a.cmdID++
	b = append(b, controlCommand(a.cmdID, 0, "deleteStream", a.pc.chunkSize, nil, float64(a.pc.sid))...)
	a.nc.Write(b)
}
