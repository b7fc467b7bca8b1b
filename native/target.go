package native

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// target is a publish URL split as ffmpeg splits it (libavformat's
// rtmp_open): the app is the first path element, or the first two when a
// third follows (rtmp://h/live/sub/name: app live/sub, stream name) unless
// a ':' comes before the second '/' (an mp4: or flv: playpath); the stream
// is the rest, with the query, as written (not unescaped).
type target struct {
	addr, app, stream, tcURL string
}

func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rtmp" || u.Host == "" {
		return target{}, fmt.Errorf("publish URL %q is not rtmp://host[:port]/app/stream", raw)
	}
	path := strings.TrimPrefix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	first := strings.IndexByte(path, '/')
	if first <= 0 || first == len(path)-1 {
		return target{}, fmt.Errorf("publish URL %q names no app and stream", raw)
	}
	cut := first
	if second := strings.IndexByte(path[first+1:], '/'); second >= 0 {
		colon := strings.IndexByte(path[first+1:], ':')
		if colon < 0 || colon > second {
			cut = first + 1 + second
		}
	}
	app, stream := path[:cut], path[cut+1:]
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "1935")
	}
	return target{addr: addr, app: app, stream: stream, tcURL: "rtmp://" + u.Host + "/" + app}, nil
}
