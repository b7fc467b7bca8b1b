package hook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// UpstreamResult is what the real callback service answered a forwarded call.
type UpstreamResult struct {
	Status  int           `json:"status,omitempty"` // 0 if it gave no answer
	Latency time.Duration `json:"latency"`
	Err     string        `json:"err,omitempty"`
	Body    string        `json:"body,omitempty"` // cut at maxUpstreamRecord bytes
}

const (
	// upstreamTimeout only guards against a caller that never gives up:
	// SRS (30 s) and nginx-rtmp (10 s) cancel their calls well before.
	upstreamTimeout   = 60 * time.Second
	maxUpstreamRecord = 512
)

func checkUpstream(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("hook: upstream %q: want the callback service's URL, e.g. http://127.0.0.1:8080/callback/on_publish", raw)
	}
	return nil
}

func newUpstreamClient() *http.Client {
	return &http.Client{
		Timeout: upstreamTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // an environment proxy would falsify the service's latency
			MaxIdleConnsPerHost: 256, // hundreds of publishers may call at once
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		// Relay a redirect as it is: the calling server judges it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// forward sends the call to the upstream unchanged and returns its answer
// to relay; an upstream that gives no answer becomes a 502.
func (s *Server) forward(ctx context.Context, r *http.Request, body []byte) (answer, *UpstreamResult) {
	req, err := http.NewRequestWithContext(ctx, r.Method, s.upstream, bytes.NewReader(body))
	if err != nil {
		return badGateway(&UpstreamResult{Err: err.Error()})
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	// An empty User-Agent keeps Go from adding its own, as nginx-rtmp sends none.
	req.Header["User-Agent"] = []string{r.Header.Get("User-Agent")}
	t0 := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return badGateway(&UpstreamResult{Latency: time.Since(t0), Err: err.Error()})
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	res := &UpstreamResult{Status: resp.StatusCode, Latency: time.Since(t0), Body: string(b[:min(len(b), maxUpstreamRecord)])}
	if err != nil {
		res.Err = "reading the answer: " + err.Error()
		return badGateway(res)
	}
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}, res
}

func badGateway(res *UpstreamResult) (answer, *UpstreamResult) {
	msg := "upstream callback unreachable: " + res.Err
	return answer{status: http.StatusBadGateway, ctype: "text/plain; charset=utf-8", body: "rtmpload hook: " + msg + "\n", reason: msg}, res
}

// Record is the results stream's record of the upstream answer (nil: the
// call was not proxied).
func (u *UpstreamResult) Record() *schema.Upstream {
	if u == nil {
		return nil
	}
	return &schema.Upstream{Status: u.Status, Latency: u.Latency, Err: u.Err, Body: u.Body}
}
