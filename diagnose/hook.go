package diagnose

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

type hookProbe struct {
	cfg     Config
	rtmp    rtmpTarget
	stream  string
	version string // SRS's version from the API, for the User-Agent
	// ids are fixed per probe: a callback ties on_unpublish to its
	// on_publish by client_id.
	serverID, serviceID, clientID, streamID string
}

func newHookProbe(cfg Config, rt rtmpTarget, stream, version string) hookProbe {
	return hookProbe{
		cfg: cfg, rtmp: rt, stream: stream, version: version,
		serverID: "vid-" + shortID(7), serviceID: shortID(8), clientID: shortID(8), streamID: "vid-" + shortID(7),
	}
}

// shortID is an SRS-looking random id.
func shortID(n int) string { return strings.ToLower(rand.Text()[:n]) }

// check resolves and connects to one callback URL and, with ProbeHook,
// sends it what SRS would send for a publish and judges the answer by SRS's
// own rule.
func (p hookProbe) check(ctx context.Context, raw string) Check {
	c := Check{Name: "callback " + raw}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		c.Status = Fail
		c.Detail = "not an http:// or https:// URL"
		c.Fix = "SRS calls only http(s) URLs: correct on_publish in the http_hooks block"
		c.cause = fmt.Sprintf("The callback URL %q is not an http(s) URL: SRS cannot call it and rejects every publish.", raw)
		return c
	}
	port := cmp.Or(u.Port(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	hostport := net.JoinHostPort(u.Hostname(), port)
	// rtmpload hook must bind an address of that machine, not a name.
	listen := ":" + port
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		listen = hostport
	}
	start := time.Now()
	r := reach(ctx, u.Hostname(), port, p.cfg.Timeout)
	if r.err != nil {
		c.Status, c.Latency = Fail, time.Since(start)
		if r.failed == "dns" {
			c.Detail = fmt.Sprintf("host %s: %s", u.Hostname(), netProblem(r.err))
			c.Fix = "correct the host in the callback URL, or fix DNS on the SRS machine"
			c.cause = fmt.Sprintf("Callback %s does not resolve: SRS will reject every publish and ffmpeg will print Input/output error. Fix the host name in on_publish.", raw)
			return c
		}
		c.Detail = fmt.Sprintf("TCP %s %s", hostport, netProblem(r.err))
		if refused(r.err) {
			c.Fix = fmt.Sprintf("start the callback service on %s, or for now run `rtmpload hook --listen %s` there (it answers allow)", hostport, listen)
			c.cause = fmt.Sprintf("Callback %s refused the connection: SRS will reject every publish and ffmpeg will print Input/output error. Start the callback service, or run `rtmpload hook --listen %s` there for now.", raw, listen)
		} else {
			c.Fix = "check that the callback service runs and that nothing between SRS and it drops the connection"
			c.cause = fmt.Sprintf("Callback %s %s: SRS will reject every publish (after up to 30 s) and ffmpeg will print Input/output error.", raw, netProblem(r.err))
		}
		return c
	}
	r.conn.Close()
	if !p.cfg.ProbeHook {
		c.Status, c.Latency = OK, time.Since(start)
		c.Detail = fmt.Sprintf("%s; not probed (add --probe-hook to send it a test on_publish)", r.steps())
		return c
	}
	return p.probe(ctx, c, raw, r.steps())
}

func (p hookProbe) body(action schema.HookAction) srs.HookRequest {
	app := cmp.Or(p.rtmp.app, "live")
	tcURL := "rtmp://127.0.0.1:1935/" + app
	if p.rtmp.raw != "" {
		tcURL = "rtmp://" + p.rtmp.addr() + "/" + app
	}
	return srs.HookRequest{
		ServerID: p.serverID, ServiceID: p.serviceID, Action: string(action),
		ClientID: p.clientID, IP: "127.0.0.1", Vhost: srs.DefaultVhost, App: app,
		TcURL: tcURL, Stream: p.stream, Param: "", StreamURL: "/" + app + "/" + p.stream,
		StreamID: p.streamID,
	}
}

// post sends one SRS-shaped callback and reads the answer, all within
// HookTimeout like SRS (connect included).
func (p hookProbe) post(ctx context.Context, u string, b srs.HookRequest) (int, []byte, string, error) {
	payload, err := json.Marshal(b)
	if err != nil {
		return 0, nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SRS/"+cmp.Or(p.version, srs.Version))
	// SRS ignores proxy variables; so must the probe, or it would test a
	// different path than SRS's.
	// Nor does SRS follow a redirect: its HTTP client posts once and judges
	// the status it gets (a 302 refuses the publish), so the probe reports
	// the callback's own answer, not the answer of where it points.
	cli := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, CheckRedirect: srs.NoRedirect}
	resp, err := cli.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, resp.Header.Get("Location"), err
}

