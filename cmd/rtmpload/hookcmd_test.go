package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/testkit"
)

// syncBuffer is written by the command's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits (5 s at most) until buf matches re and returns the
// submatches; when it does not, it fails the test and shows buf.
func waitOutput(t *testing.T, buf *syncBuffer, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	if !testkit.Poll(5*time.Second, func() bool { m = rx.FindStringSubmatch(buf.String()); return m != nil }) {
		t.Fatalf("no %q within 5s in:\n%s", re, buf.String())
	}
	return m
}

type hookRun struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	code           chan int
	addr           string
}

func startHookCmd(t *testing.T, args ...string) *hookRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &hookRun{cancel: cancel, code: make(chan int, 1)}
	go func() {
		h.code <- run(ctx, append([]string{"hook", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), &h.stdout, &h.stderr)
	}()
	t.Cleanup(func() { h.stop(t) })
	h.addr = waitOutput(t, &h.stderr, `on (127\.0\.0\.1:\d+) `)[1]
	return h
}

// stop cancels the command as Ctrl-C would and returns its exit code.
func (h *hookRun) stop(t *testing.T) int {
	t.Helper()
	h.cancel()
	select {
	case code := <-h.code:
		h.code <- code // for a second stop (the cleanup)
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("rtmpload hook did not stop within 5s of cancel")
		return -1
	}
}

