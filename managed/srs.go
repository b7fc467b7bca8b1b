package managed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/srsapi"
)

// SRSConfig configures StartSRS. Zero values take the defaults shown.
type SRSConfig struct {
	Dir        string // results directory: srs.conf, srs.pid, srs.log (required)
	Binary     string // the user's SRS binary (required; no package ships it)
	RTMPListen string // default "127.0.0.1:0": a free port
	APIListen  string // SRS's HTTP API; default "127.0.0.1:0"
	// HTTPListen is SRS's http_server, which serves HTTP-FLV players
	// (http_remux, GET /app/stream.flv); default "127.0.0.1:0".
	HTTPListen string
	// Hook URLs; "" = none. SRS POSTs JSON and allows on 200 with code 0
	// (on_publish, on_play; docs/srs-behaviour.md, "Play").
	OnPublish, OnUnpublish, OnPlay, OnStop string
	// FirstPacketTimeout and NormalTimeout are the vhost's publish
	// timeouts (publish.firstpkt_timeout and normal_timeout); default 20 s
	// and 5 s, SRS's own. Tests shorten them to see their looks sooner.
	FirstPacketTimeout, NormalTimeout time.Duration
}

// SRS is a running SRS. Create it with StartSRS.
type SRS struct {
	*proc
	cfg     SRSConfig
	version string
}

var _ Server = (*SRS)(nil)

// StartSRS writes srs.conf into cfg.Dir, runs `srs -c srs.conf` (in Dir,
// so that SRS's relative defaults land there too) and returns once the RTMP
// port accepts and /api/v1/versions answers. ctx is the server's lifetime.
func StartSRS(ctx context.Context, cfg SRSConfig) (*SRS, error) {
	if cfg.Dir == "" {
		return nil, errors.New("srs: SRSConfig.Dir is required")
	}
	if cfg.Binary == "" {
		return nil, errors.New("srs: SRSConfig.Binary is required: the path of the SRS binary to start")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	cfg.Dir = dir
	if cfg.Binary, err = exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	return retryPortRace(func() (*SRS, error) { return startSRSOnce(ctx, cfg) })
}

func startSRSOnce(ctx context.Context, cfg SRSConfig) (*SRS, error) {
	rtmp, rtmpAuto, err := freeAddr("srs: RTMP", cfg.RTMPListen)
	if err != nil {
		return nil, err
	}
	api, apiAuto, err := freeAddr("srs: HTTP API", cfg.APIListen)
	if err != nil {
		return nil, err
	}
	httpAddr, _, err := freeAddr("srs: HTTP server", cfg.HTTPListen)
	if err != nil {
		return nil, err
	}
	cfg.RTMPListen, cfg.APIListen, cfg.HTTPListen = rtmp, api, httpAddr
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "www"), 0o755); err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	conf := filepath.Join(cfg.Dir, "srs.conf")
	if err := os.WriteFile(conf, []byte(GenerateSRSConfig(cfg)), 0o644); err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	// SIGTERM is SRS's fast quit; SIGQUIT would wait out its grace periods.
	p, err := startProc(ctx, "srs", syscall.SIGTERM, cfg.Dir, filepath.Join(cfg.Dir, "srs.log"),
		filepath.Join(cfg.Dir, "srs.stderr"), cfg.Binary, "-c", conf)
	if err != nil {
		return nil, err
	}
	s := &SRS{proc: p, cfg: cfg}
	cli := &srsapi.Client{Base: s.APIURL()}
	err = p.waitReady(ctx, func(ctx context.Context) error {
		if err := dialProbe(ctx, rtmp); err != nil {
			return err
		}
		s.version, err = cli.Version(ctx)
		return err
	})
	if err != nil {
		p.Stop(context.Background())
		if errors.Is(err, errPortRace) && !(rtmpAuto && apiAuto) {
			return nil, fmt.Errorf("srs: a listen address (%s or %s) is busy: pick another port", rtmp, api)
		}
		return nil, err
	}
	return s, nil
}

// RTMPAddr is the host:port SRS accepts RTMP on.
func (s *SRS) RTMPAddr() string { return s.cfg.RTMPListen }

// FLVBase is where SRS serves HTTP-FLV: FLVBase()+"/app/stream.flv".
func (s *SRS) FLVBase() string { return "http://" + s.cfg.HTTPListen }

// APIURL is SRS's HTTP API base, for srsapi.Client.
func (s *SRS) APIURL() string { return "http://" + s.cfg.APIListen }

// Kind is KindSRS.
func (s *SRS) Kind() string { return KindSRS }

// Version is SRS's own ("7.0.18"), from /api/v1/versions.
func (s *SRS) Version() string { return s.version }

// LogPath is SRS's log file.
func (s *SRS) LogPath() string { return s.logPath }

// Config is the configuration as resolved.
func (s *SRS) Config() SRSConfig { return s.cfg }

// GenerateSRSConfig renders srs.conf for cfg, whose addresses and paths must
// already be resolved. The vhost keeps SRS's publish timeouts
// (docs/srs-behaviour.md, "Publish timeouts") written out, so that a run's
// results directory says which were in force. http_server and http_remux
// serve HTTP-FLV players; http_server's dir (static files SRS would serve
// too) is an empty www inside the results directory.
func GenerateSRSConfig(cfg SRSConfig) string {
	in := func(name string) string { return quote(filepath.Join(cfg.Dir, name)) }
	hooks := "        enabled off;\n"
	if cfg.OnPublish != "" || cfg.OnUnpublish != "" || cfg.OnPlay != "" || cfg.OnStop != "" {
		hooks = "        enabled on;\n"
		for _, h := range []struct{ name, url string }{
			{"on_publish", cfg.OnPublish}, {"on_unpublish", cfg.OnUnpublish}, {"on_play", cfg.OnPlay}, {"on_stop", cfg.OnStop},
		} {
			if h.url != "" {
				hooks += fmt.Sprintf("        %s %s;\n", h.name, quote(h.url))
			}
		}
	}
	return fmt.Sprintf(`# Generated by rtmpload for a managed SRS; every path is inside the results directory.
listen %[1]s;
max_connections 10000;
daemon off;
pid %[2]s;
srs_log_tank file;
srs_log_level trace;
srs_log_file %[3]s;
ff_log_dir %[4]s;

http_api {
    enabled on;
    listen %[5]s;
}

http_server {
    enabled on;
    listen %[9]s;
    dir %[10]s;
}

vhost __defaultVhost__ {
    publish {
        firstpkt_timeout %[7]d;
        normal_timeout %[8]d;
    }
    http_remux {
        enabled on;
        mount [vhost]/[app]/[stream].flv;
    }
    http_hooks {
%[6]s    }
}
`, cfg.RTMPListen, in("srs.pid"), in("srs.log"), quote(cfg.Dir), cfg.APIListen, hooks,
		cmp.Or(cfg.FirstPacketTimeout, 20*time.Second).Milliseconds(), cmp.Or(cfg.NormalTimeout, 5*time.Second).Milliseconds(),
		cfg.HTTPListen, in("www"))
}
