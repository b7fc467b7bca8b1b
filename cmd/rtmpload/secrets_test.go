package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/schema"
)

// The secrets of the acceptance test: each must reach the server or the
// callback, and none may appear in any output.
const (
	tokSecret  = "TOKSECRET7" // --target ?token=
	sigSecret  = "SIGSECRET8" // a group's param: sign=SIGSECRET8{i}
	badSecret  = "BADSIGNAT9" // the refused group's sign
	rtmpPass   = "RTMPPASS5"  // --target's userinfo
	apiPass    = "APIPASS4"   // --api's userinfo
	hookPass   = "HOOKPASS3"  // --hook proxy=URL's userinfo
	otherToken = "TENANTSEC2" // a name only --redact makes secret
	authKey    = "AUTHKEY6"   // Aliyun's auth_key
	encToken   = "ENCTOKEN1"  // to%6Ben=: token, percent-encoded
	showSecret = "--show-secrets"
)

var allSecrets = []string{tokSecret, sigSecret, badSecret, rtmpPass, apiPass, hookPass, otherToken, authKey, encToken}

// tokenCallback is a callback service that checks publish tokens, as an
// SRS deployment's on_publish does: it allows a publish only when the
// param carries token=tokSecret and a sign=sigSecret..., and only to a
// caller that gives its basic-auth password. It records every param.
type tokenCallback struct {
	mu     sync.Mutex
	params []string
	auth   []bool
}

func (c *tokenCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string `json:"action"`
		Param  string `json:"param"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	_, pass, _ := r.BasicAuth()
	c.mu.Lock()
	c.params = append(c.params, req.Param)
	c.auth = append(c.auth, pass == hookPass)
	c.mu.Unlock()
	ok := req.Action != "on_publish" ||
		(strings.Contains(req.Param, "token="+tokSecret) && strings.Contains(req.Param, "sign="+sigSecret) && pass == hookPass)
	if ok {
		io.WriteString(w, `{"code":0}`)
		return
	}
	io.WriteString(w, `{"code":403}`)
}

func (c *tokenCallback) seen() ([]string, []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.params...), append([]bool(nil), c.auth...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// assertNoSecret fails for every secret found in what (a name) and text.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range allSecrets {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(0, i-120), min(len(text), i+60)
			t.Errorf("%s shows the secret %s: ...%s...", what, s, text[lo:hi])
		}
	}
}

// assertNoSecretInDir greps every file under dir.
func assertNoSecretInDir(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		assertNoSecret(t, path, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSecretsReachServerNotOutputs checks end to end that secrets reach the
// server and nowhere else: a run against a server rtmpload did not start,
// with a publish token and a password in --target, a password in --api and
// in --hook proxy=URL, and a token in a group's param. The tokens reach the callback; no secret
// appears in any file of the results directory, any report format, or the
// terminal of run, report, hook and diagnose.
func TestSecretsReachServerNotOutputs(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		testSecrets(t, func(t *testing.T, ctx context.Context, onPublish, onUnpublish string) (rtmpAddr, apiBase string) {
			var out syncBuffer
			done := make(chan int, 1)
			sctx, cancel := context.WithCancel(ctx)
			go func() {
				done <- run(sctx, []string{"serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
					"--on-publish", onPublish, "--on-unpublish", onUnpublish}, strings.NewReader(""), &out, &out)
			}()
			t.Cleanup(func() {
				cancel()
				<-done
				assertNoSecret(t, "serve's terminal", out.String())
			})
			rtmp := waitOutput(t, &out, `rtmp rtmp://(\S+)/live\n`)[1]
			api := waitOutput(t, &out, `api (http://\S+)\n`)[1]
			return rtmp, api
		})
	})
	t.Run("srs", func(t *testing.T) {
		bin := testkit.SRS(t)
		testSecrets(t, func(t *testing.T, ctx context.Context, onPublish, onUnpublish string) (rtmpAddr, apiBase string) {
			s, err := managed.StartSRS(ctx, managed.SRSConfig{Dir: t.TempDir(), Binary: bin, OnPublish: onPublish, OnUnpublish: onUnpublish})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				_ = s.Stop(sctx)
			})
			return s.RTMPAddr(), s.APIURL()
		})
	})
}

