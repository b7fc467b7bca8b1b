package managed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rtmpload/rtmpload/srsapi"
)

// DefaultApp is the RTMP application both managed servers publish to.
const DefaultApp = "live"

// ModuleDirs are where Debian's libnginx-mod-rtmp puts the module.
var ModuleDirs = []string{"/usr/lib/nginx/modules", "/usr/share/nginx/modules"}

// NginxConfig configures StartNginx. Zero values take the defaults shown.
type NginxConfig struct {
	Dir        string // results directory: config, pid, logs and temp paths all go here (required)
	Binary     string // default "nginx" on PATH
	ModulePath string // default ngx_rtmp_module.so under ModuleDirs
	RTMPListen string // default "127.0.0.1:0": a free port
	HTTPListen string // for rtmp_stat at /stat; default "127.0.0.1:0"
	App        string // default "live"
	// Hook URLs; "" = none. nginx-rtmp POSTs form fields (call=publish,
	// name=..., plus the publish URL's query) and treats any 2xx as allow.
	OnPublish, OnPublishDone string
	// on_play and on_play_done (call=play, play_done) for RTMP players.
	OnPlay, OnPlayDone string
}

// Nginx is a running nginx with the RTMP module. Create it with StartNginx.
type Nginx struct {
	*proc
	cfg     NginxConfig
	version string
}

var _ Server = (*Nginx)(nil)

// FindModule returns the first ngx_rtmp_module.so under ModuleDirs.
func FindModule() (string, error) {
	for _, d := range ModuleDirs {
		p := filepath.Join(d, "ngx_rtmp_module.so")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("nginx-rtmp: ngx_rtmp_module.so not found in %s: install libnginx-mod-rtmp (apt-get install libnginx-mod-rtmp)",
		strings.Join(ModuleDirs, " or "))
}

// StartNginx writes nginx.conf into cfg.Dir, starts nginx in the foreground
// and returns once it accepts RTMP connections and serves /stat. ctx is the
// server's lifetime: when it ends, nginx is stopped (as by Stop).
func StartNginx(ctx context.Context, cfg NginxConfig) (*Nginx, error) {
	if cfg.Dir == "" {
		return nil, errors.New("nginx-rtmp: NginxConfig.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("nginx-rtmp: %w", err)
	}
	cfg.Dir = dir
	if cfg.Binary == "" {
		cfg.Binary = "nginx"
	}
	if cfg.Binary, err = exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("nginx-rtmp: %w: install nginx (apt-get install nginx-light libnginx-mod-rtmp)", err)
	}
	if cfg.ModulePath == "" {
		if cfg.ModulePath, err = FindModule(); err != nil {
			return nil, err
		}
	}
	if cfg.App == "" {
		cfg.App = DefaultApp
	}
	// nginx creates only the last element of each temp path.
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("nginx-rtmp: %w", err)
	}
	return retryPortRace(func() (*Nginx, error) { return startNginxOnce(ctx, cfg) })
}

func startNginxOnce(ctx context.Context, cfg NginxConfig) (*Nginx, error) {
	rtmp, rtmpAuto, err := freeAddr("nginx-rtmp: RTMP", cfg.RTMPListen)
	if err != nil {
		return nil, err
	}
	httpAddr, httpAuto, err := freeAddr("nginx-rtmp: HTTP (/stat)", cfg.HTTPListen)
	if err != nil {
		return nil, err
	}
	cfg.RTMPListen, cfg.HTTPListen = rtmp, httpAddr
	conf := filepath.Join(cfg.Dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(GenerateNginxConfig(cfg)), 0o644); err != nil {
		return nil, fmt.Errorf("nginx-rtmp: %w", err)
	}
	logPath := filepath.Join(cfg.Dir, "error.log")
	// -p and -e keep nginx away from its compiled-in prefix and
	// /var/log/nginx/error.log, which it opens before reading -c.
	p, err := startProc(ctx, "nginx-rtmp", syscall.SIGQUIT, cfg.Dir, logPath, filepath.Join(cfg.Dir, "nginx.stderr"),
		cfg.Binary, "-p", cfg.Dir+"/", "-e", logPath, "-c", conf)
	if err != nil {
		return nil, err
	}
	n := &Nginx{proc: p, cfg: cfg}
	var stat srsapi.NginxStat
	err = p.waitReady(ctx, func(ctx context.Context) error {
		if err := dialProbe(ctx, n.RTMPAddr()); err != nil {
			return err
		}
		stat, err = srsapi.ReadNginxStat(ctx, n.StatURL())
		return err
	})
	if err != nil {
		p.Stop(context.Background())
		if errors.Is(err, errPortRace) && !(rtmpAuto && httpAuto) {
			return nil, fmt.Errorf("nginx-rtmp: a listen address (%s or %s) is busy: pick another port", rtmp, httpAddr)
		}
		return nil, err
	}
	n.version = "nginx/" + stat.NginxVersion + " nginx-rtmp/" + stat.RTMPVersion
	return n, nil
}

