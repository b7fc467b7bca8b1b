package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/server"
)

// diagnoseEnv starts the embedded server with the built-in hook as its
// callback and writes an SRS config naming that hook, as a user's would.
func diagnoseEnv(t *testing.T, mode schema.HookMode) (rtmp, api, conf string, h *hook.Server) {
	t.Helper()
	h, err := hook.Start(hook.Config{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s, err := server.Start(context.Background(), server.Config{OnPublish: []string{h.OnPublishURL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conf = filepath.Join(t.TempDir(), "srs.conf")
	text := "listen 1935;\nvhost __defaultVhost__ {\n    http_hooks {\n        enabled on;\n" +
		"        on_publish " + h.OnPublishURL() + ";\n        on_unpublish " + h.OnUnpublishURL() + ";\n    }\n}\n" +
		"vhost off.example {\n    http_hooks { on_publish http://127.0.0.1:9/never; }\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "rtmp://" + s.RTMPAddr() + "/live", "http://" + s.APIAddr(), conf, h
}

func TestDiagnoseAllOKJSON(t *testing.T) {
	// The stand-in with -short: diagnose only asks ffmpeg what it can do.
	ff := testkit.FFmpegOrStub(t)
	rtmp, api, conf, h := diagnoseEnv(t, schema.HookAllow)
	code, stdout, stderr := runInProcess(t, 20*time.Second, "diagnose", "--rtmp", rtmp, "--api", api,
		"--srs-config", conf, "--probe-hook", "--json", "--ffmpeg", ff)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var res struct {
		Checks  []struct{ Name, Status, Detail string }
		Verdict string
		Problem bool
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	status := map[string]string{}
	for _, c := range res.Checks {
		status[c.Name] = c.Status
	}
	for name, want := range map[string]string{
		"RTMP " + rtmp:                      "ok",
		"SRS API " + api:                    "ok",
		"live streams":                      "ok",
		"callback " + h.OnPublishURL():      "ok",
		"callback http://127.0.0.1:9/never": "skip", // its http_hooks is not enabled
		"ffmpeg":                            "ok",
	} {
		if status[name] != want {
			t.Errorf("check %q: %q, want %q (all: %v)", name, status[name], want, status)
		}
	}
	if res.Problem || !strings.HasPrefix(res.Verdict, "No problem found") {
		t.Errorf("problem=%v verdict %q", res.Problem, res.Verdict)
	}
	// The probe went to the URL read from the config, and its on_unpublish too.
	if calls := h.Calls(); len(calls) != 2 {
		t.Errorf("hook saw %d calls, want on_publish and on_unpublish", len(calls))
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestDiagnoseProblemExits4(t *testing.T) {
	rtmpAddr, hookAddr := closedPort(t), closedPort(t)
	code, stdout, stderr := runInProcess(t, 20*time.Second, "diagnose", "--rtmp", "rtmp://"+rtmpAddr+"/live",
		"--hook", "http://"+hookAddr+"/cb", "--ffmpeg", "/nonexistent")
	if code != exitProblem {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitProblem, stdout, stderr)
	}
	for _, want := range []string{
		"✗ RTMP rtmp://" + rtmpAddr + "/live: TCP " + rtmpAddr + " refused the connection",
		"SRS API http://127.0.0.1:1985: ", // the default: SRS's API port on the RTMP host
		"✗ callback http://" + hookAddr + "/cb",
		"    fix: start the callback service on " + hookAddr,
		"✗ ffmpeg: ffmpeg \"/nonexistent\"",
		"- test publish: not asked for",
		"verdict:\n  1. Nothing listens on the RTMP port " + rtmpAddr,
		"run `rtmpload hook --listen " + hookAddr + "` there for now.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestDiagnoseUsageErrors(t *testing.T) {
	badConf := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(badConf, []byte("vhost a { http_hooks { enabled on; }\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"extra"}, "Usage: rtmpload diagnose"},
		{[]string{"--rtmp", "http://127.0.0.1/live"}, "rtmpload: --rtmp \"http://127.0.0.1/live\": want rtmp://"},
		{[]string{"--rtmp", "", "--publish"}, "rtmpload: --publish needs --rtmp"},
		{[]string{"--srs-config", "/nonexistent.conf"}, "rtmpload: --srs-config: open /nonexistent.conf"},
		{[]string{"--srs-config", badConf}, "is not closed"},
		{[]string{"--no-such-flag"}, "unknown flag"},
		// 0 was the default without a word; a negative timeout failed every
		// step at once, blamed on a firewall, and a negative publish time
		// became ffmpeg's "could not start".
		{[]string{"--timeout", "0"}, "rtmpload: --timeout 0s: want how long each network step may take"},
		{[]string{"--timeout", "-1s"}, "rtmpload: --timeout -1s: want"},
		{[]string{"--publish-for", "0"}, "rtmpload: --publish-for 0s: want how long the test publish lasts"},
		{[]string{"--publish-for", "-1s", "--publish"}, "rtmpload: --publish-for -1s: want"},
	} {
		code, _, stderr := runInProcess(t, 5*time.Second, append([]string{"diagnose"}, tc.args...)...)
		if code != exitSetup || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitSetup, tc.want)
		}
	}
}
