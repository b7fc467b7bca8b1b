package hook

import (
	"github.com/rtmpload/rtmpload/schema"
	"net/http"
	"net/url"
	"strings"
)

// readNginx parses an nginx-rtmp notify call (docs/srs-behaviour.md, "nginx-rtmp"): its own
// fields, followed by the publish URL's query arguments as further fields.
func readNginx(method string, body []byte, readErr error) (request, *requestError) {
	if rerr := checkRead(method, readErr); rerr != nil {
		return request{}, rerr
	}
	req := request{Dialect: DialectNginx}
	var call string
	// Pair by pair rather than url.ParseQuery, which loses the order of
	// the publish URL's own arguments: Param keeps them as they were sent.
	var extra []string
	for pair := range strings.SplitSeq(string(body), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(k)
		val, verr := url.QueryUnescape(v)
		if kerr != nil {
			extra = append(extra, pair) // not one of nginx-rtmp's, which are plain words
			continue
		}
		field := &req.ClientID
		switch key {
		case "app":
			field = &req.App
		case "name":
			field = &req.Stream
		case "addr":
			field = &req.IP
		case "tcurl":
			field = &req.TcURL
		case "clientid":
		case "call":
			field = &call
		case "flashver", "swfurl", "pageurl", "type", "start", "duration", "reset":
			continue // nginx-rtmp's own fields that rtmpload does not use
		default:
			extra = append(extra, pair)
			continue
		}
		if verr != nil {
			return req, &requestError{http.StatusBadRequest, "malformed form field " + key + ": " + verr.Error()}
		}
		*field = val
	}
	if len(extra) > 0 {
		req.Param = "?" + strings.Join(extra, "&")
	}
	switch call {
	case "":
		return req, &requestError{http.StatusBadRequest, "form has no call field: want nginx-rtmp's notify fields"}
	case "publish":
		req.Action = schema.ActionPublish
	case "publish_done":
		req.Action = schema.ActionUnpublish
	case "play":
		req.Action = schema.ActionPlay
	case "play_done":
		// nginx-rtmp's on_play_done is SRS's on_stop.
		req.Action = schema.ActionStop
	default:
		req.Action = schema.HookAction("on_" + call)
	}
	if (req.Action == schema.ActionPublish || req.Action == schema.ActionUnpublish ||
		req.Action == schema.ActionPlay || req.Action == schema.ActionStop) && req.Stream == "" {
		return req, &requestError{http.StatusBadRequest, string(req.Action) + " without a name"}
	}
	return req, nil
}