func (p hookProbe) probe(ctx context.Context, c Check, raw, steps string) Check {
	start := time.Now()
	status, body, location, err := p.post(ctx, raw, p.body(schema.ActionPublish))
	c.Latency = time.Since(start)
	lat := roundDur(c.Latency)
	what := fmt.Sprintf("%s; on_publish for %s", steps, p.stream)
	shown := strings.TrimSpace(string(body))
	if len(shown) > 120 {
		shown = shown[:120] + "..."
	}
	judged := srs.JudgeAnswer(status, body)
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || c.Latency >= p.cfg.HookTimeout):
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: no answer within %s", what, p.cfg.HookTimeout)
		c.Fix = "make the callback answer in well under a second; SRS gives up after 30 s"
		c.cause = fmt.Sprintf("Callback %s did not answer within %s: SRS gives up at 30 s, so every publish fails after 30 s and ffmpeg prints Input/output error. Find what the callback waits on (its database, a downstream service).", raw, p.cfg.HookTimeout)
	case err != nil:
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: %s", what, netProblem(err))
		c.Fix = "check the callback service's log: it accepted the connection but did not answer HTTP"
		c.cause = fmt.Sprintf("Callback %s accepts connections but its on_publish call failed (%s): SRS will reject every publish and ffmpeg will print Input/output error.", raw, netProblem(err))
	case judged.Verdict == srs.ErrorStatus && status >= 300 && status < 400:
		loc := schema.TermSafe(location)
		if len(loc) > 200 {
			loc = loc[:200] + "..."
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: HTTP %d, a redirect to %q, in %s: SRS does not follow redirects", what, status, loc, lat)
		c.Fix = "configure SRS with the URL the callback redirects to, or make the callback answer itself"
		c.cause = fmt.Sprintf("Callback %s answered HTTP %d (a redirect to %q): SRS does not follow redirects and treats any status but 200/201 as a refusal, so it will reject every publish and ffmpeg will print Input/output error. Put the final URL in SRS's http_hooks.", raw, status, loc)
	case judged.Verdict == srs.ErrorStatus:
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: HTTP %d %s in %s", what, status, shown, lat)
		c.Fix = "SRS allows only HTTP 200 or 201 with body 0 or {\"code\":0}: check the callback's path and its log"
		c.cause = fmt.Sprintf("Callback %s answered HTTP %d: SRS treats any status but 200/201 as a refusal, so it will reject every publish and ffmpeg will print Input/output error. Check the URL's path and the callback service's log.", raw, status)
	case judged.Verdict == srs.BadAnswer:
		quoted := srs.QuoteBody(string(body))
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: HTTP %d %s in %s, which is not SRS's format: SRS refuses it (its log: code=%d %s)", what, status, quoted, lat, judged.Code, judged.Detail)
		c.Fix = "answer HTTP 200 with the body 0 or {\"code\":0} to allow (and {\"code\":1} to deny): a callback written for another server (nginx-rtmp takes any 2xx) must speak SRS's format"
		c.cause = fmt.Sprintf("Callback %s answered %d with %s; %s. SRS rejects every publish it answers so, though the callback did not say no, and ffmpeg prints only Input/output error. Make the callback answer {\"code\":0}.", raw, status, quoted, srs.AllowRule)
	case judged.Verdict == srs.Deny:
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: HTTP %d %s in %s, which SRS reads as deny", what, status, shown, lat)
		c.Fix = "if the callback authenticates (token, known stream names), publish with what it expects; otherwise make it answer {\"code\":0}"
		c.cause = fmt.Sprintf("Callback %s denied a publish (it answered %s): SRS rejects every publish it denies and ffmpeg prints only Input/output error. If it checks a token or known names, that may be intended for this test name; otherwise it is the cause.", raw, shown)
	case c.Latency > p.cfg.HookSlow:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s: allowed, but it took %s", what, lat)
		c.Fix = fmt.Sprintf("every publish waits this long for the callback; SRS gives up at %s", DefaultHookTimeout)
	default:
		c.Status = OK
		c.Detail = fmt.Sprintf("%s: allowed (HTTP %d %s) in %s", what, status, shown, lat)
	}
	if c.Status == OK || c.Status == Warn {
		c.Detail += p.unpublish(ctx)
	}
	return c
}

// unpublish tells the known on_unpublish URLs that the probe stream is gone,
// so a conflict-detecting callback does not keep it live. Best effort: the
// result only goes into the Detail.
func (p hookProbe) unpublish(ctx context.Context) string {
	if len(p.cfg.OnUnpublish) == 0 {
		return "; no on_unpublish URL known, so the callback may still count the test stream as live"
	}
	var notes []string
	for _, u := range p.cfg.OnUnpublish {
		status, _, _, err := p.post(ctx, u, p.body(schema.ActionUnpublish))
		if err != nil {
			notes = append(notes, fmt.Sprintf("on_unpublish %s: %s", u, netProblem(err)))
		} else {
			notes = append(notes, fmt.Sprintf("on_unpublish %s: HTTP %d", u, status))
		}
	}
	return "; " + strings.Join(notes, "; ")
}
