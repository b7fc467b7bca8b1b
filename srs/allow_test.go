package srs

import (
	"strings"
	"testing"
)

// The edges of SRS's allow rule, read from SrsHttpHooks::do_post (SRS 7.0.18);
// {"status":"ok"}, ok, " 0\n", "0\n", 1, {"code":"0"}, {"code":0.0},
// {"code":-0} and {"code":0,"code":1} were also tried on 7.0.18 and gave
// the verdict and error code below.
func TestJudgeAnswer(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   Verdict
		code   int
	}{
		// allow
		{200, `0`, Allow, 0},
		{201, `0`, Allow, 0},
		{200, `{"code":0}`, Allow, 0},
		{200, `{"code":0,"msg":null}`, Allow, 0},
		{200, `{"msg":"fine","code":0}`, Allow, 0},
		{200, " {\"code\" : 0 }\n", Allow, 0},
		{200, `{"code":-0}`, Allow, 0},
		{200, "\xef\xbb\xbf{\"code\":0}", Allow, 0},
		{200, `{"code":1,"code":0}`, Allow, 0}, // the last counts (seen on 7.0.18)
		{200, `{"code":"0","code":0}`, Allow, 0},

		// deny: a non-zero integer code
		{200, `{"code":1}`, Deny, ErrResponseCode},
		{201, `{"code":403,"msg":"no"}`, Deny, ErrResponseCode},
		{200, `{"code":-1}`, Deny, ErrResponseCode},
		{200, `{"code":99999999999999999999}`, Deny, ErrResponseCode},
		{200, `{"code":0,"code":1}`, Deny, ErrResponseCode},
		{200, `1`, Deny, ErrHTTPDataInvalid},
		{200, "403\n", Deny, ErrHTTPDataInvalid},

		// bad answer: another format
		{200, `{"status":"ok"}`, BadAnswer, ErrResponseCode},
		{200, `{}`, BadAnswer, ErrResponseCode},
		{200, `{"code":"0"}`, BadAnswer, ErrResponseCode},
		{200, `{"code":0.0}`, BadAnswer, ErrResponseCode},
		{200, `{"code":0e0}`, BadAnswer, ErrResponseCode},
		{200, `{"code":null}`, BadAnswer, ErrResponseCode},
		{200, `{"code":false}`, BadAnswer, ErrResponseCode},
		{200, `{"data":{"code":0}}`, BadAnswer, ErrResponseCode},
		{200, `{"code":0,"code":"0"}`, BadAnswer, ErrResponseCode},
		{200, `ok`, BadAnswer, ErrHTTPDataInvalid},
		{200, `OK`, BadAnswer, ErrHTTPDataInvalid},
		{200, ``, BadAnswer, ErrHTTPDataInvalid},
		{200, "\n", BadAnswer, ErrHTTPDataInvalid},
		{200, "0\n", BadAnswer, ErrHTTPDataInvalid},
		{200, " 0", BadAnswer, ErrHTTPDataInvalid},
		{200, `-0`, BadAnswer, ErrHTTPDataInvalid},
		{200, `"0"`, BadAnswer, ErrHTTPDataInvalid},
		{200, `0.0`, BadAnswer, ErrHTTPDataInvalid},
		{200, `[0]`, BadAnswer, ErrHTTPDataInvalid},
		{200, `true`, BadAnswer, ErrHTTPDataInvalid},
		{200, `null`, BadAnswer, ErrHTTPDataInvalid},
		{200, `{"code":0}x`, BadAnswer, ErrHTTPDataInvalid},
		{200, `{"code":0`, BadAnswer, ErrHTTPDataInvalid},

		// error status, whatever the body
		{204, ``, ErrorStatus, ErrHTTPStatusInvalid},
		{202, `0`, ErrorStatus, ErrHTTPStatusInvalid},
		{302, `0`, ErrorStatus, ErrHTTPStatusInvalid},
		{404, `{"code":0}`, ErrorStatus, ErrHTTPStatusInvalid},
		{500, `{"code":1}`, ErrorStatus, ErrHTTPStatusInvalid},
		{0, ``, ErrorStatus, ErrHTTPStatusInvalid},
	}
	for _, c := range cases {
		j := JudgeAnswer(c.status, []byte(c.body))
		if j.Verdict != c.want || j.Code != c.code {
			t.Errorf("JudgeAnswer(%d, %q) = %s %d (%s), want %s %d", c.status, c.body, j.Verdict, j.Code, j.Detail, c.want, c.code)
		}
		if got := Allows(c.status, []byte(c.body)); got != (c.want == Allow) {
			t.Errorf("Allows(%d, %q) = %v", c.status, c.body, got)
		}
		if (j.Verdict == Allow) != (j.Detail == "") {
			t.Errorf("JudgeAnswer(%d, %q): detail %q with verdict %s", c.status, c.body, j.Detail, j.Verdict)
		}
	}
}

func TestQuoteBody(t *testing.T) {
	cases := map[string]string{
		``:                "an empty body",
		`{"status":"ok"}`: "`{\"status\":\"ok\"}`",
		"OK":              "`OK`",
		"ok\n\x00":        `"ok\n\x00"`,
		"a`b":             `"a` + "`" + `b"`,
		"\xff":            `"\xff"`,
	}
	for in, want := range cases {
		if got := QuoteBody(in); got != want {
			t.Errorf("QuoteBody(%q) = %s, want %s", in, got, want)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	got := QuoteBody(long)
	if !strings.HasSuffix(got, "`... (200 bytes)") || !strings.HasPrefix(got, "`éé") {
		t.Errorf("QuoteBody(long) = %s", got)
	}
	if n := strings.Count(got, "é"); n != MaxQuoted/2 {
		t.Errorf("QuoteBody(long) kept %d characters, want %d", n, MaxQuoted/2)
	}
}
