package managed

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/srsapi"
)

// nginxHook is a callback service speaking nginx-rtmp's dialect: form
// fields in, status out.
type nginxHook struct {
	status int
	mu     sync.Mutex
	calls  []hookCall
	srv    *httptest.Server
}

type hookCall struct {
	at   time.Time
	form url.Values
	ct   string
}

func newNginxHook(t *testing.T, status int) *nginxHook {
	h := &nginxHook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		h.mu.Lock()
		h.calls = append(h.calls, hookCall{time.Now(), r.PostForm, r.Header.Get("Content-Type")})
		h.mu.Unlock()
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// callsFor returns the "call" field of each call for stream name and
// attempt id, in order.
func (h *nginxHook) callsFor(name, attempt string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if c.form.Get("name") == name && c.form.Get("rtmpload") == attempt {
			out = append(out, c.form.Get("call"))
		}
	}
	return out
}

func startTestNginx(t *testing.T, hookURL string) *Nginx {
	t.Helper()
	n, err := StartNginx(context.Background(), NginxConfig{
		Dir: t.TempDir(), OnPublish: hookURL, OnPublishDone: hookURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

type ffResult struct {
	code    int
	stderr  string
	elapsed time.Duration
}

// ffmpegPublish publishes 4 s of encoded test pattern to rtmp://addr/live/name?rtmpload=attempt.
func ffmpegPublish(addr, name, attempt string) ffResult {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		"-f", "flv", "rtmp://"+addr+"/live/"+name+"?rtmpload="+attempt)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := ffResult{stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += err.Error()
	}
	return r
}

// fileState is a directory's names with their sizes and times.
func fileState(dir string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			out[e.Name()] = fi.ModTime().String() + " " + fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10)
		}
	}
	return out
}

