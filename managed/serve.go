package managed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// KindServe is rtmpload's own embedded server run as a process of its own
// (`rtmpload serve`), so that its CPU is its own and not the generator's.
const KindServe = "embedded-process"

// ServeConfig configures StartServe.
type ServeConfig struct {
	Dir        string // results directory: serve.log (required)
	Binary     string // the rtmpload binary (required)
	RTMPListen string // default "127.0.0.1:0"
	APIListen  string // default "127.0.0.1:0"
	// Hook URLs; "" = none.
	OnPublish, OnUnpublish, OnPlay, OnStop string
	Takeover                               bool
	// FLVListen serves HTTP-FLV players when set ("127.0.0.1:0": a free port).
	FLVListen string
}

// Serve is a running `rtmpload serve`. Create it with StartServe.
type Serve struct {
	*proc
	rtmp, api, flv string
}

var _ Server = (*Serve)(nil)

// StartServe runs `rtmpload serve` and returns once it has printed the
// addresses it listens on (it binds before it prints them). ctx is the
// server's lifetime.
func StartServe(ctx context.Context, cfg ServeConfig) (*Serve, error) {
	if cfg.Dir == "" || cfg.Binary == "" {
		return nil, errors.New("serve: ServeConfig.Dir and Binary are required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	args := []string{"serve", "--listen", or(cfg.RTMPListen, "127.0.0.1:0"), "--api-listen", or(cfg.APIListen, "127.0.0.1:0")}
	if cfg.OnPublish != "" {
		args = append(args, "--on-publish", cfg.OnPublish)
	}
	if cfg.OnUnpublish != "" {
		args = append(args, "--on-unpublish", cfg.OnUnpublish)
	}
	if cfg.OnPlay != "" {
		args = append(args, "--on-play", cfg.OnPlay)
	}
	if cfg.OnStop != "" {
		args = append(args, "--on-stop", cfg.OnStop)
	}
	if cfg.FLVListen != "" {
		args = append(args, "--http-flv-listen", cfg.FLVListen)
	}
	if cfg.Takeover {
		args = append(args, "--takeover")
	}
	// stdout carries only the two address lines; the log (every publish)
	// goes to stderr, into serve.log.
	outPath := filepath.Join(dir, "serve.addr")
	logPath := filepath.Join(dir, "serve.log")
	p, err := startProcSplit(ctx, "rtmpload serve", syscall.SIGINT, dir, outPath, logPath, cfg.Binary, args...)
	if err != nil {
		return nil, err
	}
	s := &Serve{proc: p}
	deadline := time.Now().Add(15 * time.Second)
	for s.rtmp == "" || s.api == "" || (cfg.FLVListen != "" && s.flv == "") {
		if p.exited() || time.Now().After(deadline) {
			_ = p.Stop(context.Background())
			return nil, fmt.Errorf("rtmpload serve did not start (see %s)", logPath)
		}
		time.Sleep(20 * time.Millisecond)
		s.rtmp, s.api, s.flv = readServeAddrs(outPath)
	}
	return s, nil
}

// readServeAddrs reads serve's "rtmp rtmp://ADDR/live", "api http://ADDR"
// and "http-flv http://ADDR/live" lines.
func readServeAddrs(path string) (rtmp, api, flv string) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "rtmp rtmp://"); ok {
			rtmp, _, _ = strings.Cut(a, "/")
		}
		if a, ok := strings.CutPrefix(sc.Text(), "api "); ok {
			api = a
		}
		if a, ok := strings.CutPrefix(sc.Text(), "http-flv "); ok {
			flv = strings.TrimSuffix(a, "/live")
		}
	}
	return rtmp, api, flv
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RTMPAddr is the host:port it listens on.
func (s *Serve) RTMPAddr() string { return s.rtmp }

// FLVBase is where it serves HTTP-FLV, http://host:port ("" without
// ServeConfig.FLVListen): FLVBase()+"/app/stream.flv".
func (s *Serve) FLVBase() string { return s.flv }

// APIURL is its SRS-shaped HTTP API, http://host:port.
func (s *Serve) APIURL() string { return s.api }

// Kind is KindServe.
func (s *Serve) Kind() string { return KindServe }

// Version is its version line.
func (s *Serve) Version() string { return "embedded SRS-like (rtmpload serve, its own process)" }

// LogPath is where its log (every publish) goes.
func (s *Serve) LogPath() string { return s.logPath }

// PID is the server's process (and group) id: its CPU is read from it.
func (p *proc) PID() int { return p.pgid }
