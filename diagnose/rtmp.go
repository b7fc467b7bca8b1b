package diagnose

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// checkRTMP connects, completes the RTMP handshake and sends connect, then
// closes. It stops before publish on purpose: a publish would make SRS call
// the real on_publish callback and show up in its logs as a stream. gortmplib's
// Client only offers a full publish or play, so the handshake and connect are
// driven with its handshake and message packages directly.
func checkRTMP(ctx context.Context, cfg Config, t rtmpTarget) Check {
	c := Check{Name: "RTMP " + t.raw}
	start := time.Now()
	r := reach(ctx, t.host, t.port, cfg.Timeout)
	if r.err != nil {
		c.Status, c.Latency = Fail, time.Since(start)
		if r.failed == "dns" {
			c.Detail = fmt.Sprintf("host %s: %s", t.host, netProblem(r.err))
			c.Fix = "check the host name in --rtmp (and the machine's DNS): ffmpeg cannot resolve it either"
			c.cause = fmt.Sprintf("The RTMP server's host %s does not resolve: ffmpeg cannot even connect. Fix the host name.", t.host)
			return c
		}
		c.Detail = fmt.Sprintf("TCP %s %s", t.addr(), netProblem(r.err))
		if refused(r.err) {
			c.Fix = "start SRS, or check `listen` in its config and the port in the URL (SRS's default is 1935)"
			c.cause = fmt.Sprintf("Nothing listens on the RTMP port %s: every publish fails at once and ffmpeg prints Connection refused. Start SRS or fix the port.", t.addr())
		} else {
			c.Fix = "check that SRS runs and that no firewall or security group drops the RTMP port"
			c.cause = fmt.Sprintf("The RTMP port %s %s: ffmpeg cannot connect.", t.addr(), netProblem(r.err))
		}
		return c
	}
	defer r.conn.Close()
	// The deadline also ends the exchange if ctx is cancelled first.
	deadline := time.Now().Add(cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { r.conn.Close() })
	defer stop()

	hsStart := time.Now()
	bc := bytecounter.NewReadWriter(r.conn)
	if _, _, err := handshake.DoClient(bc, false, false); err != nil {
		c.Status, c.Latency = Fail, time.Since(start)
		c.Detail = fmt.Sprintf("%s; the RTMP handshake failed: %s", r.steps(), netProblem(err))
		c.Fix = "something other than an RTMP server answers on this port (an HTTP port? a proxy?): check the port"
		c.cause = fmt.Sprintf("%s accepts TCP but does not speak RTMP: ffmpeg fails during its handshake.", t.addr())
		return c
	}
	hs := time.Since(hsStart)

	cmdStart := time.Now()
	code, err := rtmpConnect(bc, t)
	c.Latency = time.Since(start)
	steps := fmt.Sprintf("%s, handshake %s", r.steps(), roundDur(hs))
	if err != nil {
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s; connect to app %q failed: %v", steps, t.app, err)
		c.Fix = "check the app name in the URL (usually live) and the server's log"
		c.cause = fmt.Sprintf("The RTMP server at %s refuses connect to app %q: %v.", t.addr(), t.app, err)
		return c
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("%s, connect %s (%s); no publish sent", steps, roundDur(time.Since(cmdStart)), code)
	return c
}

// rtmpConnect sends the connect command the way ffmpeg does and returns the
// code of the server's _result.
func rtmpConnect(bc *bytecounter.ReadWriter, t rtmpTarget) (string, error) {
	mrw := message.NewReadWriter(bc, bc, false)
	tcURL := (&url.URL{Scheme: "rtmp", Host: t.addr(), Path: "/" + t.app}).String()
	err := mrw.Write(&message.CommandAMF0{
		ChunkStreamID: 3,
		Name:          "connect",
		CommandID:     1,
		Arguments: []any{amf0.Object{
			{Key: "app", Value: t.app},
			{Key: "type", Value: "nonprivate"},
			{Key: "flashVer", Value: "FMLE/3.0 (compatible; rtmpload diagnose)"},
			{Key: "tcUrl", Value: tcURL},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("sending connect: %s", netProblem(err))
	}
	// Bounded by the connection deadline; a server sends a few control
	// messages before the answer.
	for {
		msg, err := mrw.Read()
		if err != nil {
			return "", fmt.Errorf("no answer to connect: %s", netProblem(err))
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok || (cmd.Name != "_result" && cmd.Name != "_error") {
			continue
		}
		code := statusCode(cmd.Arguments)
		if cmd.Name == "_error" {
			return code, fmt.Errorf("server answered _error %s", code)
		}
		return code, nil
	}
}

// statusCode is the "code" of the first info object among a command's
// arguments.
func statusCode(args []any) string {
	for _, a := range args {
		var o amf0.Object
		switch v := a.(type) {
		case amf0.Object:
			o = v
		case amf0.ECMAArray:
			o = amf0.Object(v)
		default:
			continue
		}
		if code, ok := o.GetString("code"); ok {
			return code
		}
	}
	return "no code"
}
