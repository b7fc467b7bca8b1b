// Package diagnose checks, before a load test, everything a publish to SRS
// depends on (the RTMP port, the HTTP API, each on_publish callback, ffmpeg, and
// optionally one real publish) and names the cause of a failing push in the
// user's terms: ffmpeg only ever says "Input/output error"
// (docs/srs-behaviour.md, "What a refused publisher sees").
package diagnose

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/schema"
)

// Status is a check's result.
type Status string

// Statuses, from best to worst; Skip means the check did not apply or could
// not run.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one finding.
type Check struct {
	Name    string        `json:"name"`
	Status  Status        `json:"status"`
	Detail  string        `json:"detail"`
	Fix     string        `json:"fix,omitempty"`
	Latency time.Duration `json:"-"`

	// cause is the sentence the verdict uses when this check failed: what
	// it means for a publish, in the user's terms.
	cause string
}

// MarshalJSON adds the latency in milliseconds, which a reader of the JSON
// can use without knowing Go's nanosecond durations.
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check
	return json.Marshal(struct {
		plain
		LatencyMS float64 `json:"latency_ms,omitempty"`
	}{plain(c), float64(c.Latency.Microseconds()) / 1000})
}

// Result is every check and the verdict drawn from them.
type Result struct {
	Checks  []Check `json:"checks"`
	Verdict string  `json:"verdict"`
	// Causes are the verdict's sentences, one per failed check, in check
	// order (the RTMP port first, the test publish last).
	Causes []string `json:"causes,omitempty"`
	// Problem is true when any check failed: the command exits 4.
	Problem bool `json:"problem"`
}

// Defaults of Config.
const (
	// DefaultTimeout bounds each network step (DNS, TCP, handshake, API call).
	DefaultTimeout = 5 * time.Second
	// DefaultHookTimeout is SRS's own callback timeout (SRS_HTTP_CLIENT_TIMEOUT,
	// docs/srs-behaviour.md, "What SRS accepts as allow"): a callback slower
	// than this fails every publish.
	DefaultHookTimeout = 30 * time.Second
	// DefaultHookSlow is the callback latency above which the probe warns:
	// every publish waits that long for its answer.
	DefaultHookSlow = 5 * time.Second
	// DefaultPublishFor is how long the test publish lasts.
	DefaultPublishFor = 3 * time.Second
	// DefaultRTMP is where SRS listens on a default install.
	DefaultRTMP = "rtmp://127.0.0.1:1935/live"
)

// Config says what to check. An empty RTMP or API skips that check; Hooks
// may be empty.
type Config struct {
	RTMP string // rtmp://host[:port]/app
	API  string // http://host:port of SRS's HTTP API
	// Hooks are on_publish callback URLs. DisabledHooks are URLs found in an
	// http_hooks block that is off: SRS does not call them.
	Hooks, DisabledHooks []string
	// OnUnpublish URLs, when known, receive an on_unpublish after a probe
	// that was allowed, so a conflict-detecting callback does not keep the
	// probe stream live forever.
	OnUnpublish []string
	ProbeHook   bool // POST an SRS-shaped on_publish to each hook
	Publish     bool // one real ffmpeg publish through a tap

	FFmpeg   string       // path or name; "" = ffmpeg on PATH
	CacheDir string       // clip cache; "" = media.DefaultCacheDir
	Media    media.Params // the clip the test publish sends; zero = run's default clip

	Timeout     time.Duration // per network step; default DefaultTimeout
	HookTimeout time.Duration // default DefaultHookTimeout (SRS's 30 s)
	HookSlow    time.Duration // default DefaultHookSlow
	PublishFor  time.Duration // default DefaultPublishFor
}

// rtmpTarget is a parsed --rtmp URL.
type rtmpTarget struct {
	raw, host, port, app string
	// userinfo ("user:pass@") and query (publish tokens) of the URL, passed
	// on by the test publish as a run passes --target's.
	userinfo, query string
}

func (t rtmpTarget) addr() string { return net.JoinHostPort(t.host, t.port) }

func parseRTMP(s string) (rtmpTarget, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "rtmp" || u.Hostname() == "" {
		return rtmpTarget{}, option.New("Config.RTMP", func(name string) string {
			return fmt.Sprintf("%s %q: want rtmp://host[:port]/app, e.g. %s", name, schema.URL(s), DefaultRTMP)
		})
	}
	t := rtmpTarget{raw: s, host: u.Hostname(), port: cmp.Or(u.Port(), "1935"), query: u.RawQuery}
	if u.User != nil {
		t.userinfo = u.User.String() + "@"
	}
	// The app is the first path element; ffmpeg and SRS read the rest as
	// the stream name.
	t.app, _, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
	t.app = cmp.Or(t.app, "live")
	return t, nil
}

func (c Config) withDefaults() Config {
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.HookTimeout = cmp.Or(c.HookTimeout, DefaultHookTimeout)
	c.HookSlow = cmp.Or(c.HookSlow, DefaultHookSlow)
	c.PublishFor = cmp.Or(c.PublishFor, DefaultPublishFor)
	return c
}

