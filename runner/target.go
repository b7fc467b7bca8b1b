package runner

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srsapi"
)

// target is the RTMP server a run publishes to, however it came to be.
type target struct {
	addr string // host:port of its RTMP listener
	app  string
	// userinfo ("user:pass@") and query ("token=..."): what --target
	// carried beside the address, passed on every publish URL (tokens a
	// callback checks) and redacted in every output.
	userinfo, query string
	desc            string // for the run header
	// flv is the http://host:port of its HTTP-FLV listener ("": none known).
	flv     string
	version string
	// poll watches the server's own view until ctx ends (nil: no view).
	poll func(ctx context.Context, fn func(srsapi.Snapshot))
	stop func() // ends what the run started; idempotent
	// live calls fn with each accepted publisher's attempt and the bytes
	// the server received from it (nil: the server is not in this process).
	live func(fn func(attempt string, bytesIn uint64))
	// pid is the server's process when it is one of its own (a managed
	// server, or the embedded one run apart): its CPU is read from it.
	pid int
}

// startTarget starts (or points at) the server the run publishes to. hk is
// the built-in hook when the run serves one.
func (r *run) startTarget(ctx context.Context, hk *hook.Server) (*target, error) {
	o := r.p.o
	var pub, unpub string // the callback the server calls, when it is ours
	if hk != nil {
		pub, unpub = hk.OnPublishURL(), hk.OnUnpublishURL()
	}
	r.onPlay, r.onStop = viewerHooks(r.p.sc, hk)
	switch {
	case o.Target != "" && !r.p.server.Embedded():
		return nil, fmt.Errorf("a target and a server to start (%s) both name the server: use one", r.p.server)
	case o.Target != "":
		return externalTarget(o.Target, o.API)
	case r.p.server.Kind == ServerNginx:
		return r.startNginx(ctx, pub, unpub)
	case r.p.server.Kind == ServerSRS:
		return r.startSRS(ctx, pub, unpub)
	case r.p.server.Kind == ServerServe && o.ServeBinary == "":
		return nil, fmt.Errorf("server serve runs rtmpload's own binary, which this run was not given")
	case r.p.server.Kind == ServerServe:
		return r.startServe(ctx, pub, unpub)
	case !r.p.server.Embedded():
		return nil, fmt.Errorf("server %q: want embedded, serve, nginx-rtmp or srs=PATH", r.p.server)
	case !serverInProcess(o, r.p.sc):
		return r.startServe(ctx, pub, unpub)
	}
	return r.startEmbedded(ctx, pub, unpub)
}

// serverInProcess says whether the run's embedded server runs in rtmpload's
// own process: the default, unless it was asked for as a process of its own
// (--server serve) or a capacity run puts it there to measure its CPU apart
// (not with --duplicate-race, which only the in-process server imitates).
// With --target or another server, there is none.
func serverInProcess(o Options, sc *scenarios.Scenario) bool {
	if o.Target != "" || !o.Server.Embedded() {
		return false
	}
	return o.ServeBinary == "" || sc.Mode != scenarios.ModeCapacity || o.DuplicateRace
}

// startNginx starts a managed nginx-rtmp calling pub and unpub.
func (r *run) startNginx(ctx context.Context, pub, unpub string) (*target, error) {
	o := r.p.o
	n, err := managed.StartNginx(ctx, managed.NginxConfig{
		Dir: filepath.Join(o.ResultsDir, "nginx"), RTMPListen: o.Listen, OnPublish: pub, OnPublishDone: unpub,
		OnPlay: r.onPlay, OnPlayDone: r.onStop,
	})
	if err != nil {
		return nil, err
	}
	return &target{
		addr: n.RTMPAddr(), app: managed.DefaultApp, desc: "managed nginx-rtmp rtmp://" + n.RTMPAddr() + " stat " + n.StatURL(),
		version: n.Version(),
		poll: func(ctx context.Context, fn func(srsapi.Snapshot)) {
			srsapi.PollNginx(ctx, n.StatURL(), time.Second, fn)
		},
		stop: stopManaged(n), pid: n.PID(),
	}, nil
}

