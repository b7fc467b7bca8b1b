package hook

import (
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Bounds on what one caller can make the hook hold. SRS's and nginx-rtmp's
// bodies are a few hundred bytes, a long publish token included.
const (
	maxBody  = 64 << 10
	maxField = 4 << 10 // one field of a request (stream, param, tcUrl ...)
	// bodyTimeout bounds reading a body: a server sends it at once, a
	// caller dripping it a byte at a time must not hold a connection.
	bodyTimeout = 10 * time.Second
)

// request is one hook call, whatever dialect it arrived in.
type request struct {
	Dialect                                                  string
	Action                                                   schema.HookAction
	ClientID, IP, Vhost, App, Stream, Param, TcURL, StreamID string
}

// key names the stream in the live bookkeeping. nginx-rtmp has no vhost
// in its calls, so its streams are app/name.
func (r request) key() string {
	if r.Dialect == DialectNginx {
		return r.App + "/" + r.Stream
	}
	vhost := r.Vhost
	if vhost == "" {
		vhost = defaultVhost
	}
	return vhost + "/" + r.App + "/" + r.Stream
}

// requestError is a call that is not a hook request.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// dialectOf tells nginx-rtmp's form-encoded calls from SRS's JSON ones.
func dialectOf(r *http.Request) string {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		return DialectNginx
	}
	return DialectSRS
}

// readRequest parses a hook request in its dialect and bounds its fields.
func readRequest(dialect, method string, body []byte, readErr error) (request, *requestError) {
	var req request
	var rerr *requestError
	if dialect == DialectNginx {
		req, rerr = readNginx(method, body, readErr)
	} else {
		req, rerr = readSRS(method, body, readErr)
	}
	if rerr != nil {
		return req, rerr
	}
	for name, v := range map[string]string{
		"action": string(req.Action), "client_id": req.ClientID, "ip": req.IP, "vhost": req.Vhost, "app": req.App,
		"stream": req.Stream, "param": req.Param, "tcUrl": req.TcURL, "stream_id": req.StreamID,
	} {
		if len(v) > maxField {
			return request{Dialect: req.Dialect}, &requestError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("field %s is %d bytes: no server sends more than %d", name, len(v), maxField)}
		}
	}
	return req, nil
}

// checkRead refuses what is no hook call whatever the dialect: a method
// other than POST, or a body that could not be read.
func checkRead(method string, err error) *requestError {
	if method != http.MethodPost {
		return &requestError{http.StatusMethodNotAllowed, "method " + method + " not allowed: hooks are POST"}
	}
	if err != nil {
		return &requestError{http.StatusBadRequest, "cannot read body: " + err.Error()}
	}
	return nil
}
