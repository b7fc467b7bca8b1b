package hook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// Probe methods.
const (
	ProbeTCP     = "tcp"     // TCP connect to the URL's host:port
	ProbeGet     = "get"     // HTTP GET: any answer is up, 5xx is erroring
	ProbePublish = "publish" // an SRS-shaped on_publish, judged by SRS's allow rule
	ProbePlay    = "play"    // an SRS-shaped on_play, judged by the same rule (docs/srs-behaviour.md, "Play")
)

// ProbeConfig configures Probe.
type ProbeConfig struct {
	URL      string
	Interval time.Duration // between probes; default 1 s
	// Method is ProbeTCP (default), ProbeGet, ProbePublish or ProbePlay.
	// Only ProbePublish and ProbePlay send a hook body: a real service may
	// count or refuse it, so they are for when the user asks.
	Method string
	// Timeout bounds one probe; default 2 s, and for ProbePublish and
	// ProbePlay SRS's 30 s hook timeout, so that "slow" means SRS would have
	// given up.
	Timeout time.Duration
	OnState func(StateChange) // the first result and every change of State
}

// CheckProbe tells whether cfg's URL and method are ones Probe can use, for
// a caller that wants to fail before its run rather than probe nothing.
func CheckProbe(cfg ProbeConfig) error {
	if err := CheckURL(cfg.URL); err != nil {
		return fmt.Errorf("hook: probe URL: %w", err)
	}
	switch cfg.Method {
	case "", ProbeTCP, ProbeGet, ProbePublish, ProbePlay:
		return nil
	}
	return fmt.Errorf("hook: unknown probe method %q (want tcp, get, publish or play)", cfg.Method)
}

// CheckURL tells whether s is an http:// or https:// URL with a host: what
// a callback URL must be.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", s)
	}
	return nil
}

// Probe watches the availability of a callback rtmpload does not serve,
// until ctx is done. It returns at once only for a bad config.
func Probe(ctx context.Context, cfg ProbeConfig) error {
	if err := CheckProbe(cfg); err != nil {
		return err
	}
	u, _ := url.Parse(cfg.URL)
	if cfg.Method == "" {
		cfg.Method = ProbeTCP
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
		if cfg.Method == ProbePublish || cfg.Method == ProbePlay {
			cfg.Timeout = 30 * time.Second
		}
	}
	var probe func(context.Context) (schema.CallbackState, string)
	switch cfg.Method {
	case ProbeTCP:
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		probe = func(ctx context.Context) (schema.CallbackState, string) { return probeTCP(ctx, addr) }
	case ProbeGet, ProbePublish, ProbePlay:
		client := &http.Client{Transport: &http.Transport{
			Proxy: nil,
			// A fresh connection each time, as SRS makes: a reused one
			// would hide a listener that has gone.
			DisableKeepAlives: true,
		}, CheckRedirect: srs.NoRedirect} // SRS's answer is the callback's own, a 3xx included
		defer client.CloseIdleConnections()
		method := cfg.Method
		probe = func(ctx context.Context) (schema.CallbackState, string) {
			return probeHTTP(ctx, client, method, cfg.URL)
		}
	default:
		return fmt.Errorf("hook: unknown probe method %q (want tcp, get, publish or play)", cfg.Method)
	}

	last := schema.CallbackState("")
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		state, detail := probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if state != last {
			last = state
			if cfg.OnState != nil {
				cfg.OnState(StateChange{At: time.Now(), State: state, Detail: detail})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func probeTCP(ctx context.Context, addr string) (schema.CallbackState, string) {
	t0 := time.Now()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return schema.StateDown, err.Error()
	}
	c.Close()
	return schema.StateUp, "connected in " + time.Since(t0).Round(time.Microsecond).String()
}

func probeHTTP(ctx context.Context, client *http.Client, method, target string) (schema.CallbackState, string) {
	var req *http.Request
	var err error
	if method == ProbePublish || method == ProbePlay {
		var body []byte
		if body, err = probeBody(method); err == nil {
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		}
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	}
	if err != nil {
		return schema.StateDown, err.Error()
	}
	req.Header.Set("User-Agent", "rtmpload-probe")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return schema.StateSlow, "no answer within the probe timeout: " + err.Error()
		}
		return schema.StateDown, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	took := time.Since(t0).Round(time.Microsecond)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return schema.StateSlow, "answer not read within the probe timeout"
		}
		return schema.StateErroring, "reading the answer: " + err.Error()
	}
	detail := fmt.Sprintf("HTTP %d in %s: %.80q", resp.StatusCode, took, body)
	if method == ProbeGet {
		if resp.StatusCode >= 500 {
			return schema.StateErroring, detail
		}
		return schema.StateUp, detail
	}
	switch verdictOf(DialectSRS, resp.StatusCode, string(body)) {
	case VerdictAllow:
		return schema.StateUp, detail
	case VerdictDeny:
		return schema.StateDenying, detail
	case VerdictBadAnswer:
		return schema.StateMisanswering, detail
	}
	return schema.StateErroring, detail
}

// probeBody is an on_publish as SRS sends it (docs/srs-behaviour.md, "Hook request", key order
// kept), for a stream no publisher uses, so the probe cannot conflict.
// For ProbePlay it is an on_play, in that hook's key order.
func probeBody(method string) ([]byte, error) {
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	id := hex.EncodeToString(b)
	stream := "rtmpload-probe-" + id
	if method == ProbePlay {
		return json.Marshal(srs.PlayHookRequest{
			ServerID: "rtmpload-probe", ServiceID: "rtmpload", Action: string(schema.ActionPlay), ClientID: "probe-" + id,
			IP: "127.0.0.1", Vhost: defaultVhost, App: "live", Stream: stream, TcURL: "rtmp://127.0.0.1/live",
			StreamURL: "/live/" + stream, StreamID: "vid-probe-" + id,
		})
	}
	return json.Marshal(srs.HookRequest{
		ServerID: "rtmpload-probe", ServiceID: "rtmpload", Action: string(schema.ActionPublish), ClientID: "probe-" + id,
		IP: "127.0.0.1", Vhost: defaultVhost, App: "live", TcURL: "rtmp://127.0.0.1/live",
		Stream: stream, StreamURL: "/live/" + stream, StreamID: "vid-probe-" + id,
	})
}
