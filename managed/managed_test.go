package managed

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srsapi"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeSRSEnv makes the test binary act as an SRS binary: "serve" runs the
// embedded server on the ports of the srs.conf it is given, "fail" exits
// like an SRS that rejects its configuration.
const fakeSRSEnv = "RTMPLOAD_FAKE_SRS"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeSRSEnv); mode != "" {
		os.Exit(fakeSRS(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeSRS(mode string, args []string) int {
	if len(args) != 2 || args[0] != "-c" {
		fmt.Fprintln(os.Stderr, "usage: srs -c CONF")
		return 2
	}
	b, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conf := string(b)
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(conf)
		if m == nil {
			return ""
		}
		return m[1]
	}
	logf, err := os.OpenFile(find(`(?m)^srs_log_file (\S+);`), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer logf.Close()
	if mode == "fail" {
		fmt.Fprintln(logf, "[error] parse config failed: fake SRS refuses this configuration")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, server.Config{
		RTMPListen: find(`(?m)^listen (\S+);`),
		APIListen:  find(`(?m)^    listen (\S+);`),
		Version:    "9.9.9",
	})
	if err != nil {
		fmt.Fprintln(logf, "[error]", err)
		return 1
	}
	fmt.Fprintln(logf, "[trace] fake SRS serving", srv.RTMPAddr(), srv.APIAddr())
	<-ctx.Done()
	srv.Close()
	return 0
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

func TestGenerateNginxConfig(t *testing.T) {
	golden(t, "nginx.conf.golden", GenerateNginxConfig(NginxConfig{
		Dir:           "/results/run 1",
		ModulePath:    "/usr/lib/nginx/modules/ngx_rtmp_module.so",
		RTMPListen:    "127.0.0.1:19350",
		HTTPListen:    "127.0.0.1:19351",
		OnPublish:     "http://127.0.0.1:48080/api/v1/hooks/on_publish",
		OnPublishDone: "http://127.0.0.1:48080/api/v1/hooks/on_unpublish?x=1;y",
		OnPlay:        "http://127.0.0.1:48080/api/v1/hooks/on_play",
		OnPlayDone:    "http://127.0.0.1:48080/api/v1/hooks/on_stop",
	}))
	noHooks := GenerateNginxConfig(NginxConfig{Dir: "/r", App: "cams", RTMPListen: "a:1", HTTPListen: "a:2"})
	if strings.Contains(noHooks, "on_publish") || !strings.Contains(noHooks, "application cams {") {
		t.Errorf("config without hooks:\n%s", noHooks)
	}
}

func TestGenerateSRSConfig(t *testing.T) {
	golden(t, "srs.conf.golden", GenerateSRSConfig(SRSConfig{
		Dir:         "/results/run1",
		RTMPListen:  "127.0.0.1:19350",
		APIListen:   "127.0.0.1:19985",
		HTTPListen:  "127.0.0.1:18080",
		OnPublish:   "http://127.0.0.1:48080/api/v1/hooks/on_publish",
		OnUnpublish: "http://127.0.0.1:48080/api/v1/hooks/on_unpublish",
		OnPlay:      "http://127.0.0.1:48080/api/v1/hooks/on_play",
		OnStop:      "http://127.0.0.1:48080/api/v1/hooks/on_stop",
	}))
	if c := GenerateSRSConfig(SRSConfig{Dir: "/r", RTMPListen: "a:1", APIListen: "a:2"}); !strings.Contains(c, "enabled off;") {
		t.Errorf("config without hooks does not disable them:\n%s", c)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":          "/a/b",
		"/a b":          `"/a b"`,
		`http://x/?a;b`: `"http://x/?a;b"`,
		`a"b\c`:         `"a\"b\\c"`,
		"":              `""`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSRSLifecycle(t *testing.T) {
	t.Setenv(fakeSRSEnv, "serve")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := StartSRS(ctx, SRSConfig{Dir: dir, Binary: os.Args[0], OnPublish: "http://127.0.0.1:1/x"})
	if err != nil {
		t.Fatal(err)
	}
	pgid := s.pgid
	t.Cleanup(func() { s.Stop(context.Background()) })
	if s.Kind() != KindSRS || s.Version() != "9.9.9" || s.LogPath() != filepath.Join(dir, "srs.log") {
		t.Errorf("kind %q version %q log %q", s.Kind(), s.Version(), s.LogPath())
	}
	if _, err := net.DialTimeout("tcp", s.RTMPAddr(), time.Second); err != nil {
		t.Errorf("RTMP port: %v", err)
	}
	if ss, err := (&srsapi.Client{Base: s.APIURL()}).Streams(ctx); err != nil || len(ss) != 0 {
		t.Errorf("streams of a fresh server: %v, %v", ss, err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "srs.conf"))
	if err != nil || !strings.Contains(string(conf), "listen "+s.RTMPAddr()+";") {
		t.Errorf("srs.conf (%v) does not listen on %s", err, s.RTMPAddr())
	}

	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SIGTERM stop took %v", d)
	}
	if !GroupGone(pgid) {
		t.Errorf("process group %d remains after Stop", pgid)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if b, _ := os.ReadFile(s.LogPath()); !strings.Contains(string(b), "fake SRS serving") {
		t.Errorf("log %q", b)
	}
}

func TestSRSCancelStops(t *testing.T) {
	t.Setenv(fakeSRSEnv, "serve")
	ctx, cancel := context.WithCancel(context.Background())
	s, err := StartSRS(ctx, SRSConfig{Dir: t.TempDir(), Binary: os.Args[0]})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.done:
	case <-time.After(stopGrace + 2*time.Second):
		t.Fatal("server still running after its context ended")
	}
	if err := waitGroupGone(s.pgid, reapTimeout); err != nil {
		t.Fatal(err)
	}
}

func TestSRSExitsBeforeReady(t *testing.T) {
	t.Setenv(fakeSRSEnv, "fail")
	_, err := StartSRS(context.Background(), SRSConfig{Dir: t.TempDir(), Binary: os.Args[0]})
	if err == nil {
		t.Fatal("StartSRS succeeded with a failing binary")
	}
	for _, want := range []string{"exited before it was ready", "fake SRS refuses this configuration", "srs.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSRSBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartSRS(context.Background(), SRSConfig{Dir: t.TempDir(), Binary: os.Args[0], RTMPListen: ln.Addr().String()})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("error = %v, want one line saying the port is busy", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	if _, err := StartSRS(context.Background(), SRSConfig{Dir: t.TempDir()}); err == nil {
		t.Error("StartSRS without a binary succeeded")
	}
	_, err := StartNginx(context.Background(), NginxConfig{Dir: t.TempDir(), Binary: "/nonexistent/nginx"})
	if err == nil || !strings.Contains(err.Error(), "install nginx") {
		t.Errorf("error = %v, want advice to install nginx", err)
	}
	if errors.Is(err, errPortRace) {
		t.Error("a missing binary reported as a port race")
	}
}