// RTMPAddr is the host:port nginx accepts RTMP on.
func (n *Nginx) RTMPAddr() string { return n.cfg.RTMPListen }

// StatURL is the rtmp_stat page, for srsapi.ReadNginxStat.
func (n *Nginx) StatURL() string { return "http://" + n.cfg.HTTPListen + "/stat" }

// Kind is KindNginx.
func (n *Nginx) Kind() string { return KindNginx }

// Version is "nginx/1.22.1 nginx-rtmp/1.1.4", as /stat reports them.
func (n *Nginx) Version() string { return n.version }

// LogPath is nginx's error log (level info: it has every publish).
func (n *Nginx) LogPath() string { return n.logPath }

// Config is the configuration as resolved (ports, module, binary).
func (n *Nginx) Config() NginxConfig { return n.cfg }

// GenerateNginxConfig renders nginx.conf for cfg, whose addresses and paths
// must already be resolved.
func GenerateNginxConfig(cfg NginxConfig) string {
	app := cfg.App
	if app == "" {
		app = DefaultApp
	}
	in := func(elem ...string) string { return quote(filepath.Join(append([]string{cfg.Dir}, elem...)...)) }
	var hooks strings.Builder
	if cfg.OnPublish != "" {
		fmt.Fprintf(&hooks, "            on_publish %s;\n", quote(cfg.OnPublish))
	}
	if cfg.OnPublishDone != "" {
		fmt.Fprintf(&hooks, "            on_publish_done %s;\n", quote(cfg.OnPublishDone))
	}
	if cfg.OnPlay != "" {
		fmt.Fprintf(&hooks, "            on_play %s;\n", quote(cfg.OnPlay))
	}
	if cfg.OnPlayDone != "" {
		fmt.Fprintf(&hooks, "            on_play_done %s;\n", quote(cfg.OnPlayDone))
	}
	return fmt.Sprintf(`# Generated by rtmpload for a managed nginx-rtmp; every path is inside the results directory.
load_module %[2]s;
daemon off;
# One process, no master and workers. nginx-rtmp keeps live streams per
# worker: with more than one, a second publisher of a name could land on
# another worker and be accepted, and /stat would show one worker's streams
# only. And a worker outlives its master's SIGKILL, so only a lone process
# dies with rtmpload (Pdeathsig) if rtmpload itself is killed.
master_process off;
error_log %[3]s info;
pid %[4]s;

events {
    worker_connections 4096;
}

rtmp {
    server {
        listen %[5]s;
        chunk_size 4096;
        # nginx-rtmp's own access log (one line per publish) defaults to
        # the compiled-in /var/log/nginx/access.log.
        access_log %[15]s;
        application %[6]s {
            live on;
%[7]s        }
    }
}

http {
    access_log %[8]s;
    client_body_temp_path %[9]s;
    proxy_temp_path %[10]s;
    fastcgi_temp_path %[11]s;
    uwsgi_temp_path %[12]s;
    scgi_temp_path %[13]s;
    server {
        listen %[14]s;
        location /stat {
            rtmp_stat all;
        }
    }
}
`, cfg.Dir, quote(cfg.ModulePath), in("error.log"), in("nginx.pid"), cfg.RTMPListen, app, hooks.String(),
		in("access.log"), in("tmp", "client_body"), in("tmp", "proxy"), in("tmp", "fastcgi"),
		in("tmp", "uwsgi"), in("tmp", "scgi"), cfg.HTTPListen, in("rtmp-access.log"))
}
