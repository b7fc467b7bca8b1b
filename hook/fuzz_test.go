package hook

import (
	"net/http"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

// FuzzReadRequest feeds arbitrary bodies in both dialects to the hook's
// request parsing: it must not panic, and what it accepts is bounded.
func FuzzReadRequest(f *testing.F) {
	f.Add(false, []byte(srsCall(string(schema.ActionPublish), "1", "cam-01", "?rtmpload=r-1&token=t")))
	f.Add(false, []byte(srsCall(string(schema.ActionUnpublish), "2", "cam-01", "")))
	f.Add(false, []byte(`{"action":"on_publish","client_id":123,"stream":"s"}`))
	f.Add(false, []byte(`{"action":"on_publish","client_id":{"x":1}}`))
	f.Add(true, []byte("call=publish&app=live&name=cam-01&addr=127.0.0.1&clientid=7&tcurl=rtmp%3A%2F%2Fh%2Flive&rtmpload=r-1&token=t"))
	f.Add(true, []byte("call=publish_done&name=%zz&app=live"))
	f.Fuzz(func(t *testing.T, nginx bool, body []byte) {
		dialect := DialectSRS
		if nginx {
			dialect = DialectNginx
		}
		req, rerr := readRequest(dialect, http.MethodPost, body, nil)
		if rerr != nil {
			if rerr.status < 400 || rerr.status > 599 {
				t.Fatalf("error status %d", rerr.status)
			}
			return
		}
		for _, v := range []string{string(req.Action), req.ClientID, req.IP, req.Vhost, req.App, req.Stream, req.Param, req.TcURL, req.StreamID} {
			if len(v) > maxField {
				t.Fatalf("a field of %d bytes accepted", len(v))
			}
		}
		_ = req.key()
		_ = AttemptFromParam(req.Param)
	})
}