// startSRS starts a managed SRS calling pub and unpub.
func (r *run) startSRS(ctx context.Context, pub, unpub string) (*target, error) {
	o := r.p.o
	s, err := managed.StartSRS(ctx, managed.SRSConfig{
		Dir: filepath.Join(o.ResultsDir, "srs"), Binary: r.p.server.Binary,
		RTMPListen: o.Listen, APIListen: o.APIListen, OnPublish: pub, OnUnpublish: unpub,
		OnPlay: r.onPlay, OnStop: r.onStop,
	})
	if err != nil {
		return nil, err
	}
	c := &srsapi.Client{Base: s.APIURL()}
	return &target{
		addr: s.RTMPAddr(), app: managed.DefaultApp, desc: "managed SRS rtmp://" + s.RTMPAddr() + " api " + s.APIURL(),
		flv:     s.FLVBase(),
		version: s.Version(),
		poll:    func(ctx context.Context, fn func(srsapi.Snapshot)) { srsapi.Poll(ctx, c, time.Second, fn) },
		stop:    stopManaged(s), pid: s.PID(),
	}, nil
}

// startServe runs the embedded server as `rtmpload serve`, a process of its
// own: a capacity run measures the server's CPU apart from the generator's.
// Its log (every publish) is in the results directory; its verdicts are not
// in the results stream (the hook's and the tap's are).
func (r *run) startServe(ctx context.Context, pub, unpub string) (*target, error) {
	o := r.p.o
	s, err := managed.StartServe(ctx, managed.ServeConfig{
		Dir: filepath.Join(o.ResultsDir, "serve"), Binary: o.ServeBinary,
		RTMPListen: o.Listen, APIListen: o.APIListen, OnPublish: pub, OnUnpublish: unpub, Takeover: o.Takeover,
		OnPlay: r.onPlay, OnStop: r.onStop, FLVListen: viewerFLVListen(r.p.sc),
	})
	if err != nil {
		return nil, err
	}
	c := &srsapi.Client{Base: s.APIURL()}
	return &target{
		flv:  s.FLVBase(),
		addr: s.RTMPAddr(), app: "live", desc: "embedded, its own process (rtmpload serve) rtmp://" + s.RTMPAddr() + " api " + s.APIURL(),
		version: "embedded SRS-like " + server.DefaultVersion + " (rtmpload serve)",
		poll:    func(ctx context.Context, fn func(srsapi.Snapshot)) { srsapi.Poll(ctx, c, time.Second, fn) },
		stop:    stopManaged(s), pid: s.PID(),
	}, nil
}

// startEmbedded starts the embedded server in this process.
func (r *run) startEmbedded(ctx context.Context, pub, unpub string) (*target, error) {
	o := r.p.o
	cfg := server.Config{
		RTMPListen: o.Listen, APIListen: o.APIListen, OnEvent: r.onServerEvent, Logger: o.ServerLogger,
		DuplicateRace: o.DuplicateRace, Takeover: o.Takeover,
	}
	if pub != "" {
		cfg.OnPublish, cfg.OnUnpublish = []string{pub}, []string{unpub}
	}
	if r.onPlay != "" {
		cfg.OnPlay, cfg.OnStop = []string{r.onPlay}, []string{r.onStop}
	}
	cfg.FLVListen = viewerFLVListen(r.p.sc)
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &srsapi.Client{Base: "http://" + srv.APIAddr()}
	var flv string
	if a := srv.FLVAddr(); a != "" {
		flv = "http://" + a
	}
	return &target{
		flv:  flv,
		addr: srv.RTMPAddr(), app: "live",
		desc:    "embedded rtmp://" + srv.RTMPAddr() + " api http://" + srv.APIAddr(),
		version: "embedded SRS-like " + server.DefaultVersion,
		poll:    func(ctx context.Context, fn func(srsapi.Snapshot)) { srsapi.Poll(ctx, c, time.Second, fn) },
		stop:    func() { srv.Close() },
		live: func(fn func(string, uint64)) {
			srv.EachLive(func(param string, b uint64) { fn(hook.AttemptFromParam(param), b) })
		},
	}, nil
}