func srsPublish(t *testing.T, addr, clientID, stream string) string {
	t.Helper()
	body := `{"action":"on_publish","client_id":"` + clientID + `","ip":"127.0.0.1","vhost":"__defaultVhost__",` +
		`"app":"live","stream":"` + stream + `","param":"?rtmpload=t1-` + clientID + `"}`
	resp, err := http.Post("http://"+addr+"/api/v1/hooks/on_publish", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHookCmdLogsCallsFaultsAndSummary(t *testing.T) {
	h := startHookCmd(t, "--mode", "conflict", "--fault", "at=300ms,for=1h,kind=deny")
	if got := srsPublish(t, h.addr, "1", "cam01"); got != `{"code":0,"msg":null}` {
		t.Fatalf("first publish answered %q", got)
	}
	if got := srsPublish(t, h.addr, "2", "cam01"); !strings.Contains(got, `"code":1`) {
		t.Fatalf("duplicate answered %q", got)
	}
	waitOutput(t, &h.stdout, `"state":"denying"`)
	if got := srsPublish(t, h.addr, "3", "cam02"); got != `{"code":1,"msg":"fault deny"}` {
		t.Fatalf("publish in the deny window answered %q", got)
	}
	waitOutput(t, &h.stdout, `"attempt":"t1-3"`)
	if code := h.stop(t); code != exitOK {
		t.Fatalf("exit code %d after Ctrl-C, want 0", code)
	}

	var calls []map[string]any
	var states []string
	for line := range strings.Lines(h.stdout.String()) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		switch v["type"] {
		case "call":
			calls = append(calls, v)
		case "state":
			states = append(states, v["state"].(string))
		default:
			t.Fatalf("line of unknown type: %q", line)
		}
	}
	if strings.Join(states, ",") != "up,denying" {
		t.Fatalf("states %q, want up,denying", states)
	}
	if len(calls) != 3 {
		t.Fatalf("%d call lines, want 3", len(calls))
	}
	for i, want := range []struct{ verdict, fault, owner string }{{"allow", "", ""}, {"deny", "", "1"}, {"deny", "deny", ""}} {
		c := calls[i]
		if c["verdict"] != want.verdict || (c["fault"] != nil && c["fault"] != want.fault) || (want.fault != "" && c["fault"] != want.fault) ||
			(want.owner != "" && c["live_owner"] != want.owner) || c["action"] != "on_publish" || c["latency_ms"] == nil {
			t.Fatalf("call line %d = %v, want verdict %s fault %q owner %q", i, c, want.verdict, want.fault, want.owner)
		}
	}

	sum := h.stderr.String()
	for _, want := range []string{
		"rtmpload hook: 3 calls", "on_publish 3", "allow 1, deny 2", "latency:   p50 ",
		"live:      1 (__defaultVhost__/live/cam01)", "conflicts: 1 ",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

// A scenario's faults apply, and flags override its mode.
func TestHookCmdScenario(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	sc := "name: t\nduration: 10s\nhook:\n  mode: deny\n  faults:\n    - {at: 0s, for: 1h, kind: \"status:503\"}\n" +
		"publishers:\n  - group: g\n    count: 1\n    name: \"c-{i}\"\n"
	if err := os.WriteFile(path, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHookCmd(t, "--scenario", path, "--mode", "allow", "--json")
	waitOutput(t, &h.stdout, `"state":"erroring","fault":"status:503"`)
	resp, err := http.Post("http://"+h.addr+"/x", "application/json", strings.NewReader(`{"action":"on_publish","stream":"a","app":"live"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want the scenario's 503", resp.StatusCode)
	}
	h.stop(t)
	if !strings.Contains(h.stderr.String(), "mode allow") {
		t.Fatalf("--mode did not override the scenario's:\n%s", h.stderr.String())
	}
}

func TestHookCmdPrintConfig(t *testing.T) {
	for kind, want := range map[string]string{
		"srs": `# srs.conf: SRS calls rtmpload hook on every publish
vhost __defaultVhost__ {
    http_hooks {
        enabled      on;
        on_publish   http://127.0.0.1:48080/api/v1/hooks/on_publish;
        on_unpublish http://127.0.0.1:48080/api/v1/hooks/on_unpublish;
    }
}
`,
		"nginx": `# nginx.conf, inside rtmp { server { ... } }: nginx-rtmp calls rtmpload hook on every publish
application live {
    live on;
    on_publish      http://127.0.0.1:48080/api/v1/hooks/on_publish;
    on_publish_done http://127.0.0.1:48080/api/v1/hooks/on_unpublish;
}
`,
	} {
		var out, errb bytes.Buffer
		// The default port is the seed's and is not listened on: printing
		// must not serve.
		if code := run(context.Background(), []string{"hook", "--print-config", kind}, nil, &out, &errb); code != exitOK || out.String() != want {
			t.Errorf("--print-config %s: exit %d, stdout\n%s\nstderr %s", kind, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"hook", "--print-config", "srs", "--listen", "0.0.0.0:9000"}, nil, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), "on_publish   http://127.0.0.1:9000/api/v1/hooks/on_publish;") {
		t.Errorf("unspecified host: exit %d, %s", code, out.String())
	}
	if code := run(context.Background(), []string{"hook", "--print-config", "apache"}, nil, &out, &errb); code != exitSetup {
		t.Errorf("--print-config apache: exit %d", code)
	}
}

func TestHookCmdBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code := run(ctx, []string{"hook", "--listen", ln.Addr().String()}, nil, &out, &errb)
	if code != exitSetup || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "already in use") {
		t.Fatalf("busy port: exit %d, stderr %q", code, errb.String())
	}
}

func TestParseFaultFlagAction(t *testing.T) {
	f, err := parseFaultFlag("at=2s,for=3s,kind=deny,action=play")
	if err != nil || f.Action != hook.FaultPlay || f.Kind != hook.FaultDeny || f.At != 2*time.Second || f.For != 3*time.Second {
		t.Fatalf("parseFaultFlag = %+v, %v", f, err)
	}
	if f, err := parseFaultFlag("for=3s,kind=down"); err != nil || f.Action != "" {
		t.Fatalf("without action: %+v, %v", f, err)
	}
	if _, err := parseFaultFlag("for=3s,kind=down,action=view"); err == nil || !strings.Contains(err.Error(), "want publish or play") {
		t.Fatalf("action=view: %v", err)
	}
}

func TestHookCmdBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--fault", "at=1s,kind=down"},
		{"--fault", "at=1s,for=1s,kind=explode"},
		{"--fault", "at=1s,for=1s,kind=down,when=now"},
		{"--fault", "at=1s,for=1s,kind=down,action=view"},
		{"--mode", "maybe"},
		{"--proxy", "localhost:80"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"hook", "--listen", "127.0.0.1:0"}, args...), nil, &out, &errb); code != exitSetup {
			t.Errorf("%q: exit %d, want 1", args, code)
		}
	}
}

// rtmpload hook --proxy in front of a service written for another server: the
// call line says bad_answer with the service's body, and the summary counts it.
func TestHookCmdProxyBadAnswer(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer svc.Close()
	h := startHookCmd(t, "--proxy", svc.URL+"/cb")
	if got := srsPublish(t, h.addr, "1", "cam01"); got != `{"status":"ok"}` {
		t.Fatalf("relayed %q", got)
	}
	line := waitOutput(t, &h.stdout, `\{"type":"call".*\}`)[0]
	var c struct {
		Verdict  string `json:"verdict"`
		Reason   string `json:"reason"`
		Upstream struct {
			Body string `json:"body"`
		} `json:"upstream"`
	}
	if err := json.Unmarshal([]byte(line), &c); err != nil {
		t.Fatal(err)
	}
	if c.Verdict != "bad_answer" || c.Upstream.Body != `{"status":"ok"}` || !strings.Contains(c.Reason, "SRS allows only 0 or") {
		t.Fatalf("call line %s", line)
	}
	h.stop(t)
	if sum := h.stderr.String(); !strings.Contains(sum, "bad_answer 1") {
		t.Errorf("summary lacks the bad answer:\n%s", sum)
	}
}