// A server the run starts (--server srs=PATH) logs every publish's param
// in the results directory: the run redacts those logs once it stopped it.
func TestSecretsManagedSRSLog(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	bin := testkit.SRS(t)
	cb := &tokenCallback{}
	up := httptest.NewServer(cb)
	defer up.Close()
	upURL := strings.Replace(up.URL, "http://", "http://hooker:"+hookPass+"@", 1) + "/api/v1/hooks/on_publish"
	tmp := t.TempDir()
	scenario := filepath.Join(tmp, "tokens.yaml")
	if err := os.WriteFile(scenario, []byte(`name: tokens
duration: 5s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: good, count: 1, name: "tok-{i}", param: "token=`+tokSecret+`&sign=`+sigSecret+`{i}"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	code, stdout, stderr := runInProcess(t, 2*time.Minute, "run", scenario, "--server", "srs="+bin,
		"--hook", "proxy="+upURL, "--out", out, "--cache-dir", cacheDir(t), "--progress", "none")
	assertNoSecret(t, "run's terminal", stdout+stderr)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if s := readReport(t, out); s.Outcomes[schema.OutcomeOK] != 1 {
		t.Errorf("outcomes %v: the token should have let the publisher in", s.Outcomes)
	}
	b, err := os.ReadFile(filepath.Join(out, "srs", "srs.log"))
	if err != nil || !strings.Contains(string(b), "token=***") {
		t.Errorf("srs.log (%v) should keep the param, redacted", err)
	}
	assertNoSecretInDir(t, out)
}

type startServer func(t *testing.T, ctx context.Context, onPublish, onUnpublish string) (rtmpAddr, apiBase string)

// testSecrets runs the test against the server start gives. It uses only
// names secret by default: the redaction policy is process-wide, and the
// commands of this test share the process with each other (serve runs
// beside the rest) and with parallel tests, so a --redact NAME given to one
// command would not hold for the others. TestHookShowSecrets, which runs
// alone, covers --redact and --show-secrets.
func testSecrets(t *testing.T, start startServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()

	cb := &tokenCallback{}
	up := httptest.NewServer(cb)
	defer up.Close()
	upURL := strings.Replace(up.URL, "http://", "http://hooker:"+hookPass+"@", 1) + "/api/v1/hooks/on_publish?auth_key=" + authKey

	// The server calls the run's built-in hook, which proxies to the
	// token-checking service.
	hookAddr := freeAddr(t)
	rtmpAddr, apiBase := start(t, ctx, "http://"+hookAddr+"/api/v1/hooks/on_publish", "http://"+hookAddr+"/api/v1/hooks/on_unpublish")
	target := "rtmp://pub:" + rtmpPass + "@" + rtmpAddr + "/live?token=" + tokSecret + "&auth_key=" + authKey
	api := strings.Replace(apiBase, "http://", "http://admin:"+apiPass+"@", 1)

	// 10 s: on a loaded machine an ffmpeg may take seconds to publish, and
	// the test wants both good publishers in.
	scenario := filepath.Join(tmp, "tokens.yaml")
	if err := os.WriteFile(scenario, []byte(`name: tokens
duration: 10s
media: {clip: testsrc-360p, bitrate: 300k}
publishers:
  - {group: good, count: 2, name: "tok-{i}", param: "sign=`+sigSecret+`{i}"}
  - {group: bad, count: 1, name: "bad-{i}", param: "sign=`+badSecret+`{i}"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	code, stdout, stderr := runInProcess(t, 2*time.Minute, "run", scenario, "--target", target, "--api", api,
		"--hook", "proxy="+upURL, "--hook-listen", hookAddr,
		"--out", out, "--cache-dir", cacheDir(t), "--progress", "log", "-v")
	assertNoSecret(t, "run's terminal", stdout+stderr)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// The tokens reached the callback, beside rtmpload's own id.
	params, auth := cb.seen()
	good := 0
	for i, p := range params {
		if strings.Contains(p, "token="+tokSecret) && strings.Contains(p, "sign="+sigSecret) && strings.Contains(p, "rtmpload=") && auth[i] {
			good++
		}
	}
	if good < 2 {
		t.Fatalf("the callback saw %d publishes with the token, want 2: params %q, auth %v", good, params, auth)
	}
	s := readReport(t, out)
	if got := s.Outcomes[schema.OutcomeOK]; got != 2 {
		t.Errorf("ok publishes %d, want the 2 good ones (outcomes %v)", got, s.Outcomes)
	}
	// The results keep the token's name, not its value.
	var sawParam, sawTail bool
	for _, ev := range testkit.Events(t, filepath.Join(out, "results.jsonl")) {
		if h := ev.Hook; h != nil && strings.Contains(h.Param, "token=***") && strings.Contains(h.Param, "rtmpload=") {
			sawParam = true
		}
		if a := ev.Attempt; a != nil && a.Phase == schema.PhaseExit && strings.Contains(strings.Join(a.StderrTail, "\n")+a.Message, "sign=***") {
			sawTail = true
		}
	}
	if !sawParam || !sawTail {
		t.Errorf("results: a hook param with token=*** %v, ffmpeg's stderr of the refused publish with sign=*** %v", sawParam, sawTail)
	}

	// Every report format, to stdout and to a file.
	reports := filepath.Join(tmp, "reports")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json", "markdown", "html", "junit"} {
		code, stdout, stderr := runInProcess(t, time.Minute, "report", "--format", format, out)
		assertNoSecret(t, "report --format "+format, stdout+stderr)
		if code != exitOK && code != exitThreshold {
			t.Errorf("report --format %s: exit %d: %s", format, code, stderr)
		}
		code, stdout, stderr = runInProcess(t, time.Minute, "report", "--format", format, "--out", filepath.Join(reports, "r."+format), out)
		assertNoSecret(t, "report --out --format "+format, stdout+stderr)
		if code != exitOK && code != exitThreshold {
			t.Errorf("report --out --format %s: exit %d: %s", format, code, stderr)
		}
	}
	if n := assertNoSecretInDir(t, out) + assertNoSecretInDir(t, reports); n < 8 {
		t.Errorf("grepped %d files: want results.jsonl, report.json, report.html and 5 reports", n)
	}

	// diagnose of the same server and callback, in both output forms; an
	// unreachable --rtmp too (its error quotes the URL).
	for _, extra := range [][]string{nil, {"--json"}} {
		args := append([]string{"diagnose", "--rtmp", target, "--api", api, "--hook", upURL, "--probe-hook", "--timeout", "5s"}, extra...)
		_, stdout, stderr := runInProcess(t, time.Minute, args...)
		assertNoSecret(t, "diagnose "+strings.Join(extra, " "), stdout+stderr)
		if !strings.Contains(stdout, "***") {
			t.Errorf("diagnose %v: the URLs should be shown, redacted:\n%s", extra, stdout)
		}
	}
	_, stdout, stderr = runInProcess(t, time.Minute, "diagnose", "--rtmp", "rtmp://u:"+rtmpPass+"@"+closedPort(t)+"/live?token="+tokSecret, "--api", "", "--timeout", "2s")
	assertNoSecret(t, "diagnose of a closed port", stdout+stderr)

	// The standalone hook in front of the same service: its log (readable
	// and JSON) and summary.
	// The server's hook URL is the run's: the readable one listens there.
	for i, extra := range [][]string{{"--listen", hookAddr}, {"--json"}} {
		h := startHookCmd(t, append([]string{"--proxy", upURL}, extra...)...)
		body := `{"action":"on_publish","client_id":"c1","ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live","stream":"s",` +
			`"param":"?token=` + tokSecret + `&sign=` + sigSecret + `0&rtmpload=r-1","tcUrl":"rtmp://pub:` + rtmpPass + `@127.0.0.1/live?token=` + tokSecret + `"}`
		resp, err := http.Post("http://"+h.addr+"/api/v1/hooks/on_publish", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"code":0`) {
			t.Errorf("hook --proxy: answer %s: the token did not reach the service", b)
		}
		if i == 0 {
			// diagnose's test publish passes --rtmp's token too: the server
			// calls this hook, which the callback allows it through. The
			// publish window is generous: on a loaded machine ffmpeg may
			// take seconds to reach the server, and a window that ends
			// first is a failed publish.
			_, stdout, stderr := runInProcess(t, time.Minute, "diagnose", "--rtmp", target+"&sign="+sigSecret+"d", "--api", "",
				"--publish", "--publish-for", "5s", "--cache-dir", cacheDir(t), "--json")
			assertNoSecret(t, "diagnose --publish", stdout+stderr)
			var diag struct {
				Checks []struct{ Name, Status, Detail string }
			}
			if err := json.Unmarshal([]byte(stdout), &diag); err != nil {
				t.Fatalf("diagnose --json: %v\n%s", err, stdout)
			}
			published := false
			for _, c := range diag.Checks {
				published = published || (strings.HasPrefix(c.Name, "test publish") && c.Status == "ok")
			}
			if !published {
				t.Errorf("diagnose --publish with the token: %+v", diag.Checks)
			}
		}
		h.stop(t)
		assertNoSecret(t, "hook "+strings.Join(extra, " "), h.stdout.String()+h.stderr.String())
		if !strings.Contains(h.stdout.String(), "token=***") {
			t.Errorf("hook %v: the call log should show the param, redacted:\n%s", extra, h.stdout.String())
		}
	}

}

// The standalone hook's call log hides a token by default and shows it
// with --show-secrets, for a private debugging run; --redact adds a name.
// Not parallel: it changes the process-wide redaction policy.
func TestHookShowSecrets(t *testing.T) {
	defer schema.SetRedactPolicy(schema.RedactPolicy{})
	for _, c := range []struct {
		args       []string
		show, hide []string
	}{
		{nil, []string{"token=***", "tenant=" + otherToken, "to%6Ben=***"}, []string{tokSecret, encToken}},
		{[]string{"--redact", "tenant"}, []string{"token=***", "tenant=***"}, []string{tokSecret, otherToken, encToken}},
		// --redact takes the name percent-encoded too, as a server decodes it.
		{[]string{"--redact", "te%6Eant"}, []string{"token=***", "tenant=***"}, []string{tokSecret, otherToken, encToken}},
		{[]string{showSecret}, []string{"token=" + tokSecret, "tenant=" + otherToken, "to%6Ben=" + encToken}, nil},
	} {
		h := startHookCmd(t, append([]string{"--json"}, c.args...)...)
		body := `{"action":"on_publish","client_id":"c1","ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live","stream":"s",` +
			`"param":"?token=` + tokSecret + `&tenant=` + otherToken + `&to%6Ben=` + encToken + `&rtmpload=r-1"}`
		resp, err := http.Post("http://"+h.addr+"/api/v1/hooks/on_publish", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h.stop(t)
		log := h.stdout.String()
		for _, s := range c.show {
			if !strings.Contains(log, s) {
				t.Errorf("hook %v: no %q in\n%s", c.args, s, log)
			}
		}
		for _, s := range c.hide {
			if strings.Contains(log, s) {
				t.Errorf("hook %v: %q shown in\n%s", c.args, s, log)
			}
		}
	}
	if code, _, stderr := runInProcess(t, time.Minute, "report", "--redact", "a=b", "x"); code != exitSetup || !strings.Contains(stderr, "--redact") {
		t.Errorf("report --redact a=b: exit %d: %s", code, stderr)
	}
	// Redaction hides values, not the words of the help and of errors.
	if _, _, stderr := runInProcess(t, time.Minute, "run", "--help"); !strings.Contains(stderr, "--show-secrets[=true|false]") {
		t.Errorf("run --help: %s", stderr)
	}
	if _, _, stderr := runInProcess(t, time.Minute, "hook", "--fault", "x"); !strings.Contains(stderr, `"x" is not name=value`) {
		t.Errorf("hook --fault x: %s", stderr)
	}
}

// A mistyped --target or --api is quoted in the error without its secrets.
func TestBadURLErrorsHideSecrets(t *testing.T) {
	for _, args := range [][]string{
		{"--target", "rtmp//pub:" + rtmpPass + "@127.0.0.1:1/live?token=" + tokSecret},
		{"--target", "rtmp://pub:" + rtmpPass + "@" + closedPort(t) + "/live?token=" + tokSecret},
		{"--target", "rtmp://127.0.0.1:1/live?token=" + tokSecret + "&rtmpload=x"},
		{"--hook", "proxy=http//u:" + hookPass + "@h/x?sign=" + sigSecret},
	} {
		code, stdout, stderr := runInProcess(t, time.Minute, append([]string{"run", "smoke", "--ffmpeg", "/bin/true", "--out", t.TempDir() + "/out"}, args...)...)
		if code != exitSetup {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitSetup, stderr)
		}
		assertNoSecret(t, strings.Join(args, " "), stdout+stderr)
	}
	if code, _, stderr := runInProcess(t, time.Minute, "report", "--redact", "rtmpload", "x"); code != exitSetup || !strings.Contains(stderr, "attempt's id") {
		t.Errorf("report --redact rtmpload: exit %d: %s", code, stderr)
	}
}
