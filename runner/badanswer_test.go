package runner

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// A callback that answers 200 in another format ("OK", {"status":"ok"}) is
// refused by SRS and by the embedded server alike, and reported as
// hook_bad_answer with the body in the evidence: not hook_denied. Two ways
// in: the built-in hook's garbage fault, and the proxy in front of a
// service answering {"status":"ok"}.

func TestBadAnswerEmbedded(t *testing.T) {
	checkBadAnswer(t, ServerSpec{})
}

func TestBadAnswerSRS(t *testing.T) {
	testkit.FFmpeg(t)
	bin := testkit.SRS(t)
	checkBadAnswer(t, ServerSpec{Kind: ServerSRS, Binary: bin})
}

func checkBadAnswer(t *testing.T, server ServerSpec) {
	testkit.FFmpeg(t)
	t.Parallel()
	t.Run("garbage", func(t *testing.T) {
		sc := scenario(t, `
name: bad-answer
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
hook:
  faults:
    - {at: 0s, for: 8s, kind: garbage}
publishers:
  - {group: g, count: 2, name: "ba-{i}", start: 500ms, ramp: 1s, hold: 6s}
`)
		res := runScenario(t, sc, Options{Server: server})
		checkBadAnswers(t, res, "`OK`", schema.StateMisanswering)
		srsLogHas(t, res, server, "code=3008(HttpResponseData)")
	})
	t.Run("proxy", func(t *testing.T) {
		svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"ok"}`)
		}))
		defer svc.Close()
		sc := scenario(t, `
name: bad-answer-proxy
duration: 8s
media: {clip: testsrc-360p, bitrate: 300k}
hook: {mode: allow}
publishers:
  - {group: g, count: 2, name: "bp-{i}", start: 500ms, ramp: 1s, hold: 6s}
`)
		res := runScenario(t, sc, Options{Server: server, Hook: HookPlan{Proxy: svc.URL + "/callback"}})
		checkBadAnswers(t, res, "`{\"status\":\"ok\"}`", schema.StateUp)
		srsLogHas(t, res, server, "code=3064(HttpResponseCode)")
		// The proxy's own record: a bad answer, with the upstream's body.
		if u := res.Summary.Hook.Upstream; u == nil || u.BadAnswers != 2 || u.BadAnswerBody != `{"status":"ok"}` || u.Allowed != 0 {
			t.Errorf("proxy summary %+v, want 2 bad answers with the body", u)
		}
		calls := 0
		for _, ev := range testkit.Events(t, res.ResultsPath) {
			if h := ev.Hook; ev.Type == schema.TypeHook && h.Action == "on_publish" {
				calls++
				if h.Verdict != "bad_answer" || h.Upstream == nil || h.Upstream.Body != `{"status":"ok"}` ||
					!strings.Contains(h.Reason, "upstream answered 200 with `{\"status\":\"ok\"}`") {
					t.Errorf("proxy's record of %s: verdict %q reason %q upstream %+v", h.Attempt, h.Verdict, h.Reason, h.Upstream)
				}
			}
		}
		if calls != 2 {
			t.Errorf("%d on_publish calls recorded, want 2", calls)
		}
	})
}

// checkBadAnswers wants every attempt refused as hook_bad_answer, with the
// body quoted in its evidence and the callback in state.
func checkBadAnswers(t *testing.T, res *Result, quoted string, state schema.CallbackState) {
	t.Helper()
	s := res.Summary
	if s.Attempts != 2 || s.Outcomes[schema.OutcomeHookBadAnswer] != 2 {
		var b strings.Builder
		_ = report.Table(&b, s)
		t.Fatalf("outcomes %v over %d attempts, want 2 hook_bad_answer\n%s\nfailures: %+v", s.Outcomes, s.Attempts, b.String(), s.Failures)
	}
	want := "the callback answered 200 with " + quoted + "; SRS allows only 0 or {\"code\":0}"
	for _, f := range s.Failures {
		if !strings.Contains(f.Evidence, want) {
			t.Errorf("%s: evidence %q lacks %q", f.ID, f.Evidence, want)
		}
		if f.State != state {
			t.Errorf("%s: callback %q, want %q", f.ID, f.State, state)
		}
		if !strings.Contains(f.Message, "Input/output error") {
			t.Errorf("%s: ffmpeg said %q, want Input/output error", f.ID, f.Message)
		}
	}
	if n := s.Hook.Verdicts["bad_answer"]; n != 2 {
		t.Errorf("hook verdicts %v, want 2 bad_answer", s.Hook.Verdicts)
	}
}

// srsLogHas checks a managed SRS's log for its own error code, the proof
// that SRS (not only rtmpload) saw the answer as invalid.
func srsLogHas(t *testing.T, res *Result, server ServerSpec, want string) {
	t.Helper()
	if server.Kind != ServerSRS {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(res.Dir, "srs", "*.log"))
	for _, p := range logs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), want) {
			return
		}
	}
	t.Errorf("SRS's log (%v) has no %q", logs, want)
}