// base is the start of every publish URL, up to the stream name, with the
// publishers connecting to addr (the server's, or the tap's in front of it).
func (t *target) base(addr string) string {
	return "rtmp://" + t.userinfo + addr + "/" + t.app + "/"
}

// publishURL is one attempt's publish URL. The user's own query (the
// --target's, then the group's param: publish tokens) comes first and
// rtmpload=<id> last, so the server's param carries both and the callback
// sees the token as the user wrote it.
func publishURL(base, stream, query, id string) string {
	if query != "" {
		query += "&"
	}
	return base + url.PathEscape(stream) + "?" + query + "rtmpload=" + url.QueryEscape(id)
}

// paramShape stands for the groups' params in the run header's publisher
// command line: "PARAM" when any group has one.
func paramShape(sc *scenarios.Scenario) string {
	for _, g := range sc.Publishers {
		if g.Param != "" {
			return "PARAM"
		}
	}
	return ""
}

// joinQuery joins two URL queries, either of them possibly empty.
func joinQuery(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "&" + b
}

// externalTarget is a server rtmpload did not start:
// rtmp://[user:pass@]host:port[/app][?query]. The errors quote the URLs
// through schema.URL: a token or password in them stays out of the message.
func externalTarget(raw, api string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rtmp" || u.Host == "" {
		return nil, option.New("Options.Target", func(name string) string {
			return fmt.Sprintf("%s %q: want rtmp://host:port[/app][?query] (credentials as user:password@ before the host)", name, schema.URL(raw))
		})
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil || q.Has("rtmpload") || u.Fragment != "" {
		return nil, option.New("Options.Target", func(name string) string {
			return fmt.Sprintf("%s %q: its query must be name=value pairs joined by '&' (rtmpload= is rtmpload's own)", name, schema.URL(raw))
		})
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	app := strings.Trim(u.Path, "/")
	if app == "" {
		app = "live"
	}
	// Fail now, with a message that says what to do, rather than with every
	// publisher's "Connection refused".
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, option.New("Options.Target", func(name string) string {
			return fmt.Sprintf("%s %s: cannot connect (%v): is the server running and its RTMP port open?", name, schema.URL(raw), err)
		})
	}
	c.Close()
	t := &target{addr: host, app: app, query: u.RawQuery, desc: "external rtmp://" + host + "/" + app, stop: func() {}}
	if u.User != nil {
		t.userinfo = u.User.String() + "@"
	}
	if api != "" {
		cl := &srsapi.Client{Base: strings.TrimRight(api, "/")}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := cl.Version(ctx)
		if err != nil {
			return nil, option.New("Options.API", func(name string) string {
				return fmt.Sprintf("%s %s: %v: check the SRS http_api address (default port 1985)", name, schema.URL(api), err)
			})
		}
		t.version = "SRS " + v
		t.desc += " api " + schema.URL(api).String()
		t.poll = func(ctx context.Context, fn func(srsapi.Snapshot)) { srsapi.Poll(ctx, cl, time.Second, fn) }
	}
	return t, nil
}

func stopManaged(s managed.Server) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Stop(ctx) // its log says why, in the results directory
		redactLogs(filepath.Dir(s.LogPath()))
	}
}

// redactLogs hides the secrets in a stopped server's logs, which are kept
// with the results: SRS and nginx-rtmp log each publish's param, tokens
// included. Best effort: a log that cannot be rewritten stays as it was.
func redactLogs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && (strings.HasSuffix(name, ".log") || strings.HasSuffix(name, ".stderr")) {
			_ = schema.RedactFile(filepath.Join(dir, name))
		}
	}
}
