package runner

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/hook"
)

// A --target's userinfo and query reach every publish URL, before
// rtmpload=<id>, so a token-checking callback sees the token and rtmpload
// still finds the attempt; its errors do not quote the token.
func TestExternalTargetPassesTokens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg, err := externalTarget("rtmp://pub:PW@"+ln.Addr().String()+"/app?token=SECRET&x=1", "")
	if err != nil {
		t.Fatal(err)
	}
	u := publishURL(tg.base("127.0.0.1:9"), "cam 1", joinQuery(tg.query, "sign=s1"), "run-1.2")
	if want := "rtmp://pub:PW@127.0.0.1:9/app/cam%201?token=SECRET&x=1&sign=s1&rtmpload=run-1.2"; u != want {
		t.Fatalf("publish URL %q, want %q", u, want)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if got := hook.AttemptFromParam("?" + pu.RawQuery); got != "run-1.2" {
		t.Errorf("attempt from param: %q", got)
	}
	if got := publishURL("rtmp://h/live/", "c", "", "id"); got != "rtmp://h/live/c?rtmpload=id" {
		t.Errorf("without a query: %q", got)
	}

	for _, bad := range []string{"rtmp//x:PW@h/app?token=SECRET", "rtmp://h/app?token=SECRET&rtmpload=x", "rtmp://u:PW@127.0.0.1:1/app?token=SECRET"} {
		_, err := externalTarget(bad, "http://admin:APIPASS@127.0.0.1:1")
		if err == nil {
			t.Errorf("%s: no error", bad)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "PW") {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
}