// validate rejects what is a usage error rather than a finding.
func (c Config) validate() error {
	if c.RTMP != "" {
		if _, err := parseRTMP(c.RTMP); err != nil {
			return err
		}
	}
	if c.API != "" {
		if u, err := url.Parse(c.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return option.New("Config.API", func(name string) string {
				return fmt.Sprintf("%s %q: want http://host:port, e.g. http://127.0.0.1:1985", name, c.API)
			})
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Config.Timeout", c.Timeout}, {"Config.HookTimeout", c.HookTimeout}, {"Config.HookSlow", c.HookSlow}, {"Config.PublishFor", c.PublishFor}} {
		if d.v < 0 {
			return option.New(d.field, func(name string) string {
				return fmt.Sprintf("%s %v is negative: want a duration, or 0 for the default", name, d.v)
			})
		}
	}
	if c.Publish && c.RTMP == "" {
		return &option.Error{Fields: []string{"Config.Publish", "Config.RTMP"}, Text: func(n ...string) string {
			return fmt.Sprintf("%s needs %s: where to publish", n[0], n[1])
		}}
	}
	return nil
}

// Run performs every check in turn and draws the verdict. The error is for
// an unusable Config only; what the checks find is in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var checks []Check
	// A check that ends after an interrupt (Ctrl-C) failed because of it,
	// whatever it says (ffmpeg killed "does not run as ffmpeg", a
	// connection cut "refused"): it is shown as interrupted and draws no
	// verdict.
	add := func(cs ...Check) {
		for _, c := range cs {
			if ctx.Err() != nil {
				c.Status, c.Detail, c.Fix, c.cause, c.Latency = Skip, "interrupted before it finished", "", "", 0
			}
			checks = append(checks, c)
		}
	}
	var rt rtmpTarget
	if cfg.RTMP != "" {
		rt, _ = parseRTMP(cfg.RTMP)
		add(checkRTMP(ctx, cfg, rt))
	} else {
		add(Check{Name: "RTMP", Status: Skip, Detail: "no --rtmp URL given"})
	}
	version := ""
	if cfg.API != "" {
		var api []Check
		api, version = checkAPI(ctx, cfg)
		add(api...)
	} else {
		add(Check{Name: "SRS API", Status: Skip, Detail: "no --api URL given"})
	}
	probe := newHookProbe(cfg, rt, "rtmpload-diagnose-"+shortID(10), version)
	for _, u := range cfg.Hooks {
		add(probe.check(ctx, u))
	}
	for _, u := range cfg.DisabledHooks {
		add(Check{
			Name: "callback " + u, Status: Skip,
			Detail: "its http_hooks block is not enabled: SRS does not call it (publishing works, but whatever the callback does, auth or conflict detection, is bypassed)",
		})
	}
	if len(cfg.Hooks)+len(cfg.DisabledHooks) == 0 {
		add(Check{Name: "callback", Status: Skip,
			Detail: "no callback URL given (pass --hook URL, or --srs-config FILE to read SRS's http_hooks)"})
	}
	ff, ffPath := checkFFmpeg(ctx, cfg)
	add(ff)
	switch {
	case !cfg.Publish:
		add(Check{Name: "test publish", Status: Skip, Detail: "not asked for (add --publish for one real publish with ffmpeg)"})
	case ffPath == "":
		add(Check{Name: "test publish", Status: Skip, Detail: "needs ffmpeg, which failed its check"})
	default:
		add(checkPublish(ctx, cfg, rt, ffPath, "rtmpload-diagnose-"+shortID(10)))
	}
	r := newResult(checks)
	if ctx.Err() != nil {
		r.Problem, r.Causes = false, nil
		r.Verdict = "Interrupted: not every check ran, so there is no verdict; run diagnose again to the end."
	}
	return r, nil
}

func newResult(checks []Check) *Result {
	r := &Result{Checks: checks}
	var warns []string
	for _, c := range checks {
		switch c.Status {
		case Fail:
			r.Problem = true
			r.Causes = append(r.Causes, cmp.Or(c.cause, c.Name+": "+c.Detail))
		case Warn:
			warns = append(warns, c.Name+": "+c.Detail)
		}
	}
	switch {
	case r.Problem:
		r.Verdict = strings.Join(r.Causes, " ")
	case len(warns) > 0:
		r.Verdict = "No problem that stops a publish; worth a look: " + strings.Join(warns, "; ")
	default:
		r.Verdict = "No problem found: everything checked works as SRS needs it."
	}
	return r
}

// marks are the symbols of the readable list.
var marks = map[Status]string{OK: "✓", Warn: "!", Fail: "✗", Skip: "-"}

// WriteText writes the readable list: one line per check, its fix below a
// failure or warning, then the verdict.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s %s: %s", marks[c.Status], c.Name, c.Detail)
		if c.Latency > 0 && c.Status != Skip {
			fmt.Fprintf(&b, " (%s)", roundDur(c.Latency))
		}
		b.WriteByte('\n')
		if c.Fix != "" && (c.Status == Fail || c.Status == Warn) {
			fmt.Fprintf(&b, "    fix: %s\n", c.Fix)
		}
	}
	if len(r.Causes) > 1 {
		b.WriteString("\nverdict:\n")
		for i, c := range r.Causes {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, c)
		}
	} else {
		fmt.Fprintf(&b, "\nverdict: %s\n", r.Verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the result as one JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// roundDur keeps durations readable: 1.234ms, 35ms, 2.5s.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(10 * time.Millisecond)
	}
}