// TestNginxSmokeAndDuplicate publishes with ffmpeg through an allowing hook,
// then sends a second publisher of the same name while the first runs.
func TestNginxSmokeAndDuplicate(t *testing.T) {
	testkit.FFmpeg(t)
	testkit.Nginx(t, FindModule)
	varLog, runBefore := fileState("/var/log/nginx"), fileState("/run")
	hook := newNginxHook(t, http.StatusOK)
	n := startTestNginx(t, hook.srv.URL+"/hook")
	pgid := n.pgid
	if n.Kind() != KindNginx || !strings.HasPrefix(n.Version(), "nginx/1.") || !strings.Contains(n.Version(), "nginx-rtmp/") {
		t.Errorf("kind %q version %q", n.Kind(), n.Version())
	}

	first := make(chan ffResult, 1)
	go func() { first <- ffmpegPublish(n.RTMPAddr(), "cam1", "r1-1") }()

	// While it runs, /stat shows it publishing.
	var snap srsapi.Snapshot
	deadline := time.Now().Add(8 * time.Second)
	for {
		st, err := srsapi.ReadNginxStat(context.Background(), n.StatURL())
		if err == nil {
			snap = st.Snapshot()
			if len(snap.Streams) == 1 && snap.Streams[0].Publish.Active && snap.Streams[0].RecvBytes > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stat never showed cam1 publishing: %+v, %v", snap, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := snap.Streams[0]; s.URL != "/live/cam1" || len(snap.Clients) != 1 || !snap.Clients[0].Publishing() ||
		s.Publish.CID != snap.Clients[0].ID {
		t.Errorf("stat snapshot %+v", snap)
	}

	dup := ffmpegPublish(n.RTMPAddr(), "cam1", "r1-2")
	t.Logf("duplicate: exit %d after %v: %s", dup.code, dup.elapsed, strings.TrimSpace(dup.stderr))
	if dup.code != 1 || !strings.Contains(dup.stderr, "Already publishing") || !strings.Contains(dup.stderr, "Operation not permitted") {
		t.Errorf("duplicate publisher: exit %d, stderr %q; want 1 with Already publishing / Operation not permitted", dup.code, dup.stderr)
	}
	if dup.elapsed > 3*time.Second {
		t.Errorf("duplicate refused after %v", dup.elapsed)
	}
	// The refused contender's publish is allowed by the hook, then nginx
	// refuses it and sends publish_done for it at once.
	if got := hook.callsFor("cam1", "r1-2"); strings.Join(got, ",") != "publish,publish_done" {
		t.Errorf("hook calls for the duplicate = %v, want publish then publish_done", got)
	}
	if st, err := srsapi.ReadNginxStat(context.Background(), n.StatURL()); err != nil {
		t.Error(err)
	} else if d := srsapi.DuplicatePublishers(st.Snapshot()); len(d) != 0 {
		t.Errorf("nginx-rtmp lists duplicate publishers %v", d)
	}

	res := <-first
	if res.code != 0 {
		t.Fatalf("first publisher: exit %d: %s", res.code, res.stderr)
	}
	deadline = time.Now().Add(3 * time.Second)
	for len(hook.callsFor("cam1", "r1-1")) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := hook.callsFor("cam1", "r1-1"); strings.Join(got, ",") != "publish,publish_done" {
		t.Errorf("hook calls for r1-1 = %v, want publish then publish_done", got)
	}
	hook.mu.Lock()
	c0 := hook.calls[0]
	hook.mu.Unlock()
	if c0.ct != "application/x-www-form-urlencoded" || c0.form.Get("app") != "live" || c0.form.Get("type") != "live" {
		t.Errorf("first hook call %q %v", c0.ct, c0.form)
	}

	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !GroupGone(pgid) {
		t.Fatalf("nginx's process group %d remains after Stop", pgid)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	dir := n.Config().Dir
	for _, f := range []string{"nginx.conf", "error.log", "access.log", "rtmp-access.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not kept: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(n.LogPath()); !strings.Contains(string(b), "cam1") {
		t.Errorf("error log does not mention the stream")
	}
	if after := fileState("/var/log/nginx"); !sameState(varLog, after) {
		t.Errorf("/var/log/nginx changed: %v -> %v", varLog, after)
	}
	if _, err := os.Stat("/run/nginx.pid"); err == nil && runBefore["nginx.pid"] == "" {
		t.Error("nginx wrote /run/nginx.pid")
	}
}

func sameState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestNginxRefusals: a denying hook and a hook that is down both refuse
// the publisher with ffmpeg's Input/output error.
func TestNginxRefusals(t *testing.T) {
	testkit.FFmpeg(t)
	testkit.Nginx(t, FindModule)
	deny := newNginxHook(t, http.StatusForbidden)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	for _, tc := range []struct {
		name, hook string
		calls      func() []string
	}{
		{"deny 403", deny.srv.URL + "/hook", func() []string { return deny.callsFor("cam9", "r1-1") }},
		{"hook down", downURL, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startTestNginx(t, tc.hook)
			r := ffmpegPublish(n.RTMPAddr(), "cam9", "r1-1")
			t.Logf("%s: exit %d after %v: %s", tc.name, r.code, r.elapsed, strings.TrimSpace(r.stderr))
			if r.code != 1 || !strings.Contains(r.stderr, "Input/output error") {
				t.Errorf("exit %d, stderr %q; want 1 with Input/output error", r.code, r.stderr)
			}
			if r.elapsed > 3*time.Second {
				t.Errorf("refused after %v", r.elapsed)
			}
			if tc.calls != nil {
				if got := tc.calls(); strings.Join(got, ",") != "publish" {
					t.Errorf("hook calls %v, want one publish and no publish_done", got)
				}
			}
			st, err := srsapi.ReadNginxStat(context.Background(), n.StatURL())
			if err != nil {
				t.Fatal(err)
			}
			if s := st.Snapshot(); len(s.Clients) != 0 {
				t.Errorf("refused publisher still listed: %+v", s)
			}
		})
	}
}

func TestNginxBusyPortAndBadModule(t *testing.T) {
	testkit.Nginx(t, FindModule)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartNginx(context.Background(), NginxConfig{Dir: t.TempDir(), RTMPListen: ln.Addr().String()})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "busy") {
		t.Errorf("busy port: error = %v, want one line saying busy", err)
	}

	bad := filepath.Join(t.TempDir(), "not_a_module.so")
	os.WriteFile(bad, []byte("no"), 0o644)
	_, err = StartNginx(context.Background(), NginxConfig{Dir: t.TempDir(), ModulePath: bad})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "not_a_module.so") {
		t.Errorf("bad module: error = %v, want the error log's lines", err)
	}
}
