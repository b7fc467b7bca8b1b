package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rtmpload/rtmpload/srs"
)

// maxHookBody caps what is read from a hook answer; SRS answers are tiny.
const maxHookBody = 64 << 10

// maxEventBody caps Event.HookBody so a chatty hook cannot bloat results.
const maxEventBody = 512

func eventBody(b []byte) []byte { return b[:min(len(b), maxEventBody)] }

func newHookClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // hooks are local; an environment proxy would falsify latency
			DialContext: (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			// Hundreds of publishers may call the hook at once.
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		// SRS posts once: a 3xx is the hook's answer (a refusal), not
		// followed.
		CheckRedirect: srs.NoRedirect,
	}
}

// AllowResponse is SRS's rule for a hook answer that allows the publish
// (srs.JudgeAnswer).
func AllowResponse(status int, body []byte) bool { return srs.Allows(status, body) }

// classifyAnswer returns "" for allow, else the reject reason.
func classifyAnswer(status int, body []byte) string {
	switch srs.JudgeAnswer(status, body).Verdict {
	case srs.Allow:
		return ""
	case srs.Deny:
		return ReasonHookDenied
	case srs.BadAnswer:
		return ReasonHookBadAnswer
	}
	return ReasonHookErrorStatus
}

type hookResult struct {
	status  int
	body    []byte
	latency time.Duration
	err     error
	reason  string // "" = allow
}

// callHook posts one callback. ctx bounds it; HookTimeout is applied here.
// req is the JSON body: an *srs.HookRequest or *srs.PlayHookRequest.
func (s *Server) callHook(ctx context.Context, url string, req any) hookResult {
	payload, err := json.Marshal(req)
	if err != nil {
		return hookResult{err: err, reason: ReasonHookUnreachable}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HookTimeout)
	defer cancel()

	start := time.Now()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return hookResult{err: err, reason: ReasonHookUnreachable}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "SRS/"+s.cfg.Version)

	var r hookResult
	resp, err := s.hookCli.Do(hreq)
	if err == nil {
		r.status = resp.StatusCode
		r.body, err = io.ReadAll(io.LimitReader(resp.Body, maxHookBody))
		resp.Body.Close()
		if err == nil && r.status == http.StatusNoContent {
			// SRS's HTTP client reads a body a 204 never has, until its
			// hook timeout (docs/srs-behaviour.md, "What SRS accepts as
			// allow"): wait the same.
			<-ctx.Done()
			err = fmt.Errorf("HTTP 204 has no body; waited for one until the hook timeout: %w", context.Cause(ctx))
		}
	}
	r.latency = time.Since(start)
	if err != nil {
		r.err = err
		r.reason = classifyHookErr(ctx, err)
		return r
	}
	r.reason = classifyAnswer(r.status, r.body)
	return r
}

func classifyHookErr(ctx context.Context, err error) string {
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return ReasonServerClosed
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ReasonHookTimeout
	}
	return ReasonHookUnreachable
}
